"""CVAT "for images 1.1" XML (import only): ``annotations.xml`` at the root.

Reads ``<box>``, ``<polygon>`` and ``<tag>`` per ``<image>``; other shapes (polyline,
points, ellipse, mask, skeleton, cuboid) are reported and skipped. Classes come from
``meta/*/labels`` in order, then from the shapes. Images are found under ``images/``
(CVAT's export layout) or at the root; ``subset`` gives the split when it names one.
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
    inside,
    parse_xml,
    safe_relpath,
    shown,
)
from labeler.core.formats.base import split_of
from labeler.core.formats.model import ImportedShape, ImportRecord, ImportResult


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
        return result


def _xml_file(root: Path) -> Path | None:
    path = root / "annotations.xml"
    return path if os.path.lexists(path) and not path.is_dir() else None


def _image(root: Path, node: ET.Element, where: str, result: ImportResult) -> ImportRecord:
    try:
        rel = safe_relpath(node.get("name", ""))
    except FormatProblem as e:
        raise FormatProblem(f"{where}@name: {e}") from None
    path = root / "images" / rel
    try:
        rel_path = inside(root, path if os.path.isfile(path) else root / rel)
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
    subset = node.get("subset")
    return ImportRecord(rel_path, w, h, tuple(shapes), split_of(subset) if subset else None, where)


def _shape(node: ET.Element, where: str) -> ImportedShape:
    name = (node.get("label") or "").strip()
    if not name:
        raise FormatProblem(f"{where}@label: missing")
    if node.tag == "tag":
        return ImportedShape(name, "tag")
    if node.tag == "box":
        try:
            x1, y1, x2, y2 = (float(node.get(a, "")) for a in ("xtl", "ytl", "xbr", "ybr"))
        except ValueError:
            raise FormatProblem(f"{where}: xtl/ytl/xbr/ybr: expected numbers") from None
        return ImportedShape(name, "box", ((x1, y1), (x2, y2)))
    if node.tag == "polygon":
        try:
            pts = tuple(
                (float(x), float(y))
                for x, y in (pair.split(",") for pair in node.get("points", "").split(";"))
            )
        except ValueError:
            raise FormatProblem(f"{where}@points: expected 'x,y;x,y;...'") from None
        return ImportedShape(name, "polygon", pts)
    raise FormatProblem(f"{where}: <{shown(node.tag, 40)[1:-1]}> is not supported")
