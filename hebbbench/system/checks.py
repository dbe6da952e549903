"""Checks of single values shared by the whole package: a ``ValueError`` that names the
value and what is allowed, never a silent conversion (no bools as numbers, no rounding)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import torch

#: Device types a run's policies and ES update may use.
DEVICE_TYPES = ("cpu", "cuda")


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


def device_name(name: str, value: object) -> str:
    """``value`` if it names a torch device of :data:`DEVICE_TYPES` (``"cpu"``, ``"cuda"``,
    ``"cuda:1"``); ``ValueError`` otherwise. Says nothing of whether this machine has it
    (:func:`available_device` does)."""
    import torch  # here, so that importing the envs (which use this module's checks) needs no torch

    try:
        device = torch.device(value) if isinstance(value, str) else None
    except RuntimeError:
        device = None
    if device is None or device.type not in DEVICE_TYPES:
        raise ValueError(f"{name} must be 'cpu', 'cuda' or 'cuda:N', got {value!r}")
    return value


def available_device(name: str, value: str) -> "torch.device":
    """The device ``value`` if this machine can run on it; ``ValueError`` saying why not
    (no CUDA in this torch build, no GPU visible, or no GPU of that index) otherwise."""
    import torch

    device = torch.device(device_name(name, value))
    if device.type == "cuda":
        if torch.version.cuda is None:
            raise ValueError(f"{name} {value!r} needs a CUDA build of torch; this one ({torch.__version__}) is "
                             "CPU-only: use 'cpu', or install torch with CUDA")
        count = torch.cuda.device_count()
        if count == 0:
            raise ValueError(f"{name} {value!r} needs a CUDA GPU, and this machine shows none "
                             "(torch.cuda.device_count() is 0): use 'cpu'")
        if device.index is not None and device.index >= count:
            raise ValueError(f"{name} {value!r}: this machine has {count} CUDA GPU(s), "
                             f"'cuda:0'..'cuda:{count - 1}'")
    return device
