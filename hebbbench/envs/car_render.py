"""A fast renderer for CarRacing's 96x96 ``state_pixels`` observation.

Upstream (``CarRacing._render("state_pixels")``) transforms about 800 polygons in Python,
draws those on screen onto a 1000x800 pygame surface, flips it, draws the indicator bar
and the score, then box-filters it down to 96x96 with ``pygame.transform.smoothscale``;
that is about 97% of a ``CarRacing-v3`` step. This module draws the same scene straight
onto a small supersampled canvas (``96 * supersample`` pixels square, 192 by default)
with OpenCV's polygon filler, after one vectorised world-to-canvas transform and a
visibility cull, then box-filters the canvas to 96x96 (``cv2.resize``, ``INTER_AREA``).

Where it differs from upstream, and why the difference stays small (0.4-0.7 intensity
levels on average over seeded 1000-step episodes; ``tests/test_fast_car.py``):

* Geometry lands on the canvas grid rather than the 1000x800 one: edges move by at most
  half a canvas pixel, a quarter of an output pixel at the default supersample of 2.
* ``smoothscale`` truncates in fixed point, turning a flat colour ``c`` into about
  ``c - 2``; :func:`smoothscale_lut` measures that map once and every colour is drawn
  already mapped, so flat areas come out exactly as upstream's.
* Polygons of one colour are filled together (grass, road tiles in upstream's three
  shades, kerbs in white and red), layer after layer; where two layers overlap the later
  one wins, where upstream's tile-by-tile order may pick the other. On a generated track
  they only meet along shared edges. Tiles the car has touched turn plain road colour,
  as upstream's do.
* Indicator bars are cut at canvas rows and columns instead of being box-filtered from
  full-size pixels: up to about 25 levels on the bars' edge pixels.
* The score text is drawn by pygame as upstream and shrunk by ``smoothscale`` itself on
  its own block of the frame, then cached per string (:func:`score_patch`).
"""

from __future__ import annotations

import functools
import math

import cv2
import numpy as np
import pygame
from gymnasium.envs.box2d import car_dynamics, car_racing

# Upstream's frame geometry, read from Gymnasium so a change there stays visible here.
_W, _H = car_racing.WINDOW_W, car_racing.WINDOW_H  # the full-size surface, pixels
_OUT = car_racing.STATE_W  # the observation is _OUT x _OUT (STATE_W == STATE_H)
_SCALE, _ZOOM, _PLAYFIELD = car_racing.SCALE, car_racing.ZOOM, car_racing.PLAYFIELD
_GRASS_DIM = car_racing.GRASS_DIM
_SHIFT = 4  # fractional bits of the fixed-point vertices handed to OpenCV
_ONE = 1 << _SHIFT
#: Upstream's indicator bar: the bottom 5/40 of the frame, black, drawn after the flip.
_BAR_TOP = _H - 5 * _H / 40.0
#: The score sits in the bar's left part: pixels [0, _SCORE_W) x [_BAR_TOP, _H) of the
#: full frame, exactly _SCORE_OUT output pixels wide and high.
_SCORE_OUT = 12
_SCORE_W = _SCORE_OUT * _W / _OUT
#: Upstream's indicators (``CarRacing._render_indicators``): vertical bars for the speed
#: and the four wheel speeds at x-places 5, 7..10 (in W/40), scaled by 0.02 and 0.01;
#: horizontal bars for the steering angle and the yaw rate from x-places 20 and 30.
_VERTICAL_PLACES = (5, 7, 8, 9, 10)
_VERTICAL_SCALES = (0.02, 0.01, 0.01, 0.01, 0.01)
_VERTICAL_COLORS = ((255, 255, 255), (0, 0, 255), (0, 0, 255), (51, 0, 255), (51, 0, 255))
_HORIZONTAL_PLACES = (20, 30)
_HORIZONTAL_SCALES = (-10.0, -0.8)
_HORIZONTAL_COLORS = ((0, 255, 0), (255, 0, 0))


