"""CVAT XML 1.1 (import only): ``annotations.xml`` at the root, "for images" or "for video".

For images: ``<box>``, ``<polygon>`` and ``<tag>`` per ``<image>``; other shapes (polyline,
points, ellipse, mask, skeleton, cuboid) are reported and skipped. Classes come from
``meta/*/labels`` in order, then from the shapes. Images are found under
``images/<subset>/`` (a project export), ``images/`` (a task export) or at the root;
``subset`` gives the split when it names one. Shapes of one label with the same
``group_id`` (CVAT's "group" of shapes, 0 or absent for none) are one instance; on video
a ``<track>``'s ``group_id`` groups its shapes on each frame.

For video: each ``<track>`` lists its shape per frame (``frame="N"``); CVAT's export
writes every frame of the track, the interpolated ones with ``keyframe="0"``, and a shape
with ``outside="1"`` means the object has left: nothing on that frame. Frames a
hand-edited file skips between two listed shapes are interpolated as CVAT does (linearly,
boxes and polygons with the same number of points), unless the earlier shape is outside.
Frame N is ``images/frame_NNNNNN.<ext>`` (CVAT's "save images" export), its size
``meta/*/original_size``. Without the frame images the file is refused in one line.
"""

from __future__ import annotations

import os
import xml.etree.ElementTree as ET
from pathlib import Path

from labeler.core.errors import LabelerError
from labeler.core.formats._io import (
    MAX_DATASET_TABLE_BYTES,
    FormatProblem,
    display,
    image_size,
    inside,
    parse_xml,
    safe_relpath,
    shown,
)
from labeler.core.formats.base import split_of
from labeler.core.formats.model import ImportedShape, ImportRecord, ImportResult
from labeler.core.images import is_image_path


class CvatImporter:
    """The ``<image>`` list is the dataset (CVAT writes every image of the task, annotated
    or not): an image file it does not list is reported, not imported."""

    name = "cvat"

    def detect(self, root: Path) -> bool:
        return _xml_file(root) is not None

    def describe(self, root: Path) -> str:
        return "annotations.xml: CVAT for images XML" if self.detect(root) else ""

    def missing(self, root: Path) -> str | None:
        return None if self.detect(root) else f"no annotations.xml in {root}"

    def read(self, root: Path) -> ImportResult:
        result = ImportResult()
        path = _xml_file(root)
        if path is None:
            result.problems.append(f"{root}: no annotations.xml found")
            return result
        label = display(root, path)
        try:
            doc = parse_xml(root, path, label, MAX_DATASET_TABLE_BYTES)
        except FormatProblem as e:
            result.problems.append(str(e))
            return result
        if doc.tag != "annotations":
            result.problems.append(f"{label}: expected <annotations>, found <{shown(doc.tag)}>")
            return result
        for node in doc.iterfind("meta//labels/label/name"):
            if node.text and node.text.strip():
                result.add_class(node.text.strip())
        for k, image in enumerate(doc.iterfind("image")):
            try:
                result.records.append(_image(root, image, f"{label}: image[{k}]", result))
            except FormatProblem as e:
                result.problems.append(str(e))
        if doc.find("track") is not None or doc.find("tag[@frame]") is not None:
            _read_video(root, doc, label, result)
        return result


def _xml_file(root: Path) -> Path | None:
    path = root / "annotations.xml"
    return path if os.path.lexists(path) and not path.is_dir() else None


