"""Assists on a project image (issue 18): run a registered assist, get a polygon in the
image's pixel coordinates, and write it as one shape in one undoable edit.

The window and ``labeler assist`` both call these. The image is decoded upright (EXIF applied),
the frame shapes are stored in. What the user gave is checked here, once, for every assist: a
box must overlap the image and have an area (the part outside is cut off), a click must be on
the image, a GrabCut stroke must reach the part of the image GrabCut reads. A project image
must still be the file imported (its size, and its SHA-256): a replaced file is refused as
export refuses it. An assist a plugin added that raises (anything, `SystemExit` included),
returns something that is not a polygon, or a polygon with no area inside the image is
reported in one line naming it; it never crashes the caller or writes anything. An outline of
over `MAX_RETURNED` vertices is simplified to that many, and the result says so.

>>> result = run_assist(project, "12", "grabcut", AssistRequest(box=(40, 30, 260, 220)))  # doctest: +SKIP
>>> edit = write_polygon(project, result.image_id, "cat", result.polygon)                # doctest: +SKIP
>>> edit.undo(project)   # one step takes the whole polygon back                         # doctest: +SKIP
"""

from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass, replace

import numpy as np

from labeler.core.assists import ASSISTS, AssistFailed, AssistRequest, Point, Strokes, simplify
from labeler.core.errors import LabelerError
from labeler.core.formats.export import check_is_imported
from labeler.core.images import BadImage, decode, read_file_bytes
from labeler.core.model import ImageRecord
from labeler.core.shapes import Shape
from labeler.store.edits import AddShapes
from labeler.store.project import Project
from labeler.store.queries import ImageRow

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

MAX_RETURNED = 1000
"""An assist's outline with more vertices is simplified to this many (a plugin's million-point
outline made a later YOLO export take seconds)."""
GRABCUT_MARGIN = 0.1
"""The share of the box around it that GrabCut reads (`box_to_polygon`'s crop); a stroke
wholly outside the box and this margin cannot change the result."""


@dataclass(frozen=True)
class AssistResult:
    """The polygon an assist found on one image, in image pixels, and how long it took."""

    image_id: int
    method: str
    polygon: list[Point]
    seconds: float
    simplified_from: int | None = None
    """How many vertices the assist returned when it was over `MAX_RETURNED` (else None)."""

    def to_dict(self) -> dict:
        data = {
            "image": self.image_id,
            "method": self.method,
            "polygon": [[x, y] for x, y in self.polygon],
            "vertices": len(self.polygon),
            "seconds": round(self.seconds, 4),
        }
        if self.simplified_from is not None:
            data["simplified_from"] = self.simplified_from
        return data

    @property
    def note(self) -> str | None:
        """A line for the user when the outline was simplified."""
        if self.simplified_from is None:
            return None
        return (
            f"assist {self.method!r} returned {self.simplified_from} vertices; simplified to"
            f" {len(self.polygon)}"
        )


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
        if method == "wand" and (width < 2 or height < 2):
            raise LabelerError(
                f"the image ({width} x {height}) is too small to fill from a point: the wand"
                " needs at least 2 x 2 pixels"
            )
    if request.strokes is not None:
        lines = (*request.strokes.foreground, *request.strokes.background)
        if not all(_finite(x, y) for line in lines for x, y in line):
            raise LabelerError("a stroke has a coordinate that is not a finite number")
        if not _finite(request.strokes.radius) or not 0 < request.strokes.radius <= 1000:
            raise LabelerError("the stroke radius must be between 0 and 1000 pixels")
        if method == "grabcut" and request.box is not None:
            _check_strokes_reach(request.strokes, request.box)
    if not _finite(request.tolerance) or not 0 <= request.tolerance <= 255:
        raise LabelerError(f"the tolerance must be 0..255, not {request.tolerance!r}")
    return request


