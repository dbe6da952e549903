"""The benchmark's environments: CarRacing and Ant variations, one registry."""

from hebbbench.envs.registry import (
    PAPER_HOLDOUT,
    TASKS,
    VARIATIONS,
    env_settings,
    get_task,
    get_variation,
    register_all,
    variations,
)

__all__ = [
    "PAPER_HOLDOUT",
    "TASKS",
    "VARIATIONS",
    "env_settings",
    "get_task",
    "get_variation",
    "register_all",
    "variations",
]
