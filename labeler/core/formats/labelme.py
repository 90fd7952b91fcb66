"""labelme JSON (import only): one ``.json`` per image anywhere below the root.

``rectangle`` shapes become boxes, ``polygon`` shapes polygons, and every flag set to
true becomes an image-level tag of that name. Other shape types (circle, line, point,
linestrip, mask) are reported and skipped. ``imagePath`` is relative to the JSON file and
must stay inside the root; embedded ``imageData`` is ignored.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from labeler.core.errors import LabelerError
from labeler.core.formats._io import (
    MAX_LABELME_BYTES,
    FormatProblem,
    display,
    inside,
    load_json,
    read_dataset_head,
    safe_relpath,
    walk_files,
)
from labeler.core.formats.model import ImportedShape, ImportRecord, ImportResult


class LabelmeImporter:
    name = "labelme"

    def detect(self, root: Path) -> bool:
        for path in _json_files(root, [])[:20]:
            try:
                if b'"shapes"' in read_dataset_head(root, path, display(root, path), 65536):
                    return True
            except FormatProblem:
                continue
        return False

    def read(self, root: Path) -> ImportResult:
        result = ImportResult()
        for path in _json_files(root, result.problems):
            label = display(root, path)
            try:
                doc = load_json(root, path, label, MAX_LABELME_BYTES)
                if not isinstance(doc, dict) or "shapes" not in doc:
                    raise FormatProblem(f"{label}: not a labelme file (no 'shapes' key)")
                result.records.append(_record(root, path, label, doc, result))
            except FormatProblem as e:
                result.problems.append(str(e))
        return result


def _json_files(root: Path, problems: list[str]) -> list[Path]:
    return [p for p in walk_files(root, root, problems) if p.suffix == ".json"]


def _record(
    root: Path, path: Path, label: str, doc: dict[str, Any], result: ImportResult
) -> ImportRecord:
    try:
        # labelme writes imagePath relative to the JSON file; it may climb to a sibling
        # folder (../images/a.jpg), which is fine while it stays inside the root.
        raw = str(doc.get("imagePath") or "").replace("\\", "/")
        if not raw or raw.startswith("/") or ":" in raw.split("/")[0]:
            safe_relpath(raw)
        rel = inside(root, (path.parent / raw))
    except FormatProblem as e:
        raise FormatProblem(f"{label}: imagePath: {e}") from None
    w, h = doc.get("imageWidth"), doc.get("imageHeight")
    if not (isinstance(w, int) and isinstance(h, int) and w > 0 and h > 0):
        raise FormatProblem(f"{label}: imageWidth/imageHeight: expected positive integers")
    shapes = []
    flags = doc.get("flags") or {}
    if not isinstance(flags, dict):
        raise FormatProblem(f"{label}: flags: expected an object")
    for name, on in sorted(flags.items()):
        if on is True:
            shapes.append(ImportedShape(str(name), "tag"))
    items = doc["shapes"]
    if not isinstance(items, list):
        raise FormatProblem(f"{label}: shapes: expected a list")
    for k, item in enumerate(items):
        try:
            shapes.append(_shape(item, f"{label}: shapes[{k}]"))
        except FormatProblem as e:
            result.problems.append(str(e))
        except LabelerError as e:
            result.problems.append(f"{label}: shapes[{k}]: {e}")
    for s in shapes:
        result.add_class(s.class_name)
    return ImportRecord(rel, w, h, tuple(shapes))


def _shape(item: Any, where: str) -> ImportedShape:
    if not isinstance(item, dict):
        raise FormatProblem(f"{where}: expected an object")
    name = item.get("label")
    if not isinstance(name, str) or not name.strip():
        raise FormatProblem(f"{where}.label: expected a class name")
    kind = item.get("shape_type") or "polygon"
    pts = item.get("points")
    ok = isinstance(pts, list) and all(
        isinstance(p, list) and len(p) == 2 and all(isinstance(v, int | float) for v in p)
        for p in pts
    )
    if not ok:
        raise FormatProblem(f"{where}.points: expected a list of [x, y] pairs")
    points = tuple((float(x), float(y)) for x, y in pts)
    if kind == "rectangle":
        if len(points) not in (2, 4):
            raise FormatProblem(f"{where}.points: a rectangle needs 2 or 4 points")
        xs, ys = [p[0] for p in points], [p[1] for p in points]
        return ImportedShape(name.strip(), "box", ((min(xs), min(ys)), (max(xs), max(ys))))
    if kind == "polygon":
        return ImportedShape(name.strip(), "polygon", points)
    raise FormatProblem(f"{where}.shape_type: {kind!r} is not supported")
