"""The ant's MJCF, generated at run time from pybullet_data's ``mjcf/ant.xml``.

The morphology variations differ only in the lower-leg ("ankle") capsules. Each ankle
geom of ant.xml is a capsule ``fromto="0 0 0 ±0.4 ±0.4 0"``; an *ankle length* here is the
magnitude of that end point along each horizontal axis (0.4 by default), so the capsule's
segment length is ``ankle_length * sqrt(2)`` metres. Nothing edited by hand is shipped:
the file is read from pybullet_data and rewritten with the requested extents.
"""

from __future__ import annotations

import hashlib
import math
import os
import tempfile
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Sequence

import pybullet_data

from hebbbench.envs.knobs import ANKLE_LENGTH
from hebbbench.system.files import write_text_atomic

#: Leg order used by every ``ankle_lengths`` tuple, with the ankle geom of each leg.
ANKLE_GEOMS = {
    "front_left": "left_ankle_geom",
    "front_right": "right_ankle_geom",
    "back_left": "third_ankle_geom",
    "back_right": "fourth_ankle_geom",
}


def validate_ankle_lengths(ankle_lengths: Sequence[float]) -> tuple[float, ...]:
    """The four ankle extents as floats; ``ValueError`` naming the bad one otherwise."""
    try:
        values = tuple(ankle_lengths)
    except TypeError:
        raise ValueError(f"ankle_lengths must be a sequence of 4 numbers, got {ankle_lengths!r}") from None
    if len(values) != len(ANKLE_GEOMS):
        raise ValueError(
            f"ankle_lengths must have 4 entries ({', '.join(ANKLE_GEOMS)}), got {len(values)}: {values!r}"
        )
    return tuple(ANKLE_LENGTH.check(value, f"ankle length of {leg}") for leg, value in zip(ANKLE_GEOMS, values))


def ant_mjcf_text(ankle_lengths: Sequence[float]) -> str:
    """ant.xml with each ankle capsule's ``fromto`` end set to the given extent."""
    lengths = validate_ankle_lengths(ankle_lengths)
    tree = ET.parse(Path(pybullet_data.getDataPath()) / "mjcf" / "ant.xml")
    geoms = {geom.get("name"): geom for geom in tree.iter("geom")}
    for geom_name, length in zip(ANKLE_GEOMS.values(), lengths):
        geom = geoms[geom_name]
        start_x, start_y, start_z, end_x, end_y, end_z = (float(v) for v in geom.get("fromto").split())
        new_end = (math.copysign(length, end_x), math.copysign(length, end_y), end_z)
        geom.set("fromto", " ".join(f"{v:g}" for v in (start_x, start_y, start_z, *new_end)))
    return ET.tostring(tree.getroot(), encoding="unicode")


def ant_mjcf_path(ankle_lengths: Sequence[float]) -> str:
    """Path of a generated MJCF file for these ankle extents.

    Files are content-addressed in a per-user temp folder and written atomically (temp
    file, then rename), so concurrent worker processes can share them safely.
    """
    text = ant_mjcf_text(ankle_lengths)
    digest = hashlib.sha256(text.encode()).hexdigest()[:16]
    folder = Path(tempfile.gettempdir()) / f"hebbbench-mjcf-{os.getuid() if hasattr(os, 'getuid') else 'user'}"
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    if hasattr(os, "getuid"):  # on a shared /tmp, load only files that this user wrote
        status = folder.stat()
        if status.st_uid != os.getuid():
            raise ValueError(f"{folder} (the cache of generated ant models) belongs to another user; "
                             "set TMPDIR to a private folder")
        if status.st_mode & 0o077:  # made by an older hebbbench under a permissive umask
            folder.chmod(0o700)
    path = folder / f"ant-{digest}.xml"
    if not path.exists():
        write_text_atomic(path, text)
    return str(path)
