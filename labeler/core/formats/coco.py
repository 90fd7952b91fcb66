"""COCO detection JSON: one ``annotations/instances_{split}.json`` per split.

Layout written::

    annotations/instances_train.json     images/train/<file_name>
    annotations/instances_val.json       images/val/<file_name>

``file_name`` in the JSON is relative to ``images/<split>``, so
``CocoDetection(root="images/train", annFile="annotations/instances_train.json")`` works.
Image, annotation and category ids start at 1; category ids follow the class list order
(not the project's class ids). A box is ``bbox=[x, y, w, h]`` with ``area=w*h`` and, as in
official COCO where every instance has a ``segmentation``, its 4-corner polygon
``[[x, y, x+w, y, x+w, y+h, x, y+h]]`` (pycocotools' segm evaluation and torchvision's
masks need one; an empty list breaks both) plus ``"labeler_shape": "box"``, which other
loaders ignore and our importer reads to keep it a box. A polygon has
``segmentation=[[x1, y1, ...]]``, its bounding box and its shoelace area. ``iscrowd`` is
0. Image-level tags have no place in COCO instances and are not written. Only splits with
images get a file; ``notes`` names the empty ones for the export report.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from labeler.core.errors import LabelerError
from labeler.core.formats._io import (
    MAX_COCO_BYTES,
    FormatProblem,
    display,
    head_text,
    inside,
    load_json,
    num,
    read_dataset_head,
    safe_relpath,
    shown,
)
from labeler.core.formats._io import write_text as _write_text
from labeler.core.formats.base import Placed, clipped, split_of
from labeler.core.formats.model import (
    SPLITS,
    ExportItem,
    ImportedShape,
    ImportRecord,
    ImportResult,
    is_count,
    is_number,
)
from labeler.core.shapes import Shape


class CocoExporter:
    name = "coco"
    importer = "coco"
    tolerance_px = 0.001

    def place(self, items: Sequence[ExportItem], names: dict[int, str]) -> list[Placed | str]:
        return [
            Placed(
                it,
                f"images/{it.split}/{it.file_name}",
                tuple(clipped(s, it.width, it.height) for s in it.shapes if s.kind != "tag"),
            )
            for it in items
        ]

    def write(
        self,
        placed: Sequence[Placed],
        classes: Sequence[tuple[int, str]],
        root: Path,
        final_dir: Path,
    ) -> list[str]:
        cat_ids = {cid: i for i, (cid, _) in enumerate(classes, 1)}
        categories = [
            {"id": i, "name": name, "supercategory": "none"}
            for i, (_, name) in enumerate(classes, 1)
        ]
        files = []
        for split in SPLITS:
            group = [p for p in placed if p.item.split == split]
            if not group:
                continue
            doc = _document(group, cat_ids, categories)
            rel = f"annotations/instances_{split}.json"
            _write_text(root / rel, json.dumps(doc, sort_keys=True, separators=(",", ":")) + "\n")
            files.append(rel)
        return files

    def notes(self, placed: Sequence[Placed]) -> list[str]:
        """What the export report should say about this layout: each empty split."""
        return [
            f"the {split} split is empty: no annotations/instances_{split}.json was written"
            for split in empty_splits(placed)
        ]


def empty_splits(placed: Sequence[Placed]) -> list[str]:
    """The splits (train, val, test) that hold no exported image."""
    used = {p.item.split for p in placed}
    return [s for s in SPLITS if s not in used]


def _document(
    group: Sequence[Placed], cat_ids: dict[int, int], categories: list[dict[str, Any]]
) -> dict[str, Any]:
    images, annotations = [], []
    for image_id, p in enumerate(group, 1):
        it = p.item
        images.append(
            {"id": image_id, "file_name": it.file_name, "width": it.width, "height": it.height}
        )
        for s in p.shapes:
            annotations.append(_annotation(len(annotations) + 1, image_id, cat_ids[s.class_id], s))
    return {
        "info": {"description": "Exported by Labeler"},
        "licenses": [],
        "images": images,
        "annotations": annotations,
        "categories": categories,
    }


def _annotation(ann_id: int, image_id: int, cat_id: int, s: Shape) -> dict[str, Any]:
    x1, y1, x2, y2 = s.bbox()  # type: ignore[misc]
    ann: dict[str, Any] = {
        "id": ann_id,
        "image_id": image_id,
        "category_id": cat_id,
        "bbox": [num(x1), num(y1), num(x2 - x1), num(y2 - y1)],
        "area": num(s.area()),
        "iscrowd": 0,
    }
    if s.kind == "polygon":
        ann["segmentation"] = [[num(v) for pt in s.points for v in pt]]
    else:
        ann["segmentation"] = [[num(v) for v in (x1, y1, x2, y1, x2, y2, x1, y2)]]
        ann[BOX_MARK] = "box"
    return ann


# Marks an annotation whose polygon is a box's 4 corners, so that it is read back as a box.
BOX_MARK = "labeler_shape"


class CocoImporter:
    """Reads ``annotations/*.json`` (or ``*.json`` at the root, or Roboflow's
    ``<split>/_annotations.coco.json``) in COCO detection form.

    Images are looked for in ``images/<subset>``, ``<subset>``, ``images``, beside the
    JSON or at the root, where ``instances_<subset>.json`` (or Roboflow's split folder)
    names the subset; the split comes from the subset name (train2017 is train, valid is
    val). RLE masks and crowd annotations are reported and skipped. The ``images`` list is
    the dataset: an image file no JSON lists is reported, not imported.
    """

    name = "coco"

    def detect(self, root: Path) -> bool:
        return bool(_annotation_files(root, []))

    def describe(self, root: Path) -> str:
        files = [display(root, p) for p in _annotation_files(root, [])]
        more = f" (and {len(files) - 1} more)" if len(files) > 1 else ""
        return f"{files[0]}{more}: JSON with COCO's images/annotations/categories" if files else ""

    def missing(self, root: Path) -> str | None:
        problems: list[str] = []
        if _annotation_files(root, problems) or problems:
            return None
        return (
            f"no COCO JSON in {root}/annotations, at its top, or as <split>/_annotations.coco.json"
        )

    def read(self, root: Path) -> ImportResult:
        result = ImportResult()
        for path in _annotation_files(root, result.problems):
            label = display(root, path)
            try:
                doc = load_json(root, path, label, MAX_COCO_BYTES)
                _read_document(root, path, label, doc, result)
            except FormatProblem as e:
                result.problems.append(str(e))
        return result


ROBOFLOW_JSON = "_annotations.coco.json"


def _annotation_files(root: Path, problems: list[str]) -> list[Path]:
    """The COCO JSON files: ``annotations/*.json``, else ``*.json`` at the root, else
    Roboflow's ``<split>/_annotations.coco.json``. A file that cannot be read (a link out
    of the dataset, not a regular file) is reported in ``problems`` and ends the search at
    its folder, as a COCO file there would."""
    found: list[Path] = []
    roboflow = sorted(root.glob(f"*/{ROBOFLOW_JSON}")) if root.is_dir() else []
    for candidates in (_jsons(root / "annotations"), _jsons(root), roboflow):
        refused = []
        for path in candidates:
            if path.name == "manifest.json":  # our export's record, not annotations
                continue
            try:
                head = head_text(read_dataset_head(root, path, display(root, path), 4096))
            except FormatProblem as e:
                refused.append(str(e))
                continue
            # A COCO file is one JSON object; CreateML's list of images also says "annotations".
            is_object = head.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"{")
            keys = (b'"images"', b'"annotations"', b'"categories"')
            if is_object and any(k in head for k in keys):
                found.append(path)
        problems.extend(refused)
        if found or refused:
            break
    return found


