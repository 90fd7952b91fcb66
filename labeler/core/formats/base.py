"""The exporter and importer interfaces and the registries that plugins extend.

`EXPORTERS` and `IMPORTERS` are `labeler.core.registry.Registry` tables, name to object;
tests iterate over them, so a format registered without a round trip test fails the suite.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, runtime_checkable

from labeler.core.errors import LabelerError
from labeler.core.formats.model import MIN_AREA, ExportItem, ImportResult, in_image
from labeler.core.registry import Registry
from labeler.core.shapes import Shape


@dataclass(frozen=True)
class Placed:
    """An item as a format will write it: its image path inside the export and the shapes
    the format can hold (converted, clipped, or dropped by the format's rules)."""

    item: ExportItem
    path: str
    shapes: tuple[Shape, ...]


@runtime_checkable
class Exporter(Protocol):
    """Writes one dataset layout.

    ``place`` decides, for each item (in order), where its image goes and which shapes
    the format keeps, or returns a reason to skip it; it sees all items at once because
    some choices (YOLO's detect or segment mode) are made per export. ``write`` writes the annotation files for the placed
    items into ``root`` (a temporary folder that becomes ``final_dir``) and returns their
    paths relative to ``root``. ``importer`` names the importer that reads the layout back
    for the check after export; ``tolerance_px`` is the rounding that check allows.
    """

    name: str
    importer: str
    tolerance_px: float

    def place(self, items: Sequence[ExportItem], names: dict[int, str]) -> list[Placed | str]: ...

    def write(
        self,
        placed: Sequence[Placed],
        classes: Sequence[tuple[int, str]],
        root: Path,
        final_dir: Path,
    ) -> list[str]: ...


@runtime_checkable
class Importer(Protocol):
    """Reads one dataset layout into plain records; ``detect`` is a cheap guess used by
    ``--format auto``. ``read`` never raises for a bad file inside the dataset: it reports
    a problem and goes on."""

    name: str

    def detect(self, root: Path) -> bool: ...

    def read(self, root: Path) -> ImportResult: ...


def _check_exporter(name: str, exporter: Exporter) -> None:
    if not isinstance(exporter, Exporter):
        raise LabelerError(f"{exporter!r} is not an exporter (needs name, importer, place, write)")


def _check_importer(name: str, importer: Importer) -> None:
    if not isinstance(importer, Importer):
        raise LabelerError(f"{importer!r} is not an importer (needs name, detect, read)")


EXPORTERS: Registry[Exporter] = Registry("exporter", called="export format", check=_check_exporter)
IMPORTERS: Registry[Importer] = Registry("importer", called="import format", check=_check_importer)


def register_exporter(exporter: Exporter, replace: bool = False) -> Exporter:
    """Add an exporter under ``exporter.name``; a plugin passes ``replace=True`` to override."""
    return EXPORTERS.register(getattr(exporter, "name", ""), exporter, replace=replace)


def register_importer(importer: Importer, replace: bool = False) -> Importer:
    """Add an importer under ``importer.name``; a plugin passes ``replace=True`` to override."""
    return IMPORTERS.register(getattr(importer, "name", ""), importer, replace=replace)


def get_exporter(name: str) -> Exporter:
    """The exporter called ``name``, or a `LabelerError` that suggests a close name."""
    return EXPORTERS.get(name)


def get_importer(name: str) -> Importer:
    """The importer called ``name``, or a `LabelerError` that suggests a close name."""
    return IMPORTERS.get(name)


def clipped(shape: Shape, width: int, height: int) -> Shape:
    """The shape with every point clamped into the image; formats that store normalised
    or integer coordinates cannot hold points outside it."""
    if shape.kind == "tag":
        return shape
    pts = tuple((min(max(x, 0.0), width), min(max(y, 0.0), height)) for x, y in shape.points)
    return shape.with_points(pts)


def in_image_shapes(it: ExportItem, keep_tags: bool = False) -> list[Shape]:
    """An item's shapes as every exporter writes them: each box or polygon clipped to the
    image, one with no area inside it left out (`in_image`; `no_area_note` counts them),
    tags kept only when asked. A multi-part instance left with one part is that part alone
    (the formats' notes count multi-part instances)."""
    out = []
    for s in it.shapes:
        if s.kind == "tag":
            if keep_tags:
                out.append(s)
        elif (c := in_image(s, it.width, it.height)) is not None:
            out.append(c)
    if all(s.group is None for s in out):
        return out
    before = Counter((s.class_id, s.group) for s in it.shapes if s.group is not None)
    after = Counter((s.class_id, s.group) for s in out if s.group is not None)
    lone = {k for k, n in after.items() if n == 1 and before[k] > 1}
    return [s.in_group(None) if (s.class_id, s.group) in lone else s for s in out]


def no_area_note(fmt: str, placed: Sequence[Placed]) -> list[str]:
    """The warning for the shapes `in_image_shapes` left out, counted."""
    n = sum(
        1
        for p in placed
        for s in p.item.shapes
        if s.kind != "tag" and in_image(s, p.item.width, p.item.height) is None
    )
    if not n:
        return []
    return [
        f"{fmt}: {n} shape(s) with no area inside their image (under {MIN_AREA:g} square"
        " pixel, or wholly outside it) were left out; the health check lists them"
    ]


def as_box(shape: Shape) -> Shape:
    """A polygon's bounding box as a box; boxes pass unchanged."""
    if shape.kind != "polygon":
        return shape
    x1, y1, x2, y2 = shape.bbox()  # type: ignore[misc]
    return Shape.box(shape.class_id, x1, y1, x2, y2)


def split_of(name: str) -> str | None:
    """Map a subset name used by other tools (train2017, validation, Test) to our split."""
    low = name.lower()
    for prefix, split in (("train", "train"), ("val", "val"), ("test", "test")):
        if low.startswith(prefix):
            return split
    return None
