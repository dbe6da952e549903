"""A fast renderer for CarRacing's 96x96 ``state_pixels`` observation.

Upstream (``CarRacing._render("state_pixels")``) transforms about 800 polygons in Python,
draws those on screen onto a 1000x800 pygame surface, flips it, draws the indicator bar
and the score, then box-filters it down to 96x96 with ``pygame.transform.smoothscale``;
that is nearly all of a ``CarRacing-v3`` step. This module draws the same scene straight
onto a small supersampled canvas (``96 * supersample`` pixels square, 192 by default)
with OpenCV's polygon filler, after a visibility cull and one world-to-canvas transform
(both ``cv2.transform``), then box-filters the canvas to 96x96 (``cv2.resize``,
``INTER_AREA``).

Where it differs from upstream, and why the difference stays small (about 0.5-0.6
intensity levels on average over seeded 1000-step episodes; ``tests/test_fast_car.py``):

* Geometry lands on the canvas grid rather than the 1000x800 one: edges move by at most
  half a canvas pixel, a quarter of an output pixel at the default supersample of 2.
* ``smoothscale`` truncates in fixed point, turning a flat colour ``c`` into about
  ``c - 2``; :func:`smoothscale_lut` measures that map once and every colour is drawn
  already mapped, so flat areas come out exactly as upstream's.
* Polygons of one colour are filled together (grass, road tiles in upstream's three
  shades, kerbs in white and red), layer after layer; where two layers overlap the later
  one wins, where upstream's tile-by-tile order may pick the other. On a generated track
  they only meet along shared edges. Tiles the car has touched turn plain road colour,
  as upstream's do, and are drawn with the tiles that always had it, after the lighter
  shades.
* The wheels' grey tread stripe is left out: at 96x96 it is a sub-pixel band (about
  0.02 levels of the mean difference), not worth a polygon pass per step.
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

from hebbbench.system.checks import int_at_least

# Upstream's frame geometry, read from Gymnasium so a change there stays visible here.
_W, _H = car_racing.WINDOW_W, car_racing.WINDOW_H  # the full-size surface, pixels
_OUT = car_racing.STATE_W  # the observation is _OUT x _OUT (STATE_W == STATE_H)
_SCALE, _ZOOM, _PLAYFIELD = car_racing.SCALE, car_racing.ZOOM, car_racing.PLAYFIELD
_GRASS_DIM = car_racing.GRASS_DIM
_SHIFT = 4  # fractional bits of the fixed-point vertices handed to OpenCV
_ONE = 1 << _SHIFT
#: Track polygons are stored as int32 in 1/_WORLD_ONE world units (the playfield spans
#: +-333 units, well inside int32), so that ``cv2.transform`` maps them straight to int32
#: fixed-point canvas coordinates, rounded.
_WORLD_ONE = 1 << 16
#: Upstream's indicator bar: the bottom 5/40 of the frame, black, drawn after the flip.
_BAR_TOP = _H - 5 * _H / 40.0
#: The distance from the car, drawn at (W/2, 3H/4) of the flipped frame, to the frame's
#: farthest corner, in frame pixels.
_FRAME_REACH = math.hypot(_W / 2, 3 * _H / 4)
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
    try:
        rendered = _score_font().render(text, True, (255, 255, 255), (0, 0, 0))
    except pygame.error:  # the cached font died with a pygame.quit() (e.g. closing a human-mode env)
        _score_font.cache_clear()
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


@functools.lru_cache(maxsize=1)
def _grass_squares() -> np.ndarray:
    """Upstream's grass patches: (400, 4, 2) world-coordinate squares, in draw order
    (the same for every track; read-only)."""
    squares = []
    for x in range(-20, 20, 2):
        for y in range(-20, 20, 2):
            x0, y0 = _GRASS_DIM * x, _GRASS_DIM * y
            squares.append([(x0 + _GRASS_DIM, y0), (x0, y0), (x0, y0 + _GRASS_DIM), (x0 + _GRASS_DIM, y0 + _GRASS_DIM)])
    grid = np.array(squares)
    grid.flags.writeable = False
    return grid


def share_tile_colors(env: car_racing.CarRacing) -> tuple[np.ndarray, list[int | None]]:
    """Move the road tiles' colour arrays into one (T, 3) float array, in ``env.road`` order.

    Each tile's ``color`` and its ``road_poly`` entry are rebound to the tile's row (a
    view), so upstream's repaint (``tile.color[:] = road_color``) writes into the array and
    upstream's own renderer still reads the same colours. Returns the array and, for each
    ``road_poly`` entry, its tile's row (None for kerbs).
    """
    # Column-major, so that one colour channel of all tiles is contiguous.
    colors = np.array([tile.color for tile in env.road], dtype=np.float64, order="F")
    row_of = {id(tile.color): row for row, tile in enumerate(env.road)}
    rows = [row_of.get(id(color)) for _, color in env.road_poly]
    env.road_poly[:] = [(vertices, color if row is None else colors[row])
                        for (vertices, color), row in zip(env.road_poly, rows)]
    for row, tile in enumerate(env.road):
        tile.color = colors[row]
    return colors, rows


class StatePixelRenderer:
    """Draws CarRacing's 96x96 ``state_pixels`` frame for the env's current state.

    Call :meth:`reset` after every ``CarRacing.reset`` (the track and the car change),
    then :meth:`render` after every physics step. ``supersample`` (int >= 1): canvas
    pixels per output pixel along each axis. Measured mean absolute difference from
    upstream over four seeded 300-step episodes: 1.1-1.25 levels at 1 (drawn straight at
    96x96), 0.5-0.57 at 2 (the default), 0.29-0.32 at 3, where a step costs about 1.5x
    what it costs at 2.
    """

    def __init__(self, supersample: int = 2) -> None:
        self.supersample = int_at_least("supersample", supersample, 1)
        self.size = _OUT * supersample
        self._canvas = np.zeros((self.size, self.size, 3), dtype=np.uint8)
        self._bg_canvas = np.zeros_like(self._canvas)
        self._lut = smoothscale_lut()
        # As arrays: numpy converts a tuple on every slice assignment.
        self._vertical_colors = [np.array(self._paint(color), np.uint8) for color in _VERTICAL_COLORS]
        self._horizontal_colors = [np.array(self._paint(color), np.uint8) for color in _HORIZONTAL_COLORS]
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
        self._horizontal_starts = [int(p * s) for p in _HORIZONTAL_PLACES]
        # The vertical indicators' foot, frame row int(H - h), and its canvas rows.
        self._foot = int(_H - h)
        self._foot_top, self._foot_bottom = round(self._foot * self._ky), round((self._foot + 1) * self._ky)
        # Canvas columns left of this hold only the vertical indicators.
        self._bar_split = max(cols.stop for cols in self._vertical_cols)
        self._drawn_verticals = self._drawn_horizontals = None  # what the bar rows show now

    def reset(self, env: car_racing.CarRacing, same_track: bool = False) -> None:
        """Read the new track's polygons and colours and the new car's shapes from ``env``;
        with ``same_track``, the track is the one of the last reset, its tiles repainted
        back in place, and only the car is new.

        Upstream repaints a road tile in the plain road colour once the car touches it
        (``FrictionDetector`` writes into the tile's colour array, which ``road_poly``
        shares). :func:`share_tile_colors` moves those arrays into one, so one comparison
        per step finds every repainted tile; repainted tiles join the road-colour layer.
        """
        if not same_track:
            self._read_track(env)
        self._sort_polygons()
        self._bg_canvas[:] = self._bg
        self._reset_car(env.car)

    def _read_track(self, env: car_racing.CarRacing) -> None:
        """Group the track's polygons by colour into draw layers (see :meth:`reset`)."""
        tile_colors, tile_rows = share_tile_colors(env)
        road = tuple(int(c) for c in env.road_color)
        by_color: dict[tuple[int, int, int], tuple[list, list]] = {}
        for (vertices, color), row in zip(env.road_poly, tile_rows):
            polygons, rows = by_color.setdefault(tuple(int(c) for c in color), ([], []))
            polygons.append(vertices)
            rows.append(row)
        is_tiles = {key: all(row is not None for row in rows) for key, (_, rows) in by_color.items()}
        # Grass, the lighter tile shades, the road colour (tiles that are or turned it), kerbs.
        order = [key for key in by_color if is_tiles[key] and key != road]
        order += [key for key in by_color if key == road] + [key for key in by_color if not is_tiles[key]]
        grass = _grass_squares()
        polygons, layers, rows = [grass], [np.zeros(len(grass), dtype=np.intp)], [[None] * len(grass)]
        for layer, key in enumerate(order, start=1):
            polygons.append(np.array(by_color[key][0], dtype=np.float64))
            layers.append(np.full(len(by_color[key][0]), layer, dtype=np.intp))
            rows.append(by_color[key][1])
        self._track_polygons = np.concatenate(polygons)  # (N, 4, 2) world units, in upstream's order
        self._track_layers = np.concatenate(layers)  # (N,) each polygon's layer while untouched
        self._layer_colors = [self._paint(env.grass_color)] + [self._paint(key) for key in order]
        rows = [row for layer_rows in rows for row in layer_rows]
        tiles = np.array([index for index, row in enumerate(rows) if row is not None], dtype=np.intp)
        self._tile_polygons = tiles[np.argsort([rows[index] for index in tiles])]  # by tile row
        self._tile_red = tile_colors[:, 0]  # a view: upstream's repaints show up here
        self._road_red = float(env.road_color[0])
        self._road_layer = order.index(road) + 1
        self._bg = self._paint(env.bg_color)

    def _sort_polygons(self) -> None:
        """Order the polygons by the layer each is drawn in now (repainted tiles in the road
        layer), so that the visible ones, taken in index order, come layer after layer."""
        layers = self._track_layers.copy()
        repainted = self._tile_red == self._road_red
        layers[self._tile_polygons[repainted]] = self._road_layer
        self._red_sum = self._tile_red.sum()  # falls whenever a lighter tile turns road colour
        order = np.argsort(layers, kind="stable")
        polygons = self._track_polygons[order]
        self._polygons = np.round(polygons * _WORLD_ONE).astype(np.int32)
        self._layer_starts = np.searchsorted(layers[order], np.arange(len(self._layer_colors) + 1))
        centres = polygons.mean(axis=1)
        self._centres = centres[:, None, :]  # (N, 1, 2), as cv2.transform wants
        radii = np.sqrt(((polygons - centres[:, None]) ** 2).sum(axis=2)).max(axis=1)
        self._radii = np.repeat(radii, 2).reshape(-1, 1, 2)
        self._cull_zoom = None  # the zoom that _cull_low and _cull_high were computed for

    def _reset_car(self, car: car_dynamics.Car) -> None:
        """Stack the car's fixture vertices (body frames) and plan its fills.

        Fixtures are visited in ``Car.draw``'s order (wheels, then the hull). Consecutive
        fixtures of one colour are filled in one ``cv2.fillPoly`` call when they do not
        touch (its even-odd rule would cut holes where polygons overlap); order within
        one colour does not change the picture.
        """
        self._car_bodies = list(car.drawlist)
        local, owners, groups = [], [], []  # groups: [colour, spans, world boxes]
        for index, body in enumerate(self._car_bodies):
            color = self._paint([int(c * 255) for c in body.color])
            for fixture in body.fixtures:
                vertices = list(fixture.shape.vertices)
                world = np.array([tuple(body.transform * v) for v in vertices])
                box = (*world.min(axis=0), *world.max(axis=0))
                span = (len(owners), len(owners) + len(vertices))
                local.extend(vertices)
                owners.extend([index] * len(vertices))
                for group in reversed(groups):
                    if group[0] != color:
                        groups.append([color, [span], [box]])
                        break
                    if not any(_boxes_touch(box, other) for other in group[2]):
                        group[1].append(span)
                        group[2].append(box)
                        break
                else:
                    groups.append([color, [span], [box]])
        self._car_groups = [(color, spans) for color, spans, _ in groups]
        # Row v holds vertex v as [x, y, 1] in the three columns of its body, zeros
        # elsewhere: (V, 3B) @ (3B, 2) stacked per-body matrices maps every vertex at once.
        rows, columns = np.arange(len(owners)), 3 * np.array(owners)
        self._car_block = np.zeros((len(owners), 3 * len(self._car_bodies)))
        self._car_block[rows, columns] = [x for x, _ in local]
        self._car_block[rows, columns + 1] = [y for _, y in local]
        self._car_block[rows, columns + 2] = 1.0

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
        x, y = car.hull.position
        frame = _frame_matrix(zoom, env.camera_angle(), x, y)
        (a, b, tx), (c, d, ty) = frame
        # To fixed-point canvas coordinates (OpenCV's pixel centres are at .5 of a frame cell).
        fx, fy, half = _ONE * self._kx, _ONE * self._ky, _ONE / 2
        fixed_view = ((fx * a, fx * b, fx * tx - half), (fy * c, fy * d, fy * ty - half))
        canvas = self._canvas
        # The scene goes above the indicator bar only (upstream paints the bar over it).
        # The car sits at (W/2, 3H/4) of the flipped frame, so no point of the frame is
        # further from it than _FRAME_REACH pixels.
        scene = canvas[:self._bar_row]
        reach = _FRAME_REACH / zoom
        if abs(x) + reach < _PLAYFIELD and abs(y) + reach < _PLAYFIELD:
            np.copyto(scene, self._bg_canvas[:self._bar_row])
        else:  # the playfield's edge may be in view: black beyond it
            scene[:] = 0
            field = cv2.transform(self._field, np.array(fixed_view)).astype(np.int32)
            cv2.fillPoly(scene, field, self._bg, cv2.LINE_8, _SHIFT)
        self._draw_track(scene, frame, zoom, fixed_view)
        self._draw_car(scene, fixed_view)
        self._draw_bar(canvas, car)
        if self.supersample > 1:
            out = cv2.resize(canvas, (_OUT, _OUT), interpolation=cv2.INTER_AREA)
        else:
            out = canvas.copy()
        out[_OUT - _SCORE_OUT:, :_SCORE_OUT] = score_patch(f"{env.reward:04.0f}")
        return out

    def _draw_track(self, canvas: np.ndarray, frame: tuple, zoom: float, fixed_view: tuple) -> None:
        """Grass, tiles by shade, road-colour tiles, kerbs: each layer's visible polygons in
        one ``cv2.fillPoly`` call.

        ``frame`` maps world points to full-frame pixels, ``zoom`` is its scale (pixels per
        world unit) and ``fixed_view`` maps world points to fixed-point canvas coordinates.
        A polygon is drawn when its bounding disc meets the scene's part of the frame,
        [0, W] x [0, bar top].
        """
        if self._tile_red.sum() != self._red_sum:
            self._sort_polygons()
        # Offsets of the polygons' centres from the scene's centre, in world units along
        # the frame's axes; visible where within a radius of the scene's half-sides.
        (a, b, tx), (c, d, ty) = frame
        half_x, half_y = _W / 2 / zoom, _BAR_TOP / 2 / zoom
        if zoom != self._cull_zoom:  # constant once the opening zoom-in is over
            self._cull_zoom = zoom
            self._cull_high = self._radii + (half_x, half_y)
            self._cull_low = -self._cull_high
        to_scene = np.array(((a / zoom, b / zoom, tx / zoom - half_x), (c / zoom, d / zoom, ty / zoom - half_y)))
        offsets = cv2.transform(self._centres, to_scene)
        visible = cv2.inRange(offsets, self._cull_low, self._cull_high).nonzero()[0]
        if not len(visible):
            return
        (p, q, u), (r, s, v) = fixed_view
        unit = 1.0 / _WORLD_ONE
        points = cv2.transform(self._polygons[visible], np.array(((p * unit, q * unit, u), (r * unit, s * unit, v))))
        bounds = np.searchsorted(visible, self._layer_starts).tolist()
        for color, start, stop in zip(self._layer_colors, bounds, bounds[1:]):
            if stop > start:
                cv2.fillPoly(canvas, points[start:stop], color, cv2.LINE_8, _SHIFT)

    def _draw_car(self, canvas: np.ndarray, fixed_view: tuple) -> None:
        """Wheels (black), then the hull, as ``Car.draw``, without the wheels' tread
        stripe (see the module docstring).

        Every fixture vertex is mapped in one product of the block matrix
        (:meth:`_reset_car`) with the bodies' stacked (view @ body) matrices.
        """
        (a, b, tx), (c, d, ty) = fixed_view
        matrices = []
        for body in self._car_bodies:
            angle = body.angle
            co, si = math.cos(angle), math.sin(angle)
            x, y = body.position
            # Transposed (view @ body), so that [x, y, 1] @ matrix is the canvas point.
            matrices += (a * co + b * si, c * co + d * si, b * co - a * si, d * co - c * si,
                         a * x + b * y + tx, c * x + d * y + ty)
        points = (self._car_block @ np.array(matrices).reshape(-1, 2)).astype(np.int32)
        for color, spans in self._car_groups:
            cv2.fillPoly(canvas, [points[start:stop] for start, stop in spans], color, cv2.LINE_8, _SHIFT)

    def _draw_bar(self, canvas: np.ndarray, car: car_dynamics.Car) -> None:
        """The black indicator bar: speed, four wheel speeds (ABS), steering and gyro.

        The canvas keeps its bar rows between frames (the scene is drawn above them), so
        while the vertical indicators stay inside the bar, left of where the horizontal
        ones start, each group is redrawn only when its extents change, as most frames
        the wheel-speed bars do not.
        """
        verticals, horizontals, separate = self._indicator_extents(car)
        row, split = self._bar_row, self._bar_split
        if separate:
            if verticals != self._drawn_verticals:
                canvas[row:, :split] = 0
                self._draw_verticals(canvas, verticals)
            if horizontals != self._drawn_horizontals:
                canvas[row:, split:] = 0
                self._draw_horizontals(canvas, horizontals)
            self._drawn_verticals, self._drawn_horizontals = verticals, horizontals
        else:  # the indicators may overlap, or reach into the scene: draw them all
            canvas[row:] = 0
            self._draw_verticals(canvas, verticals)
            self._draw_horizontals(canvas, horizontals)
            self._drawn_verticals = self._drawn_horizontals = None

    def _indicator_extents(self, car: car_dynamics.Car) -> tuple[list, list, bool]:
        """Canvas (first, stop) rows of the vertical indicators and columns of the
        horizontal ones, None where upstream draws nothing (value within 1e-4 of 0), and
        whether the vertical ones stay below the bar's top and left of the horizontal ones.

        Upstream fills each indicator with ``pygame.draw.polygon``, which covers the
        pixels int(x0) .. int(x1) and int(y0) .. int(y1) inclusive.
        """
        hull, wheels = car.hull, car.wheels
        velocity = hull.linearVelocity
        speed = math.sqrt(velocity[0] ** 2 + velocity[1] ** 2)
        values = (speed, wheels[0].omega, wheels[1].omega, wheels[2].omega, wheels[3].omega)
        kx, ky, h, foot = self._kx, self._ky, _H / 40.0, self._foot
        # Vertical indicators grow up from y = H - h by h * value (down when negative).
        verticals, top = [], self._bar_row
        for value, scale in zip(values, _VERTICAL_SCALES):
            if abs(value) <= 1e-4:
                verticals.append(None)
                continue
            tip = int(_H - (h + h * (scale * value)))
            verticals.append((round(tip * ky), self._foot_bottom) if tip <= foot
                             else (self._foot_top, round((tip + 1) * ky)))
            top = min(top, verticals[-1][0])
        # Horizontal indicators grow right from x = place * W / 40 by value * W / 40.
        s = _W / 40.0
        horizontals, left_most = [], self._bar_split
        for value, scale, place, start in zip(
            (wheels[0].joint.angle, hull.angularVelocity), _HORIZONTAL_SCALES, _HORIZONTAL_PLACES,
            self._horizontal_starts
        ):
            if abs(value) <= 1e-4:
                horizontals.append(None)
                continue
            end = int((place + scale * value) * s)
            left, right = (start, end) if start <= end else (end, start)
            horizontals.append((round(left * kx), round((right + 1) * kx)))
            left_most = min(left_most, horizontals[-1][0])
        return verticals, horizontals, top >= self._bar_row and left_most >= self._bar_split

    def _draw_verticals(self, canvas: np.ndarray, verticals: list) -> None:
        """Fill the vertical indicators' (first, stop) canvas rows, in upstream's order."""
        for rows, cols, color in zip(verticals, self._vertical_cols, self._vertical_colors):
            if rows is not None:
                canvas[rows[0]:rows[1], cols] = color

    def _draw_horizontals(self, canvas: np.ndarray, horizontals: list) -> None:
        """Fill the horizontal indicators' (first, stop) canvas columns, in upstream's order."""
        for cols, color in zip(horizontals, self._horizontal_colors):
            if cols is not None:
                canvas[self._horizontal_rows, cols[0]:cols[1]] = color


def _frame_matrix(zoom: float, angle: float, px: float, py: float) -> tuple:
    """The 2x3 map (two row tuples) from world coordinates to upstream's full-size frame,
    in pixels, after its upside-down flip (y grows downwards).

    ``zoom``: frame pixels per world unit; ``angle`` (radians): the world's turn, minus
    the car's heading; (``px``, ``py``): the car's position, world units. Upstream:
    screen = rotate(world, angle) * zoom + trans, trans putting the car at (W/2, H/4);
    the frame is then flipped, row = H - screen y.
    """
    c, s = math.cos(angle), math.sin(angle)
    tx = _W / 2 - zoom * (c * px - s * py)
    ty = _H / 4 - zoom * (s * px + c * py)
    return (zoom * c, -zoom * s, tx), (-zoom * s, -zoom * c, _H - ty)


def _boxes_touch(one: tuple, other: tuple) -> bool:
    """Whether two (x0, y0, x1, y1) boxes overlap or touch."""
    return one[0] <= other[2] and other[0] <= one[2] and one[1] <= other[3] and other[1] <= one[3]