def _jsons(folder: Path) -> list[Path]:
    return sorted(folder.glob("*.json")) if folder.is_dir() else []


def _read_document(root: Path, path: Path, label: str, doc: Any, result: ImportResult) -> None:
    if not isinstance(doc, dict):
        raise FormatProblem(f"{label}: expected a JSON object at the top")
    if path.name == ROBOFLOW_JSON:
        subset = path.parent.name
    else:
        subset = path.stem.removeprefix("instances_")
    split = split_of(subset)
    images = _images(root, path.parent, subset, doc, label, result)
    try:
        cats = _categories(doc, label, result)
        annotations = _list(doc, "annotations", label)
    except FormatProblem:
        # Without its categories or annotations the file cannot say what its images hold;
        # they are listed as not imported rather than imported as if they held nothing.
        result.not_imported.extend(
            (rel, f"{label} could not be read") for rel, *_ in images.values()
        )
        raise
    shapes: dict[int, list[ImportedShape]] = {i: [] for i in images}
    for k, ann in enumerate(annotations):
        where = f"{label}: annotations[{k}]"
        try:
            image_id, found = _annotation_shapes(ann, where, cats)
        except FormatProblem as e:
            result.problems.append(str(e))
            continue
        except LabelerError as e:
            result.problems.append(f"{where}: {e}")
            continue
        if image_id not in shapes:
            result.problems.append(f"{where}.image_id: no image with id {shown(image_id)}")
            continue
        shapes[image_id].extend(found)
    for image_id, (rel, w, h, source) in images.items():
        result.records.append(ImportRecord(rel, w, h, tuple(shapes[image_id]), split, source))


