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
group          rows of one image with the same class and group number are the parts
               of one instance (`Shape.group`); empty for a shape alone. Optional
               when read (exports before it have none)
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
    shown,
    write_text,
)
from labeler.core.formats.base import Placed, in_image_shapes, no_area_note
from labeler.core.formats.model import (
    SPLITS,
    ExportItem,
    ImportedShape,
    ImportRecord,
    ImportResult,
    is_number,
)

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
GROUP = "group"  # written always, read when present


class CsvExporter:
    name = "csv"
    importer = "csv"
    tolerance_px = 0.001

    def place(self, items: Sequence[ExportItem], names: dict[int, str]) -> list[Placed | str]:
        return [
            Placed(it, f"images/{it.split}/{it.file_name}", tuple(in_image_shapes(it, True)))
            for it in items
        ]

    def notes(self, placed: Sequence[Placed]) -> list[str]:
        """The shapes left out for having no area inside their image."""
        return no_area_note(self.name, placed)

    def write(
        self,
        placed: Sequence[Placed],
        classes: Sequence[tuple[int, str]],
        root: Path,
        final_dir: Path,
    ) -> list[str]:
        names = dict(classes)
        rows: list[list[object]] = [[*COLUMNS, GROUP]]
        for p in placed:
            it = p.item
            head = [it.split, p.path, it.width, it.height]
            if not p.shapes:
                rows.append(head + [""] * 8)
            # Each image numbers its multi-part instances 1, 2, ...
            groups: dict[tuple[int, int], int] = {}
            for s in p.shapes:
                group: object = ""
                if s.group is not None:
                    group = groups.setdefault((s.class_id, s.group), len(groups) + 1)
                box = [num(v) for v in s.bbox()] if s.kind != "tag" else [""] * 4  # type: ignore[union-attr]
                pts = (
                    json.dumps([[num(x), num(y)] for x, y in s.points], separators=(",", ":"))
                    if s.kind == "polygon"
                    else ""
                )
                rows.append(head + [names[s.class_id], s.kind, *box, pts, group])
        buf = io.StringIO()
        plain = csv.writer(buf, lineterminator="\n")
        # The csv module quotes a field holding "\n" but not one holding a lone "\r" (a
        # file name may): such a row is written with every field quoted.
        quoted = csv.writer(buf, lineterminator="\n", quoting=csv.QUOTE_ALL)
        for row in rows:
            (quoted if any("\r" in str(v) for v in row) else plain).writerow(row)
        write_text(root / FILE, buf.getvalue())
        return [FILE]


class CsvImporter:
    """Reads ``annotations.csv`` written as above (other column orders are fine; the
    header names the columns). Each bad row is reported with its line number. The rows are
    the dataset: an image file no row names is reported, not imported."""

    name = "csv"

    def detect(self, root: Path) -> bool:
        path = root / FILE
        return os.path.lexists(path) and not path.is_dir()

    def describe(self, root: Path) -> str:
        return f"{FILE}: Labeler's CSV" if self.detect(root) else ""

    def missing(self, root: Path) -> str | None:
        return None if self.detect(root) else f"no {FILE} in {root}"

    def read(self, root: Path) -> ImportResult:
        result = ImportResult()
        path = root / FILE
        label = display(root, path)
        try:
            text = read_dataset_text(root, path, label, MAX_DATASET_TABLE_BYTES)
        except FormatProblem as e:
            result.problems.append(str(e))
            return result
        _allow_long_fields()
        # newline="": the csv module splits records itself, so a quoted field may hold a
        # line break and a lone carriage return ends a record instead of raising.
        reader = csv.DictReader(io.StringIO(text, newline=""))
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
                rec = _record(root, row, where, result)
            except (FormatProblem, LabelerError) as e:
                msg = str(e)
                result.problems.append(msg if msg.startswith(label) else f"{where}: {msg}")
                continue
            try:
                shape = _shape(row, where, result.problems)
            except (FormatProblem, LabelerError) as e:  # the image is still imported
                msg = str(e)
                result.problems.append(msg if msg.startswith(label) else f"{where}: {msg}")
                shape = None
            first = images.setdefault(rec.path, rec)
            if (first.width, first.height, first.split) != (rec.width, rec.height, rec.split):
                result.problems.append(
                    f"{where}: {rec.path}: {rec.width}x{rec.height}, split {rec.split} here but"
                    f" {first.width}x{first.height}, split {first.split} on"
                    f" {first.source.removeprefix(label + ': ')}; the first is kept"
                )
            shapes.setdefault(rec.path, [])
            if shape is not None:
                shapes[rec.path].append(shape)
                result.add_class(shape.class_name)
        for rel, rec in images.items():
            result.records.append(
                ImportRecord(rel, rec.width, rec.height, tuple(shapes[rel]), rec.split, rec.source)
            )
        return result


