"""The package version, defined once (``pyproject.toml`` reads it too)."""

__version__ = "0.5.0"
