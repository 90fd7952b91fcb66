"""labelme JSON (import only): one ``.json`` per image anywhere below the root, and the
images no JSON names yet.

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
    head_text,
    image_files_among,
    inside,
    load_json,
    read_dataset_head,
    safe_relpath,
    shown,
    walk_files,
)
from labeler.core.formats.model import (
    ImportedShape,
    ImportRecord,
    ImportResult,
    is_count,
    is_number,
)


class LabelmeImporter:
    """labelme's working folder holds annotated and not-yet-annotated images side by side:
    every image under the root is imported, with the shapes of the JSON files that name
    it; an image no JSON names comes in without shapes (``annotated=False``), except one
    whose own ``<stem>.json`` beside it could not be read, which is reported instead."""

    name = "labelme"

    def detect(self, root: Path) -> bool:
        return _first_labelme(root, limit=20) is not None

    def describe(self, root: Path) -> str:
        first = _first_labelme(root, limit=20)
        return f"{display(root, first)}: JSON with labelme's 'shapes'" if first else ""

    def missing(self, root: Path) -> str | None:
        if _first_labelme(root, limit=None) is not None:
            return None
        return f"no labelme JSON (a .json file with 'shapes') under {root}"

    def read(self, root: Path) -> ImportResult:
        result = ImportResult()
        files = walk_files(root, root, result.problems)
        failed: dict[Path, str] = {}  # a JSON that failed, without its suffix: its name
        for path in (p for p in files if p.suffix.lower() == ".json"):
            label = display(root, path)
            try:
                doc = load_json(root, path, label, MAX_LABELME_BYTES)
                if not isinstance(doc, dict) or "shapes" not in doc:
                    raise FormatProblem(f"{label}: not a labelme file (no 'shapes' key)")
                result.records.append(_record(root, path, label, doc, result))
            except FormatProblem as e:
                failed[path.with_suffix("")] = label
                result.problems.append(str(e))
        _add_unannotated(root, files, failed, result)
        return result


def _first_labelme(root: Path, limit: int | None) -> Path | None:
    for path in _json_files(root, [])[:limit]:
        try:
            head = read_dataset_head(root, path, display(root, path), 65536)
            if b'"shapes"' in head_text(head):
                return path
        except FormatProblem:
            continue
    return None


def _json_files(root: Path, problems: list[str]) -> list[Path]:
    return [p for p in walk_files(root, root, problems) if p.suffix.lower() == ".json"]


def _add_unannotated(
    root: Path, files: list[Path], failed: dict[Path, str], result: ImportResult
) -> None:
    """Records without shapes for the images no JSON named; an image whose own JSON failed
    is reported, not imported as if it had no shapes."""
    named = {r.path for r in result.records} | result.referenced
    for image in image_files_among(root, files, result.problems):
        try:
            rel = inside(root, image)
        except FormatProblem as e:  # a link to an image outside the dataset
            result.problems.append(f"{e}; not imported")
            result.referenced.add(image.relative_to(root).as_posix())
            continue
        if rel in named:
            continue
        json_name = failed.get(image.with_suffix(""))
        if json_name is not None:  # not "no shapes": its annotation exists and was not read
            result.not_imported.append((rel, f"its {json_name} could not be read"))
            result.referenced.add(rel)
            continue
        result.records.append(ImportRecord(rel, 0, 0, (), None, "", annotated=False))


def _record(
    root: Path, path: Path, label: str, doc: dict[str, Any], result: ImportResult
) -> ImportRecord:
    try:
        # labelme writes imagePath relative to the JSON file; it may climb to a sibling
        # folder (../images/a.jpg), which is fine while it stays inside the root.
        raw = doc.get("imagePath")
        raw = raw.replace("\\", "/") if isinstance(raw, str) else ""
        if not raw or raw.startswith("/") or ":" in raw.split("/")[0] or "\0" in raw:
            safe_relpath(raw)
        rel = inside(root, (path.parent / raw))
    except FormatProblem as e:
        raise FormatProblem(f"{label}: imagePath: {e}") from None
    except (OSError, ValueError):
        raise FormatProblem(f"{label}: imagePath: not a usable file name") from None
    result.referenced.add(rel)
    w, h = doc.get("imageWidth"), doc.get("imageHeight")
    if not (is_count(w) and is_count(h)):
        raise FormatProblem(
            f"{label}: imageWidth/imageHeight: expected positive integers; {rel} not imported"
        )
    shapes = []
    flags = doc.get("flags") or {}
    if not isinstance(flags, dict):
        raise FormatProblem(f"{label}: flags: expected an object; {rel} not imported")
    for name, on in sorted(flags.items()):
        if on is True:
            shapes.append(ImportedShape(str(name), "tag"))
    items = doc["shapes"]
    if not isinstance(items, list):
        raise FormatProblem(f"{label}: shapes: expected a list; {rel} not imported")
    groups: dict[int, int] = {}  # labelme's group_id (any integer, 0 too): ours (1, 2, ...)
    for k, item in enumerate(items):
        try:
            shapes.append(_shape(item, f"{label}: shapes[{k}]", groups, result))
        except FormatProblem as e:
            result.problems.append(str(e))
        except LabelerError as e:
            result.problems.append(f"{label}: shapes[{k}]: {e}")
    for s in shapes:
        result.add_class(s.class_name)
    return ImportRecord(rel, w, h, tuple(shapes), None, label)


def _shape(item: Any, where: str, groups: dict[int, int], result: ImportResult) -> ImportedShape:
    """One labelme shape. Shapes with the same label and ``group_id`` are one instance
    (as labelme2coco reads them); a ``group_id`` that is not an integer is reported and
    the shape imported alone."""
    if not isinstance(item, dict):
        raise FormatProblem(f"{where}: expected an object")
    name = item.get("label")
    if not isinstance(name, str) or not name.strip():
        raise FormatProblem(f"{where}.label: expected a class name")
    gid = item.get("group_id")
    group = None
    if isinstance(gid, int) and not isinstance(gid, bool):
        group = groups.setdefault(gid, len(groups) + 1)
    elif gid is not None:
        result.problems.append(
            f"{where}.group_id: expected an integer or null, got {shown(gid)}; the shape is"
            " imported as an instance alone"
        )
    kind = item.get("shape_type") or "polygon"
    pts = item.get("points")
    ok = isinstance(pts, list) and all(
        isinstance(p, list) and len(p) == 2 and all(is_number(v) for v in p) for p in pts
    )
    if not ok:
        raise FormatProblem(f"{where}.points: expected a list of [x, y] pairs")
    points = tuple((float(x), float(y)) for x, y in pts)
    if kind == "rectangle":
        if len(points) not in (2, 4):
            raise FormatProblem(f"{where}.points: a rectangle needs 2 or 4 points")
        xs, ys = [p[0] for p in points], [p[1] for p in points]
        box = ((min(xs), min(ys)), (max(xs), max(ys)))
        return ImportedShape(name.strip(), "box", box, group)
    if kind == "polygon":
        return ImportedShape(name.strip(), "polygon", points, group)
    raise FormatProblem(f"{where}.shape_type: {shown(kind)} is not supported")
