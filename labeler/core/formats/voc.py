"""Pascal VOC: one XML file per image.

Layout written::

    JPEGImages/<file_name>                 (the original extension is kept)
    Annotations/<file_name stem>.xml
    ImageSets/Main/{train,val,test}.txt     (stems, one per line, splits with images)
    labelmap.txt                            (CVAT/Datumaro form: ``name:::`` per class;
                                            left out when a class name holds a ":")

Coordinates are VOC's 1-based inclusive integer pixels: ``xmin = round(x1) + 1``,
``xmax = round(x2)``; reading back gives ``x1 = xmin - 1``, ``x2 = xmax``, so a box moves
by at most half a pixel. VOC holds boxes only: a polygon is written as its bounding box,
a multi-part instance (`Shape.group`) as one object with the box around its parts, and
tags are not written. Note that torchvision's ``VOCDetection`` assumes ``.jpg``.
"""

from __future__ import annotations

import math
import os
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path, PurePosixPath

from labeler.core.errors import LabelerError
from labeler.core.formats._io import (
    FormatProblem,
    display,
    image_files,
    image_size,
    inside,
    parse_xml,
    read_dataset_text,
    safe_relpath,
    shown,
    walk_files,
    write_text,
    write_texts,
)
from labeler.core.formats.base import Placed, in_image_shapes, no_area_note
from labeler.core.formats.model import SPLITS, ExportItem, ImportedShape, ImportRecord, ImportResult
from labeler.core.shapes import Shape, instances, union_bbox


def _round(v: float) -> int:
    return math.floor(v + 0.5)  # half up, not Python's half-to-even: stable and obvious


def _voc_box(s: Shape, w: int, h: int) -> tuple[int, int, int, int]:
    (x1, y1), (x2, y2) = s.points
    xmin, ymin = min(_round(x1) + 1, w), min(_round(y1) + 1, h)
    return xmin, ymin, max(xmin, _round(x2)), max(ymin, _round(y2))


class VocExporter:
    name = "voc"
    importer = "voc"
    tolerance_px = 0.0  # place() already rounds; the check compares the rounded boxes

    def place(self, items: Sequence[ExportItem], names: dict[int, str]) -> list[Placed | str]:
        out: list[Placed | str] = []
        for it in items:
            shapes = []
            kept = in_image_shapes(it)
            for parts in instances(kept):
                box = Shape.box(parts[0].class_id, *union_bbox(parts), group=parts[0].group)
                xmin, ymin, xmax, ymax = _voc_box(box, it.width, it.height)
                shapes.append(
                    Shape.box(box.class_id, xmin - 1, ymin - 1, xmax, ymax, group=box.group)
                )
            out.append(Placed(it, f"JPEGImages/{it.file_name}", tuple(shapes)))
        return out

    def notes(self, placed: Sequence[Placed]) -> list[str]:
        """A multi-part instance loses its parts' outlines: say how many."""
        out = no_area_note(self.name, placed)
        n = sum(1 for p in placed for s in p.shapes if s.group is not None)
        if n:
            out.append(
                f"{n} multi-part instance(s) written as one object each (the box around the parts)"
            )
        return out

    def write(
        self,
        placed: Sequence[Placed],
        classes: Sequence[tuple[int, str]],
        root: Path,
        final_dir: Path,
    ) -> list[str]:
        names = dict(classes)
        xmls = [(f"Annotations/{_stem(p.item.file_name)}.xml", _xml(p, names)) for p in placed]
        write_texts(root, xmls)
        files = [rel for rel, _ in xmls]
        for split in SPLITS:
            stems = [_stem(p.item.file_name) for p in placed if p.item.split == split]
            if stems:
                rel = f"ImageSets/Main/{split}.txt"
                write_text(root / rel, "".join(s + "\n" for s in stems))
                files.append(rel)
        # labelmap.txt (CVAT's and Datumaro's addition to VOC) separates fields with ":"
        # and has no escape: a class name holding one cannot be written, so the file is
        # left out (VOC needs none; the names are in the XML files).
        if not any(":" in n for _, n in classes):
            header = "# label:color_rgb:parts:actions\n"
            write_text(root / "labelmap.txt", header + "".join(f"{n}:::\n" for _, n in classes))
            files.append("labelmap.txt")
        return files


