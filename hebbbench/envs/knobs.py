"""The variation knobs, each declared once with its default, bounds and meaning (as CARL's
context features): the envs' checks, ``hebbbench envs`` and the env docstrings' bounds all
come from these declarations."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from hebbbench.system.checks import as_number


@dataclass(frozen=True)
class Knob:
    """One constructor setting that makes a variation.

    Numbers lie in [``low``, ``high``] (``(low, high]`` when ``low_open``); a knob with
    ``choices`` takes one of those strings instead."""

    name: str
    default: Any
    meaning: str
    low: float = -math.inf
    high: float = math.inf
    low_open: bool = False
    choices: tuple[str, ...] = ()

    @property
    def allowed(self) -> str:
        """The allowed values in words: ``(0, 10]``, ``[-100, 100]`` or ``one of (...)``."""
        if self.choices:
            return f"one of {self.choices}"
        return f"{'(' if self.low_open else '['}{self.low:g}, {self.high:g}]"

    def check(self, value: Any, label: str | None = None) -> Any:
        """``value`` (a number as a float) if allowed; ``ValueError`` naming ``label`` (default
        the knob's name), the value and the allowed range otherwise."""
        label = label or self.name
        if self.choices:
            if value not in self.choices:
                raise ValueError(f"{label} must be {self.allowed}, got {value!r}")
            return value
        number = as_number(label, value)
        below = number <= self.low if self.low_open else number < self.low
        if not math.isfinite(number) or below or number > self.high:
            raise ValueError(f"{label} must be a finite number in {self.allowed} (default {self.default!r}), "
                             f"got {value!r}")
        return number

    def describe(self) -> str:
        """``name=default in range: meaning``, one line for ``hebbbench envs`` and docs."""
        return f"{self.name}={self.default!r} {'' if self.choices else 'in '}{self.allowed}: {self.meaning}"


FRICTION = Knob("friction", 1.0, "multiplier of the tyre friction limit, on road and on grass", low=0.0,
                high=10.0, low_open=True)
SIDE_FORCE = Knob("side_force", 0.0, "added to each wheel's lateral slip force; +10 pushes right, -10 left",
                  low=-100.0, high=100.0)
CAMERA = Knob("camera", "velocity", "what the view follows: the direction of travel above speed 0.5 "
              "(gym 0.17, the paper's) or the hull (CarRacing-v3)", choices=("velocity", "hull"))
#: One leg's ankle extent (the ``fromto`` end of its capsule in ant.xml); 4x the default at
#: most: longer legs make a stilt walker whose torso starts far above the ground.
ANKLE_LENGTH = Knob("ankle_lengths", 0.4, "one lower-leg capsule extent per leg: (front_left, front_right, "
                    "back_left, back_right)", low=0.0, high=1.6, low_open=True)

#: Each task's knobs, in constructor order.
KNOBS = {"car": (FRICTION, SIDE_FORCE, CAMERA), "ant": (ANKLE_LENGTH,)}