def _check_strokes_reach(strokes: Strokes, box: tuple[float, float, float, float]) -> None:
    """Refuse a stroke that lies wholly outside the box and the margin GrabCut reads around
    it: it would be ignored without a word. (Run after the coordinates are known finite.)"""
    x1, y1, x2, y2 = box
    mx, my = (x2 - x1) * GRABCUT_MARGIN + 2, (y2 - y1) * GRABCUT_MARGIN + 2
    r = strokes.radius
    for side, lines in (("object", strokes.foreground), ("background", strokes.background)):
        for line in lines:
            if not line:
                continue
            xs, ys = [p[0] for p in line], [p[1] for p in line]
            if (
                max(xs) + r < x1 - mx
                or min(xs) - r > x2 + mx
                or max(ys) + r < y1 - my
                or min(ys) - r > y2 + my
            ):
                a, b = line[0], line[-1]
                raise LabelerError(
                    f"the {side} stroke ({a[0]:g}, {a[1]:g})-({b[0]:g}, {b[1]:g}) lies outside"
                    f" the box ({x1:g}, {y1:g}, {x2:g}, {y2:g}): GrabCut would not see it"
                )


def _builtin(assist: object) -> bool:
    return type(assist).__module__.startswith("labeler.")


def run_assist_on(
    image: np.ndarray, method: str, request: AssistRequest, *, image_id: int = 0
) -> AssistResult:
    """Run assist ``method`` on a decoded BGR image (the window has it decoded already)."""
    h, w = image.shape[:2]
    request = check_request(method, request, w, h)
    assist = ASSISTS.get(method)
    start = time.perf_counter()
    # A plugin's SystemExit or KeyboardInterrupt is its failure too (it must not end the
    # program with nothing said); a built-in assist lets a real Ctrl-C through.
    caught = BaseException if not _builtin(assist) else Exception
    try:
        raw = assist(image, request)
    except AssistFailed:
        raise
    except LabelerError as e:
        raise LabelerError(f"assist {method!r}: {e}") from None
    except caught as e:  # a plugin's bug: one line that names the assist, never a crash
        text = str(e).strip().splitlines()
        why = f"{type(e).__name__}: {text[-1]}" if text else type(e).__name__
        raise LabelerError(f"assist {method!r} failed: {why}") from None
    seconds = time.perf_counter() - start
    polygon, returned = _polygon(method, raw, w, h)
    over = returned if returned > len(polygon) else None
    return AssistResult(image_id, method, polygon, seconds, over)


def _polygon(method: str, raw: object, width: int, height: int) -> tuple[list[Point], int]:
    """An assist's answer as a polygon on the image (finite vertices, clamped to its frame,
    simplified to `MAX_RETURNED` vertices) and how many vertices it returned. One line naming
    the assist when it is not a polygon or has no area inside the image."""
    try:
        pts = [(float(p[0]), float(p[1])) for p in raw]  # type: ignore[union-attr, index]
    except (TypeError, ValueError, IndexError, KeyError):
        raise LabelerError(f"assist {method!r} returned something that is not a polygon") from None
    if len(pts) < 3 or not all(math.isfinite(x) and math.isfinite(y) for x, y in pts):
        raise LabelerError(f"assist {method!r} returned no usable polygon (under 3 finite points)")
    arr = np.array(pts, np.float64)
    np.clip(arr[:, 0], 0.0, float(width), out=arr[:, 0])
    np.clip(arr[:, 1], 0.0, float(height), out=arr[:, 1])
    if len(arr) > MAX_RETURNED:
        arr = np.array(simplify(arr, MAX_RETURNED), np.float64).reshape(-1, 2)
    x, y = arr[:, 0], arr[:, 1]
    area = abs(float(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1)))) / 2
    if len(arr) < 3 or area < 1.0:
        raise LabelerError(
            f"assist {method!r} returned a polygon with no area inside the image"
            f" ({width} x {height}); nothing stored"
        )
    return [(round(float(a), 2), round(float(b), 2)) for a, b in arr], len(pts)


def load_project_image(project: Project, ref: str) -> tuple[ImageRecord, np.ndarray]:
    """The image ``ref`` (id, path or file name) of the project, decoded upright."""
    record = project.find_image(ref)
    return record, decode_checked(project.resolve(record), record)


def decode_checked(file: str | os.PathLike[str], record: ImageRecord | ImageRow) -> np.ndarray:
    """The pixels of ``file``, the project's image ``record``, decoded upright; refused in
    one line when the file is not the one imported (the CLI and the window alike)."""
    try:
        data = read_file_bytes(file)
        pixels = decode(data)
    except (BadImage, OSError) as e:
        why = e.strerror if isinstance(e, OSError) and e.strerror else str(e)
        raise LabelerError(f"{record.path}: {why}") from None
    # A replaced file: a polygon in its pixels would not fit the image the project knows.
    check_is_imported(record, data, pixels.shape[1::-1])
    return pixels


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
