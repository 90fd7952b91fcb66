"""Dataset formats: exporters and importers in a registry, and the checked export.

>>> sorted(EXPORTERS)
['coco', 'csv', 'imagefolder', 'voc', 'yolo', 'yolo-detect', 'yolo-segment']
>>> sorted(IMPORTERS)
['coco', 'csv', 'cvat', 'darknet', 'imagefolder', 'labelme', 'voc', 'yolo']

A plugin adds a format with ``register_exporter(obj)`` / ``register_importer(obj)``; an
exporter names the importer that reads its output back, which ``export_dataset`` uses to
check every export before it replaces the target.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from labeler.core.errors import LabelerError
from labeler.core.formats._io import image_files, one_line
from labeler.core.formats.base import (
    EXPORTERS,
    IMPORTERS,
    Exporter,
    Importer,
    Placed,
    get_exporter,
    get_importer,
    register_exporter,
    register_importer,
)
from labeler.core.formats.coco import CocoExporter, CocoImporter
from labeler.core.formats.csvfmt import CsvExporter, CsvImporter
from labeler.core.formats.cvat import CvatImporter
from labeler.core.formats.darknet import DarknetImporter
from labeler.core.formats.export import MANIFEST, ExportCancelled, export_dataset
from labeler.core.formats.imagefolder import ImageFolderExporter, ImageFolderImporter
from labeler.core.formats.labelme import LabelmeImporter
from labeler.core.formats.model import (
    SPLITS,
    ExportItem,
    ExportReport,
    ImportedShape,
    ImportRecord,
    ImportResult,
)
from labeler.core.formats.voc import VocExporter, VocImporter
from labeler.core.formats.yolo import YoloExporter, YoloImporter

for _exporter in (
    ImageFolderExporter(),
    CocoExporter(),
    YoloExporter("yolo", "auto"),
    YoloExporter("yolo-detect", "detect"),
    YoloExporter("yolo-segment", "segment"),
    VocExporter(),
    CsvExporter(),
):
    register_exporter(_exporter)
for _importer in (
    CocoImporter(),
    YoloImporter(),
    DarknetImporter(),
    VocImporter(),
    LabelmeImporter(),
    CvatImporter(),
    CsvImporter(),
    ImageFolderImporter(),
):
    register_importer(_importer)

# The order ``--format auto`` tries: specific markers first, bare folders last.
_DETECT_ORDER = ("yolo", "darknet", "coco", "voc", "cvat", "csv", "labelme", "imagefolder")


class NothingToImport(LabelerError):
    """The format found nothing to read under the root (no marker file, no image)."""


@dataclass(frozen=True)
class Detection:
    """What ``--format`` read and why: the importer ``format``, the ``reason`` it applies
    (the file or folder that marks the layout), the other formats that also matched
    (``also``), and annotation-like files found that no importer reads (``unused``)."""

    asked: str
    format: str
    reason: str
    also: tuple[str, ...] = ()
    unused: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "asked": self.asked,
            "format": self.format,
            "reason": self.reason,
            "also": list(self.also),
            "unused": list(self.unused),
        }


def import_dataset(fmt: str, root: str | Path) -> ImportResult:
    """Read the dataset at ``root`` with the importer ``fmt`` ("auto" guesses).

    Raises ``LabelerError`` only when the root is missing, no format fits, or the format
    finds nothing to import there (`NothingToImport`: no marker file, or no image);
    problems in single files come back in ``result.problems``. An image described twice
    becomes one record with the shapes of both, reported; every image under the root that
    is neither imported nor named by an annotation is in ``result.not_imported``.
    """
    base = Path(root)
    if not base.is_dir():
        raise LabelerError(f"{base} is not a folder")
    if fmt == "auto":
        fmt = detect_format(base)
    importer = get_importer(fmt)
    missing = getattr(importer, "missing", None)
    why = missing(base) if callable(missing) else None
    if why:
        raise NothingToImport(f"nothing to import as {fmt}: {why}")
    result = importer.read(base)
    _merge_duplicates(result)
    _list_not_imported(base, result)
    result.problems = [one_line(p) for p in result.problems]
    if not result.records and not result.problems:
        unlisted = len(result.not_imported)
        more = f" ({unlisted} image file(s) under it not listed)" if unlisted else ""
        raise NothingToImport(f"nothing to import as {fmt}: no image is described in {base}{more}")
    return result


def _merge_duplicates(result: ImportResult) -> None:
    """One record per image path: a second description adds its shapes (identical shapes
    once) and is reported, with the split and size of the first kept when they differ."""
    merged: dict[str, ImportRecord] = {}
    sources: dict[str, list[str]] = {}
    for rec in result.records:
        first = merged.get(rec.path)
        sources.setdefault(rec.path, []).append(rec.source or "?")
        if first is None:
            merged[rec.path] = rec
            continue
        if not first.annotated:  # an annotation beats "imported without annotations"
            merged[rec.path] = replace(rec, source=first.source or rec.source)
            continue
        if not rec.annotated:
            continue
        shapes = list(first.shapes)
        seen = {(s.class_name, s.kind, s.points) for s in shapes}
        same = 0
        for s in rec.shapes:
            key = (s.class_name, s.kind, s.points)
            if key in seen:
                same += 1
                continue
            seen.add(key)
            shapes.append(s)
        notes = [
            f"shapes merged ({len(shapes)} in all" + (f", {same} identical once)" if same else ")")
        ]
        if rec.split != first.split:
            notes.append(f"splits differ ({first.split} and {rec.split}): kept {first.split}")
        if (rec.width, rec.height) != (first.width, first.height) and rec.width and rec.height:
            notes.append(
                f"sizes differ ({first.width}x{first.height} and {rec.width}x{rec.height}):"
                f" kept {first.width}x{first.height}"
            )
        where = "; ".join(
            sources[rec.path][-2:] if len(sources[rec.path]) > 2 else sources[rec.path]
        )
        result.problems.append(f"{rec.path}: described twice ({where}): " + "; ".join(notes))
        merged[rec.path] = replace(first, shapes=tuple(shapes))
    result.records = list(merged.values())


def _list_not_imported(root: Path, result: ImportResult) -> None:
    """Every image under the root that no record imports and no annotation named, with the
    reason; problems of the walk not already reported are added."""
    problems: list[str] = []
    taken = {r.path for r in result.records} | result.referenced
    taken |= {path for path, _ in result.not_imported}
    for path in image_files(root, root, problems):
        rel = path.relative_to(root).as_posix()
        if rel not in taken:
            result.not_imported.append((rel, _reason_given(root, rel, result.problems)))
    known = set(result.problems)
    result.problems.extend(p for p in problems if p not in known)


def _reason_given(root: Path, rel: str, problems: Sequence[str]) -> str:
    """Why an image is not imported: the problem the importer already reported for it (a
    refused link, an unreadable header), else that no annotation file names it."""
    absolute = str(root / rel)
    for p in problems:
        if p.startswith(f"{rel}: "):
            return p[len(rel) + 2 :]
        if absolute in p:
            return p.replace(absolute, rel)
    return "no annotation file of the dataset names it"


def detect_format(root: Path) -> str:
    """The first importer (in a fixed order: built-ins, then plugins, then the bare
    ImageFolder layout) that recognises ``root``; raises ``LabelerError`` when none does."""
    return explain_format(root).format


def _detect_order() -> list[str]:
    # Plugins' formats come before the bare-folder fallback, which matches almost anything.
    specific = [n for n in _DETECT_ORDER if n != "imagefolder"]
    return specific + sorted(set(IMPORTERS) - set(_DETECT_ORDER)) + ["imagefolder"]


def explain_format(root: Path) -> Detection:
    """`detect_format` with its reasons: the format, what marks it, the other formats that
    match too, and annotation-like files no importer reads (see `unused_files`)."""
    matched = [n for n in _detect_order() if n in IMPORTERS and get_importer(n).detect(root)]
    if not matched:
        hints = unused_files(root, None)
        extra = f" (found {hints[0]})" if hints else ""
        raise LabelerError(f"cannot tell the format of {root}; pass --format{extra}")
    fmt = matched[0]
    describe = getattr(get_importer(fmt), "describe", None)
    reason = (describe(root) if callable(describe) else None) or f"the {fmt} importer recognised it"
    also = tuple(n for n in matched[1:] if n != "imagefolder")
    return Detection("auto", fmt, one_line(reason), also, tuple(unused_files(root, fmt)))


def unused_files(root: Path, chosen: str | None) -> list[str]:
    """Annotation-like files under ``root`` (at the top or one folder down, by name only)
    that the format ``chosen`` does not read and no built-in importer would: darknet YOLO
    class lists, a ``classes.txt`` without ``data.yaml``, a ``data.yaml`` without label
    folders, Roboflow's per-split CSV and CreateML files, VOC XML outside ``Annotations/``.
    One line each, with what to do."""
    folders = [root] + _subfolders(root)
    hints: list[str] = []
    yamls = sorted(root.glob("*.yaml")) + sorted(root.glob("*.yml"))
    has_yaml = bool(yamls)
    for folder in folders:
        names = _names(folder)
        rel = "" if folder == root else f"{folder.name}/"
        if chosen not in ("yolo", "darknet"):
            for name in sorted(n for n in names if n.endswith((".names", ".data"))):
                hints.append(
                    f"{rel}{name}: darknet YOLO, not read as {chosen or 'any format'}; import"
                    " with --format darknet (labels as .txt beside the images or in labels/)"
                )
            if "classes.txt" in names and not has_yaml:
                hints.append(
                    f"{rel}classes.txt: a YOLO class list without data.yaml, not read as"
                    f" {chosen or 'any format'}; import with --format darknet"
                )
        for name in sorted(names):
            if name in ("_annotations.csv", "_annotations.createml.json", "_annotations.txt"):
                hints.append(
                    f"{rel}{name}: a Roboflow export Labeler does not read; export from"
                    " Roboflow as COCO, YOLOv8 or Pascal VOC"
                )
        xmls = [n for n in names if n.lower().endswith(".xml") and n != "annotations.xml"]
        if xmls and chosen not in ("voc", "cvat") and folder.name != "Annotations":
            hints.append(
                f"{rel}{xmls[0]}: {len(xmls)} XML file(s) outside an Annotations/ folder, not"
                " read; for Pascal VOC put them in Annotations/ and the images in JPEGImages/"
            )
    if has_yaml and chosen != "yolo" and not get_importer("yolo").detect(root):
        hints.append(
            f"{yamls[0].name}: found, but no labels/ folder beside it (nor <split>/labels):"
            " not read as YOLO"
        )
    return [one_line(h) for h in hints]


def _subfolders(root: Path, limit: int = 200) -> list[Path]:
    try:
        with os.scandir(root) as it:
            found = [Path(e.path) for e in it if e.is_dir(follow_symlinks=False)]
    except OSError:
        return []
    return sorted(found)[:limit]


def _names(folder: Path, limit: int = 100_000) -> set[str]:
    try:
        with os.scandir(folder) as it:
            return {e.name for _, e in zip(range(limit), it, strict=False)}
    except OSError:
        return set()


__all__ = [
    "EXPORTERS",
    "Detection",
    "NothingToImport",
    "explain_format",
    "unused_files",
    "IMPORTERS",
    "MANIFEST",
    "SPLITS",
    "ExportCancelled",
    "ExportItem",
    "ExportReport",
    "Exporter",
    "ImportRecord",
    "ImportResult",
    "ImportedShape",
    "Importer",
    "Placed",
    "detect_format",
    "export_dataset",
    "get_exporter",
    "get_importer",
    "import_dataset",
    "register_exporter",
    "register_importer",
]
