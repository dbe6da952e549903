"""Checks shared by the environments: constructor kwargs and actions.

Bad input raises ``ValueError`` naming the bad value and what is allowed; nothing is
silently clipped.
"""

from __future__ import annotations

import math

import numpy as np
from gymnasium import spaces


class InvalidAction(ValueError):
    """An action outside its space (wrong type or shape, not finite, out of bounds)."""


def check_render_mode(render_mode: object, allowed: list[str]) -> None:
    """``ValueError`` unless ``render_mode`` is None or one of ``allowed``."""
    if render_mode is not None and render_mode not in allowed:
        raise ValueError(f"render_mode must be None or one of {allowed}, got {render_mode!r}")


def checked_action(action: object, space: spaces.Box) -> np.ndarray:
    """``action`` as a float64 array if it has the space's shape, is finite and in bounds.

    Raises :class:`InvalidAction` (a ``ValueError``) that names the problem and the allowed
    range: an out-of-range action is an agent bug that silent clipping would hide.
    """
    raw = np.asarray(action)
    if raw.dtype.kind not in "iuf":  # bools, complex numbers, strings, objects
        raise InvalidAction(f"action must be an array of real numbers (floats or ints), got {action!r} "
                            f"(dtype {raw.dtype})")
    array = raw.astype(np.float64)
    # Fast path, once per env step: NaN fails both comparisons, so in-bounds implies finite.
    if array.shape == space.shape and ((array >= space.low) & (array <= space.high)).all():
        return array
    if array.shape != space.shape:
        raise InvalidAction(f"action must have shape {space.shape}, got shape {array.shape}: {action!r}")
    if not np.all(np.isfinite(array)):
        raise InvalidAction(f"action must be finite, got {array.tolist()}")
    low, high = space.low.astype(np.float64), space.high.astype(np.float64)
    if np.any(array < low) or np.any(array > high):
        raise InvalidAction(
            f"action {array.tolist()} is outside the action space: "
            f"low {low.tolist()}, high {high.tolist()} (hebbbench never clips actions: clip in your agent's "
            "act(), or use your library's deterministic predict, which clips)"
        )
    return array


class ActionCheck:
    """:func:`checked_action` for one 1-D ``Box`` with a single (low, high) pair, as floats.

    Called once per env step, so the usual case (a float32 or float64 array) takes a quick
    path: the bounds are read once, and the action is checked as a list of Python floats. Anything
    the quick test does not pass goes to :func:`checked_action`, which raises the same
    ``ValueError`` as always (or returns its floats, e.g. for an int array).
    """

    def __init__(self, space: spaces.Box) -> None:
        low, high = space.low.astype(np.float64), space.high.astype(np.float64)
        if len(space.shape) != 1 or low.min() != low.max() or high.min() != high.max():
            raise ValueError(f"ActionCheck needs a 1-D Box with one low and one high bound, got {space}")
        self._space, self._shape = space, space.shape  # (Box.shape is a property)
        self._low, self._high = float(low[0]), float(high[0])

    def __call__(self, action: object) -> list[float]:
        """``action`` as a list of floats if it has the space's shape, is finite and in bounds."""
        array = np.asarray(action)
        if array.dtype.char in "fd" and array.shape == self._shape:  # float32 or float64
            values = array.tolist()
            # A NaN makes the sum NaN (min and max may skip it); in-bounds values are finite.
            if self._low <= min(values) and max(values) <= self._high and math.isfinite(sum(values)):
                return values
        return checked_action(action, self._space).tolist()
