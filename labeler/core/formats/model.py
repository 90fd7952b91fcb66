"""Plain values that cross the boundary between the formats and their callers."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from labeler.core.errors import LabelerError
from labeler.core.formats._io import FormatProblem, safe_relpath
from labeler.core.shapes import SHAPE_KINDS, Point, Shape, box_corners

SPLITS: tuple[str, ...] = ("train", "val", "test")


@dataclass(frozen=True)
class ExportItem:
    """One image to export.

    ``source_path`` is the image on disk. ``file_name`` is its unique, safe relative POSIX
    name inside each split of the export (subfolders allowed, e.g. ``"cat/0001.jpg"``).
    ``width``/``height`` are the upright size (EXIF orientation applied), the frame the
    ``shapes`` live in. ``sha256`` is the source bytes' hash as the project knows it (None
    for a file made for this export). ``prerendered=True`` says the bytes at ``source_path``
    were written for this export (an augmented copy): already upright and metadata-free,
    so they are linked as they are and never re-encoded.
    """

    image_id: int
    source_path: Path
    file_name: str
    width: int
    height: int
    split: str
    shapes: tuple[Shape, ...] = ()
    sha256: str | None = None
    generated: bool = False
    provenance: Mapping[str, Any] = field(default_factory=dict)
    prerendered: bool = False

    def __post_init__(self) -> None:
        if not isinstance(self.source_path, Path):
            object.__setattr__(self, "source_path", Path(self.source_path))
        if type(self.shapes) is not tuple:
            object.__setattr__(self, "shapes", tuple(self.shapes))
        try:
            clean = safe_relpath(self.file_name)
        except FormatProblem as e:
            raise LabelerError(f"image {self.image_id}: {e}") from None
        if clean != self.file_name:
            raise LabelerError(
                f"image {self.image_id}: file name {self.file_name!r} is not normalised"
            )
        if self.split not in SPLITS:
            raise LabelerError(f"{self.file_name}: unknown split {self.split!r}")
        if self.generated and self.split != "train":
            raise LabelerError(f"{self.file_name}: a generated image can only be exported to train")
        if self.width <= 0 or self.height <= 0:
            raise LabelerError(f"{self.file_name}: bad size {self.width}x{self.height}")


@dataclass(frozen=True)
class ImportedShape:
    """A shape read from a dataset, with its class by name (the store maps names to ids).

    ``points`` follow ``Shape``: none for a tag, two corners for a box, 3+ vertices for a
    polygon, in pixels of the upright image. ``group`` is the dataset's own number for a
    multi-part instance, meaningful within its record only: the shapes of one record with
    the same class and group are one instance (the importer of the project gives each
    such group a project group number, `Shape.group`).
    """

    class_name: str
    kind: str
    points: tuple[Point, ...] = ()
    group: int | None = None

    def __post_init__(self) -> None:
        if self.kind == "box" and self.group is None and (box := box_corners(self.points)):
            object.__setattr__(self, "points", box)  # what Shape would make of it
            return
        if self.kind not in SHAPE_KINDS:
            raise LabelerError(f"unknown shape kind {self.kind!r}")
        # Reuse Shape's validation and box normalisation.
        shape = Shape(self.kind, 0, self.points, None, self.group)  # type: ignore[arg-type]
        object.__setattr__(self, "points", shape.points)

    def to_shape(self, class_id: int, group: int | None = None) -> Shape:
        """The shape for the project, as a part of project group ``group`` (or alone)."""
        return Shape(self.kind, class_id, self.points, None, group)  # type: ignore[arg-type]


def imported_instances(shapes: Sequence[ImportedShape]) -> int:
    """How many instances a record's shapes are: a group's parts (same class and group)
    count once, as `labeler.core.shapes.instances` counts a project's shapes."""
    groups = {(s.class_name, s.group) for s in shapes if s.group is not None}
    return len(groups) + sum(1 for s in shapes if s.group is None)


MIN_AREA = 1.0
"""Square pixels below which a box or polygon has no area: the health check's
``min_shape_area`` (a shape it would call degenerate is neither imported nor exported)."""


