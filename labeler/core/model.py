"""The records a project holds besides shapes: images and classes."""

from __future__ import annotations

import re
import unicodedata
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


MAX_CLASS_NAME = 100
_UNSAFE_IN_FILE_NAMES = '/\\:*?"<>|'


def validate_class_name(name: str) -> str:
    """A class name as the project keeps it: the text with its outer spaces removed.

    A class name is a label, not a file name: COCO, labelme and CVAT datasets have classes
    such as ``tv/monitor`` or ``what?``, and they are kept as they are (ADR 0024). What
    must be safe is a file or folder name an export derives from a name, which is the
    exporter's job (`file_safe_name`). Refused: an empty name, one over 100 characters,
    and characters no text format can carry or no message can show on one line: control
    characters (newline, tab, NUL, ...), line and paragraph separators, lone surrogates
    and the non-characters U+FFFE/U+FFFF.

    >>> validate_class_name(" tv/monitor ")
    'tv/monitor'
    """
    if not isinstance(name, str):
        raise LabelerError(f"class name {name!r} is not text")
    clean = name.strip()
    if not clean:
        raise LabelerError("class name is empty")
    if len(clean) > MAX_CLASS_NAME:
        raise LabelerError(
            f"class name {clean[:40] + '…'!r} is too long ({len(clean)} > {MAX_CLASS_NAME}"
            " characters)"
        )
    bad = next((c for c in clean if _unwritable(c)), None)
    if bad is not None:
        raise LabelerError(
            f"class name {clean[:40]!r} contains {_char_name(bad)}, which a class name cannot hold"
        )
    return clean


def _unwritable(c: str) -> bool:
    return unicodedata.category(c) in ("Cc", "Cs", "Zl", "Zp") or c in "\ufffe\uffff"


def _char_name(c: str) -> str:
    return f"U+{ord(c):04X} ({unicodedata.name(c, 'a control character')})"


def file_safe_name(name: str) -> str:
    """``name`` as one file or folder name on any system, for an exporter that names files
    or folders after classes: the characters Windows refuses (``/ \\ : * ? " < > |``)
    become ``_``, and a name that would be special (``.``, ``..``, trailing dots or
    spaces) gains a ``_``. Two names may map to one; the exporter must check.

    >>> file_safe_name("tv/monitor"), file_safe_name(".."), file_safe_name("what?")
    ('tv_monitor', '.._', 'what_')
    """
    out = "".join("_" if c in _UNSAFE_IN_FILE_NAMES or ord(c) < 32 else c for c in name)
    if not out or out.endswith((".", " ")):
        out += "_"
    return out


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
