"""hebbbench: a benchmark for Hebbian meta-learning across environment variations.

Importing the package registers every environment ID with Gymnasium
(``gym.make("AntDamageLeft-v0")``); see :mod:`hebbbench.envs.registry`.
"""

from hebbbench.envs import register_all as _register_all
from hebbbench.protocol import evaluate
from hebbbench.results import Results, load_results, write_results
from hebbbench.version import __version__

_register_all()

__all__ = ["Results", "__version__", "evaluate", "load_results", "write_results"]
