"""File helpers shared by the formats: safe paths, safe XML, JSON with locations, images.

Kept free of format knowledge so each format module stays about its own layout.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import re
import shutil
import struct
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path, PurePosixPath
from typing import Any

import cv2
import numpy as np

from labeler.core.errors import LabelerError

IMAGE_SUFFIXES = frozenset(
    {".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp", ".jpe", ".pgm", ".ppm"}
)
_JPEG_SUFFIXES = frozenset({".jpg", ".jpeg", ".jpe"})
_UNSAFE_XML = re.compile(rb"<!\s*(DOCTYPE|ENTITY)", re.IGNORECASE)


class FormatProblem(Exception):
    """A per-file problem an importer reports and then skips; never reaches the user raw."""


# -- paths --------------------------------------------------------------------------------
def safe_relpath(name: str) -> str:
    """Normalise a file name from an annotation file into a safe relative POSIX path.

    Refuses absolute paths, drive letters and ``..`` so an annotation file can never make
    us read or write outside the dataset root.

    >>> safe_relpath("images\\\\a.jpg")
    'images/a.jpg'
    """
    if not isinstance(name, str) or not name.strip() or "\x00" in name:
        raise FormatProblem(f"bad file name {name!r}")
    posix = name.replace("\\", "/")
    if posix.startswith("/") or re.match(r"^[A-Za-z]:", posix):
        raise FormatProblem(f"file name {name!r} is absolute; it must be inside the dataset")
    parts = [p for p in PurePosixPath(posix).parts if p not in ("", ".")]
    if not parts or ".." in parts:
        raise FormatProblem(f"file name {name!r} points outside the dataset")
    return "/".join(parts)


def inside(root: Path, path: Path) -> str:
    """``path`` relative to ``root`` as POSIX text, refusing anything (symlinks too) outside."""
    abs_root = os.path.normpath(root.absolute())
    abs_path = os.path.normpath(path.absolute())
    if not _below(abs_path, abs_root) or not _below(
        os.path.realpath(abs_path), _realpath(abs_root)
    ):
        raise FormatProblem(f"{path} is outside the dataset root {root}")
    return Path(os.path.relpath(abs_path, abs_root)).as_posix()


def _below(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


@functools.lru_cache(maxsize=64)
def _realpath(root: str) -> str:
    # A dataset root is resolved once per read, not once per image.
    return os.path.realpath(root)


def display(root: Path, path: Path) -> str:
    """A short name for messages: the path relative to the root when it is below it."""
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return str(path)


# -- structured files ---------------------------------------------------------------------
def load_json(path: Path, label: str) -> Any:
    """Parse a JSON file; a syntax error names the line and column."""
    try:
        return json.loads(path.read_text(encoding="utf-8-sig"))
    except json.JSONDecodeError as e:
        raise FormatProblem(f"{label}: line {e.lineno} column {e.colno}: {e.msg}") from None
    except (OSError, UnicodeDecodeError) as e:
        raise FormatProblem(f"{label}: cannot read: {e}") from None


def parse_xml(path: Path, label: str) -> ET.Element:
    """Parse XML with the standard library, refusing DTDs first.

    ``xml.etree`` expands internal entities, so a "billion laughs" file could exhaust
    memory; no annotation format needs a DOCTYPE or ENTITY, so any file declaring one is
    refused before parsing (we do not depend on defusedxml).
    """
    try:
        data = path.read_bytes()
    except OSError as e:
        raise FormatProblem(f"{label}: cannot read: {e}") from None
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            data = data.decode("utf-16").encode("utf-8")
        except UnicodeDecodeError:
            raise FormatProblem(f"{label}: not valid UTF-16") from None
        data = re.sub(rb"encoding=[\"']utf-16[\"']", b'encoding="utf-8"', data, flags=re.I)
    match = _UNSAFE_XML.search(data)
    if match:
        line = data.count(b"\n", 0, match.start()) + 1
        kind = match.group(1).decode().upper()
        raise FormatProblem(f"{label}: line {line}: {kind} declarations are refused (unsafe XML)")
    try:
        return ET.fromstring(data)
    except ET.ParseError as e:
        line, col = e.position
        raise FormatProblem(f"{label}: line {line} column {col}: malformed XML") from None


def write_text(path: Path, text: str) -> None:
    """Write UTF-8 with LF line ends whatever the OS, so exports are byte-identical."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        f.write(text)


def write_texts(root: Path, files: Sequence[tuple[str, str]]) -> None:
    """`write_text` for many (relative path, text) pairs, on a few threads: creating many
    small files waits on the file system, not on Python."""
    for folder in sorted({(root / rel).parent for rel, _ in files}):
        folder.mkdir(parents=True, exist_ok=True)

    def one(item: tuple[str, str]) -> None:
        with open(root / item[0], "w", encoding="utf-8", newline="\n") as f:
            f.write(item[1])

    with ThreadPoolExecutor(max_workers=min(8, 2 * (os.cpu_count() or 1))) as pool:
        list(pool.map(one, files))


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def num(v: float) -> int | float:
    """A coordinate for JSON output: ints stay ints, floats keep 4 decimals (0.0001 px)."""
    v = float(v)
    return int(v) if v.is_integer() else round(v, 4)


