"""Assists on a project image (issue 18): run a registered assist, get a polygon in the
image's pixel coordinates, and write it as one shape in one undoable edit.

The window and ``labeler assist`` both call these. The image is decoded upright (EXIF applied),
the frame shapes are stored in. What the user gave is checked here, once, for every assist: a
box must overlap the image and have an area (the part outside is cut off), a click must be on
the image. An assist a plugin added that raises or returns something that is not a polygon is
reported in one line naming it; it never crashes the caller or writes anything.

>>> result = run_assist(project, "12", "grabcut", AssistRequest(box=(40, 30, 260, 220)))  # doctest: +SKIP
>>> edit = write_polygon(project, result.image_id, "cat", result.polygon)                # doctest: +SKIP
>>> edit.undo(project)   # one step takes the whole polygon back                         # doctest: +SKIP
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, replace

import numpy as np

from labeler.core.assists import ASSISTS, AssistFailed, AssistRequest, Point, Strokes
from labeler.core.errors import LabelerError
from labeler.core.images import BadImage, load_image
from labeler.core.model import ImageRecord
from labeler.core.shapes import Shape
from labeler.store.edits import AddShapes
from labeler.store.project import Project

__all__ = [
    "AssistRequest",
    "AssistResult",
    "Strokes",
    "check_request",
    "polygon_edit",
    "run_assist",
    "run_assist_on",
    "write_polygon",
]


@dataclass(frozen=True)
class AssistResult:
    """The polygon an assist found on one image, in image pixels, and how long it took."""

    image_id: int
    method: str
    polygon: list[Point]
    seconds: float

    def to_dict(self) -> dict:
        return {
            "image": self.image_id,
            "method": self.method,
            "polygon": [[x, y] for x, y in self.polygon],
            "vertices": len(self.polygon),
            "seconds": round(self.seconds, 4),
        }


def _finite(*values: float) -> bool:
    return all(isinstance(v, int | float) and math.isfinite(v) for v in values)


def check_request(method: str, request: AssistRequest, width: int, height: int) -> AssistRequest:
    """The request with its box cut to the image; a one-line `LabelerError` when the assist
    cannot use it (no box for a box assist, a box outside the image or of no area, a click off
    the image, a tolerance out of 0..255)."""
    assist = ASSISTS.get(method)
    if assist.needs == "box":
        if request.box is None:
            raise LabelerError(f"assist {method!r} needs a box (--box x1 y1 x2 y2)")
        x1, y1, x2, y2 = request.box
        if not _finite(x1, y1, x2, y2):
            raise LabelerError("the box has a coordinate that is not a finite number")
        x1, x2 = sorted((x1, x2))
        y1, y2 = sorted((y1, y2))
        if x2 - x1 <= 0 or y2 - y1 <= 0:
            raise LabelerError(f"the box ({x1:g}, {y1:g}, {x2:g}, {y2:g}) has no area")
        cx1, cy1 = max(0.0, x1), max(0.0, y1)
        cx2, cy2 = min(float(width), x2), min(float(height), y2)
        if cx2 - cx1 < 3 or cy2 - cy1 < 3:
            raise LabelerError(
                f"the box ({x1:g}, {y1:g}, {x2:g}, {y2:g}) is outside the image"
                f" ({width} x {height}) or covers under 3 x 3 pixels of it"
            )
        request = replace(request, box=(cx1, cy1, cx2, cy2))
    else:
        if request.point is None:
            raise LabelerError(f"assist {method!r} needs a point (--point x y)")
        x, y = request.point
        if not _finite(x, y):
            raise LabelerError("the point has a coordinate that is not a finite number")
        if not (0 <= x < width and 0 <= y < height):
            raise LabelerError(
                f"the point ({x:g}, {y:g}) is outside the image ({width} x {height})"
            )
    if request.strokes is not None:
        lines = (*request.strokes.foreground, *request.strokes.background)
        if not all(_finite(x, y) for line in lines for x, y in line):
            raise LabelerError("a stroke has a coordinate that is not a finite number")
        if not _finite(request.strokes.radius) or not 0 < request.strokes.radius <= 1000:
            raise LabelerError("the stroke radius must be between 0 and 1000 pixels")
    if not _finite(request.tolerance) or not 0 <= request.tolerance <= 255:
        raise LabelerError(f"the tolerance must be 0..255, not {request.tolerance!r}")
    return request


def run_assist_on(
    image: np.ndarray, method: str, request: AssistRequest, *, image_id: int = 0
) -> AssistResult:
    """Run assist ``method`` on a decoded BGR image (the window has it decoded already)."""
    h, w = image.shape[:2]
    request = check_request(method, request, w, h)
    assist = ASSISTS.get(method)
    start = time.perf_counter()
    try:
        raw = assist(image, request)
    except AssistFailed:
        raise
    except LabelerError as e:
        raise LabelerError(f"assist {method!r}: {e}") from None
    except Exception as e:  # a plugin's bug: one line that names the assist, never a crash
        text = str(e).strip().splitlines()
        why = f"{type(e).__name__}: {text[-1]}" if text else type(e).__name__
        raise LabelerError(f"assist {method!r} failed: {why}") from None
    seconds = time.perf_counter() - start
    return AssistResult(image_id, method, _polygon(method, raw, w, h), seconds)


def _polygon(method: str, raw: object, width: int, height: int) -> list[Point]:
    """An assist's answer as a polygon on the image: finite vertices, clamped to its frame."""
    try:
        pts = [(float(p[0]), float(p[1])) for p in raw]  # type: ignore[union-attr, index]
    except (TypeError, ValueError, IndexError, KeyError):
        raise LabelerError(f"assist {method!r} returned something that is not a polygon") from None
    if len(pts) < 3 or not all(math.isfinite(x) and math.isfinite(y) for x, y in pts):
        raise LabelerError(f"assist {method!r} returned no usable polygon (under 3 finite points)")
    return [
        (round(min(max(x, 0.0), float(width)), 2), round(min(max(y, 0.0), float(height)), 2))
        for x, y in pts
    ]


def load_project_image(project: Project, ref: str) -> tuple[ImageRecord, np.ndarray]:
    """The image ``ref`` (id, path or file name) of the project, decoded upright."""
    record = project.find_image(ref)
    try:
        return record, load_image(project.resolve(record))
    except (BadImage, OSError) as e:
        why = e.strerror if isinstance(e, OSError) and e.strerror else str(e)
        raise LabelerError(f"{record.path}: {why}") from None


def run_assist(project: Project, image: str, method: str, request: AssistRequest) -> AssistResult:
    """Run assist ``method`` on the project's image ``image`` (id, path or file name)."""
    ASSISTS.get(method)  # an unknown method is named before any image is decoded
    record, pixels = load_project_image(project, image)
    return run_assist_on(pixels, method, request, image_id=record.id)


def polygon_edit(
    project: Project, image_id: int, class_name: str, polygon: list[Point]
) -> AddShapes:
    """The edit that adds ``polygon`` as one shape of class ``class_name``, not yet done: the
    window pushes it onto its history (which writes it), so one undo takes it back."""
    cls = project.require_class(class_name)
    return AddShapes(image_id, [Shape.polygon(cls.id, polygon)], text="assist polygon")


def write_polygon(
    project: Project, image_id: int, class_name: str, polygon: list[Point]
) -> AddShapes:
    """Store ``polygon`` as one shape of class ``class_name`` on the image: one edit, one
    transaction, undone in one step (``edit.undo(project)``)."""
    edit = polygon_edit(project, image_id, class_name, polygon)
    edit.do(project)
    return edit