@functools.lru_cache(maxsize=1)
def smoothscale_lut() -> np.ndarray:
    """``lut[c]``: what ``smoothscale`` turns a flat area of intensity ``c`` into (uint8, 256).

    Measured on a 125x100 surface shrunk to 12x12: the same fixed-point step sizes as
    upstream's 1000x800 -> 96x96, at a hundredth of the cost.
    """
    lut = np.empty(256, dtype=np.uint8)
    surface = pygame.Surface((int(_SCORE_W), int(_H - _BAR_TOP)))
    for value in range(256):
        surface.fill((value, value, value))
        shrunk = pygame.surfarray.pixels3d(pygame.transform.smoothscale(surface, (_SCORE_OUT, _SCORE_OUT)))
        lut[value] = shrunk[_SCORE_OUT // 2, _SCORE_OUT // 2, 0]
    return lut


@functools.lru_cache(maxsize=4096)
def score_patch(text: str) -> np.ndarray:
    """The bottom-left ``(12, 12, 3)`` uint8 block of the observation showing ``text``.

    Upstream draws the score in pygame's default font, size 42, white on black, centred
    at (60, 750) of the flipped 1000x800 frame; that block of the frame holds nothing
    else (the first indicator starts at x = 125), so it is rendered and shrunk on its own.
    """
    surface = pygame.Surface((int(_SCORE_W), int(_H - _BAR_TOP)))
    rendered = _score_font().render(text, True, (255, 255, 255), (0, 0, 0))
    rect = rendered.get_rect()
    rect.center = (60, int(_H - _H * 2.5 / 40.0 - _BAR_TOP))
    surface.blit(rendered, rect)
    shrunk = pygame.transform.smoothscale(surface, (_SCORE_OUT, _SCORE_OUT))
    return np.transpose(pygame.surfarray.array3d(shrunk), (1, 0, 2)).copy()


@functools.lru_cache(maxsize=1)
def _score_font() -> pygame.font.Font:
    """Upstream's score font: pygame's default font at size 42."""
    pygame.font.init()
    return pygame.font.Font(pygame.font.get_default_font(), 42)


def _grass_squares() -> np.ndarray:
    """Upstream's grass patches: (400, 4, 2) world-coordinate squares, in draw order."""
    squares = []
    for x in range(-20, 20, 2):
        for y in range(-20, 20, 2):
            x0, y0 = _GRASS_DIM * x, _GRASS_DIM * y
            squares.append([(x0 + _GRASS_DIM, y0), (x0, y0), (x0, y0 + _GRASS_DIM), (x0 + _GRASS_DIM, y0 + _GRASS_DIM)])
    return np.array(squares)


class StatePixelRenderer:
    """Draws CarRacing's 96x96 ``state_pixels`` frame for the env's current state.

    Call :meth:`reset` after every ``CarRacing.reset`` (the track and the car change),
    then :meth:`render` after every physics step. ``supersample`` (int >= 1): canvas
    pixels per output pixel along each axis. Measured mean absolute difference from
    upstream over seeded 300-step episodes: about 0.9 level at 1 (drawn straight at
    96x96), 0.43 at 2 (the default), 0.23 at 3, 0.18 at 4; at 3 a frame already costs
    about 1.6x what it costs at 2.
    """

    def __init__(self, supersample: int = 2) -> None:
        if not isinstance(supersample, int) or isinstance(supersample, bool) or supersample < 1:
            raise ValueError(f"supersample must be a positive integer, got {supersample!r}")
        self.supersample = supersample
        self.size = _OUT * supersample
        self._canvas = np.zeros((self.size, self.size, 3), dtype=np.uint8)
        self._bg_canvas = np.zeros_like(self._canvas)
        self._lut = smoothscale_lut()
        # As arrays: numpy converts a tuple on every slice assignment.
        self._vertical_colors = [np.array(self._paint(color), np.uint8) for color in _VERTICAL_COLORS]
        self._horizontal_colors = [np.array(self._paint(color), np.uint8) for color in _HORIZONTAL_COLORS]
        self._stripe_color = self._paint(car_dynamics.WHEEL_WHITE)
        self._field = np.array([[(_PLAYFIELD, _PLAYFIELD), (_PLAYFIELD, -_PLAYFIELD),
                                 (-_PLAYFIELD, -_PLAYFIELD), (-_PLAYFIELD, _PLAYFIELD)]])
        # Canvas pixels per full-frame pixel, along x and y.
        self._kx, self._ky = self.size / _W, self.size / _H
        self._bar_row = int(round(_BAR_TOP * self._ky))
        # Fixed extents of the indicators, in canvas pixels (pygame's inclusive ints).
        s, h = _W / 40.0, _H / 40.0
        self._vertical_cols = [
            slice(round(int(p * s) * self._kx), round((int((p + 1) * s) + 1) * self._kx)) for p in _VERTICAL_PLACES
        ]
        self._horizontal_rows = slice(round(int(_H - 4 * h) * self._ky), round((int(_H - 2 * h) + 1) * self._ky))

    def reset(self, env: car_racing.CarRacing) -> None:
        """Read the new track's polygons and colours and the new car's shapes from ``env``.

        Upstream repaints a road tile in the plain road colour once the car touches it
        (``FrictionDetector`` writes into the colour array that ``road_poly`` shares), so
        the tiles of the two lighter shades keep a reference to their colour array and
        are checked while on screen.
        """
        road = tuple(int(c) for c in env.road_color)
        by_color: dict[tuple[int, int, int], tuple[list, list]] = {}
        for vertices, color in env.road_poly:
            key = tuple(int(c) for c in color)
            polygons, refs = by_color.setdefault(key, ([], []))
            polygons.append(vertices)
            refs.append(color if isinstance(color, np.ndarray) and key != road else None)
        kerb_colors = ((255, 255, 255), (255, 0, 0))
        order = [c for c in by_color if c not in kerb_colors] + [c for c in by_color if c in kerb_colors]
        layers = [(_grass_squares(), self._paint(env.grass_color), [None] * len(_grass_squares()))]
        layers += [(np.array(by_color[c][0], dtype=np.float64), self._paint(c), by_color[c][1]) for c in order]
        # All polygons in one (N, 4, 2) array, layer after layer, with bounding discs.
        self._polygons = np.concatenate([vertices for vertices, _, _ in layers])
        self._layer_starts = np.cumsum([0] + [len(vertices) for vertices, _, _ in layers])
        self._layer_colors = [color for _, color, _ in layers]
        self._color_refs = [ref for _, _, refs in layers for ref in refs]
        self._layer_repaintable = [any(ref is not None for ref in refs) for _, _, refs in layers]
        self._last_tile_layer = len(layers) - 1 - sum(c in kerb_colors for c in order)
        self._road_red = float(env.road_color[0])
        self._road_paint = self._paint(road)
        centres = self._polygons.mean(axis=1)
        self._centre_x, self._centre_y = centres[:, 0].copy(), centres[:, 1].copy()
        self._radii = np.sqrt(((self._polygons - centres[:, None]) ** 2).sum(axis=2)).max(axis=1)
        self._bg = self._paint(env.bg_color)
        self._bg_canvas[:] = self._bg
        self._reset_car(env.car)

    def _reset_car(self, car: car_dynamics.Car) -> None:
        """Stack the car's fixture vertices (body frames) and plan its fills.

        Fixtures are visited in ``Car.draw``'s order (wheels, then the hull). Consecutive
        fixtures of one colour are filled in one ``cv2.fillPoly`` call when they do not
        touch (its even-odd rule would cut holes where polygons overlap); order within
        one colour does not change the picture. Each wheel also gets 4 vertices for its
        tread stripe, whose y's change with the wheel's spin.
        """
        self._car_bodies = list(car.drawlist)
        self._is_wheel = [any(body is wheel for wheel in car.wheels) for body in self._car_bodies]
        local, owners, groups = [], [], []  # groups: [colour, spans, world boxes, wheels?]
        for index, body in enumerate(self._car_bodies):
            color = self._paint([int(c * 255) for c in body.color])
            is_wheel = self._is_wheel[index]
            for fixture in body.fixtures:
                vertices = list(fixture.shape.vertices)
                world = np.array([tuple(body.transform * v) for v in vertices])
                box = (*world.min(axis=0), *world.max(axis=0))
                span = (len(owners), len(owners) + len(vertices))
                local.extend(vertices)
                owners.extend([index] * len(vertices))
                for group in reversed(groups):
                    if group[0] != color or group[3] != is_wheel:
                        groups.append([color, [span], [box], is_wheel])
                        break
                    if not any(_boxes_touch(box, other) for other in group[2]):
                        group[1].append(span)
                        group[2].append(box)
                        break
                else:
                    groups.append([color, [span], [box], is_wheel])
        self._car_groups = [(color, spans) for color, spans, _, _ in groups]
        self._stripes_after = max(i for i, group in enumerate(groups) if group[3])
        self._stripe_start = len(owners)
        half_width = car_dynamics.WHEEL_W * car_dynamics.SIZE
        for index, is_wheel in enumerate(self._is_wheel):
            if is_wheel:
                local.extend([(-half_width, 0.0), (half_width, 0.0), (half_width, 0.0), (-half_width, 0.0)])
                owners.extend([index] * 4)
        # (V, 1, 3) homogeneous row vectors, so one batched product maps them all.
        self._car_local = np.hstack([np.array(local, dtype=np.float64), np.ones((len(local), 1))])[:, None, :]
        self._car_owner = np.array(owners)

    def _paint(self, color) -> tuple[int, int, int]:
        """The colour to draw so that a flat area of ``color`` ends up as upstream's.

        Upstream's ``smoothscale`` darkens flat areas by its fixed-point truncation
        (:func:`smoothscale_lut`); drawing with the darkened colour folds that in.
        """
        return tuple(int(self._lut[int(c)]) for c in color)

    def render(self, env: car_racing.CarRacing) -> np.ndarray:
        """The (96, 96, 3) uint8 observation for ``env``'s car, time and score."""
        car = env.car
        zoom = 0.1 * _SCALE * max(1 - env.t, 0) + _ZOOM * _SCALE * min(env.t, 1)
        angle = -car.hull.angle
        view = self._view_matrix(zoom, angle, car.hull.position)
        fixed_view = tuple(tuple(_ONE * value for value in row) for row in view)
        fixed_array = np.array(fixed_view)
        canvas = self._canvas
        # The canvas's centre and the half-sides of its bounding box, in world units.
        half = self.size / 2
        centre = _invert(view, half - 0.5, half - 0.5)
        half_x, half_y = half / (self._kx * zoom), half / (self._ky * zoom)
        c, s = abs(math.cos(angle)), abs(math.sin(angle))
        reach = (c * half_x + s * half_y, s * half_x + c * half_y)
        # The scene goes above the indicator bar only (upstream paints the bar over it).
        scene = canvas[:self._bar_row]
        if abs(centre[0]) + reach[0] < _PLAYFIELD and abs(centre[1]) + reach[1] < _PLAYFIELD:
            np.copyto(scene, self._bg_canvas[:self._bar_row])
        else:  # the playfield's edge may be in view: black beyond it
            scene[:] = 0
            cv2.fillPoly(scene, _fixed(fixed_array, self._field), self._bg, cv2.LINE_8, _SHIFT)
        self._draw_track(scene, fixed_array, centre, reach)
        self._draw_car(scene, fixed_view)
        self._draw_bar(canvas, car)
        if self.supersample > 1:
            out = cv2.resize(canvas, (_OUT, _OUT), interpolation=cv2.INTER_AREA)
        else:
            out = canvas.copy()
        out[_OUT - _SCORE_OUT:, :_SCORE_OUT] = score_patch(f"{env.reward:04.0f}")
        return out

    def _view_matrix(self, zoom: float, angle: float, position) -> tuple:
        """The 2x3 map (two row tuples) from world coordinates to canvas pixel coordinates
        (OpenCV's pixel centres).

        Upstream: screen = rotate(world, angle) * zoom + trans, trans centring the car at
        (W/2, H/4); the frame is then flipped upside down and shrunk to the canvas.
        """
        c, s = math.cos(angle), math.sin(angle)
        px, py = position[0], position[1]
        tx = _W / 2 - zoom * (c * px - s * py)
        ty = _H / 4 - zoom * (s * px + c * py)
        kx, ky = self._kx, self._ky
        return (
            (kx * zoom * c, -kx * zoom * s, kx * tx - 0.5),
            (-ky * zoom * s, -ky * zoom * c, ky * (_H - ty) - 0.5),
        )

    def _draw_track(self, canvas: np.ndarray, fixed_view: np.ndarray, centre, reach) -> None:
        """Grass, then road tiles, then kerbs: each layer's on-screen polygons in one call.

        A polygon is drawn when its bounding disc meets the canvas's bounding box: half-sides
        ``reach`` (x, y) around ``centre``, in world units. ``fixed_view`` maps world points
        to fixed-point canvas coordinates.
        """
        near_x = np.abs(self._centre_x - centre[0]) < self._radii + reach[0]
        near = near_x & (np.abs(self._centre_y - centre[1]) < self._radii + reach[1])
        visible = np.flatnonzero(near)
        points = _fixed(fixed_view, self._polygons[visible])
        bounds = np.searchsorted(visible, self._layer_starts).tolist()
        repainted = []  # tiles the car has touched: drawn in the road colour, after the tiles
        for layer, (color, start, stop) in enumerate(zip(self._layer_colors, bounds[:-1], bounds[1:])):
            layer_points = points[start:stop]
            if stop > start and self._layer_repaintable[layer]:
                refs, red = self._color_refs, self._road_red
                touched = [refs[i][0] == red for i in visible[start:stop].tolist()]
                if any(touched):
                    touched = np.array(touched)
                    repainted.append(layer_points[touched])
                    layer_points = layer_points[~touched]
            if len(layer_points):
                cv2.fillPoly(canvas, layer_points, color, cv2.LINE_8, _SHIFT)
            if layer == self._last_tile_layer and repainted:
                cv2.fillPoly(canvas, np.concatenate(repainted), self._road_paint, cv2.LINE_8, _SHIFT)

    def _draw_car(self, canvas: np.ndarray, fixed_view: tuple) -> None:
        """Wheels (black, with the grey tread stripe), then the hull, as ``Car.draw``.

        Every fixture and stripe vertex is mapped in one batched product with its body's
        (view @ body) matrix.
        """
        (a, b, tx), (c, d, ty) = fixed_view
        matrices, stripe_ys, stripes = [], [], []
        for body, is_wheel in zip(self._car_bodies, self._is_wheel):
            angle = body.angle
            co, si = math.cos(angle), math.sin(angle)
            x, y = body.position
            # Transposed (view @ body), so that [x, y, 1] @ matrix is the canvas point.
            matrices.append(((a * co + b * si, c * co + d * si), (b * co - a * si, d * co - c * si),
                             (a * x + b * y + tx, c * x + d * y + ty)))
            if is_wheel:
                ends = _tread_stripe(body.phase)
                stripes.append(ends is not None)
                y1, y2 = ends if ends is not None else (0.0, 0.0)
                stripe_ys.extend((y1, y1, y2, y2))
        local = self._car_local
        local[self._stripe_start:, 0, 1] = stripe_ys
        points = (local @ np.array(matrices)[self._car_owner]).astype(np.int32)[:, 0]
        for index, (color, spans) in enumerate(self._car_groups):
            cv2.fillPoly(canvas, [points[start:stop] for start, stop in spans], color, cv2.LINE_8, _SHIFT)
            if index == self._stripes_after and any(stripes):
                start = self._stripe_start
                quads = [points[start + 4 * i:start + 4 * i + 4] for i, shown in enumerate(stripes) if shown]
                cv2.fillPoly(canvas, quads, self._stripe_color, cv2.LINE_8, _SHIFT)

    def _draw_bar(self, canvas: np.ndarray, car: car_dynamics.Car) -> None:
        """The black indicator bar: speed, four wheel speeds (ABS), steering and gyro.

        Upstream fills each indicator with ``pygame.draw.polygon``, which covers the
        pixels int(x0) .. int(x1) and int(y0) .. int(y1) inclusive.
        """
        canvas[self._bar_row:] = 0
        hull, wheels = car.hull, car.wheels
        velocity = hull.linearVelocity
        speed = math.sqrt(velocity[0] ** 2 + velocity[1] ** 2)
        kx, ky = self._kx, self._ky
        h = _H / 40.0
        # Vertical indicators grow up from y = H - h by h * value.
        for value, scale, cols, color in zip(
            (speed, *(wheel.omega for wheel in wheels)), _VERTICAL_SCALES, self._vertical_cols, self._vertical_colors
        ):
            if abs(value) > 1e-4:
                top, bottom = int(_H - (h + h * (scale * value))), int(_H - h)
                top, bottom = min(top, bottom), max(top, bottom)
                canvas[round(top * ky):round((bottom + 1) * ky), cols] = color
        # Horizontal indicators grow right from x = place * W / 40 by value * W / 40.
        s = _W / 40.0
        for value, scale, place, color in zip(
            (wheels[0].joint.angle, hull.angularVelocity), _HORIZONTAL_SCALES, _HORIZONTAL_PLACES, self._horizontal_colors
        ):
            if abs(value) > 1e-4:
                left, right = int(place * s), int((place + scale * value) * s)
                left, right = min(left, right), max(left, right)
                canvas[self._horizontal_rows, round(left * kx):round((right + 1) * kx)] = color


def _invert(view: tuple, u: float, v: float) -> tuple[float, float]:
    """The world point that ``view`` (2x3, row tuples) maps to canvas point (u, v)."""
    (a, b, tx), (c, d, ty) = view
    det = a * d - b * c
    u, v = u - tx, v - ty
    return (d * u - b * v) / det, (a * v - c * u) / det


def _fixed(fixed_view: np.ndarray, points: np.ndarray) -> np.ndarray:
    """World points (..., 2) -> int32 fixed-point canvas coordinates under ``fixed_view`` (2, 3).

    Truncates: off by less than 1/16 of a canvas pixel from rounding.
    """
    return (points @ fixed_view[:, :2].T + fixed_view[:, 2]).astype(np.int32)


def _boxes_touch(one: tuple, other: tuple) -> bool:
    """Whether two (x0, y0, x1, y1) boxes overlap or touch."""
    return one[0] <= other[2] and other[0] <= one[2] and one[1] <= other[3] and other[1] <= one[3]


def _tread_stripe(phase: float) -> tuple[float, float] | None:
    """The y extent, in the wheel's frame, of the grey band ``Car.draw`` paints across a
    wheel at spin angle ``phase``; None when the band is on the wheel's hidden side."""
    s1, s2 = math.sin(phase), math.sin(phase + 1.2)
    c1, c2 = math.cos(phase), math.cos(phase + 1.2)
    if s1 > 0 and s2 > 0:
        return None
    if s1 > 0:
        c1 = float(np.sign(c1))
    if s2 > 0:
        c2 = float(np.sign(c2))
    return car_dynamics.WHEEL_R * c1 * car_dynamics.SIZE, car_dynamics.WHEEL_R * c2 * car_dynamics.SIZE
