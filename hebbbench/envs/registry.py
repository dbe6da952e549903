"""THE table of environment variations.

Every task name, variation name, env ID and variation kwarg in hebbbench is read from
here: the protocol's folds, the CLI's choices and `hebbbench envs` alike. Adding a
variation is one line in :data:`VARIATIONS`.

Facts from the paper (Palm, Najarro & Risi, "Testing the Genomic Bottleneck Hypothesis in
Hebbian Meta-Learning", section 4) and the paper's code.
"""

from __future__ import annotations

import importlib
import inspect
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Mapping

import gymnasium as gym

from hebbbench.envs.knobs import ANKLE_LENGTH, KNOBS

CAR_ENTRY_POINT = "hebbbench.envs.car_racing:CarRacingVariationEnv"
ANT_ENTRY_POINT = "hebbbench.envs.ant:AntMorphologyEnv"
FOLD_ENTRY_POINT = "hebbbench.envs.fold_env:FoldTrainingEnv"


@dataclass(frozen=True)
class Task:
    """A family of environments that share observation and action spaces.

    ``parametric_id`` is the env ID whose kwargs span every variation of the task;
    ``training_id`` plays a fold's training variations, one per reset (kwarg ``holdout``);
    ``max_episode_steps`` is the number of *policy* steps an episode can last.
    """

    name: str
    parametric_id: str
    training_id: str
    entry_point: str
    max_episode_steps: int
    description: str

    @property
    def parametric_kwargs(self) -> str:
        """The parametric ID's kwargs in words, from the knobs' declarations."""
        return "; ".join(knob.describe() for knob in KNOBS[self.name])


@dataclass(frozen=True)
class Variation:
    """One named variation of a task: a registered env ID plus the kwargs that make it."""

    task: str
    name: str
    env_id: str
    kwargs: Mapping[str, Any] = field(default_factory=dict)
    description: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "kwargs", MappingProxyType(dict(self.kwargs)))


TASKS: dict[str, Task] = {
    "car": Task(
        name="car",
        parametric_id="CarRacingFriction-v0",
        training_id="CarRacingTrain-v0",
        entry_point=CAR_ENTRY_POINT,
        max_episode_steps=1000,
        description="Box2D CarRacing with a tyre-friction multiplier and a sideways push",
    ),
    "ant": Task(
        name="ant",
        parametric_id="AntMorphology-v0",
        training_id="AntTrain-v0",
        entry_point=ANT_ENTRY_POINT,
        # 1000 simulation steps, of which 40 are the zero-action burn-in inside reset().
        max_episode_steps=960,
        description="pybullet Ant with one lower-leg (ankle) capsule length per leg",
    ),
}

# Ankle extents, in the units of the `fromto` end point of pybullet_data's mjcf/ant.xml
# (default 0.4 along each horizontal axis). Order: front_left, front_right, back_left,
# back_right, as named in ant.xml.
_ANKLE_DEFAULT = (ANKLE_LENGTH.default,) * 4

VARIATIONS: tuple[Variation, ...] = (
    Variation("car", "default", "CarRacingDefault-v0", {}, "unchanged CarRacing physics"),
    Variation("car", "half-friction", "CarRacingHalfFriction-v0", {"friction": 0.5},
              "tyre friction limit x0.5 on road and grass"),
    Variation("car", "double-friction", "CarRacingDoubleFriction-v0", {"friction": 2.0},
              "tyre friction limit x2 on road and grass"),
    Variation("car", "pushed-left", "CarRacingPushedLeft-v0", {"side_force": -10.0},
              "constant sideways push to the car's left"),
    Variation("car", "pushed-right", "CarRacingPushedRight-v0", {"side_force": 10.0},
              "constant sideways push to the car's right"),
    Variation("ant", "default", "AntDefault-v0", {"ankle_lengths": _ANKLE_DEFAULT},
              "pybullet_data's ant.xml unchanged"),
    Variation("ant", "damage-left", "AntDamageLeft-v0", {"ankle_lengths": (0.1, 0.4, 0.4, 0.4)},
              "front-left ankle cut to 0.1"),
    Variation("ant", "damage-right", "AntDamageRight-v0", {"ankle_lengths": (0.4, 0.1, 0.4, 0.4)},
              "front-right ankle cut to 0.1"),
    Variation("ant", "long-back", "AntLongBack-v0", {"ankle_lengths": (0.4, 0.4, 0.6, 0.6)},
              "both back ankles lengthened to 0.6 (50% longer)"),
    Variation("ant", "long-front", "AntLongFront-v0", {"ankle_lengths": (0.6, 0.6, 0.4, 0.4)},
              "both front ankles lengthened to 0.6 (50% longer)"),
)

#: The held-out variation of the paper's own fold, per task.
PAPER_HOLDOUT = {"car": "pushed-right", "ant": "long-front"}


def get_task(task: str) -> Task:
    """The :class:`Task` called ``task``; ``ValueError`` naming the allowed ones otherwise."""
    if task not in TASKS:
        raise ValueError(f"unknown task {task!r}; allowed tasks: {', '.join(TASKS)}")
    return TASKS[task]


def variations(task: str) -> list[Variation]:
    """The variations of ``task`` in registry order (the first is the default)."""
    get_task(task)
    return [v for v in VARIATIONS if v.task == task]


def get_variation(task: str, name: str) -> Variation:
    """The variation ``name`` of ``task``; ``ValueError`` naming the allowed ones otherwise."""
    found = [v for v in variations(task) if v.name == name]
    if not found:
        allowed = ", ".join(v.name for v in variations(task))
        raise ValueError(f"unknown variation {name!r} for task {task!r}; allowed: {allowed}")
    return found[0]


def env_settings(variation: Variation) -> dict[str, Any]:
    """Every constructor setting of ``variation``'s registered env, as JSON values: its
    registry kwargs completed with the env class's defaults (``render_mode`` left out).

    Results files record these, so an evaluation says which environment it scored
    (e.g. the car's ``camera``), not only its ID."""
    module, name = TASKS[variation.task].entry_point.split(":")
    parameters = inspect.signature(getattr(importlib.import_module(module), name)).parameters
    settings = {key: p.default for key, p in parameters.items() if key != "render_mode"}
    settings.update(variation.kwargs)
    return {key: list(value) if isinstance(value, tuple) else value for key, value in settings.items()}


def register_all() -> None:
    """Register every task's parametric ID and every variation ID with Gymnasium.

    Also each task's fold training env (:class:`~hebbbench.envs.fold_env.FoldTrainingEnv`).
    Idempotent: IDs already registered (e.g. on a second import) are left alone.
    """
    for task in TASKS.values():
        _register(task.parametric_id, task, {})
        _register(task.training_id, task, {"task": task.name}, FOLD_ENTRY_POINT)
    for variation in VARIATIONS:
        _register(variation.env_id, TASKS[variation.task], dict(variation.kwargs))


def _register(env_id: str, task: Task, kwargs: dict[str, Any], entry_point: str | None = None) -> None:
    if env_id in gym.registry:
        return
    gym.register(
        id=env_id,
        entry_point=entry_point or task.entry_point,
        kwargs=kwargs,
        max_episode_steps=task.max_episode_steps,
    )
