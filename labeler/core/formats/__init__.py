"""Dataset formats: exporters and importers in a registry, and the checked export.

>>> sorted(EXPORTERS)
['coco', 'csv', 'imagefolder', 'voc', 'yolo', 'yolo-detect', 'yolo-segment']
>>> sorted(IMPORTERS)
['coco', 'csv', 'cvat', 'imagefolder', 'labelme', 'voc', 'yolo']

A plugin adds a format with ``register_exporter(obj)`` / ``register_importer(obj)``; an
exporter names the importer that reads its output back, which ``export_dataset`` uses to
check every export before it replaces the target.
"""

from __future__ import annotations

from pathlib import Path

from labeler.core.errors import LabelerError
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
    VocImporter(),
    LabelmeImporter(),
    CvatImporter(),
    CsvImporter(),
    ImageFolderImporter(),
):
    register_importer(_importer)

# The order ``--format auto`` tries: specific markers first, bare folders last.
_DETECT_ORDER = ("yolo", "coco", "voc", "cvat", "csv", "labelme", "imagefolder")


def import_dataset(fmt: str, root: str | Path) -> ImportResult:
    """Read the dataset at ``root`` with the importer ``fmt`` ("auto" guesses).

    Raises ``LabelerError`` only when the root is missing or no format fits; problems in
    single files come back in ``result.problems``.
    """
    base = Path(root)
    if not base.is_dir():
        raise LabelerError(f"{base} is not a folder")
    if fmt == "auto":
        fmt = detect_format(base)
    return get_importer(fmt).read(base)


def detect_format(root: Path) -> str:
    """The first importer (in a fixed order: built-ins, then plugins, then the bare
    ImageFolder layout) that recognises ``root``; raises ``LabelerError`` when none does."""
    # Plugins' formats come before the bare-folder fallback, which matches almost anything.
    specific = [n for n in _DETECT_ORDER if n != "imagefolder"]
    order = specific + sorted(set(IMPORTERS) - set(_DETECT_ORDER)) + ["imagefolder"]
    for name in order:
        if name in IMPORTERS and IMPORTERS[name].detect(root):
            return name
    raise LabelerError(f"cannot tell the format of {root}; pass --format")


__all__ = [
    "EXPORTERS",
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
