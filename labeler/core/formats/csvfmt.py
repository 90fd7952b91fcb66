"""CSV: one row per shape, for spreadsheets and pandas.

Layout written: ``images/<split>/<file_name>`` and ``annotations.csv`` with the columns

=============  ===================================================================
split          train, val or test
file_name      the image path relative to the export folder (images/train/a.jpg)
width, height  the image size in pixels (upright)
class          the class name; empty on the one row of an image with no shapes
kind           tag, box or polygon; empty on the row of an image with no shapes
x1,y1,x2,y2    the bounding box in pixels (top-left, bottom-right); empty for a tag
points_json    polygon vertices as a JSON list ``[[x, y], ...]``; empty otherwise
=============  ===================================================================

Rows are ordered by split, file name, then the image's shape order; UTF-8, LF line ends,
a header row, values quoted only when needed.
"""

from __future__ import annotations

import csv
import io
import json
import os
from collections.abc import Iterator, Sequence
from pathlib import Path

from labeler.core.errors import LabelerError
from labeler.core.formats._io import (
    MAX_DATASET_TABLE_BYTES,
    FormatProblem,
    display,
    inside,
    num,
    read_dataset_text,
    safe_relpath,
    write_text,
)
from labeler.core.formats.base import Placed
from labeler.core.formats.model import SPLITS, ExportItem, ImportedShape, ImportRecord, ImportResult

COLUMNS = (
    "split",
    "file_name",
    "width",
    "height",
    "class",
    "kind",
    "x1",
    "y1",
    "x2",
    "y2",
    "points_json",
)
FILE = "annotations.csv"


class CsvExporter:
    name = "csv"
    importer = "csv"
    tolerance_px = 0.001

    def place(self, items: Sequence[ExportItem], names: dict[int, str]) -> list[Placed | str]:
        return [Placed(it, f"images/{it.split}/{it.file_name}", it.shapes) for it in items]

    def write(
        self,
        placed: Sequence[Placed],
        classes: Sequence[tuple[int, str]],
        root: Path,
        final_dir: Path,
    ) -> list[str]:
        names = dict(classes)
        buf = io.StringIO()
        out = csv.writer(buf, lineterminator="\n")
        out.writerow(COLUMNS)
        for p in placed:
            it = p.item
            head = [it.split, p.path, it.width, it.height]
            if not p.shapes:
                out.writerow(head + [""] * 7)
            for s in p.shapes:
                box = [num(v) for v in s.bbox()] if s.kind != "tag" else [""] * 4  # type: ignore[union-attr]
                pts = (
                    json.dumps([[num(x), num(y)] for x, y in s.points], separators=(",", ":"))
                    if s.kind == "polygon"
                    else ""
                )
                out.writerow(head + [names[s.class_id], s.kind, *box, pts])
        write_text(root / FILE, buf.getvalue())
        return [FILE]


class CsvImporter:
    """Reads ``annotations.csv`` written as above (other column orders are fine; the
    header names the columns). Each bad row is reported with its line number."""

    name = "csv"

    def detect(self, root: Path) -> bool:
        path = root / FILE
        return os.path.lexists(path) and not path.is_dir()

    def read(self, root: Path) -> ImportResult:
        result = ImportResult()
        path = root / FILE
        label = display(root, path)
        try:
            text = read_dataset_text(root, path, label, MAX_DATASET_TABLE_BYTES)
        except FormatProblem as e:
            result.problems.append(str(e))
            return result
        reader = csv.DictReader(io.StringIO(text))
        try:
            missing = [c for c in COLUMNS if c not in (reader.fieldnames or [])]
        except csv.Error as e:
            result.problems.append(f"{label}: line {reader.line_num}: {e}")
            return result
        if missing:
            result.problems.append(f"{label}: line 1: missing columns {', '.join(missing)}")
            return result
        images: dict[str, ImportRecord] = {}
        shapes: dict[str, list[ImportedShape]] = {}
        for row in _rows(reader, label, result):
            where = f"{label}: line {reader.line_num}"
            try:
                rec, shape = _row(root, row, where)
            except (FormatProblem, LabelerError) as e:
                msg = str(e)
                result.problems.append(msg if msg.startswith(label) else f"{where}: {msg}")
                continue
            images.setdefault(rec.path, rec)
            shapes.setdefault(rec.path, [])
            if shape is not None:
                shapes[rec.path].append(shape)
                result.add_class(shape.class_name)
        for rel, rec in images.items():
            result.records.append(
                ImportRecord(rel, rec.width, rec.height, tuple(shapes[rel]), rec.split)
            )
        return result


def _rows(reader: csv.DictReader, label: str, result: ImportResult) -> Iterator[dict[str, str]]:
    """The rows, until one the csv module cannot read (a field over its size limit, a
    broken quote), which is reported with its line and ends the file."""
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as e:
            result.problems.append(f"{label}: line {reader.line_num}: {e}; the rest not read")
            return
        yield row


def _row(root: Path, row: dict[str, str], where: str) -> tuple[ImportRecord, ImportedShape | None]:
    rel = inside(root, root / safe_relpath(row["file_name"]))
    split = row["split"] or None
    if split is not None and split not in SPLITS:
        raise FormatProblem(f"{where}: split: unknown split {split!r}")
    try:
        w, h = int(row["width"]), int(row["height"])
    except (TypeError, ValueError):  # TypeError: a short row has no value there
        raise FormatProblem(f"{where}: width/height: expected integers") from None
    rec = ImportRecord(rel, w, h, (), split)
    kind, name = row["kind"], row["class"] or ""
    if not kind:
        return rec, None
    if kind == "tag":
        return rec, ImportedShape(name, "tag")
    if kind == "box":
        try:
            x1, y1, x2, y2 = (float(row[c]) for c in ("x1", "y1", "x2", "y2"))
        except (TypeError, ValueError):
            raise FormatProblem(f"{where}: x1..y2: expected numbers") from None
        return rec, ImportedShape(name, "box", ((x1, y1), (x2, y2)))
    if kind == "polygon":
        try:
            pts = tuple((float(x), float(y)) for x, y in json.loads(row["points_json"]))
        except (ValueError, TypeError):
            raise FormatProblem(f"{where}: points_json: expected [[x, y], ...]") from None
        return rec, ImportedShape(name, "polygon", pts)
    raise FormatProblem(f"{where}: kind: unknown kind {kind!r}")