# -- images -------------------------------------------------------------------------------
def exif_orientation(path: Path) -> int:
    """The EXIF orientation (1..8) of a JPEG, 1 when absent, unreadable, or not a JPEG."""
    if path.suffix.lower() not in _JPEG_SUFFIXES:
        return 1
    try:
        with open(path, "rb") as f:
            if f.read(2) != b"\xff\xd8":
                return 1
            while True:
                marker = f.read(2)
                if len(marker) < 2 or marker[0] != 0xFF or marker[1] in (0xD9, 0xDA):
                    return 1
                (length,) = struct.unpack(">H", f.read(2))
                body = f.read(length - 2)
                if marker[1] == 0xE1 and body.startswith(b"Exif\x00\x00"):
                    return _tiff_orientation(body[6:])
    except (OSError, struct.error):
        return 1


def _tiff_orientation(tiff: bytes) -> int:
    end = {b"II": "<", b"MM": ">"}.get(tiff[:2])
    if end is None:
        return 1
    try:
        (ifd,) = struct.unpack(end + "I", tiff[4:8])
        (count,) = struct.unpack(end + "H", tiff[ifd : ifd + 2])
        for i in range(count):
            entry = tiff[ifd + 2 + 12 * i : ifd + 14 + 12 * i]
            tag, typ = struct.unpack(end + "HH", entry[:4])
            if tag == 0x0112 and typ == 3:
                (value,) = struct.unpack(end + "H", entry[8:10])
                return value if 1 <= value <= 8 else 1
    except struct.error:
        return 1
    return 1


def image_size(path: Path) -> tuple[int, int]:
    """(width, height) as displayed, EXIF orientation applied; reads only the header when
    it can (JPEG, PNG) and decodes the image otherwise."""
    size = _header_size(path)
    if size is None:
        img = read_image(path)
        return img.shape[1], img.shape[0]
    w, h = size
    return (h, w) if exif_orientation(path) in (5, 6, 7, 8) else (w, h)


def _header_size(path: Path) -> tuple[int, int] | None:
    try:
        with open(path, "rb") as f:
            head = f.read(26)
            if head.startswith(b"\x89PNG\r\n\x1a\n") and head[12:16] == b"IHDR":
                return struct.unpack(">II", head[16:24])
            if not head.startswith(b"\xff\xd8"):
                return None
            f.seek(2)
            while True:
                marker = f.read(2)
                if len(marker) < 2 or marker[0] != 0xFF:
                    return None
                if marker[1] in (0xD8, 0x01) or 0xD0 <= marker[1] <= 0xD7:
                    continue
                (length,) = struct.unpack(">H", f.read(2))
                if marker[1] in (0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB):
                    h, w = struct.unpack(">HH", f.read(5)[1:5])
                    return w, h
                f.seek(length - 2, os.SEEK_CUR)
    except (OSError, struct.error):
        return None


def read_image(path: Path) -> np.ndarray:
    """Decode an image with its stored pixels (alpha and bit depth kept), EXIF orientation
    applied by us, so the result matches ``image_size`` whatever OpenCV's defaults are."""
    try:
        data = np.fromfile(str(path), dtype=np.uint8)
    except OSError as e:
        raise LabelerError(f"cannot read image {path}: {e.strerror or e}") from None
    img = cv2.imdecode(data, cv2.IMREAD_UNCHANGED)
    if img is None:
        raise LabelerError(f"cannot decode image {path}")
    return _apply_orientation(img, exif_orientation(path))


def _apply_orientation(img: np.ndarray, orientation: int) -> np.ndarray:
    if orientation in (5, 6, 7, 8):
        img = np.ascontiguousarray(
            np.swapaxes(img, 0, 1)
        )  # transpose first, then flip: covers 5..8
        flips = {5: None, 6: 1, 7: -1, 8: 0}[orientation]
    else:
        flips = {1: None, 2: 1, 3: -1, 4: 0}[orientation]
    return np.ascontiguousarray(img) if flips is None else cv2.flip(img, flips)


def write_upright(src: Path, dst: Path) -> None:
    """Re-encode ``src`` to ``dst`` with its orientation applied to the pixels and no
    metadata at all (OpenCV writes none). JPEG at quality 95; PNG and others lossless."""
    img = read_image(src)
    ext = dst.suffix.lower() or ".png"
    params = [cv2.IMWRITE_JPEG_QUALITY, 95] if ext in _JPEG_SUFFIXES else []
    ok, buf = cv2.imencode(ext, img, params)
    if not ok:
        raise LabelerError(f"cannot encode {dst.name}")
    dst.parent.mkdir(parents=True, exist_ok=True)
    buf.tofile(str(dst))


def link_or_copy(src: Path, dst: Path) -> str:
    """Hard-link ``src`` at ``dst`` (no bytes copied); copy when linking is impossible
    (another file system, FAT, no permission). Returns "linked" or "copied"."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(src, dst)
        return "linked"
    except FileNotFoundError:
        raise
    except OSError:
        shutil.copyfile(src, dst)
        return "copied"