def _stem(file_name: str) -> str:
    return str(PurePosixPath(file_name).with_suffix(""))


def _xml(p: Placed, names: dict[int, str]) -> str:
    it = p.item
    root = ET.Element("annotation")
    ET.SubElement(root, "folder").text = "JPEGImages"
    ET.SubElement(root, "filename").text = it.file_name
    ET.SubElement(ET.SubElement(root, "source"), "database").text = "Labeler"
    size = ET.SubElement(root, "size")
    for tag, value in (("width", it.width), ("height", it.height), ("depth", 3)):
        ET.SubElement(size, tag).text = str(value)
    ET.SubElement(root, "segmented").text = "0"
    for s in p.shapes:
        obj = ET.SubElement(root, "object")
        ET.SubElement(obj, "name").text = names[s.class_id]
        ET.SubElement(obj, "pose").text = "Unspecified"
        ET.SubElement(obj, "truncated").text = "0"
        ET.SubElement(obj, "difficult").text = "0"
        box = ET.SubElement(obj, "bndbox")
        (x1, y1), (x2, y2) = s.points
        for tag, value in (("xmin", x1 + 1), ("ymin", y1 + 1), ("xmax", x2), ("ymax", y2)):
            ET.SubElement(box, tag).text = str(int(value))
    ET.indent(root)
    return ET.tostring(root, encoding="unicode") + "\n"


class VocImporter:
    """Reads ``Annotations/**/*.xml``; images from ``JPEGImages/<filename>`` (or beside
    the XML); splits from ``ImageSets/Main/{train,val,test}.txt`` when present (one name
    per line; names may hold spaces). Float coordinates (written by some tools) are
    accepted. An image in ``JPEGImages/`` that no XML names is imported without shapes
    (not yet annotated), unless its own ``Annotations/<stem>.xml`` could not be read,
    which is reported instead. Every problem names the file and the record."""

    name = "voc"

    def detect(self, root: Path) -> bool:
        return (root / "Annotations").is_dir()

    def describe(self, root: Path) -> str:
        return "Annotations/: Pascal VOC XML files" if self.detect(root) else ""

    def missing(self, root: Path) -> str | None:
        ann_dir = root / "Annotations"
        if not ann_dir.is_dir():
            return f"no Annotations/ folder in {root}"
        if not any(p.suffix == ".xml" for p in walk_files(root, ann_dir, [])):
            return f"no XML file in {display(root, ann_dir)}/"
        return None

    def read(self, root: Path) -> ImportResult:
        result = ImportResult()
        for line in _labelmap(root, result):
            result.add_class(line)
        lists = _split_lists(root, result)
        ann_dir = root / "Annotations"
        failed: dict[str, str] = {}  # the stem of an XML that failed: its name
        for path in walk_files(root, ann_dir, result.problems) if ann_dir.is_dir() else []:
            if path.suffix != ".xml":
                continue
            label = display(root, path)
            stem = path.relative_to(ann_dir).with_suffix("").as_posix()
            try:
                record = _read_xml(root, path, label, result)
            except FormatProblem as e:
                failed[stem] = label
                result.problems.append(str(e))
                continue
            result.records.append(replace(record, split=_split_of(lists, stem)))
        _add_unannotated(root, lists, failed, result)
        return result


def _add_unannotated(
    root: Path, lists: dict[str, str], failed: dict[str, str], result: ImportResult
) -> None:
    images = root / "JPEGImages"
    if not images.is_dir():
        return
    named = {r.path for r in result.records} | result.referenced
    for image in image_files(root, images, result.problems):
        rel = image.relative_to(root).as_posix()
        if rel in named:
            continue
        stem = image.relative_to(images).with_suffix("").as_posix()
        result.referenced.add(rel)
        if stem in failed:  # not "no shapes": its annotation exists and was not read
            result.not_imported.append((rel, f"its {failed[stem]} could not be read"))
            continue
        try:
            inside(root, image)
        except FormatProblem as e:  # a link to an image outside the dataset
            result.problems.append(f"{e}; not imported")
            continue
        result.records.append(
            ImportRecord(rel, 0, 0, (), _split_of(lists, stem), "", annotated=False)
        )


