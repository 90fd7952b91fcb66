"""The records a project holds besides shapes: images and classes."""

from __future__ import annotations

import re
from dataclasses import dataclass

from labeler.core.errors import LabelerError

SPLITS: tuple[str, ...] = ("train", "val", "test")
PROVENANCES: tuple[str, ...] = ("imported", "generated")
STATUSES: tuple[str, ...] = ("new", "reviewed")

# Distinct, colour-blind-friendly-ish hues (Glasbey/Tableau style) for new classes.
PALETTE: tuple[str, ...] = (
    "#e6194b", "#3cb44b", "#4363d8", "#f58231", "#911eb4",
    "#42d4f4", "#f032e6", "#bfef45", "#fabed4", "#469990",
    "#dcbeff", "#9a6324", "#fffac8", "#800000", "#aaffc3",
    "#808000", "#ffd8b1", "#000075", "#a9a9a9", "#ffe119",
)  # fmt: skip

_COLOUR = re.compile(r"^#[0-9a-fA-F]{6}$")


def validate_class_name(name: str) -> str:
    """Class names are what users type and what exports write as folder names."""
    clean = name.strip()
    if not clean:
        raise LabelerError("class name is empty")
    if len(clean) > 100:
        raise LabelerError(f"class name is too long ({len(clean)} > 100 characters)")
    if any(c in clean for c in '/\\\0:*?"<>|') or clean in {".", ".."}:
        raise LabelerError(f"class name {clean!r} contains a character not allowed in file names")
    return clean


def colour_bgr(colour: str) -> tuple[int, int, int]:
    """A class colour ("#rrggbb") as the (blue, green, red) triple OpenCV draws with."""
    r, g, b = (int(validate_colour(colour)[i : i + 2], 16) for i in (1, 3, 5))
    return (b, g, r)


def validate_colour(colour: str) -> str:
    if not _COLOUR.match(colour):
        raise LabelerError(f"colour {colour!r} is not of the form #rrggbb")
    return colour.lower()


@dataclass(frozen=True, slots=True)
class LabelClass:
    id: int
    name: str
    colour: str
    shortcut: str | None
    position: int


@dataclass(frozen=True, slots=True)
class ImageRecord:
    """An image as the project knows it. `path` is as stored: relative to the project's
    folder when the file lies below it, absolute otherwise."""

    id: int
    path: str
    sha256: str
    phash: int | None
    width: int
    height: int
    format: str
    bytes: int
    channels: int
    provenance: str
    provenance_info: str | None
    status: str
    split: str | None
    source_group: str | None
    added_at: str
    updated_at: str
