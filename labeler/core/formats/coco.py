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
``segmentation=[[x1, y1, ...]]``, its bounding box and its shoelace area. A multi-part
instance (`Shape.group`) is one annotation, as in official COCO: ``segmentation`` lists
each part's polygon (a box part as its 4 corners), ``bbox`` is the box around the parts
and ``area`` the sum of theirs; reading it back gives one polygon per part, grouped.
``iscrowd`` is 0. Image-level tags have no place in COCO instances and are not written. Only splits with
images get a file; ``notes`` names the empty ones for the export report.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from labeler.core.errors import LabelerError
from labeler.core.formats._io import (
    MAX_COCO_BYTES,
    FormatProblem,
    decode_text,
    display,
    head_text,
    inside,
    load_json,
    num,
    parse_json,
    read_dataset_head,
    safe_relpath,
    shown,
)
from labeler.core.formats._io import write_text as _write_text
from labeler.core.formats.base import Placed, in_image_shapes, no_area_note, split_of
from labeler.core.formats.model import (
    SPLITS,
    ExportItem,
    ImportedShape,
    ImportRecord,
    ImportResult,
    is_count,
    is_number,
)
from labeler.core.shapes import Shape, instances, union_bbox


class CocoExporter:
    name = "coco"
    importer = "coco"
    tolerance_px = 0.001

    def place(self, items: Sequence[ExportItem], names: dict[int, str]) -> list[Placed | str]:
        return [
            Placed(
                it,
                f"images/{it.split}/{it.file_name}",
                _parts(in_image_shapes(it)),
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
        ] + no_area_note(self.name, placed)


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
        for parts in instances(p.shapes):
            cat = cat_ids[parts[0].class_id]
            annotations.append(_annotation(len(annotations) + 1, image_id, cat, parts))
    return {
        "info": {"description": "Exported by Labeler"},
        "licenses": [],
        "images": images,
        "annotations": annotations,
        "categories": categories,
    }


def _parts(shapes: Sequence[Shape]) -> tuple[Shape, ...]:
    """The shapes by instance; in an instance of several parts a box is written (and read
    back) as its 4-corner polygon: one annotation cannot mark one of its polygons a box."""
    out: list[Shape] = []
    for parts in instances(shapes):
        if len(parts) > 1:
            parts = [_as_polygon(s) for s in parts]
        out += parts
    return tuple(out)


def _as_polygon(s: Shape) -> Shape:
    if s.kind != "box":
        return s
    (x1, y1), (x2, y2) = s.points
    return Shape.polygon(s.class_id, [(x1, y1), (x2, y1), (x2, y2), (x1, y2)], group=s.group)


def _annotation(ann_id: int, image_id: int, cat_id: int, parts: Sequence[Shape]) -> dict[str, Any]:
    x1, y1, x2, y2 = union_bbox(parts)
    nx1, ny1 = num(x1), num(y1)
    ann: dict[str, Any] = {
        "id": ann_id,
        "image_id": image_id,
        "category_id": cat_id,
        "bbox": [nx1, ny1, num(x2 - x1), num(y2 - y1)],
        "area": num(sum(s.area() for s in parts)),
        "iscrowd": 0,
    }
    if len(parts) == 1 and parts[0].kind == "box":
        nx2, ny2 = num(x2), num(y2)
        ann["segmentation"] = [[nx1, ny1, nx2, ny1, nx2, ny2, nx1, ny2]]
        ann[BOX_MARK] = "box"
    else:
        ann["segmentation"] = [[num(v) for pt in s.points for v in pt] for s in parts]
    return ann


# Marks an annotation whose polygon is a box's 4 corners, so that it is read back as a box.
BOX_MARK = "labeler_shape"


class CocoImporter:
    """Reads ``annotations/*.json`` (or ``*.json`` at the root, or Roboflow's
    ``<split>/_annotations.coco.json``) in COCO form, whatever the file is called: any JSON
    object with COCO's ``images``/``annotations``/``categories`` is read by its content
    (instances, person_keypoints, captions, stuff, panoptic, image_info).

    Images are looked for in ``images/<subset>``, ``<subset>``, ``images``, beside the
    JSON or at the root, where the file name ends in the subset (``instances_val2017``,
    ``person_keypoints_val2017``, ``image_info_test-dev2017``) or Roboflow's split folder
    names it; the split comes from the subset name (train2017 is train, valid is val).
    Boxes and polygons are imported; what Labeler does not hold is counted per kind and
    reported once per file: keypoints (their boxes and polygons are imported), captions,
    RLE masks, crowd regions, and panoptic PNG masks (their segments' boxes are imported).
    The ``images`` list is the dataset: an image file no JSON lists is reported, not
    imported.
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

    def read_written(
        self, root: Path, files: Mapping[str, bytes], sizes: Mapping[str, tuple[int, int]]
    ) -> ImportResult:
        """`read` of an export just written and read back (the check after export, ADR
        0096): the COCO files `read` would pick are parsed from their bytes as read back
        (``files``), and an image's path is kept inside ``root`` by its name, without a
        ``realpath`` per image (the check's listing of the export refuses a link there).
        The folder of a file's images is found as `read` finds it, by where its first image
        is, the images being those of ``sizes`` (what the export wrote; the check's listing
        proves the folder holds exactly these), so the parse need not wait for them to be
        written. Their sizes are not needed: COCO states each image's size, which the check
        compares."""
        result = ImportResult()

        contained = _inside_by_name(root)

        def written(path: Path) -> bool:
            try:
                return contained(root, path) in sizes
            except FormatProblem:
                return False

        for path in _annotation_files(root, result.problems):
            label = display(root, path)
            data = files.get(path.relative_to(root).as_posix())
            try:
                if data is None:
                    raise FormatProblem(f"{label}: not read back")
                doc = parse_json(decode_text(data, label), label)
                _read_document(root, path, label, doc, result, contained, written)
            except FormatProblem as e:
                result.problems.append(str(e))
        return result


def _inside_by_name(root: Path) -> Callable[[Path, Path], str]:
    """`inside` by names alone, for `CocoImporter.read_written`: a path's place below
    ``root`` as POSIX text, from the normalised absolute paths (no link followed), the
    root's taken once, not per image."""
    cwd = os.getcwd()
    abs_root = os.path.normpath(os.path.join(cwd, root))
    below = abs_root.rstrip(os.sep) + os.sep

    def contained(_root: Path, path: Path) -> str:
        full = os.path.normpath(os.path.join(cwd, path))
        if full != abs_root and full.startswith(below) and below != os.sep:
            rel = full[len(below) :]  # the common case: below the root, without relpath
            return rel if os.sep == "/" else rel.replace(os.sep, "/")
        rel = os.path.relpath(full, abs_root)
        if rel == ".." or rel.startswith("../") or os.path.isabs(rel):
            raise FormatProblem(f"{path} is outside the dataset root {root}")
        return Path(rel).as_posix()

    return contained


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


def _read_document(
    root: Path,
    path: Path,
    label: str,
    doc: Any,
    result: ImportResult,
    contained: Callable[[Path, Path], str] = inside,
    is_file: Callable[[Path], bool] = Path.is_file,
) -> None:
    if not isinstance(doc, dict):
        raise FormatProblem(f"{label}: expected a JSON object at the top")
    if path.name == ROBOFLOW_JSON:
        subsets = [path.parent.name]
    else:
        subsets = _subsets(path.stem)
    split = next((split_of(s) for s in subsets if split_of(s)), None)
    images = _images(root, path.parent, subsets, doc, label, result, contained, is_file)
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
    not_held: dict[str, int] = {}
    for k, ann in enumerate(annotations):
        where = f"{label}: annotations[{k}]"
        try:
            image_id, found = _annotation_shapes(ann, where, cats, not_held, k + 1)
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
    for kind, count in not_held.items():
        result.problems.append(f"{label}: {count} {kind}")
    # A captions file says nothing Labeler holds: its images come in without annotations
    # (and give way, without a word, to another file's boxes for the same image).
    captions = bool(annotations) and all(
        isinstance(a, dict) and "caption" in a and "category_id" not in a for a in annotations
    )
    for image_id, (rel, w, h, source) in images.items():
        result.records.append(
            ImportRecord(rel, w, h, tuple(shapes[image_id]), split, source, not captions)
        )


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


def _subsets(stem: str) -> list[str]:
    """The names the subset may have, longest first: ``person_keypoints_val2017`` may be
    the subset itself, ``keypoints_val2017`` or ``val2017`` (COCO names its files
    ``<kind>_<subset>.json``, and the kind may hold an underscore)."""
    parts = stem.split("_")
    return ["_".join(parts[i:]) for i in range(len(parts)) if parts[i]]


def _images(
    root: Path,
    base: Path,
    subsets: list[str],
    doc: dict[str, Any],
    label: str,
    result: ImportResult,
    contained: Callable[[Path, Path], str] = inside,
    is_file: Callable[[Path], bool] = Path.is_file,
) -> dict[int, tuple[str, int, int, str]]:
    entries = _list(doc, "images", label)
    image_dir = _image_dir(root, base, subsets, entries, is_file)
    images: dict[int, tuple[str, int, int, str]] = {}
    for k, img in enumerate(entries):
        where = f"{label}: images[{k}]"
        try:
            if not isinstance(img, dict) or not _is_int(img.get("id")):
                raise FormatProblem(f"{where}.id: expected an integer")
            try:
                rel = contained(root, image_dir / safe_relpath(img.get("file_name")))
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


def _image_dir(
    root: Path,
    base: Path,
    subsets: list[str],
    entries: list[Any],
    is_file: Callable[[Path], bool] = Path.is_file,
) -> Path:
    first = next((e.get("file_name") for e in entries if isinstance(e, dict)), None)
    candidates = [p for s in subsets for p in (root / "images" / s, root / s)]
    candidates += [root / "images", base, root]
    for folder in candidates:
        try:
            if isinstance(first, str) and is_file(folder / first):
                return folder
        except (OSError, ValueError):  # a NUL or an over-long name
            continue
    return next((c for c in candidates if c.is_dir()), root)


CROWD = "crowd region(s) (iscrowd=1) not imported: Labeler holds no crowd regions"


def _count(not_held: dict[str, int], kind: str, n: int = 1) -> None:
    not_held[kind] = not_held.get(kind, 0) + n


def _annotation_shapes(
    ann: Any, where: str, cats: dict[int, str], not_held: dict[str, int], group: int
) -> tuple[int, list[ImportedShape]]:
    """The boxes and polygons of one annotation; what Labeler does not hold is counted in
    ``not_held`` by kind (reported once per file). An annotation with several polygons is
    one instance: its polygons share group ``group`` (unique in the file)."""
    if not isinstance(ann, dict):
        raise FormatProblem(f"{where}: expected an object")
    if "category_id" not in ann and "caption" in ann:
        _count(not_held, "caption(s) not imported: Labeler holds no captions")
        return _image_id(ann, where), []
    if "category_id" not in ann and isinstance(ann.get("segments_info"), list):
        return _image_id(ann, where), _panoptic(ann, where, cats, not_held)
    cid = ann.get("category_id")
    if not _is_int(cid) or cid not in cats:
        raise FormatProblem(f"{where}.category_id: unknown category {shown(cid)}")
    image_id = _image_id(ann, where)
    if ann.get("iscrowd", 0):
        _count(not_held, CROWD)
        return image_id, []
    name = cats[cid]
    seg = ann.get("segmentation")
    if ann.get(BOX_MARK) == "box":  # ours: the polygon is the box's corners
        seg = None
    if isinstance(seg, dict):
        _count(not_held, "RLE mask(s) not imported: Labeler holds boxes and polygons")
        return image_id, []
    if ann.get("num_keypoints") or ann.get("keypoints"):
        _count(
            not_held,
            "annotation(s) with keypoints: their keypoints not imported (their boxes and"
            " polygons are)",
        )
    if seg:
        return image_id, _polygons(seg, where, name, group)
    return image_id, [_box(ann.get("bbox"), where, name)]


def _image_id(ann: dict[str, Any], where: str) -> int:
    image_id = ann.get("image_id")
    if not _is_int(image_id):
        raise FormatProblem(f"{where}.image_id: expected an integer, got {shown(image_id)}")
    return image_id


def _panoptic(
    ann: dict[str, Any], where: str, cats: dict[int, str], not_held: dict[str, int]
) -> list[ImportedShape]:
    """A panoptic annotation: its segments' boxes (the PNG mask is not held)."""
    shapes = []
    for j, seg in enumerate(ann["segments_info"]):
        at = f"{where}.segments_info[{j}]"
        if not isinstance(seg, dict):
            raise FormatProblem(f"{at}: expected an object")
        cid = seg.get("category_id")
        if not _is_int(cid) or cid not in cats:
            raise FormatProblem(f"{at}.category_id: unknown category {shown(cid)}")
        if seg.get("iscrowd", 0):
            _count(not_held, CROWD)
            continue
        shapes.append(_box(seg.get("bbox"), at, cats[cid]))
    _count(
        not_held,
        "panoptic segment mask(s) (PNG) not imported: their boxes are",
        len(ann["segments_info"]),
    )
    return shapes


def _box(bbox: Any, where: str, name: str) -> ImportedShape:
    if not (isinstance(bbox, list) and len(bbox) == 4 and all(map(is_number, bbox))):
        raise FormatProblem(f"{where}.bbox: expected 4 numbers")
    x, y, w, h = float(bbox[0]), float(bbox[1]), float(bbox[2]), float(bbox[3])
    if w < 0 or h < 0:
        raise FormatProblem(f"{where}.bbox: negative width or height")
    return ImportedShape(name, "box", ((x, y), (x + w, y + h)))


def _polygons(seg: Any, where: str, name: str, group: int) -> list[ImportedShape]:
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
        shapes.append(ImportedShape(name, "polygon", pts, group if len(seg) > 1 else None))
    return shapes