def _image(root: Path, node: ET.Element, where: str, result: ImportResult) -> ImportRecord:
    try:
        rel = safe_relpath(node.get("name", ""))
    except FormatProblem as e:
        raise FormatProblem(f"{where}@name: {e}") from None
    subset = node.get("subset")
    tries = [root / "images" / rel, root / rel]
    if subset and safe_subset(subset):
        tries.insert(0, root / "images" / subset / rel)  # a project export
    path = next((p for p in tries if os.path.isfile(p)), root / rel)
    try:
        rel_path = inside(root, path)
    except FormatProblem as e:
        raise FormatProblem(f"{where}@name: {e}") from None
    result.referenced.add(rel_path)
    try:
        w, h = int(node.get("width", "")), int(node.get("height", ""))
    except ValueError:
        w = h = 0
    if w <= 0 or h <= 0:
        raise FormatProblem(
            f"{where}: width/height: expected positive integers; {rel_path} not imported"
        )
    shapes = []
    for k, child in enumerate(node):
        at = f"{where}/{shown(child.tag, 40)[1:-1]}[{k}]"
        try:
            shapes.append(_shape(child, at))
        except FormatProblem as e:
            result.problems.append(str(e))
        except LabelerError as e:
            result.problems.append(f"{at}: {e}")
    for s in shapes:
        result.add_class(s.class_name)
    return ImportRecord(rel_path, w, h, tuple(shapes), split_of(subset) if subset else None, where)


def safe_subset(subset: str) -> bool:
    """A subset name usable as one folder name (CVAT writes Train, Validation, default)."""
    try:
        return safe_relpath(subset) == subset and "/" not in subset
    except FormatProblem:
        return False


def _read_video(root: Path, doc: ET.Element, label: str, result: ImportResult) -> None:
    """CVAT for video: the tracks' shapes per frame, on ``images/frame_NNNNNN.*``."""
    frames: dict[int, list[ImportedShape]] = {}
    tracks = doc.findall("track")
    for k, track in enumerate(tracks):
        where = f"{label}: track[{k}]"
        try:
            for frame, shape in _track_shapes(track, where, result):
                frames.setdefault(frame, []).append(shape)
        except FormatProblem as e:
            result.problems.append(str(e))
    for k, tag in enumerate(doc.iterfind("tag[@frame]")):
        where = f"{label}: tag[{k}]"
        try:
            frames.setdefault(_frame(tag, where), []).append(_shape(tag, where))
        except FormatProblem as e:
            result.problems.append(str(e))
    files = _frame_files(root)
    if not files:
        span = f" on frames {min(frames)}..{max(frames)}" if frames else ""
        result.problems.append(
            f"{label}: CVAT for video with {len(tracks)} track(s){span}, but no frame images"
            " (images/frame_000000.png ...) to put them on: export from CVAT with"
            " 'Save images' checked, or as 'CVAT for images'; nothing imported"
        )
        return
    size = _original_size(doc)
    missing = sorted(set(frames) - set(files))
    if missing:
        result.problems.append(
            f"{label}: {len(missing)} frame(s) with shapes have no image file"
            f" (first: images/frame_{missing[0]:06d}.*); their shapes are not imported"
        )
    for frame, path in sorted(files.items()):
        try:
            rel = inside(root, path)
        except FormatProblem as e:
            result.problems.append(f"{e}; not imported")
            continue
        result.referenced.add(rel)
        try:
            w, h = size or image_size(path, rel)
        except (FormatProblem, LabelerError) as e:
            result.problems.append(str(e))
            continue
        shapes = tuple(frames.get(frame, ()))
        for s in shapes:
            result.add_class(s.class_name)
        result.records.append(ImportRecord(rel, w, h, shapes, None, f"{label}: frame {frame}"))


def _frame(node: ET.Element, where: str) -> int:
    value = node.get("frame", "")
    if not (value.isascii() and value.isdigit() and len(value) < 10):
        raise FormatProblem(f"{where}@frame: expected a frame number, got {shown(value, 20)}")
    return int(value)