def _list(doc: dict[str, Any], key: str, label: str) -> list[Any]:
    value = doc.get(key)
    if value is None:  # absent or null: an images-only file (COCO's test sets) has none
        return []
    if not isinstance(value, list):
        raise FormatProblem(f"{label}: {key}: expected a list")
    return value


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _categories(doc: dict[str, Any], label: str, result: ImportResult) -> dict[int, str]:
    cats: dict[int, str] = {}
    where: dict[int, int] = {}
    for k, cat in enumerate(_list(doc, "categories", label)):
        if not isinstance(cat, dict) or not _is_int(cat.get("id")):
            result.problems.append(f"{label}: categories[{k}].id: expected an integer")
        elif not isinstance(cat.get("name"), str) or not cat["name"].strip():
            result.problems.append(f"{label}: categories[{k}].name: expected a name")
        elif cat["id"] in cats:
            result.problems.append(
                f"{label}: categories[{k}].id: id {cat['id']} is categories[{where[cat['id']]}]'s"
                f" ({shown(cats[cat['id']])}); this entry is skipped"
            )
        else:
            cats[cat["id"]] = cat["name"]
            where[cat["id"]] = k
    for cid in sorted(cats):
        result.add_class(cats[cid])
    return cats


def _images(
    root: Path, base: Path, subset: str, doc: dict[str, Any], label: str, result: ImportResult
) -> dict[int, tuple[str, int, int, str]]:
    entries = _list(doc, "images", label)
    image_dir = _image_dir(root, base, subset, entries)
    images: dict[int, tuple[str, int, int, str]] = {}
    for k, img in enumerate(entries):
        where = f"{label}: images[{k}]"
        try:
            if not isinstance(img, dict) or not _is_int(img.get("id")):
                raise FormatProblem(f"{where}.id: expected an integer")
            try:
                rel = inside(root, image_dir / safe_relpath(img.get("file_name")))
            except FormatProblem as e:
                raise FormatProblem(f"{where}.file_name: {e}") from None
            result.referenced.add(rel)
            w, h = img.get("width"), img.get("height")
            if not (is_count(w) and is_count(h)):
                raise FormatProblem(
                    f"{where}: width and height must be positive integers; {rel} not imported"
                )
            if img["id"] in images:
                raise FormatProblem(
                    f"{where}.id: id {img['id']} is also {images[img['id']][3]}'s;"
                    f" {rel} not imported (its annotations would be ambiguous)"
                )
            images[img["id"]] = (rel, w, h, where)
        except FormatProblem as e:
            result.problems.append(str(e))
    return images


def _image_dir(root: Path, base: Path, subset: str, entries: list[Any]) -> Path:
    first = next((e.get("file_name") for e in entries if isinstance(e, dict)), None)
    candidates = [root / "images" / subset, root / subset, root / "images", base, root]
    for folder in candidates:
        try:
            if isinstance(first, str) and (folder / first).is_file():
                return folder
        except (OSError, ValueError):  # a NUL or an over-long name
            continue
    return next((c for c in candidates if c.is_dir()), root)


def _annotation_shapes(
    ann: Any, where: str, cats: dict[int, str]
) -> tuple[int, list[ImportedShape]]:
    if not isinstance(ann, dict):
        raise FormatProblem(f"{where}: expected an object")
    cid = ann.get("category_id")
    if not _is_int(cid) or cid not in cats:
        raise FormatProblem(f"{where}.category_id: unknown category {shown(cid)}")
    image_id = ann.get("image_id")
    if not _is_int(image_id):
        raise FormatProblem(f"{where}.image_id: expected an integer, got {shown(image_id)}")
    if ann.get("iscrowd", 0):
        raise FormatProblem(f"{where}.iscrowd: crowd annotations are not supported")
    name = cats[cid]
    seg = ann.get("segmentation")
    if ann.get(BOX_MARK) == "box":  # ours: the polygon is the box's corners
        seg = None
    if isinstance(seg, dict):
        raise FormatProblem(f"{where}.segmentation: RLE masks are not supported")
    if seg:
        return image_id, _polygons(seg, where, name)
    bbox = ann.get("bbox")
    if not (isinstance(bbox, list) and len(bbox) == 4 and all(is_number(v) for v in bbox)):
        raise FormatProblem(f"{where}.bbox: expected 4 numbers")
    x, y, w, h = (float(v) for v in bbox)
    if w < 0 or h < 0:
        raise FormatProblem(f"{where}.bbox: negative width or height")
    return image_id, [ImportedShape(name, "box", ((x, y), (x + w, y + h)))]


def _polygons(seg: Any, where: str, name: str) -> list[ImportedShape]:
    if not isinstance(seg, list):
        raise FormatProblem(f"{where}.segmentation: expected a list of polygons")
    shapes = []
    for j, poly in enumerate(seg):
        ok = isinstance(poly, list) and len(poly) >= 6 and len(poly) % 2 == 0
        if not ok or not all(is_number(v) for v in poly):
            raise FormatProblem(
                f"{where}.segmentation[{j}]: expected an even list of at least 6 numbers"
            )
        pts = tuple((float(poly[i]), float(poly[i + 1])) for i in range(0, len(poly), 2))
        shapes.append(ImportedShape(name, "polygon", pts))
    return shapes
