"""Shapes: image-level tags, boxes and polygons, in original-image pixel coordinates.

A shape is a small immutable value; validation happens where it is made, so nothing
downstream (store, augmentation, exporters) has to re-check geometry.

>>> Shape.box(class_id=1, x1=10, y1=20, x2=50, y2=60).bbox()
(10.0, 20.0, 50.0, 60.0)
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal

import numpy as np

from labeler.core.errors import LabelerError

ShapeKind = Literal["tag", "box", "polygon"]
SHAPE_KINDS: tuple[str, ...] = ("tag", "box", "polygon")

Point = tuple[float, float]


@dataclass(frozen=True, slots=True)
class Shape:
    """One annotation on one image.

    ``points`` is empty for a tag, the top-left and bottom-right corners for a box
    (normalised so x1 <= x2, y1 <= y2), and three or more vertices for a polygon.
    ``id`` is the store's row id, or None for a shape not yet stored.

    ``group`` joins the parts of one object instance (ADR 0095): boxes and polygons of the
    same class with the same group number on one image are one instance, as labelme's
    ``group_id`` and a COCO annotation with several polygons are; None is an instance
    alone. The number means nothing else (the store allocates it), so, like ``id``, it
    takes no part in equality: compare instances with `instances`.
    """

    kind: ShapeKind
    class_id: int
    points: tuple[Point, ...] = ()
    id: int | None = field(default=None, compare=False)
    group: int | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        if self.kind == "box" and self.group is None:
            # The common case, checked without the general loops (an export builds one
            # Shape per stored box and one per box read back).
            box = box_corners(self.points)
            if box is not None:
                object.__setattr__(self, "points", box)
                return
        if self.kind not in SHAPE_KINDS:
            raise LabelerError(f"unknown shape kind {self.kind!r}; expected one of {SHAPE_KINDS}")
        pts = tuple((float(x), float(y)) for x, y in self.points)
        for x, y in pts:
            if not (math.isfinite(x) and math.isfinite(y)):
                raise LabelerError(f"{self.kind} has a non-finite coordinate ({x}, {y})")
        if self.kind == "tag" and pts:
            raise LabelerError("a tag has no points")
        if self.kind == "box":
            if len(pts) != 2:
                raise LabelerError(f"a box needs 2 corner points, got {len(pts)}")
            (ax, ay), (bx, by) = pts
            pts = ((min(ax, bx), min(ay, by)), (max(ax, bx), max(ay, by)))
        if self.kind == "polygon" and len(pts) < 3:
            raise LabelerError(f"a polygon needs at least 3 vertices, got {len(pts)}")
        if self.group is not None:
            if not isinstance(self.group, int) or isinstance(self.group, bool) or self.group < 1:
                raise LabelerError(f"a group number is a positive integer, got {self.group!r}")
            if self.kind == "tag":
                raise LabelerError("a tag is never part of a group")
        object.__setattr__(self, "points", pts)

    # -- constructors -------------------------------------------------------------------
    @classmethod
    def tag(cls, class_id: int, id: int | None = None) -> Shape:
        return cls("tag", class_id, (), id)

    @classmethod
    def box(
        cls,
        class_id: int,
        x1: float,
        y1: float,
        x2: float,
        y2: float,
        id: int | None = None,
        group: int | None = None,
    ) -> Shape:
        return cls("box", class_id, ((x1, y1), (x2, y2)), id, group)

    @classmethod
    def polygon(
        cls,
        class_id: int,
        points: list[Point] | tuple[Point, ...],
        id: int | None = None,
        group: int | None = None,
    ) -> Shape:
        return cls("polygon", class_id, tuple(points), id, group)

    # -- geometry -----------------------------------------------------------------------
    def bbox(self) -> tuple[float, float, float, float] | None:
        """(x1, y1, x2, y2) of the shape, or None for a tag."""
        if self.kind == "tag":
            return None
        if self.kind == "box":  # its corners are normalised
            (x1, y1), (x2, y2) = self.points
            return (x1, y1, x2, y2)
        xs = [p[0] for p in self.points]
        ys = [p[1] for p in self.points]
        return (min(xs), min(ys), max(xs), max(ys))

    def area(self) -> float:
        """Pixel area: box width*height, polygon by the shoelace formula, 0 for a tag."""
        if self.kind == "box":
            (x1, y1), (x2, y2) = self.points
            return (x2 - x1) * (y2 - y1)
        if self.kind == "polygon":
            s = 0.0
            n = len(self.points)
            for i in range(n):
                x0, y0 = self.points[i]
                x1, y1 = self.points[(i + 1) % n]
                s += x0 * y1 - x1 * y0
            return abs(s) / 2.0
        return 0.0

    def with_class(self, class_id: int) -> Shape:
        return replace(self, class_id=class_id)

    def with_points(self, points: tuple[Point, ...] | list[Point]) -> Shape:
        return replace(self, points=tuple(points))

    def translated(self, dx: float, dy: float) -> Shape:
        return self.with_points(tuple((x + dx, y + dy) for x, y in self.points))

    def in_group(self, group: int | None) -> Shape:
        """The shape as a part of instance ``group`` (None: an instance alone)."""
        return replace(self, group=group)

    # -- storage ------------------------------------------------------------------------
    def geometry_json(self) -> str:
        """The geometry as stored in the project: a compact JSON list of [x, y] pairs."""
        # What json.dumps(..., separators=(",", ":")) writes, without its machinery: the
        # numbers are finite ints and floats, whose str() is their JSON.
        if len(self.points) == 2:  # a box: one format (an export fingerprints every shape)
            (a, b), (c, d) = self.points
            return f"[[{_num(a)},{_num(b)}],[{_num(c)},{_num(d)}]]"
        return "[" + ",".join(f"[{_num(x)},{_num(y)}]" for x, y in self.points) + "]"

    @classmethod
    def from_row(
        cls,
        kind: str,
        class_id: int,
        geometry: str | None,
        id: int | None = None,
        group: int | None = None,
    ) -> Shape:
        points = json.loads(geometry or "[]")
        if kind == "box" and group is None and (box := box_corners(points)) is not None:
            # What __post_init__ would make of it, without the dataclass's own __init__
            # (an export reads every shape of the project).
            shape = object.__new__(cls)
            for name, value in (
                ("kind", "box"),
                ("class_id", class_id),
                ("points", box),
                ("id", id),
                ("group", None),
            ):
                object.__setattr__(shape, name, value)
            return shape
        # The [x, y] lists as they are: __post_init__ makes each a pair of floats.
        return cls(kind, class_id, tuple(points), id, group)  # type: ignore[arg-type]


def box_corners(points: Any) -> tuple[Point, Point] | None:
    """A box's two corners as `Shape` keeps them (floats, top-left then bottom-right), or
    None when ``points`` is not two finite (x, y) pairs: `Shape` then checks them the long
    way and says what is wrong."""
    if type(points) not in (tuple, list) or len(points) != 2:
        return None
    try:
        (ax, ay), (bx, by) = points
        ax, ay, bx, by = float(ax), float(ay), float(bx), float(by)
    except (TypeError, ValueError):
        return None
    if not all(map(math.isfinite, (ax, ay, bx, by))):
        return None
    return ((min(ax, bx), min(ay, by)), (max(ax, bx), max(ay, by)))


def instances(shapes: Iterable[Shape]) -> list[list[Shape]]:
    """The object instances among one image's shapes, in the order of their first part:
    the parts of a group (same class, same group number) together, every other shape
    alone. Tags are instances too (of the image-level kind).

    >>> a = Shape.polygon(1, [(0, 0), (4, 0), (0, 4)], group=7)
    >>> b = Shape.polygon(1, [(9, 9), (12, 9), (9, 12)], group=7)
    >>> [len(i) for i in instances([a, Shape.box(1, 0, 0, 2, 2), b])]
    [2, 1]
    """
    out: list[list[Shape]] = []
    by_key: dict[tuple[int, int], list[Shape]] = {}
    for s in shapes:
        if s.group is None:
            out.append([s])
            continue
        key = (s.class_id, s.group)
        if key not in by_key:
            by_key[key] = []
            out.append(by_key[key])
        by_key[key].append(s)
    return out


def union_bbox(parts: Iterable[Shape]) -> tuple[float, float, float, float]:
    """The box around several boxes or polygons (an instance's parts)."""
    if type(parts) in (list, tuple) and len(parts) == 1:  # the common instance: one part
        if (only := parts[0].bbox()) is None:  # type: ignore[index]
            raise LabelerError("an instance without a box or polygon has no bounding box")
        return only
    boxes = [b for b in (s.bbox() for s in parts) if b is not None]
    if not boxes:
        raise LabelerError("an instance without a box or polygon has no bounding box")
    return (
        min(b[0] for b in boxes),
        min(b[1] for b in boxes),
        max(b[2] for b in boxes),
        max(b[3] for b in boxes),
    )


def bridged_outline(rings: Sequence[Sequence[Point]]) -> tuple[Point, ...]:
    """Several rings as one outline, for a format that holds one polygon per instance
    (YOLO segment labels): each ring is joined to the next at their closest vertices by a
    zero-width bridge, walked out and back, as Ultralytics' COCO converter does for a
    multi-polygon instance (``merge_multi_segment``), so the filled area is the rings'.

    The walk: round ring 0 from its link to ring 1, over the bridge, round ring 1 to its
    link to ring 2, ... round the last ring completely, then back over each bridge
    finishing each ring's remaining arc.

    >>> bridged_outline([[(0, 0), (2, 0), (0, 2)], [(5, 5), (7, 5), (5, 7)]])
    ((2.0, 0.0), (0.0, 2.0), (0.0, 0.0), (2.0, 0.0), (5.0, 5.0), (7.0, 5.0), (5.0, 7.0), (5.0, 5.0))
    """
    rs = [[(float(x), float(y)) for x, y in r] for r in rings if len(r)]
    if len(rs) <= 1:
        return tuple(rs[0]) if rs else ()
    # links[i] = (vertex in ring i, vertex in ring i+1) closest to each other
    links = [_closest(rs[i], rs[i + 1]) for i in range(len(rs) - 1)]
    out: list[Point] = []
    back: list[list[Point]] = []  # each middle ring's arc walked on the way back

    last = len(rs) - 1
    for i, ring in enumerate(rs):
        if i == 0:  # all the way round, from and back to its link to ring 1
            out += _full(ring, links[0][0])
        elif i == last:  # all the way round, from and back to where the bridge lands
            out += _full(ring, links[i - 1][1])
        else:  # on to the next link now, the rest of the way on the way back
            enter, leave = links[i - 1][1], links[i][0]
            out += _arc(ring, enter, leave)
            # one vertex links both ways: the whole ring is walked on the way back
            back.append(_full(ring, leave) if enter == leave else _arc(ring, leave, enter))
    for rest in reversed(back):
        out += rest
    return tuple(out)


def _arc(ring: list[Point], start: int, stop: int) -> list[Point]:
    """The vertices from ``start`` to ``stop``, both included, forward round the ring."""
    n = len(ring)
    return [ring[(start + k) % n] for k in range((stop - start) % n + 1)]


def _full(ring: list[Point], start: int) -> list[Point]:
    n = len(ring)
    return [ring[(start + k) % n] for k in range(n)] + [ring[start]]


def _closest(a: list[Point], b: list[Point]) -> tuple[int, int]:
    """The vertex of ``a`` and the vertex of ``b`` nearest each other (the first such pair)."""
    pa, pb = np.asarray(a), np.asarray(b)
    d = ((pa[:, None, :] - pb[None, :, :]) ** 2).sum(-1)
    i, j = np.unravel_index(int(np.argmin(d)), d.shape)
    return int(i), int(j)


def _num(v: float) -> float | int:
    """Store whole-pixel coordinates as ints so the JSON stays short and exact."""
    r = round(float(v), 4)
    return int(r) if r.is_integer() else r