def _labelmap(root: Path, result: ImportResult) -> list[str]:
    path = root / "labelmap.txt"
    if not os.path.lexists(path):
        return []
    try:
        text = read_dataset_text(root, path, display(root, path))
    except FormatProblem as e:
        result.problems.append(str(e))
        return []
    names = []
    for line in text.splitlines():
        if line.strip() and not line.startswith("#"):
            names.append(line.split(":", 1)[0].strip())
    return [n for n in names if n]


def _split_lists(root: Path, result: ImportResult) -> dict[str, str]:
    """Each line of the split lists (stripped) to its split; a line may hold spaces (a file
    named ``IMG 0001.jpg``), so it is not cut into words."""
    out: dict[str, str] = {}
    for split in SPLITS:
        path = root / "ImageSets" / "Main" / f"{split}.txt"
        if not os.path.lexists(path):
            continue
        try:
            text = read_dataset_text(root, path, display(root, path))
        except FormatProblem as e:
            result.problems.append(str(e))
            continue
        for line in text.splitlines():
            if line.strip():
                out.setdefault(line.strip(), split)
    return out


def _split_of(lists: dict[str, str], stem: str) -> str | None:
    return lists.get(stem)


def _read_xml(root: Path, path: Path, label: str, result: ImportResult) -> ImportRecord:
    doc = parse_xml(root, path, label)
    if doc.tag != "annotation":
        raise FormatProblem(f"{label}: expected <annotation>, found <{shown(doc.tag, 40)[1:-1]}>")
    name = doc.findtext("filename")
    try:
        rel = safe_relpath(name or "")
    except FormatProblem as e:
        raise FormatProblem(f"{label}: filename: {e}") from None
    image = root / "JPEGImages" / rel
    if not os.path.isfile(image) and os.path.isfile(path.parent / rel):
        image = path.parent / rel
    try:
        rel_path = inside(root, image)
    except FormatProblem as e:
        raise FormatProblem(f"{label}: filename: {e}") from None
    result.referenced.add(rel_path)
    w, h = _size(doc, image, rel_path, label)
    shapes = []
    for k, obj in enumerate(doc.findall("object"), 1):
        where = f"{label}: object[{k}]"
        try:
            shapes.append(_object(obj, where))
        except FormatProblem as e:
            result.problems.append(str(e))
            continue
        except LabelerError as e:
            result.problems.append(f"{where}: {e}")
            continue
        result.add_class(shapes[-1].class_name)
    return ImportRecord(rel_path, w, h, tuple(shapes), None, label)


def _size(doc: ET.Element, image: Path, rel: str, label: str) -> tuple[int, int]:
    try:
        w = int(doc.findtext("size/width") or 0)
        h = int(doc.findtext("size/height") or 0)
    except ValueError:
        raise FormatProblem(
            f"{label}: size: expected integer width and height; {rel} not imported"
        ) from None
    if w > 0 and h > 0:
        return w, h
    if os.path.isfile(image):
        try:
            return image_size(image, rel)  # the header alone, refused over MAX_PIXELS
        except LabelerError as e:
            raise FormatProblem(f"{label}: size: missing, and {e}") from None
    raise FormatProblem(f"{label}: size: missing, and the image {image.name} is not there")


def _object(obj: ET.Element, where: str) -> ImportedShape:
    name = (obj.findtext("name") or "").strip()
    if not name:
        raise FormatProblem(f"{where}/name: missing")
    coords = []
    for tag in ("xmin", "ymin", "xmax", "ymax"):
        text = obj.findtext(f"bndbox/{tag}")
        try:
            coords.append(float(text))  # type: ignore[arg-type]
        except (TypeError, ValueError):
            raise FormatProblem(
                f"{where}/bndbox/{tag}: expected a number, got {shown(text)}"
            ) from None
    xmin, ymin, xmax, ymax = coords
    return ImportedShape(name, "box", ((xmin - 1, ymin - 1), (xmax, ymax)))
