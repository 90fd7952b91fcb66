"""Annotation assists that need no model weights: box to polygon (GrabCut), magic wand (flood
fill) and edge snapping (intelligent scissors). Pure functions over a BGR image, for the window
and `labeler assist` alike; all offline, in OpenCV's core.

Each works on a crop around the region of interest, scaled down to at most `WORK_SIDE` pixels
(`GRABCUT_SIDE` for GrabCut), so a 6000 x 4000 photo costs what a small one does; the outline
found is mapped back to the image's own pixel coordinates and simplified to a sensible vertex
count.

>>> polygon = box_to_polygon(image, (40, 30, 260, 220))            # doctest: +SKIP
>>> polygon = magic_wand(image, (120, 80), tolerance=24)           # doctest: +SKIP

Every assist that turns a box or a click into a polygon is an `Assist` in the `ASSISTS`
registry: the built-in ``grabcut`` and ``wand`` register here on import, and a plugin adds its
own (a SAM-family ONNX model whose files it ships or the user names) with
``api.add_assist(obj)``; the window and ``labeler assist --method NAME`` call them alike.

>>> ASSISTS["grabcut"](image, AssistRequest(box=(40, 30, 260, 220)))   # doctest: +SKIP
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

import cv2
import numpy as np

from labeler.core.errors import LabelerError
from labeler.core.registry import Registry

Point = tuple[float, float]
WORK_SIDE = 320
"""The longest side the wand and edge snapping compute at."""
GRABCUT_SIDE = 240
"""The longest side GrabCut computes at. Its cost grows with the pixel count and with texture:
at 320 px a box over half a textured 1400 x 1050 photo took 0.7-1.9 s on two busy cores, at
240 px 0.25-0.4 s, with the same actions per object on the reference outlines
(benchmarks/assists/bench_assists.py --work-side)."""
MAX_VERTICES = 60
"""An outline is simplified until it has at most this many vertices (and at least 3)."""


_SIDES = ((cv2.GC_FGD, cv2.GC_PR_FGD), (cv2.GC_BGD, cv2.GC_PR_BGD))


class AssistFailed(LabelerError):
    """The assist found nothing usable (an empty mask, a box of zero area)."""


@dataclass(frozen=True)
class Strokes:
    """Scribbles the user adds to refine a result: image-pixel polylines marking what is
    surely object (`foreground`) or surely not (`background`), with a brush radius."""

    foreground: tuple[tuple[Point, ...], ...] = ()
    background: tuple[tuple[Point, ...], ...] = ()
    radius: float = 4.0


def _crop(
    shape: tuple[int, ...], box: tuple[float, float, float, float], margin: float
) -> tuple[int, int, int, int]:
    h, w = shape[:2]
    x1, y1, x2, y2 = box
    x1, x2 = sorted((x1, x2))
    y1, y2 = sorted((y1, y2))
    mx, my = (x2 - x1) * margin + 2, (y2 - y1) * margin + 2
    cx1, cy1 = max(0, int(np.floor(x1 - mx))), max(0, int(np.floor(y1 - my)))
    cx2, cy2 = min(w, int(np.ceil(x2 + mx))), min(h, int(np.ceil(y2 + my)))
    if cx2 - cx1 < 2 or cy2 - cy1 < 2:
        raise AssistFailed("the box is outside the image or has no area")
    return cx1, cy1, cx2, cy2


def _scale_for(width: int, height: int, side: int | None = None) -> float:
    return min(1.0, (side or WORK_SIDE) / max(width, height))


def box_to_polygon(
    image: np.ndarray,
    box: tuple[float, float, float, float],
    strokes: Strokes | None = None,
    *,
    iterations: int = 4,
) -> list[Point]:
    """The outline of the object inside `box` (x1, y1, x2, y2 in image pixels), by GrabCut
    seeded with the box and refined with the user's `strokes`."""
    x1, y1, x2, y2 = box
    if abs(x2 - x1) < 3 or abs(y2 - y1) < 3:
        raise AssistFailed("draw a box around the object first (at least 3 x 3 px)")
    cx1, cy1, cx2, cy2 = _crop(image.shape, box, 0.1)
    crop = _bgr(image[cy1:cy2, cx1:cx2])
    s = _scale_for(crop.shape[1], crop.shape[0], GRABCUT_SIDE)
    small = cv2.resize(crop, None, fx=s, fy=s, interpolation=cv2.INTER_AREA) if s < 1 else crop
    mask = np.full(small.shape[:2], cv2.GC_BGD, np.uint8)
    bx1, bx2 = sorted(((x1 - cx1) * s, (x2 - cx1) * s))
    by1, by2 = sorted(((y1 - cy1) * s, (y2 - cy1) * s))
    r = (int(bx1), int(by1), max(2, int(bx2 - bx1)), max(2, int(by2 - by1)))
    mask[r[1] : r[1] + r[3], r[0] : r[0] + r[2]] = cv2.GC_PR_FGD
    if strokes is not None:
        for value, lines in ((cv2.GC_FGD, strokes.foreground), (cv2.GC_BGD, strokes.background)):
            for line in lines:
                pts = np.array([((x - cx1) * s, (y - cy1) * s) for x, y in line], np.float64)
                # A stroke far outside the crop only needs to stay outside it.
                lim = 4.0 * max(mask.shape)
                pts = np.clip(np.nan_to_num(pts, nan=-lim), -lim, lim).astype(np.int32)
                if len(pts):
                    thick = max(1, round(strokes.radius * s * 2))
                    cv2.polylines(mask, [pts], False, int(value), thick)
                    for p in pts:
                        cv2.circle(
                            mask, tuple(int(v) for v in p), max(1, thick // 2), int(value), -1
                        )
    if not np.isin(mask, (cv2.GC_FGD, cv2.GC_PR_FGD)).any():
        raise AssistFailed("the background strokes cover the whole box: nothing is left")
    if not np.isin(mask, (cv2.GC_BGD, cv2.GC_PR_BGD)).any():
        # A box over the whole image (or foreground strokes over all of it) leaves GrabCut
        # no background to learn from: the image's outer ring is probably background.
        ring = np.ones(mask.shape, bool)
        ring[2:-2, 2:-2] = False
        mask[ring & (mask == cv2.GC_PR_FGD)] = cv2.GC_PR_BGD
        if not np.isin(mask, (cv2.GC_BGD, cv2.GC_PR_BGD)).any():
            raise AssistFailed("the foreground strokes cover the whole box: nothing to cut")
    # GrabCut's colour models start from k-means with 5 clusters on each side.
    if min(np.isin(mask, pair).sum() for pair in _SIDES) < 5:
        raise AssistFailed("the image or box is too small to tell object from background")
    bgd, fgd = np.zeros((1, 65), np.float64), np.zeros((1, 65), np.float64)
    # GrabCut's k-means starts from OpenCV's global generator: same box, same answer.
    cv2.setRNGSeed(0)
    cv2.grabCut(small, mask, None, bgd, fgd, iterations, cv2.GC_INIT_WITH_MASK)
    fg = np.isin(mask, (cv2.GC_FGD, cv2.GC_PR_FGD)).astype(np.uint8)
    return _outline(fg, s, cx1, cy1)


def magic_wand(
    image: np.ndarray,
    seed: Point,
    *,
    tolerance: float = 24.0,
    use_edges: bool = False,
    limit_box: tuple[float, float, float, float] | None = None,
) -> list[Point]:
    """The outline of the connected region around `seed` whose colour stays within
    `tolerance` (0-255, per channel, from the seed's colour); with `use_edges`, strong edges
    (Canny) stop the fill even where colours are close."""
    h, w = image.shape[:2]
    x, y = seed
    if not (0 <= x < w and 0 <= y < h):
        raise AssistFailed("click inside the image")
    t = float(max(0.0, min(255.0, tolerance)))
    box = limit_box or (0, 0, w, h)
    cx1, cy1, cx2, cy2 = _crop(image.shape, box, 0.0)
    crop = _bgr(image[cy1:cy2, cx1:cx2])
    s = _scale_for(crop.shape[1], crop.shape[0])
    small = cv2.resize(crop, None, fx=s, fy=s, interpolation=cv2.INTER_AREA) if s < 1 else crop
    small = cv2.GaussianBlur(small, (3, 3), 0)
    sh, sw = small.shape[:2]
    sx = min(sw - 1, max(0, int((x - cx1) * s)))
    sy = min(sh - 1, max(0, int((y - cy1) * s)))
    fill_mask = np.zeros((sh + 2, sw + 2), np.uint8)
    if use_edges:
        # Edges a little weaker than the colour tolerance already stop the fill.
        edges = cv2.Canny(cv2.cvtColor(small, cv2.COLOR_BGR2GRAY), max(6.0, t / 2), max(12.0, t))
        fill_mask[1:-1, 1:-1] = (edges > 0).astype(np.uint8)
        fill_mask[sy + 1, sx + 1] = 0
    flags = 4 | cv2.FLOODFILL_MASK_ONLY | cv2.FLOODFILL_FIXED_RANGE | (2 << 8)
    # A region with holes keeps only its outer outline: a polygon has one ring.
    cv2.floodFill(small.copy(), fill_mask, (sx, sy), 0, (t, t, t), (t, t, t), flags)
    region = (fill_mask[1:-1, 1:-1] == 2).astype(np.uint8)
    return _outline(region, s, cx1, cy1)


def snap_path(image: np.ndarray, start: Point, end: Point, *, margin: float = 0.25) -> list[Point]:
    """The path from `start` to `end` along the strongest edges (intelligent scissors), as
    image-pixel points including both ends. Computed on a crop around the two points."""
    x1, y1 = start
    x2, y2 = end
    span = max(abs(x2 - x1), abs(y2 - y1), 8.0)
    box = (min(x1, x2) - span * margin, min(y1, y2) - span * margin,
           max(x1, x2) + span * margin, max(y1, y2) + span * margin)  # fmt: skip
    cx1, cy1, cx2, cy2 = _crop(image.shape, box, 0.0)
    crop = _bgr(image[cy1:cy2, cx1:cx2])
    s = _scale_for(crop.shape[1], crop.shape[0])
    small = cv2.resize(crop, None, fx=s, fy=s, interpolation=cv2.INTER_AREA) if s < 1 else crop
    sh, sw = small.shape[:2]

    def local(p: Point) -> tuple[int, int]:
        return (
            min(sw - 1, max(0, int((p[0] - cx1) * s))),
            min(sh - 1, max(0, int((p[1] - cy1) * s))),
        )

    tool = cv2.segmentation.IntelligentScissorsMB()
    tool.setEdgeFeatureCannyParameters(32, 100)
    tool.setGradientMagnitudeMaxLimit(200)
    tool.applyImage(small)
    tool.buildMap(local(start))
    contour = tool.getContour(local(end))
    pts = [(cx1 + (float(px) + 0.5) / s, cy1 + (float(py) + 0.5) / s) for px, py in contour[:, 0]]
    if not pts:
        return [start, end]
    # OpenCV 4.12's getContour runs from the map's source (start) to the target; older
    # builds (and backward=True) run the other way. Orient by the ends, never by version:
    # reversing it blindly stored each snapped stretch backwards (a zig-zag, issue 18).
    if _dist(pts[0], start) + _dist(pts[-1], end) > _dist(pts[0], end) + _dist(pts[-1], start):
        pts.reverse()
    simplified = _simplify_open(pts, max(1.0, 1.0 / s))
    return [start, *simplified[1:-1], end]


def crosses(path: Sequence[Point], polyline: Sequence[Point], tolerance: float = 1.5) -> bool:
    """Whether the inner part of `path` (its ends excluded) crosses `polyline` or runs along
    it (a point within `tolerance` of it): a snapped closing segment that would make the
    polygon cross or retrace itself."""
    if len(path) < 3 or len(polyline) < 2:
        return False
    a = np.asarray(polyline, np.float64)
    p1, p2 = a[:-1], a[1:]
    d = p2 - p1
    length2 = np.maximum((d**2).sum(1), 1e-12)
    inner = np.asarray(path[1:-1], np.float64)
    for q in inner:
        t = np.clip(((q - p1) * d).sum(1) / length2, 0, 1)
        if (np.hypot(*(p1 + t[:, None] * d - q).T) < tolerance).any():
            return True

    def side(o: np.ndarray, b: np.ndarray, c: np.ndarray) -> np.ndarray:
        return (b[..., 0] - o[..., 0]) * (c[..., 1] - o[..., 1]) - (b[..., 1] - o[..., 1]) * (
            c[..., 0] - o[..., 0]
        )

    route = np.asarray(path, np.float64)
    for s1, s2 in zip(route[:-1], route[1:], strict=True):
        c1, c2 = side(p1, p2, s1), side(p1, p2, s2)
        c3, c4 = side(s1, s2, p1), side(s1, s2, p2)
        if ((c1 * c2 < 0) & (c3 * c4 < 0)).any():
            return True
    return False


def _dist(p: Point, q: Point) -> float:
    return float(np.hypot(p[0] - q[0], p[1] - q[1]))


def _bgr(img: np.ndarray) -> np.ndarray:
    if img.ndim == 2:
        return cv2.cvtColor(img, cv2.COLOR_GRAY2BGR)
    if img.shape[2] == 4:
        return cv2.cvtColor(img, cv2.COLOR_BGRA2BGR)
    if img.dtype != np.uint8:
        img = cv2.normalize(img, None, 0, 255, cv2.NORM_MINMAX).astype(np.uint8)
    return np.ascontiguousarray(img)


def _outline(mask: np.ndarray, s: float, ox: int, oy: int) -> list[Point]:
    """The largest region's outer outline, simplified, in image pixels."""
    mask = cv2.morphologyEx(mask, cv2.MORPH_OPEN, np.ones((3, 3), np.uint8))
    contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    if not contours:
        raise AssistFailed("nothing found there: try a larger box, a stroke or a tolerance")
    c = max(contours, key=cv2.contourArea)
    if cv2.contourArea(c) < 4:
        raise AssistFailed("the region found is too small to outline")
    approx = simplify(c[:, 0].astype(np.float64), MAX_VERTICES)
    return [(round(ox + (x + 0.5) / s, 2), round(oy + (y + 0.5) / s, 2)) for x, y in approx]


def simplify(points: np.ndarray | Sequence[Point], max_vertices: int = MAX_VERTICES) -> list[Point]:
    """A closed outline with at most `max_vertices` vertices (Douglas-Peucker with a growing
    tolerance); never fewer than 3."""
    pts = np.asarray(points, np.float32).reshape(-1, 1, 2)
    if len(pts) <= 3:
        return [tuple(map(float, p)) for p in pts[:, 0]]
    perimeter = cv2.arcLength(pts, True)
    eps = max(0.5, perimeter * 0.002)
    approx = cv2.approxPolyDP(pts, eps, True)
    while len(approx) > max_vertices:
        eps *= 1.4
        approx = cv2.approxPolyDP(pts, eps, True)
    if len(approx) < 3:
        approx = cv2.approxPolyDP(pts, eps / 4, True)
    return [(float(x), float(y)) for x, y in approx[:, 0]]


def _simplify_open(points: list[Point], eps: float) -> list[Point]:
    pts = np.asarray(points, np.float32).reshape(-1, 1, 2)
    if len(pts) <= 2:
        return points
    approx = cv2.approxPolyDP(pts, eps, False)
    return [(float(x), float(y)) for x, y in approx[:, 0]]


def combine(
    base: Sequence[Point], other: Sequence[Point], *, subtract: bool = False
) -> list[Point]:
    """``base`` with ``other`` added (shift-click with the wand) or taken away (alt-click):
    the largest region of the result's outline, simplified, in the same pixel frame.

    >>> len(combine([(0, 0), (10, 0), (10, 10), (0, 10)], [(5, 0), (20, 0), (20, 10), (5, 10)]))
    4
    """
    a = np.asarray(base, np.float64).reshape(-1, 2)
    b = np.asarray(other, np.float64).reshape(-1, 2)
    if len(a) < 3 or len(b) < 3:
        raise AssistFailed("both outlines need at least 3 vertices")
    both = np.concatenate([a, b])
    ox, oy = np.floor(both.min(0)).astype(int) - 2
    w, h = np.ceil(both.max(0)).astype(int) - (ox, oy) + 3
    if w * h > 80_000_000:
        raise AssistFailed("the outlines are too large to combine")
    masks = []
    for pts in (a, b):
        m = np.zeros((int(h), int(w)), np.uint8)
        cv2.fillPoly(m, [np.round(pts - (ox, oy)).astype(np.int32)], 1)
        masks.append(m)
    out = masks[0] & (1 - masks[1]) if subtract else masks[0] | masks[1]
    contours, _ = cv2.findContours(out, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    if not contours or max(cv2.contourArea(c) for c in contours) < 4:
        raise AssistFailed("nothing is left of the outline")
    c = max(contours, key=cv2.contourArea)
    return [
        (round(float(x) + ox, 2), round(float(y) + oy, 2))
        for x, y in simplify(c[:, 0].astype(np.float64), MAX_VERTICES)
    ]


# -- the registry ------------------------------------------------------------------------------
INPUTS = ("box", "point")
"""What an assist can ask the user for: a box (x1, y1, x2, y2) or a click (x, y)."""


@dataclass(frozen=True)
class AssistRequest:
    """What the user gave an assist, in image pixels: a `box` or a `point`, refining
    `strokes`, and the wand's `tolerance` and `use_edges`. `options` carries anything else a
    plugin's assist reads (a model choice, a threshold), as plain values."""

    box: tuple[float, float, float, float] | None = None
    point: Point | None = None
    strokes: Strokes | None = None
    tolerance: float = 24.0
    use_edges: bool = False
    options: dict[str, object] = field(default_factory=dict)


@runtime_checkable
class Assist(Protocol):
    """A box-or-click-to-polygon assist: ``name`` (lower case, digits, ``_-``), ``title``
    (shown in menus), ``needs`` (``"box"`` or ``"point"``), and ``__call__(image, request)``
    returning the polygon's vertices in image pixels (raise `AssistFailed` for "nothing
    found"). ``image`` is BGR uint8 (H, W, 3)."""

    name: str
    title: str
    needs: str

    def __call__(self, image: np.ndarray, request: AssistRequest) -> list[Point]: ...


_NAME = re.compile(r"^[a-z0-9][a-z0-9_\-]*$")


def _check_assist(name: str, assist: Assist) -> None:
    if not isinstance(name, str) or not _NAME.match(name):
        raise ValueError(f"assist name {name!r} must be lower case letters, digits, _ or -")
    if not callable(assist):
        raise TypeError(f"assist {name!r} is not callable")
    if getattr(assist, "name", None) != name:
        raise ValueError(f"assist {name!r} must carry its name (its .name is not {name!r})")
    if getattr(assist, "needs", None) not in INPUTS:
        raise ValueError(f"assist {name!r}: needs must be one of {', '.join(INPUTS)}")
    if not isinstance(getattr(assist, "title", None), str):
        raise ValueError(f"assist {name!r} has no title")


ASSISTS: Registry[Assist] = Registry("assist", called="assist method", check=_check_assist)
"""Every box/click-to-polygon assist by name: Labeler's own first, then plugins'."""


def register_assist(assist: Assist) -> Assist:
    """Add ``assist`` under its own ``name``; the name must be new."""
    return ASSISTS.register(getattr(assist, "name", ""), assist)


class GrabCutAssist:
    """Box to polygon by GrabCut, refined by the request's strokes."""

    name = "grabcut"
    title = "Box to polygon (GrabCut)"
    needs = "box"

    def __call__(self, image: np.ndarray, request: AssistRequest) -> list[Point]:
        if request.box is None:
            raise AssistFailed("grabcut needs a box")
        return box_to_polygon(image, request.box, request.strokes)


class WandAssist:
    """Click to polygon by flood fill within a colour tolerance (and edges)."""

    name = "wand"
    title = "Magic wand"
    needs = "point"

    def __call__(self, image: np.ndarray, request: AssistRequest) -> list[Point]:
        if request.point is None:
            raise AssistFailed("the wand needs a point")
        return magic_wand(
            image, request.point, tolerance=request.tolerance, use_edges=request.use_edges
        )


register_assist(GrabCutAssist())
register_assist(WandAssist())