def _track_shapes(
    track: ET.Element, where: str, result: ImportResult
) -> list[tuple[int, ImportedShape]]:
    """The track's shape on each frame it is inside, with skipped frames interpolated."""
    name = (track.get("label") or "").strip()
    if not name:
        raise FormatProblem(f"{where}@label: missing")
    listed: list[tuple[int, bool, ImportedShape]] = []
    for j, child in enumerate(track):
        at = f"{where}/{shown(child.tag, 40)[1:-1]}[{j}]"
        if child.tag not in ("box", "polygon"):
            result.problems.append(f"{at}: <{shown(child.tag, 40)[1:-1]}> is not supported")
            continue
        child.set("label", name)
        if track.get("group_id") is not None:
            child.set("group_id", track.get("group_id", ""))
        try:
            listed.append((_frame(child, at), child.get("outside") == "1", _shape(child, at)))
        except FormatProblem as e:
            result.problems.append(str(e))
        except LabelerError as e:
            result.problems.append(f"{at}: {e}")
    listed.sort(key=lambda t: t[0])
    out: list[tuple[int, ImportedShape]] = []
    for i, (frame, outside, shape) in enumerate(listed):
        if outside:
            continue
        out.append((frame, shape))
        if i + 1 < len(listed):
            nxt_frame, _, nxt = listed[i + 1]
            out.extend(_between(frame, shape, nxt_frame, nxt))
    return out


def _between(
    f0: int, a: ImportedShape, f1: int, b: ImportedShape
) -> list[tuple[int, ImportedShape]]:
    if f1 - f0 < 2 or a.kind != b.kind or len(a.points) != len(b.points):
        return []
    out = []
    for f in range(f0 + 1, f1):
        t = (f - f0) / (f1 - f0)
        pts = tuple(
            (xa + (xb - xa) * t, ya + (yb - ya) * t)
            for (xa, ya), (xb, yb) in zip(a.points, b.points, strict=True)
        )
        out.append((f, ImportedShape(a.class_name, a.kind, pts, a.group)))
    return out


def _frame_files(root: Path) -> dict[int, Path]:
    folder = root / "images"
    found: dict[int, Path] = {}
    if not folder.is_dir():
        return found
    for path in sorted(folder.iterdir()):
        stem = path.stem
        if not stem.startswith("frame_") or not is_image_path(path) or not path.is_file():
            continue
        digits = stem[len("frame_") :]
        if digits.isascii() and digits.isdigit() and len(digits) < 10:
            found.setdefault(int(digits), path)
    return found


def _original_size(doc: ET.Element) -> tuple[int, int] | None:
    node = doc.find("meta//original_size")
    if node is None:
        return None
    try:
        w, h = int(node.findtext("width", "")), int(node.findtext("height", ""))
    except ValueError:
        return None
    return (w, h) if w > 0 and h > 0 else None


def _shape(node: ET.Element, where: str) -> ImportedShape:
    name = (node.get("label") or "").strip()
    if not name:
        raise FormatProblem(f"{where}@label: missing")
    if node.tag == "tag":
        return ImportedShape(name, "tag")
    group = _group(node, where)
    if node.tag == "box":
        try:
            x1, y1, x2, y2 = (float(node.get(a, "")) for a in ("xtl", "ytl", "xbr", "ybr"))
        except ValueError:
            raise FormatProblem(f"{where}: xtl/ytl/xbr/ybr: expected numbers") from None
        return ImportedShape(name, "box", ((x1, y1), (x2, y2)), group)
    if node.tag == "polygon":
        try:
            pts = tuple(
                (float(x), float(y))
                for x, y in (pair.split(",") for pair in node.get("points", "").split(";"))
            )
        except ValueError:
            raise FormatProblem(f"{where}@points: expected 'x,y;x,y;...'") from None
        return ImportedShape(name, "polygon", pts, group)
    raise FormatProblem(f"{where}: <{shown(node.tag, 40)[1:-1]}> is not supported")


def _group(node: ET.Element, where: str) -> int | None:
    """CVAT's ``group_id``: a positive number joins the shapes of one instance; 0 or
    none is a shape alone."""
    value = node.get("group_id")
    if value is None or value == "0":
        return None
    if not (value.isascii() and value.isdigit() and len(value) < 10):
        raise FormatProblem(f"{where}@group_id: expected a whole number, got {shown(value, 20)}")
    return int(value) or None
