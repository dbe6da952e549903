"""Checks of single values shared by the whole package: a ``ValueError`` that names the
value and what is allowed, never a silent conversion (no bools as numbers, no rounding)."""

from __future__ import annotations

import numpy as np


def as_number(name: str, value: object) -> float:
    """``value`` as a float if it is a real number (not a bool or a string); ``ValueError`` otherwise."""
    if isinstance(value, (bool, np.bool_, str, bytes)):
        raise ValueError(f"{name} must be a number, got {value!r}")
    try:
        return float(value)  # type: ignore[arg-type]
    except OverflowError:  # an int too large for a float
        raise ValueError(f"{name} must be a finite number, got an integer of {len(str(value))} digits") from None
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number, got {value!r}") from None


def int_at_least(name: str, value: object, least: int = 0, most: int | None = None) -> int:
    """``value`` if it is an integer (not a bool) in [``least``, ``most``]; ``ValueError``
    otherwise (never rounded)."""
    if (isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)) or value < least
            or (most is not None and value > most)):
        bounds = f">= {least}" if most is None else f"in [{least}, {most}]"
        raise ValueError(f"{name} must be an integer {bounds}, got {value!r}")
    return int(value)
