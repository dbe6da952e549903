"""hebbbench: a benchmark for Hebbian meta-learning across environment variations.

Importing the package registers every environment ID with Gymnasium
(``gym.make("AntDamageLeft-v0")``); see :mod:`hebbbench.envs.registry`.
"""

from hebbbench.envs import register_all as _register_all

__version__ = "0.1.0"

_register_all()

__all__ = ["__version__"]
