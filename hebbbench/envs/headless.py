"""SDL (pygame, which draws the car's upstream frames and its ``"human"`` window) kept quiet
on a machine without a display.

With neither an X11 nor a Wayland display, SDL's video start-up probes Wayland, whose
client library prints ``error: XDG_RUNTIME_DIR is invalid or not set in the environment.``
to stderr, before pygame falls back to SDL's offscreen driver. Choosing that driver up
front ends in the same state without the probe or the message. A driver the user chose
(``SDL_VIDEODRIVER``) is left as it is, and so is SDL's own choice wherever a display exists.
"""

from __future__ import annotations

import os
from typing import MutableMapping

#: The driver pygame falls back to without a display: it draws into memory, shows nothing.
HEADLESS_DRIVER = "offscreen"


def choose_headless_video_driver(environ: MutableMapping[str, str] = os.environ) -> str | None:
    """Set ``SDL_VIDEODRIVER`` to :data:`HEADLESS_DRIVER` in ``environ`` if there is no
    display and the user set no driver; the driver set, or ``None`` if nothing was changed.
    SDL reads the variable when its video starts, so this must run before that, not
    necessarily before ``import pygame``."""
    if environ.get("SDL_VIDEODRIVER") or environ.get("DISPLAY") or environ.get("WAYLAND_DISPLAY"):
        return None
    environ["SDL_VIDEODRIVER"] = HEADLESS_DRIVER
    return HEADLESS_DRIVER
