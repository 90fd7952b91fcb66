"""The plain data a health check reads and the findings it writes.

The store turns a project into a `HealthData`; `run_health` turns that into a `HealthReport`
whose findings the CLI prints, the GUI lists (with a button per `action`) and the HTML report
renders. Nothing here knows about SQLite or Qt.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from labeler.core.shapes import Shape

Severity = Literal["info", "warning", "error"]
SEVERITIES: tuple[str, ...] = ("error", "warning", "info")

ACTIONS: tuple[str, ...] = ("open_images", "relink", "remove_duplicates", "resplit", "suggest_gan")
"""What the GUI can offer for a finding. ``relink`` proposals are in
``details["relink"]``; the others act on ``image_ids`` (and ``pairs``)."""

JSON_SCHEMA = "labeler.health/1"


def plural(n: int, one: str, many: str) -> str:
    """``plural(1, "image is", "images are")`` -> "1 image is"; for titles users read."""
    return f"{n} {one if n == 1 else many}"


def ratio_text(ratio: float) -> str:
    """An imbalance ratio as every view shows it (largest class over smallest), one decimal:
    ``ratio_text(121 / 6)`` -> "20.2 : 1"."""
    return f"{ratio:.1f} : 1"


@dataclass(frozen=True, slots=True)
class HealthImage:
    """One image as the health check sees it.

    ``path`` must be openable as given (the store resolves project-relative paths).
    ``phash`` is the 64-bit pHash, signed (as SQLite stores it) or unsigned.
    ``exists``/``readable``: None means "not known": the check stats the file itself, and
    decodes it when a ``load_image`` callable is given. ``is_grey`` None is filled in by the
    decode when there is one. ``size_bytes`` (optional) narrows the search for moved files.
    """

    id: int
    path: str
    sha256: str | None = None
    phash: int | None = None
    width: int | None = None
    height: int | None = None
    is_grey: bool | None = None
    split: str | None = None
    generated: bool = False
    exists: bool | None = None
    readable: bool | None = None
    size_bytes: int | None = None


@dataclass(frozen=True, slots=True)
class HealthData:
    """Everything a health check reads: images, their shapes, the class names, and the folders
    to search for files that moved (the project's folder and the roots images came from)."""

    images: Sequence[HealthImage]
    shapes: Mapping[int, Sequence[Shape]] = field(default_factory=dict)
    classes: Mapping[int, str] = field(default_factory=dict)
    search_roots: Sequence[str | Path] = ()


@dataclass(frozen=True, slots=True)
class HealthOptions:
    """Thresholds, each documented where it is used (and in ADR 0031)."""

    near_duplicate_distance: int = 8
    """pHash Hamming distance (of 64 bits) at or below which two images are near-duplicates."""
    min_class_images: int = 20
    """A class with fewer images than this is too small to learn from."""
    min_class_fraction_of_median: float = 0.10
    """...as is a class with fewer images than this fraction of the median class."""
    imbalance_warning_ratio: float = 10.0
    """Largest / smallest non-empty class (by images) above which balance is a warning."""
    small_image_side: int = 32
    """Images whose shorter side is below this many pixels are very small."""
    large_image_side: int = 8000
    """Images whose longer side is above this many pixels are very large..."""
    large_image_pixels: int = 50_000_000
    """...as are images with more pixels than this (50 MP)."""
    extreme_aspect_ratio: float = 5.0
    """Images wider or taller than this ratio are listed (they get squashed when resized)."""
    min_shape_area: float = 1.0
    """Boxes and polygons with a smaller area (square pixels) are degenerate."""
    outside_tolerance: float = 0.5
    """Pixels a shape may stick out of its image before it counts as outside."""
    stacked_iou: float = 0.95
    """Two regions on one image overlapping at least this much are stacked duplicates."""
    heatmap_size: int = 32
    """Cells per side of the per-class annotation-location heatmap."""
    classifier_folds: int = 5
    classifier_seed: int = 0
    classifier_min_class_images: int = 5
    """Classes with fewer single-label images than this are left out of the classifier."""
    max_suspicious: int = 200
    """At most this many suspicious labels are listed, most confident first."""
    weak_classifier_max_flagged: float = 0.10
    """A weak classifier (`classifier.is_weak`) lists its disagreements as hints only while
    they are at most this share of the images it checked; beyond it they are its own errors,
    and the check says it is inconclusive instead of flagging half the dataset."""
    max_files_to_hash: int = 50_000
    """The moved-file search hashes at most this many candidate files."""


@dataclass(frozen=True, slots=True)
class CheckInput(HealthData):
    """What every registered health check is called with: the project's `HealthData`, with
    the images as the run left them (``exists`` stat'ed; sizes and grey/colour filled in when
    the images were decoded), plus what the run worked out once for all checks: the
    ``options``, each image's set of classes (``labels``), the classifier ``features`` of the
    decoded images (empty without a decode), and the report's ``stats``, to which a check may
    add its own under its name. A plugin's check may read it as a plain `HealthData`."""

    options: HealthOptions = field(default_factory=HealthOptions)
    labels: Mapping[int, frozenset[int]] = field(default_factory=dict)
    features: Mapping[int, Any] = field(default_factory=dict)
    stats: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class Finding:
    """One problem (or notable fact) the lead should see, with what to do about it.

    ``check`` is a stable id (``"duplicates.leakage"``); ``pairs`` holds
    ``(id_a, id_b, distance)`` for duplicate findings; ``details`` is JSON-ready.
    """

    check: str
    severity: Severity
    title: str
    message: str
    suggestion: str
    action: str | None = None
    image_ids: list[int] = field(default_factory=list)
    pairs: list[tuple[int, int, int]] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.severity not in SEVERITIES:
            raise ValueError(f"unknown severity {self.severity!r}")
        if self.action is not None and self.action not in ACTIONS:
            raise ValueError(f"unknown action {self.action!r}")

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["pairs"] = [list(p) for p in self.pairs]
        return d


@dataclass(slots=True)
class HealthReport:
    """The result of `run_health`: findings (errors first) and the statistics behind the
    charts. ``cancelled`` is True when ``should_stop`` ended the run early; the findings
    are then those of the checks that ran."""

    findings: list[Finding]
    stats: dict[str, Any]
    classes: dict[int, str]
    options: HealthOptions = field(default_factory=HealthOptions)
    cancelled: bool = False

    def severity_counts(self) -> dict[str, int]:
        counts = dict.fromkeys(SEVERITIES, 0)
        for f in self.findings:
            counts[f.severity] += 1
        return counts

    def by_check(self, check: str) -> Finding | None:
        """The finding of one check, or None when that check found nothing."""
        return next((f for f in self.findings if f.check == check), None)

    def to_dict(self) -> dict[str, Any]:
        """The JSON form: ``{schema, cancelled, summary, classes, options, findings, stats}``."""
        return {
            "schema": JSON_SCHEMA,
            "cancelled": self.cancelled,
            "summary": {
                "severity_counts": self.severity_counts(),
                "images": self.stats.get("images", {}).get("total", 0),
                "checks_with_findings": [f.check for f in self.findings],
            },
            "classes": {str(k): v for k, v in sorted(self.classes.items())},
            "options": asdict(self.options),
            "findings": [f.to_dict() for f in self.findings],
            "stats": self.stats,
        }

    def to_json(self, indent: int | None = 2) -> str:
        """One JSON document (see `to_dict`) for ``labeler health --json``."""
        return json.dumps(self.to_dict(), indent=indent, ensure_ascii=False)