def in_image(shape: Shape, width: float, height: float) -> Shape | None:
    """The part of a box or polygon that lies inside a ``width`` x ``height`` image, or
    None when less than `MIN_AREA` of it does (no area, or wholly outside). A shape inside
    the image comes back as it is; one partly outside is clipped to the border (a box to
    the box inside, a polygon by Sutherland-Hodgman), as the window keeps what is drawn
    inside the image. Tags pass unchanged.

    >>> in_image(Shape.box(1, -10, -10, 20, 20), 100, 50).points
    ((0.0, 0.0), (20.0, 20.0))
    >>> in_image(Shape.box(1, 30, 30, 30, 30), 100, 50) is None  # no area
    True
    >>> in_image(Shape.box(1, 500, 500, 600, 600), 100, 50) is None  # wholly outside
    True
    """
    if shape.kind == "tag":
        return shape
    x1, y1, x2, y2 = shape.bbox()  # type: ignore[misc]
    if x1 >= 0 and y1 >= 0 and x2 <= width and y2 <= height:
        return shape if shape.area() >= MIN_AREA else None
    if shape.kind == "box":
        cx1, cy1 = max(x1, 0.0), max(y1, 0.0)
        cx2, cy2 = min(x2, float(width)), min(y2, float(height))
        if cx2 <= cx1 or cy2 <= cy1:
            return None
        out = shape.with_points(((cx1, cy1), (cx2, cy2)))
    else:
        import numpy as np

        from labeler.core.augment.geometry import clip_polygon

        pts = clip_polygon(np.asarray(shape.points, dtype=np.float64), width, height)
        if len(pts) < 3:
            return None
        out = shape.with_points(tuple((float(x), float(y)) for x, y in pts))
    return out if out.area() >= MIN_AREA else None


@dataclass(frozen=True)
class ImportRecord:
    """One image found in a dataset: ``path`` is relative to the dataset root (POSIX).

    ``source`` says where the dataset describes it (``"a.json"``, ``"x.json: images[3]"``),
    for messages. ``annotated=False`` marks an image the format imports although no
    annotation mentions it (a labelme or VOC folder's not-yet-annotated images); its
    ``width``/``height`` may be 0, meaning "as the image file says".
    """

    path: str
    width: int
    height: int
    shapes: tuple[ImportedShape, ...] = ()
    split: str | None = None
    source: str = field(default="", compare=False)
    annotated: bool = True

    def to_json(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "width": self.width,
            "height": self.height,
            "split": self.split,
            "shapes": [
                {"class": s.class_name, "kind": s.kind, "points": [list(p) for p in s.points]}
                | ({"group": s.group} if s.group is not None else {})
                for s in self.shapes
            ],
        }


@dataclass
class ImportResult:
    """What an importer found: records, class names in the dataset's order, and one line
    per problem (the file and key or line, then what is wrong). A problem skips only the
    file, image or shape it is about.

    ``referenced`` holds the paths (relative to the root) of every image an annotation
    named, imported or not: `import_dataset` lists the other images under the root in
    ``not_imported`` with a reason, so no image is left out without a word.
    """

    records: list[ImportRecord] = field(default_factory=list)
    classes: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    referenced: set[str] = field(default_factory=set)
    not_imported: list[tuple[str, str]] = field(default_factory=list)

    def add_class(self, name: str) -> None:
        if name not in self.classes:
            self.classes.append(name)


@dataclass
class ExportReport:
    """The outcome of ``export_dataset``; ``to_json()`` is what ``export --json`` prints."""

    format: str
    out_dir: Path
    images: dict[str, int]
    shapes: dict[str, dict[str, dict[str, int]]]
    files: list[str]
    linked: int = 0
    copied: int = 0
    reencoded: int = 0
    skipped: list[tuple[str, str]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    verified: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "format": self.format,
            "out_dir": str(self.out_dir),
            "images": self.images,
            "shapes": self.shapes,
            "annotation_files": self.files,
            "linked": self.linked,
            "copied": self.copied,
            "reencoded": self.reencoded,
            "skipped": [{"file_name": f, "reason": r} for f, r in self.skipped],
            "warnings": self.warnings,
            "verified": self.verified,
        }


def is_number(v: Any) -> bool:
    """A finite JSON number: not a bool, NaN or Infinity, nor an int too large for a float.

    >>> [is_number(v) for v in (1, 2.5, True, float("nan"), 10**400, "3")]
    [True, True, False, False, False, False]
    """
    if not isinstance(v, int | float) or isinstance(v, bool):
        return False
    try:
        return math.isfinite(float(v))
    except OverflowError:
        return False


def is_count(v: Any) -> bool:
    """A positive integer (a width or a height), not a bool."""
    return isinstance(v, int) and not isinstance(v, bool) and v > 0


def class_table(classes: Sequence[tuple[int, str]]) -> dict[int, str]:
    """Check the class list (unique ids and names, no blank name) and map id to name."""
    table: dict[int, str] = {}
    for cid, name in classes:
        if not isinstance(name, str) or not name.strip() or name != name.strip():
            raise LabelerError(f"class {cid} has a blank or padded name {name!r}")
        if cid in table:
            raise LabelerError(f"class id {cid} is listed twice")
        table[cid] = name
    if len(set(table.values())) != len(table):
        raise LabelerError("two classes share a name")
    return table
