"""The image list's "Name" order as one TEXT column that SQLite sorts with plain byte order
(ADR 0101): `images.name_key`, indexed, set by every write of an image's path.

The order: the file name in natural order (case folded, each run of ASCII digits compared as
a number), then the folder the same way, then the exact path (so names that differ only in
case or in leading zeros, `IMG1.jpg`/`img1.jpg` or `img01`/`img1`, still have a fixed order);
the list query adds the id last.

Encoding of one part (the case-folded file name, then the case-folded folder):

- a character with code point above 3 is itself;
- a character U+0000..U+0003 is ``\\x03`` followed by the character 4 above it (so it stays in
  order among the low characters, and above the two marks below);
- a run of digits is ``\\x02`` (the number mark), then the number of its digits without
  leading zeros as a decimal preceded by that decimal's own length (one digit: ``"13"`` for 3
  digits, ``"212"`` for 12), then the digits without leading zeros (``"0"`` for zero).

The key is ``part(name) + "\\x01" + part(folder) + "\\x01" + path``. SQLite compares TEXT as
UTF-8 bytes, which is code point order; under that order the number mark sorts below any
character (as in the textbook natural sort, where text is compared before a number only
when one ends: `img` before `img1.jpg` before `img.jpg` before `imga.jpg`), a number's
length prefix orders numbers by size and its digits order numbers of one size, and
``\\x01`` ends a part below anything a longer part could continue with. A change to this
encoding needs a migration that recomputes every key.

>>> name_key("imgs/IMG2.jpg") < name_key("a/img10.jpg")
True
"""

from __future__ import annotations

import re

_RUNS = re.compile(r"0*([0-9]+)|[\x00-\x03]")  # a digit run (leading zeros apart), a low char
_SEP = "\x01"


def _piece(m: re.Match[str]) -> str:
    digits = m.group(1)
    if digits is None:  # a control character U+0000..U+0003
        return "\x03" + chr(ord(m.group(0)) + 4)
    size = str(len(digits))
    return f"\x02{len(size)}{size}{digits}"


def _part(text: str) -> str:
    return _RUNS.sub(_piece, text.casefold())


def name_key(path: str) -> str:
    """The sort key of an image's stored path (see the module's docstring)."""
    folder, _, name = path.rpartition("/")
    return f"{_part(name)}{_SEP}{_part(folder)}{_SEP}{path}"
