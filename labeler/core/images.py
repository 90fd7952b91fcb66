"""Reading image files: identity, header facts, a verified decode, and the perceptual hash.

Everything a bad file can do wrong ends here as a `BadImage` with a one-line reason, so an
import can report it and go on.
"""

from __future__ import annotations

import hashlib
import io
import os
import stat
import struct
import threading
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import cv2
import numpy as np
from PIL import Image

from labeler.core.errors import LabelerError
from labeler.core.held import is_held
from labeler.core.imagehash import phash

_SUFFIX_FORMATS = {
    ".jpg": "JPEG",
    ".jpeg": "JPEG",
    ".jpe": "JPEG",
    ".png": "PNG",
    ".bmp": "BMP",
    ".tif": "TIFF",
    ".tiff": "TIFF",
    ".webp": "WEBP",
}
SUPPORTED_EXTENSIONS: frozenset[str] = frozenset(_SUFFIX_FORMATS)
"""The one list of image file suffixes, for every place that looks for images (folder import,
dataset formats, the search for moved files): a file is an image to us when our probe accepts
its format (`SUPPORTED_FORMATS`) and OpenCV decodes it, and these are those formats' suffixes."""
JPEG_EXTENSIONS: frozenset[str] = frozenset(s for s, f in _SUFFIX_FORMATS.items() if f == "JPEG")
SUPPORTED_FORMATS: frozenset[str] = frozenset(_SUFFIX_FORMATS.values()) | {"MPO"}
"""Pillow's names of the formats `read_header` accepts (MPO is a JPEG with extra frames)."""

MAX_PIXELS = 200_000_000
"""Decompression-bomb guard: a file whose header claims more pixels than this (200 MP, e.g.
an 18,000 × 11,000 scan) is refused before any decode. Real photos are far below it."""

MAX_SIDE = 1 << 20
"""OpenCV refuses to decode an image with a side over 1,048,576 px (CV_IO_MAX_IMAGE_WIDTH and
_HEIGHT); such a file is refused at its header with that reason, not decoded and called
corrupt."""

MAX_BYTES = 2 * 1024**3
"""Files larger than 2 GiB are refused: they cannot be hashed in memory on modest machines."""

# EXIF orientations 5..8 swap width and height once applied.
_SWAPPING_ORIENTATIONS = {5, 6, 7, 8}

# Pillow's own bomb check would raise at 2x its limit; ours is explicit and documented above.
Image.MAX_IMAGE_PIXELS = None


class BadImage(LabelerError):
    """A file that cannot be imported; the message is the reason shown to the user."""


@dataclass(frozen=True, slots=True)
class ImageInfo:
    """What the import stores about a file. Width and height are after EXIF orientation."""

    sha256: str
    phash: int
    width: int
    height: int
    format: str
    bytes: int
    channels: int


def is_image_path(path: str | os.PathLike[str]) -> bool:
    """True when the name has one of `SUPPORTED_EXTENSIONS` (any case): the file is then
    probed, and refused with a reason if its content is not such an image."""
    return path_suffix(path).lower() in SUPPORTED_EXTENSIONS


def path_suffix(path: str | os.PathLike[str]) -> str:
    """``Path(path).suffix``, without making a `Path` where the last name is plain (an
    export asks for thousands)."""
    s = os.fspath(path)
    if type(s) is str:
        cut = s.rfind("/") if os.sep == "/" else max(s.rfind("/"), s.rfind("\\"))
        name = s[cut + 1 :]
        if name not in ("", ".", "..") and (os.sep == "/" or ":" not in name):
            dot = name.rfind(".")
            return name[dot:] if 0 < dot < len(name) - 1 else ""
    return Path(path).suffix


def read_file_bytes(path: str | os.PathLike[str]) -> bytes:
    """Read a file whole, turning every OS failure into a `BadImage` reason."""
    p = Path(path)
    try:
        st = p.stat()
    except FileNotFoundError:
        reason = "broken symlink" if p.is_symlink() else "file not found"
        raise BadImage(reason) from None
    except PermissionError:
        raise BadImage("permission denied") from None
    if not p.is_file():
        raise BadImage("not a regular file")
    if is_held(p):  # a link to a project this process has open (ADR 0081)
        raise BadImage("a Labeler project file in use, not an image")
    if st.st_size == 0:
        raise BadImage("empty file (0 bytes)")
    if st.st_size > MAX_BYTES:
        raise BadImage(f"file too large ({st.st_size} bytes > {MAX_BYTES})")
    try:
        return p.read_bytes()
    except PermissionError:
        raise BadImage("permission denied") from None
    except OSError as e:
        raise BadImage(f"cannot read file: {e.strerror or e}") from None


def check_pixels(width: int, height: int) -> None:
    """The decompression-bomb guard: raise `BadImage` when a header claims more than
    `MAX_PIXELS`. Every path that decodes pixels calls it with the header's size first."""
    if width * height > MAX_PIXELS:
        raise BadImage(
            f"too many pixels ({width}x{height} > {MAX_PIXELS:,} limit; decompression bomb?)"
        )
    if max(width, height) > MAX_SIDE:
        raise BadImage(
            f"a side of {max(width, height):,} px is over the {MAX_SIDE:,} px OpenCV decodes"
        )