def _allow_long_fields() -> None:
    """Let the csv module read a field as long as the whole file may be: its default of
    131,072 characters is a 9,000-vertex polygon's ``points_json``, which our own export
    writes. The limit is process-wide; it is only ever raised, to the file cap."""
    if csv.field_size_limit() < MAX_DATASET_TABLE_BYTES:
        csv.field_size_limit(MAX_DATASET_TABLE_BYTES)


def _rows(reader: csv.DictReader, label: str, result: ImportResult) -> Iterator[dict[str, str]]:
    """The rows; one the csv module cannot read (a NUL, a field over the limit) is reported
    with its line and skipped, and reading goes on with the next line."""
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as e:
            result.problems.append(f"{label}: line {reader.line_num}: {e}; the row is skipped")
            continue
        yield row


def _record(root: Path, row: dict[str, str], where: str, result: ImportResult) -> ImportRecord:
    """The image a row is about; a problem here names it, as it is then not imported
    (unless another row imports it)."""
    missing = [c for c in COLUMNS[:6] if row.get(c) is None]
    if missing and row.get("file_name") is None:
        raise FormatProblem(f"{where}: a short row: no {', '.join(missing)}")
    rel = inside(root, root / safe_relpath(row["file_name"]))
    result.referenced.add(rel)
    if missing:
        raise FormatProblem(f"{where}: a short row: no {', '.join(missing)}; {rel} not imported")
    split = row["split"] or None
    if split is not None and split not in SPLITS:
        raise FormatProblem(f"{where}: split: unknown split {shown(split)}; {rel} not imported")
    try:
        w, h = int(row["width"]), int(row["height"])
    except ValueError:
        w = h = 0
    if w <= 0 or h <= 0:
        raise FormatProblem(
            f"{where}: width/height: expected positive integers; {rel} not imported"
        )
    return ImportRecord(rel, w, h, (), split, where)


def _shape(row: dict[str, str], where: str, problems: list[str]) -> ImportedShape | None:
    kind, name = row["kind"], row["class"] or ""
    if not kind:
        return None
    if kind == "tag":
        return ImportedShape(name, "tag")
    group = _group(row.get(GROUP), where, problems)
    if kind == "box":
        try:
            x1, y1, x2, y2 = (float(row[c]) for c in ("x1", "y1", "x2", "y2"))
        except (TypeError, ValueError):  # TypeError: a short row has no value there
            raise FormatProblem(f"{where}: x1..y2: expected numbers") from None
        return ImportedShape(name, "box", ((x1, y1), (x2, y2)), group)
    if kind == "polygon":
        return ImportedShape(name, "polygon", _points(row.get("points_json"), where), group)
    raise FormatProblem(f"{where}: kind: unknown kind {shown(kind)}")


def _group(text: str | None, where: str, problems: list[str]) -> int | None:
    """The row's group number; a bad one is reported and the shape imported alone, as
    labelme's importer does with a bad ``group_id``."""
    if not text:
        return None
    if not (text.isascii() and text.isdigit() and len(text) < 10 and int(text) > 0):
        problems.append(
            f"{where}: group: expected a positive whole number, got {shown(text)}; the shape"
            " is imported as an instance alone"
        )
        return None
    return int(text)


def _points(text: str | None, where: str) -> tuple[tuple[float, float], ...]:
    bad = FormatProblem(f"{where}: points_json: expected [[x, y], ...]")
    try:
        pts = json.loads(text or "")
    except (ValueError, RecursionError):  # RecursionError: nested thousands deep
        raise bad from None
    if not isinstance(pts, list) or not all(
        isinstance(p, list) and len(p) == 2 and all(is_number(v) for v in p) for p in pts
    ):
        raise bad
    return tuple((float(x), float(y)) for x, y in pts)
