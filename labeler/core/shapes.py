"""Shapes: image-level tags, boxes and polygons, in original-image pixel coordinates.

A shape is a small immutable value; validation happens where it is made, so nothing
downstream (store, augmentation, exporters) has to re-check geometry.

>>> Shape.box(class_id=1, x1=10, y1=20, x2=50, y2=60).bbox()
(10.0, 20.0, 50.0, 60.0)
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field, replace
from typing import Literal

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
    """

    kind: ShapeKind
    class_id: int
    points: tuple[Point, ...] = ()
    id: int | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
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
        object.__setattr__(self, "points", pts)

    # -- constructors -------------------------------------------------------------------
    @classmethod
    def tag(cls, class_id: int, id: int | None = None) -> Shape:
        return cls("tag", class_id, (), id)

    @classmethod
    def box(
        cls, class_id: int, x1: float, y1: float, x2: float, y2: float, id: int | None = None
    ) -> Shape:
        return cls("box", class_id, ((x1, y1), (x2, y2)), id)

    @classmethod
    def polygon(
        cls, class_id: int, points: list[Point] | tuple[Point, ...], id: int | None = None
    ) -> Shape:
        return cls("polygon", class_id, tuple(points), id)

    # -- geometry -----------------------------------------------------------------------
    def bbox(self) -> tuple[float, float, float, float] | None:
        """(x1, y1, x2, y2) of the shape, or None for a tag."""
        if self.kind == "tag":
            return None
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

    # -- storage ------------------------------------------------------------------------
    def geometry_json(self) -> str:
        """The geometry as stored in the project: a compact JSON list of [x, y] pairs."""
        return json.dumps([[_num(x), _num(y)] for x, y in self.points], separators=(",", ":"))

    @classmethod
    def from_row(
        cls, kind: str, class_id: int, geometry: str | None, id: int | None = None
    ) -> Shape:
        pts = tuple((float(x), float(y)) for x, y in json.loads(geometry or "[]"))
        return cls(kind, class_id, pts, id)  # type: ignore[arg-type]


def _num(v: float) -> float | int:
    """Store whole-pixel coordinates as ints so the JSON stays short and exact."""
    r = round(float(v), 4)
    return int(r) if r.is_integer() else r