# The formats whose headers we let Pillow parse: those we import (JPEG covers MPO, which its
# factory returns), so a file of another format is refused at its header, wherever it is read.
_HEADER_FORMATS = tuple(sorted(SUPPORTED_FORMATS - {"MPO"}))


def _open_header(
    fp: BinaryIO, formats: tuple[str, ...] | None = None
) -> tuple[str, int, int, int, int]:
    """(format, stored width, stored height, channels, exif_orientation) by Pillow, which
    reads the header lazily: no pixel is decoded here, whatever the format."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with Image.open(fp, formats=formats) as im:
                fmt = im.format or "?"
                w, h = im.size
                channels = len(im.getbands())
                orientation = _orientation(im, fmt, w, h)
    except BadImage:
        raise
    except Exception:
        raise BadImage("not an image (unrecognised or corrupt header)") from None
    if w <= 0 or h <= 0:
        raise BadImage(f"invalid image size {w}x{h}")
    return fmt, w, h, channels, orientation


def _orientation(im: Image.Image, fmt: str, w: int, h: int) -> int:
    """The EXIF orientation, read without decoding pixels. Pillow's PNG reader loads the whole
    image to look for an eXIf chunk after the pixel data, so for PNG only a chunk before the
    pixels counts (where the PNG specification puts it), and nothing is read for a size over
    the limits: the caller refuses that next."""
    if w * h > MAX_PIXELS or max(w, h) > MAX_SIDE:
        return 1
    if fmt == "PNG" and "exif" not in im.info:
        return 1
    try:
        return int(im.getexif().get(0x0112, 1) or 1)
    except Exception:  # a malformed EXIF block should not reject the pixels
        return 1


def read_header(data: bytes) -> tuple[str, int, int, int, int]:
    """(format, width, height, channels, exif_orientation) from the header only."""
    fmt, w, h, channels, orientation = _open_header(io.BytesIO(data))
    if fmt not in SUPPORTED_FORMATS:
        raise BadImage(f"unsupported image format {fmt}")
    if orientation in _SWAPPING_ORIENTATIONS:
        w, h = h, w
    return ("JPEG" if fmt == "MPO" else fmt), w, h, channels, orientation


def file_header(path: str | os.PathLike[str]) -> tuple[str, int, int]:
    """(format, stored width, stored height) of an image file, read from its header alone
    (no EXIF orientation applied) and refused over `MAX_PIXELS` before anything decodes it.

    Only the header is read for every format Pillow knows lazily (JPEG, PNG, TIFF, BMP;
    WebP reads the file's bytes but decodes nothing), so a small file that claims a huge
    size costs nothing.
    """
    # O_NONBLOCK: a FIFO named like an image must not hang the import (it is refused below).
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)
    if is_held(path):  # a link to a project this process has open (ADR 0081)
        raise BadImage("a Labeler project file in use, not an image")
    try:
        with os.fdopen(os.open(path, flags), "rb") as f:
            st = os.fstat(f.fileno())
            if not stat.S_ISREG(st.st_mode):
                raise BadImage("not a regular file")
            if st.st_size > MAX_BYTES:
                raise BadImage(f"file too large ({st.st_size} bytes > {MAX_BYTES})")
            fmt, w, h, _, _ = _open_header(f, _HEADER_FORMATS)
    except FileNotFoundError:
        raise BadImage("file not found") from None
    except PermissionError:
        raise BadImage("permission denied") from None
    except OSError as e:
        raise BadImage(f"cannot read file: {e.strerror or e}") from None
    check_pixels(w, h)
    return fmt, w, h


def decode(data: bytes, *, reduced: int = 1, grey: bool = False) -> np.ndarray:
    """Decode with OpenCV (EXIF orientation applied); `reduced` is 1, 2, 4 or 8.

    The header is read first and a file over `MAX_PIXELS` is refused before any decode.
    Raises `BadImage` for truncated or corrupt data (OpenCV returns nothing for those).
    """
    _, w, h, _, _ = read_header(data)
    check_pixels(w, h)
    flags = {
        (1, False): cv2.IMREAD_COLOR,
        (2, False): cv2.IMREAD_REDUCED_COLOR_2,
        (4, False): cv2.IMREAD_REDUCED_COLOR_4,
        (8, False): cv2.IMREAD_REDUCED_COLOR_8,
        (1, True): cv2.IMREAD_GRAYSCALE,
        (2, True): cv2.IMREAD_REDUCED_GRAYSCALE_2,
        (4, True): cv2.IMREAD_REDUCED_GRAYSCALE_4,
        (8, True): cv2.IMREAD_REDUCED_GRAYSCALE_8,
    }[(reduced, grey)]
    with quiet_native_stderr():
        img = cv2.imdecode(np.frombuffer(data, np.uint8), flags)
    if img is None or img.size == 0:
        raise BadImage("corrupt or truncated image data")
    return img


_stderr_lock = threading.Lock()
_quiet = {"depth": 0, "saved": -1}
_C_STDERR = 2  # what libpng, libjpeg and OpenCV write to, whatever sys.stderr is now


@contextmanager
def quiet_native_stderr() -> Iterator[None]:
    """Silence what libpng, libjpeg and OpenCV print on the C stderr about a bad file while
    it is decoded: the report already says why the file was skipped, in one line. (Worker
    processes silence their stderr for good; this covers decodes in the calling process.)
    Decodes on several threads overlap: the first one in redirects, the last one out puts
    stderr back, and none waits for another.

    Only descriptor 2 is ever redirected and restored, never ``sys.stderr.fileno()``: that
    number belongs to whoever set ``sys.stderr`` (a test runner's capture file, a log), may
    be closed and handed to another file (a project database) while a decode runs, and
    restoring onto it then would point that file's descriptor at the terminal (ADR 0092)."""
    with _stderr_lock:
        if _quiet["depth"] == 0:
            try:
                _quiet["saved"] = os.dup(_C_STDERR)
            except OSError:  # no descriptor 2 at all (a daemon, a GUI without a console)
                _quiet["saved"] = -1
            else:
                devnull = os.open(os.devnull, os.O_WRONLY)
                os.dup2(devnull, _C_STDERR)
                os.close(devnull)
        _quiet["depth"] += 1
    try:
        yield
    finally:
        with _stderr_lock:
            _quiet["depth"] -= 1
            if _quiet["depth"] == 0 and _quiet["saved"] >= 0:
                os.dup2(_quiet["saved"], _C_STDERR)
                os.close(_quiet["saved"])
                _quiet["saved"] = -1


def probe_bytes(data: bytes) -> ImageInfo:
    """Identify, measure and verify one image file's bytes."""
    fmt, w, h, channels, _ = read_header(data)
    check_pixels(w, h)
    # A reduced decode verifies the whole stream and is all the hash needs.
    reduced = 4 if min(w, h) >= 256 else 1
    grey = decode(data, reduced=reduced, grey=True)
    return ImageInfo(
        sha256=hashlib.sha256(data).hexdigest(),
        phash=phash(grey),
        width=w,
        height=h,
        format=fmt,
        bytes=len(data),
        channels=channels,
    )


def probe_file(path: str | os.PathLike[str]) -> ImageInfo:
    """`probe_bytes` for a file on disk; every failure is a `BadImage` with its reason."""
    return probe_bytes(read_file_bytes(path))


def load_image(path: str | os.PathLike[str], *, reduced: int = 1) -> np.ndarray:
    """Decode a file to BGR uint8, upright (EXIF orientation applied)."""
    return decode(read_file_bytes(path), reduced=reduced)


# -- JPEG headers, read without decoding (an export reads one per image) ------------------
JPEG_SOF = frozenset((0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB))


def jpeg_facts(data: bytes | memoryview) -> tuple[int, int, int] | None:
    """(orientation, width, height) as the general JPEG readers of
    `labeler.core.formats._io` read them, from the bytes themselves; None for what they
    would read differently or need more for (a marker without a length, a short segment,
    bytes that end before the scan): the caller then asks them."""
    if data[:2] != b"\xff\xd8":
        return None
    n, pos = len(data), 2
    turn: int | None = None
    size: tuple[int, int] | None = None
    while True:
        if pos + 4 > n or data[pos] != 0xFF:
            return None
        marker = data[pos + 1]
        if marker in (0xD9, 0xDA):
            break
        length = (data[pos + 2] << 8) | data[pos + 3]
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7 or length < 7:
            return None
        end = pos + 2 + length
        if end > n:
            return None
        if marker == 0xE1 and turn is None and data[pos + 4 : pos + 10] == b"Exif\x00\x00":
            turn = tiff_orientation(bytes(data[pos + 10 : end]))
        elif marker in JPEG_SOF and size is None:
            h = (data[pos + 5] << 8) | data[pos + 6]
            w = (data[pos + 7] << 8) | data[pos + 8]
            if w <= 0 or h <= 0:
                return None  # the general code says what is wrong
            size = (w, h)
        pos = end
    if size is None:
        return None
    return (1 if turn is None else turn), size[0], size[1]


def jpeg_upright(data: bytes | memoryview, label: str) -> tuple[int, tuple[int, int]] | None:
    """(orientation, upright size) of a plain JPEG from `jpeg_facts`, the size checked by
    `check_pixels` (its error starts with ``label``); None where `jpeg_facts` has no answer."""
    facts = jpeg_facts(data)
    if facts is None:
        return None
    turn, w, h = facts
    try:
        check_pixels(w, h)
    except BadImage as e:
        raise BadImage(f"{label}: {e}") from None
    return turn, ((h, w) if turn in _SWAPPING_ORIENTATIONS else (w, h))


def tiff_orientation(tiff: bytes) -> int:
    """The EXIF orientation (1..8) in a TIFF block (an EXIF segment after its
    ``Exif\\0\\0``); 1 when it has none or is damaged."""
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
