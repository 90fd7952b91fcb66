"""CreateML object-detection JSON for Labeler: a first-party example of a plugin that adds an
export format and the importer that reads it back (which the checked export uses).

Layout written, one folder per split::

    train/annotations.json
    train/<file_name>            (the images, subfolders kept)
    val/...   test/...

``annotations.json`` is Apple's CreateML list::

    [{"image": "cat/0001.jpg",
      "annotations": [{"label": "cat",
                       "coordinates": {"x": 120.5, "y": 80, "width": 40, "height": 30}}]}]

``x``/``y`` are the box centre and ``width``/``height`` its size, in pixels of the upright
image. CreateML holds boxes only: a polygon is written as its bounding box, boxes are clipped
to the image, and image-level tags are not written (an image with only tags is listed with no
annotations). Entries are ordered by file name, numbers keep 4 decimals, so an export is
byte-for-byte reproducible.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Sequence
from pathlib import Path, PurePosixPath
from typing import Any

from labeler.core.errors import LabelerError
from labeler.core.formats import ExportItem, ImportedShape, ImportRecord, ImportResult, Placed
from labeler.core.formats.base import as_box, clipped
from labeler.core.images import read_file_bytes, read_header

__version__ = "1.0.0"

FORMAT = "createml"
ANNOTATIONS = "annotations.json"
SPLITS = ("train", "val", "test")


class CreateMLExporter:
    name = FORMAT
    importer = FORMAT
    tolerance_px = 0.001

    def place(self, items: Sequence[ExportItem], names: dict[int, str]) -> list[Placed | str]:
        out: list[Placed | str] = []
        for it in items:
            boxes = tuple(
                clipped(as_box(s), it.width, it.height) for s in it.shapes if s.kind != "tag"
            )
            out.append(Placed(it, f"{it.split}/{it.file_name}", boxes))
        return out

    def write(
        self,
        placed: Sequence[Placed],
        classes: Sequence[tuple[int, str]],
        root: Path,
        final_dir: Path,
    ) -> list[str]:
        names = dict(classes)
        files = []
        for split in SPLITS:
            entries = [
                {
                    "image": p.item.file_name,
                    "annotations": [_annotation(names[s.class_id], s.points) for s in p.shapes],
                }
                for p in sorted(placed, key=lambda p: p.item.file_name)
                if p.item.split == split
            ]
            if not entries:
                continue
            rel = f"{split}/{ANNOTATIONS}"
            path = root / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            with open(path, "w", encoding="utf-8", newline="\n") as f:
                f.write(json.dumps(entries, indent=2, ensure_ascii=False) + "\n")
            files.append(rel)
        return files


def _annotation(label: str, points: Sequence[tuple[float, float]]) -> dict[str, Any]:
    (x1, y1), (x2, y2) = points
    return {
        "label": label,
        "coordinates": {
            "x": _num((x1 + x2) / 2),
            "y": _num((y1 + y2) / 2),
            "width": _num(x2 - x1),
            "height": _num(y2 - y1),
        },
    }


def _num(v: float) -> int | float:
    v = round(float(v), 4)
    return int(v) if v.is_integer() else v


class CreateMLImporter:
    """Reads ``<split>/annotations.json`` for each split folder present. A bad entry is
    reported with its file and index (``train/annotations.json: [3].annotations[0]: ...``)
    and skipped; image paths leaving the split folder are refused."""

    name = FORMAT

    def detect(self, root: Path) -> bool:
        return any((root / s / ANNOTATIONS).is_file() for s in SPLITS)

    def read(self, root: Path) -> ImportResult:
        result = ImportResult()
        for split in SPLITS:
            path = root / split / ANNOTATIONS
            if path.is_file():
                self._read_split(root, split, path, result)
        return result

    def _read_split(self, root: Path, split: str, path: Path, result: ImportResult) -> None:
        label = f"{split}/{ANNOTATIONS}"
        try:
            doc = json.loads(path.read_text(encoding="utf-8-sig"))
        except (OSError, UnicodeDecodeError, ValueError) as e:
            result.problems.append(f"{label}: cannot read: {e}")
            return
        if not isinstance(doc, list):
            result.problems.append(f"{label}: expected a list of images")
            return
        for i, entry in enumerate(doc):
            where = f"{label}: [{i}]"
            try:
                rel, shapes = _entry(root / split, entry, where)
                width, height = _size(root / split / rel, where)
            except _Problem as e:
                result.problems.append(str(e))
                continue
            for s in shapes:
                result.add_class(s.class_name)
            result.records.append(ImportRecord(f"{split}/{rel}", width, height, shapes, split))


class _Problem(Exception):
    pass


def _entry(folder: Path, entry: Any, where: str) -> tuple[str, tuple[ImportedShape, ...]]:
    if not isinstance(entry, dict) or not isinstance(entry.get("image"), str):
        raise _Problem(f"{where}: expected {{'image': name, 'annotations': [...]}}")
    rel = _safe(folder, entry["image"], where)
    anns = entry.get("annotations", [])
    if not isinstance(anns, list):
        raise _Problem(f"{where}.annotations: expected a list")
    shapes = []
    for j, ann in enumerate(anns):
        try:
            name = ann["label"]
            c = ann["coordinates"]
            x, y, w, h = (float(c[k]) for k in ("x", "y", "width", "height"))
        except (KeyError, TypeError, ValueError):
            raise _Problem(
                f"{where}.annotations[{j}]: expected label and coordinates x, y, width, height"
            ) from None
        if not isinstance(name, str) or not name.strip():
            raise _Problem(f"{where}.annotations[{j}].label: expected a class name")
        if not all(math.isfinite(v) for v in (x, y, w, h)) or w <= 0 or h <= 0:
            raise _Problem(f"{where}.annotations[{j}].coordinates: not a box with positive size")
        try:
            shape = ImportedShape(name, "box", ((x - w / 2, y - h / 2), (x + w / 2, y + h / 2)))
        except LabelerError as e:
            raise _Problem(f"{where}.annotations[{j}]: {e}") from None
        shapes.append(shape)
    return rel, tuple(shapes)


def _safe(folder: Path, name: str, where: str) -> str:
    """The image name as a clean relative POSIX path inside ``folder``, or a problem."""
    posix = name.replace("\\", "/")
    parts = [p for p in PurePosixPath(posix).parts if p not in ("", ".")]
    if not parts or posix.startswith("/") or ":" in parts[0] or ".." in parts or "\x00" in name:
        raise _Problem(f"{where}.image: {name!r} points outside the dataset")
    rel = "/".join(parts)
    real = os.path.realpath(folder / rel)
    if not real.startswith(os.path.realpath(folder) + os.sep):
        raise _Problem(f"{where}.image: {name!r} points outside the dataset")
    return rel


def _size(path: Path, where: str) -> tuple[int, int]:
    try:
        _, w, h, _, _ = read_header(read_file_bytes(path))
    except LabelerError as e:
        raise _Problem(f"{where}.image: {path.name}: {e}") from None
    return w, h


def register(api) -> None:
    """Labeler's plugin hook."""
    api.add_exporter(CreateMLExporter())
    api.add_importer(CreateMLImporter())
