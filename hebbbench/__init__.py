"""hebbbench: a benchmark for Hebbian meta-learning across environment variations.

Importing the package registers every environment ID with Gymnasium
(``gym.make("AntDamageLeft-v0")``); see :mod:`hebbbench.envs.registry`.
"""

from __future__ import annotations

import importlib
from typing import Any

from hebbbench.envs import register_all as _register_all
from hebbbench.version import __version__

_register_all()

#: Public names and the modules that define them, imported on first use (PEP 562), so that
#: ``import hebbbench.envs`` (what ``gym.make`` of an ID needs) does not load the evaluation
#: stack and torch.
_LAZY = {"evaluate": "hebbbench.evaluation.protocol", "Results": "hebbbench.evaluation.results",
         "load_results": "hebbbench.evaluation.results", "write_results": "hebbbench.evaluation.results"}

__all__ = ["Results", "__version__", "evaluate", "load_results", "write_results"]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'hebbbench' has no attribute {name!r}")
