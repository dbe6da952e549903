"""The import path of committed run directories: their ``agent.py`` does
``from hebbbench.train import load_run_agent``, and the files' hashes are recorded in board
submissions, so this module stays. The training loop lives in :mod:`hebbbench.training.train`
and a run as an agent in :mod:`hebbbench.training.run_agent` (what new run directories import).

Other names that code imported from ``hebbbench.train`` (``train``, ``resume``, ``TrainConfig``,
``read_log``, ...) are forwarded to :mod:`hebbbench.training.train` on first use.
"""

from __future__ import annotations

import importlib
from typing import Any

from hebbbench.training.run_agent import load_run_agent

__all__ = ["load_run_agent"]


def __getattr__(name: str) -> Any:
    module = importlib.import_module("hebbbench.training.train")
    if name in module.__all__:
        return getattr(module, name)
    raise AttributeError(f"module 'hebbbench.train' has no attribute {name!r}")
