"""File helpers shared by the formats: safe paths, safe reads, safe XML, JSON with
locations, guarded image sizes.

Every file an importer reads from a dataset goes through `read_dataset_file` (or its text,
JSON and XML forms): it must be inside the dataset root once symbolic links are resolved, a
regular file, and no larger than the cap for its kind (below). Folders are walked by
`walk_files`, which follows no symbolic link to a folder and stops at `MAX_WALK_DEPTH`.
Image sizes come from the header and are refused over ``MAX_PIXELS`` before any decode.
A refusal is a `FormatProblem` naming the file and the reason, never its content.

Kept free of format knowledge so each format module stays about its own layout.
"""

from __future__ import annotations

import functools
import json
import os
import posixpath
import re
import stat
import struct
import xml.etree.ElementTree as ET
from collections.abc import Callable, Sequence
from pathlib import Path, PurePosixPath
from typing import Any, BinaryIO
from xml.parsers import expat

import cv2
import numpy as np

from labeler.core.errors import LabelerError
from labeler.core.held import is_held
from labeler.core.images import (
    JPEG_EXTENSIONS,
    JPEG_SOF,
    BadImage,
    check_pixels,
    file_header,
    is_image_path,
    jpeg_upright,
    path_suffix,
    quiet_native_stderr,
    read_file_bytes,
    read_header,
    tiff_orientation,
)

_UNSAFE_XML = re.compile(rb"<!\s*(DOCTYPE|ENTITY)", re.IGNORECASE)

MiB = 1024 * 1024
MAX_COCO_BYTES = 512 * MiB
"""A COCO JSON (COCO's own instances_train2017.json is 448 MiB)."""
MAX_DATASET_TABLE_BYTES = 256 * MiB
"""One file for a whole dataset: CVAT's annotations.xml, our annotations.csv."""
MAX_LABELME_BYTES = 64 * MiB
"""A labelme JSON, which may embed its image as base64 (ignored, but read)."""
MAX_TEXT_BYTES = 16 * MiB
"""Every other file: a YOLO label or data.yaml, a VOC XML, labelmap.txt, ImageSets lists."""
MAX_WALK_DEPTH = 32
"""Folder levels walked below a dataset folder; deeper folders are reported, not read."""


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
    if "\\" not in name and name[0] != "/" and name[1:2] != ":":
        # A clean POSIX name (what exports hand in, per image) comes back as it is.
        parts = name.split("/")
        if "" not in parts and "." not in parts and ".." not in parts:
            return name
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
    """A short name for messages: the path relative to the root when it is below it.

    Control characters (a newline in a file name) are escaped so a message stays one line.
    """
    try:
        text = path.relative_to(root).as_posix()
    except ValueError:
        text = str(path)
    if any(ord(c) < 32 or ord(c) == 127 for c in text):
        text = text.encode("unicode_escape", "backslashreplace").decode("ascii")
    return text


# -- reading files of a dataset -----------------------------------------------------------
def _open_contained(root: Path, path: Path, label: str) -> int:
    """A read-only descriptor on ``path`` once it is known to be inside ``root`` (symbolic
    links resolved); refusals name the reason and never the target or the content."""
    abs_root = os.path.normpath(root.absolute())
    abs_path = os.path.normpath(path.absolute())
    if not _below(abs_path, abs_root):
        raise FormatProblem(f"{label}: refused: it is outside the dataset")
    real = os.path.realpath(abs_path)
    if not _below(real, _realpath(abs_root)):
        raise FormatProblem(
            f"{label}: refused: it is a symbolic link to a file outside the dataset"
        )
    # The resolved path is opened without following a link in its last part (a link swapped
    # in since realpath fails), and without blocking (a FIFO is refused after fstat).
    flags = os.O_RDONLY
    for name in ("O_NOFOLLOW", "O_NONBLOCK", "O_BINARY"):
        flags |= getattr(os, name, 0)
    if is_held(real):
        raise FormatProblem(f"{label}: refused: it is a Labeler project file in use")
    try:
        return os.open(real, flags)
    except FileNotFoundError:
        what = "broken symbolic link" if os.path.islink(abs_path) else "file not found"
        raise FormatProblem(f"{label}: cannot read: {what}") from None
    except OSError as e:
        raise FormatProblem(f"{label}: cannot read: {e.strerror or e}") from None


def _mib(n: int) -> str:
    return f"{n / MiB:,.0f} MiB" if n >= MiB else f"{n:,} bytes"


def read_dataset_file(root: Path, path: Path, label: str, max_bytes: int) -> bytes:
    """The bytes of a file of the dataset at ``root``.

    Refused with a `FormatProblem` (``label: refused: reason``) when the file is outside the
    root once symbolic links are resolved, is not a regular file, or is larger than
    ``max_bytes``. Every importer reads its files through here.
    """
    fd = _open_contained(root, path, label)
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise FormatProblem(f"{label}: refused: not a regular file")
        if st.st_size > max_bytes:
            raise FormatProblem(
                f"{label}: refused: {st.st_size:,} bytes, over the {_mib(max_bytes)} limit"
                " for this kind of file"
            )
        with os.fdopen(fd, "rb", closefd=False) as f:
            data = f.read(st.st_size + 1)
            if len(data) > st.st_size:  # it grew while we read it
                data += f.read(max_bytes + 1 - len(data))
        if len(data) > max_bytes:
            raise FormatProblem(
                f"{label}: refused: over the {_mib(max_bytes)} limit for this kind of file"
            )
        return data
    except OSError as e:
        raise FormatProblem(f"{label}: cannot read: {e.strerror or e}") from None
    finally:
        os.close(fd)


def read_dataset_head(root: Path, path: Path, label: str, size: int) -> bytes:
    """The first ``size`` bytes of a file of the dataset, with the same refusals as
    `read_dataset_file` except the size cap (only the head is read): for format detection."""
    fd = _open_contained(root, path, label)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise FormatProblem(f"{label}: refused: not a regular file")
        return os.read(fd, size)
    except OSError as e:
        raise FormatProblem(f"{label}: cannot read: {e.strerror or e}") from None
    finally:
        os.close(fd)


def read_dataset_text(root: Path, path: Path, label: str, max_bytes: int = MAX_TEXT_BYTES) -> str:
    """`read_dataset_file` decoded with `decode_text`."""
    return decode_text(read_dataset_file(root, path, label, max_bytes), label)


def decode_text(data: bytes, label: str) -> str:
    """Text files of a dataset are UTF-8 (a byte-order mark is dropped), or UTF-16 when
    they start with its byte-order mark (Windows Notepad's "Unicode"). Nothing else is
    guessed: Latin-1, cp1252 and GBK bytes all decode as *something*, so a guess would
    turn a class name into another name without a word. Invalid text names the line, not
    the bytes (ADR 0024)."""
    codec = "utf-16" if data[:2] in (b"\xff\xfe", b"\xfe\xff") else "utf-8-sig"
    try:
        return data.decode(codec)
    except UnicodeDecodeError as e:
        if codec == "utf-16":
            raise FormatProblem(f"{label}: not valid UTF-16 text") from None
        line = data.count(b"\n", 0, e.start) + 1
        raise FormatProblem(f"{label}: line {line}: not valid UTF-8 text") from None


def walk_files(
    root: Path, top: Path, problems: list[str], max_depth: int = MAX_WALK_DEPTH
) -> list[Path]:
    """Every entry below ``top`` that is not a folder, sorted, for the importer to filter.

    A symbolic link to a folder is not followed (``Path.rglob`` did not either; it is
    reported), and folders more than ``max_depth`` levels below ``top`` are reported and
    not read. Links to files are listed: reading them goes through `read_dataset_file` or
    `inside`, which refuse those that leave the dataset.
    """
    found: list[Path] = []
    stack = [(top, 0)]
    while stack:
        folder, depth = stack.pop()
        try:
            with os.scandir(folder) as it:
                entries = list(it)
        except OSError as e:
            problems.append(f"{display(root, folder)}: cannot list folder: {e.strerror or e}")
            continue
        for entry in entries:
            path = folder / entry.name
            try:
                is_dir = entry.is_dir(follow_symlinks=False)
                linked_dir = not is_dir and entry.is_symlink() and entry.is_dir()
            except OSError:
                is_dir = linked_dir = False
            if linked_dir:
                problems.append(
                    f"{display(root, path)}: skipped: a symbolic link to a folder is not followed"
                )
            elif not is_dir:
                found.append(path)
            elif depth >= max_depth:
                problems.append(
                    f"{display(root, path)}: skipped: more than {max_depth} folder levels deep"
                )
            else:
                stack.append((path, depth + 1))
    return sorted(found)


# -- structured files ---------------------------------------------------------------------
def load_json(root: Path, path: Path, label: str, max_bytes: int = MAX_TEXT_BYTES) -> Any:
    """Parse a JSON file of the dataset (read by `read_dataset_file`); a syntax error names
    the line and column."""
    return parse_json(read_dataset_text(root, path, label, max_bytes), label)


def parse_json(text: str, label: str) -> Any:
    """`load_json` of text already read (an export's file read back by its check)."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        raise FormatProblem(f"{label}: line {e.lineno} column {e.colno}: {e.msg}") from None
    except RecursionError:
        raise FormatProblem(f"{label}: nested too deeply") from None
    except ValueError as e:  # an integer of more than 4,300 digits
        raise FormatProblem(f"{label}: {str(e).split(':')[0]}") from None


class _Refused(Exception):
    """Raised from an expat handler: the document declares what we never accept."""


def _refuse(what: str) -> Callable[..., None]:
    def handler(*_args: object) -> None:
        raise _Refused(what)

    return handler


def parse_xml(root: Path, path: Path, label: str, max_bytes: int = MAX_TEXT_BYTES) -> ET.Element:
    """Parse an XML file of the dataset (read by `read_dataset_file`) with `parse_xml_bytes`."""
    return parse_xml_bytes(read_dataset_file(root, path, label, max_bytes), label)


def parse_xml_bytes(data: bytes, label: str) -> ET.Element:
    """Parse XML with the standard library's expat, refusing any DTD.

    ``xml.etree`` expands internal entities, so a "billion laughs" file could exhaust
    memory, and an entity could put any text into a class name; no annotation format needs
    a DOCTYPE or an ENTITY (we do not depend on defusedxml). Two layers refuse them: a fast
    byte search for ``<!DOCTYPE``/``<!ENTITY`` in ASCII-compatible text, and handlers set
    on the expat parser itself that raise on a doctype, an entity or notation declaration,
    or an external entity reference. The second sees the document after expat decoded it,
    so no encoding (UTF-16 with or without a byte-order mark, a false ``encoding=``) gets
    past it. Encodings expat does not read (UTF-32, EBCDIC) are malformed XML. Every
    failure is one `FormatProblem` line.
    """
    match = _UNSAFE_XML.search(data)
    if match:
        line = data.count(b"\n", 0, match.start()) + 1
        kind = match.group(1).decode().upper()
        raise FormatProblem(f"{label}: line {line}: {kind} declarations are refused (unsafe XML)")
    builder = ET.TreeBuilder()
    parser = expat.ParserCreate(namespace_separator="}")
    parser.buffer_text = True
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    parser.StartDoctypeDeclHandler = _refuse("DOCTYPE declarations are refused")
    parser.EntityDeclHandler = _refuse("ENTITY declarations are refused")
    parser.UnparsedEntityDeclHandler = _refuse("ENTITY declarations are refused")
    parser.NotationDeclHandler = _refuse("NOTATION declarations are refused")
    parser.ExternalEntityRefHandler = _refuse("external entities are refused")
    parser.StartElementHandler = lambda tag, attrs: builder.start(
        _ns(tag), {_ns(k): v for k, v in attrs.items()}
    )
    parser.EndElementHandler = lambda tag: builder.end(_ns(tag))
    parser.CharacterDataHandler = builder.data
    try:
        parser.Parse(data, True)
        return builder.close()
    except _Refused as e:
        line = parser.CurrentLineNumber
        raise FormatProblem(f"{label}: line {line}: {e} (unsafe XML)") from None
    except expat.ExpatError as e:
        raise FormatProblem(
            f"{label}: line {e.lineno} column {e.offset}: malformed XML"
            f" ({expat.ErrorString(e.code)})"
        ) from None
    except (ValueError, LookupError):  # pyexpat on a multi-byte or unknown encoding
        raise FormatProblem(f"{label}: malformed XML (unsupported encoding)") from None


def _ns(name: str) -> str:
    # As xml.etree names a namespaced tag: "{uri}local".
    return "{" + name if "}" in name else name


# An export's files are written into its own temporary folder, which is checked and then
# renamed into place as a whole (ADR 0022): no single file needs an atomic write of its own,
# and an fsync per label file would make a YOLO export of 100,000 images wait on the disk
# 100,000 times (`labeler.core.files` has the atomic write for single outputs).
def write_text(path: Path, text: str) -> None:
    """Write UTF-8 with LF line ends whatever the OS, so exports are byte-identical."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text.encode("utf-8"))


_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)


def write_texts(root: Path, files: Sequence[tuple[str, str]]) -> None:
    """`write_text` for many (relative path, text) pairs, one after another. Creating a file
    is kernel work that holds a lock on its folder: threads only queue there (4 threads
    took 2.5x the CPU of one for 10,000 label files, ADR 0096) and take the cores from the
    hashing an export runs beside this."""
    for folder in sorted({posixpath.dirname(rel) for rel, _ in files} - {""}):
        (root / folder).mkdir(parents=True, exist_ok=True)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW | getattr(os, "O_BINARY", 0)
    for rel, text in files:
        # A new file (the folder is the export's own): no buffered file object, and no
        # Path, per label.
        path = f"{root}{os.sep}{rel}"
        fd = os.open(path, flags, 0o666)
        try:
            data = text.encode("utf-8")
            while data:
                data = data[os.write(fd, data) :]
        except OSError as e:
            e.filename = e.filename or path
            raise
        finally:
            os.close(fd)


def num(v: float) -> int | float:
    """A coordinate for JSON output: ints stay ints, floats keep 4 decimals (0.0001 px)."""
    v = float(v)
    return int(v) if v.is_integer() else round(v, 4)


# -- images -------------------------------------------------------------------------------
def exif_orientation(path: Path) -> int:
    """The EXIF orientation (1..8) of a JPEG, 1 when absent, unreadable, or not a JPEG."""
    if path.suffix.lower() not in JPEG_EXTENSIONS or is_held(path):
        return 1
    try:
        with open(path, "rb") as f:
            return _jpeg_orientation(f)
    except (OSError, struct.error):
        return 1


def _jpeg_orientation(f: BinaryIO | _Head) -> int:
    if f.read(2) != b"\xff\xd8":
        return 1
    while True:
        marker = f.read(2)
        if len(marker) < 2 or marker[0] != 0xFF or marker[1] in (0xD9, 0xDA):
            return 1
        (length,) = struct.unpack(">H", f.read(2))
        body = f.read(length - 2)
        if marker[1] == 0xE1 and body.startswith(b"Exif\x00\x00"):
            return tiff_orientation(body[6:])


def image_size(path: Path, label: str | None = None) -> tuple[int, int]:
    """(width, height) as displayed, EXIF orientation applied, from the header alone.

    JPEG and PNG headers are parsed here; every other format by Pillow, which reads TIFF,
    BMP and WebP headers without decoding. A header that claims more than
    ``MAX_PIXELS`` is refused (`BadImage`, a `LabelerError`) and no pixel is ever decoded,
    so a small file claiming a huge size costs nothing. Messages start with ``label`` (the
    path when not given). The file is opened once: size and orientation come from its first
    ``HEAD_BYTES`` (more is read only when a header goes beyond them).
    """
    return head_facts(path, read_head(path), label)[1]


HEAD_BYTES = 64 * 1024
"""What `image_size` reads at once: a JPEG's markers up to its frame header, EXIF included,
fit in it for all but photos with large embedded previews or profiles."""


def read_head(path: Path) -> tuple[bytes, bool] | None:
    """``(first bytes, whether that is the whole file)`` of a regular file, or None when it is
    not one, cannot be opened, or is a held project file (never opened a second time)."""
    f = _open_regular(path)
    if f is None:
        return None
    try:
        with f:
            head = f.read(HEAD_BYTES)
            return head, len(head) < HEAD_BYTES
    except OSError:
        return None


def _open_regular(path: Path) -> BinaryIO | None:
    """``path`` opened for reading if it is a regular file, else None: opened non-blocking
    (a FIFO cannot hang us) and never when it is a held project file (file_header then
    refuses it without opening it)."""
    if is_held(path):
        return None
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)
    try:
        f = os.fdopen(os.open(path, flags), "rb")
    except OSError:
        return None
    try:
        if stat.S_ISREG(os.fstat(f.fileno()).st_mode):
            return f
    except OSError:
        pass
    f.close()
    return None


def size_from_head(
    path: Path,
    got: tuple[bytes, bool] | None,
    label: str | None = None,
    orientation: int | None = None,
) -> tuple[int, int]:
    """`image_size` of ``path`` given its first bytes as `read_head` returns them (a caller
    that reads the whole file anyway, to hash it, passes what it read); the file is read
    again only where a header goes beyond them. ``orientation`` is `head_orientation` of
    the same bytes, when the caller has it already."""
    name = label if label is not None else str(path)
    try:
        size = None if got is None else _head_size(path, *got)
        if size is None:
            _, w, h = file_header(path)
        else:
            w, h = size
            if w <= 0 or h <= 0:
                raise BadImage(f"invalid image size {w}x{h}")
            check_pixels(w, h)
    except BadImage as e:
        raise BadImage(f"{name}: {e}") from None
    if orientation is None:
        orientation = head_orientation(path, got)
    return (h, w) if orientation in (5, 6, 7, 8) else (w, h)


def head_facts(
    path: str | os.PathLike[str],
    got: tuple[bytes | memoryview, bool] | None,
    label: str | None = None,
) -> tuple[int, tuple[int, int]]:
    """(`head_orientation`, `size_from_head`) of the same first bytes (``got`` as `read_head`
    returns them, or a view of what a caller read to hash the file): for a plain JPEG whose
    markers up to its scan are all in ``got``, from one walk over them (an export asks for
    both per image); for anything else, from those two functions, given the first
    `HEAD_BYTES` as `image_size` would read them."""
    if got is not None and path_suffix(path).lower() in JPEG_EXTENSIONS:
        facts = jpeg_upright(got[0], label if label is not None else os.fspath(path))
        if facts is not None:
            return facts
    if got is not None and (type(got[0]) is not bytes or len(got[0]) > HEAD_BYTES):
        got = (bytes(got[0][:HEAD_BYTES]), got[1] and len(got[0]) <= HEAD_BYTES)
    turn = head_orientation(Path(path), got)  # type: ignore[arg-type]
    return turn, size_from_head(Path(path), got, label, orientation=turn)  # type: ignore[arg-type]


def head_orientation(path: Path, got: tuple[bytes, bool] | None) -> int:
    """`exif_orientation` of ``path`` from its first bytes (see `size_from_head`)."""
    if path.suffix.lower() not in JPEG_EXTENSIONS:
        return 1
    if got is None:
        return exif_orientation(path)
    try:
        return _jpeg_orientation(_Head(*got))
    except _NeedMore:
        return exif_orientation(path)
    except struct.error:
        return 1


class _NeedMore(Exception):
    """A header goes on beyond the bytes read so far: read the file itself."""


class _Head:
    """The first bytes of a file, read like the file (``read``, ``seek``): at its end
    (``whole``) reads come back short as a file's do; before it, a read past them raises
    `_NeedMore`. Slices of bytes, not a BytesIO: a header is parsed per exported image."""

    def __init__(self, data: bytes, whole: bool) -> None:
        self._data = data
        self._whole = whole
        self._pos = 0

    def read(self, n: int = -1) -> bytes:
        size = len(self._data)
        if n < 0 or self._pos + n > size:
            if not self._whole:
                raise _NeedMore
            n = max(0, size - self._pos)
        out = self._data[self._pos : self._pos + n]
        self._pos += n
        return out

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> None:
        pos = offset if whence == os.SEEK_SET else self._pos + offset
        if pos < 0:
            raise _NeedMore  # the file itself then gives the error a file gives
        self._pos = pos


def _head_size(path: Path, head: bytes, whole: bool) -> tuple[int, int] | None:
    try:
        if head.startswith(b"\x89PNG\r\n\x1a\n") and head[12:16] == b"IHDR":
            return struct.unpack(">II", head[16:24])
        if not head.startswith(b"\xff\xd8"):
            return None
        return _jpeg_size(_Head(head, whole))
    except _NeedMore:
        return _header_size(path)
    except struct.error:
        return None


def _header_size(path: Path) -> tuple[int, int] | None:
    f = _open_regular(path)
    if f is None:
        return None
    try:
        with f:
            head = f.read(26)
            if head.startswith(b"\x89PNG\r\n\x1a\n") and head[12:16] == b"IHDR":
                return struct.unpack(">II", head[16:24])
            if not head.startswith(b"\xff\xd8"):
                return None
            return _jpeg_size(f)
    except (OSError, struct.error):
        return None


def _jpeg_size(f: BinaryIO | _Head) -> tuple[int, int] | None:
    f.seek(2)
    while True:
        marker = f.read(2)
        if len(marker) < 2 or marker[0] != 0xFF:
            return None
        if marker[1] in (0xD8, 0x01) or 0xD0 <= marker[1] <= 0xD7:
            continue
        (length,) = struct.unpack(">H", f.read(2))
        if marker[1] in JPEG_SOF:
            h, w = struct.unpack(">HH", f.read(5)[1:5])
            return w, h
        f.seek(length - 2, os.SEEK_CUR)


def read_image(path: Path) -> np.ndarray:
    """Decode an image with its stored pixels (alpha and bit depth kept), EXIF orientation
    applied by us, so the result matches ``image_size`` whatever OpenCV's defaults are.

    The header is read first: a file over ``MAX_PIXELS`` (or over ``images.MAX_BYTES``) is
    refused before OpenCV sees it."""
    try:
        data = read_file_bytes(path)
        _, w, h, _, _ = read_header(data)
        check_pixels(w, h)
    except BadImage as e:
        raise BadImage(f"cannot read image {path}: {e}") from None
    with quiet_native_stderr():
        img = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
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
    params = [cv2.IMWRITE_JPEG_QUALITY, 95] if ext in JPEG_EXTENSIONS else []
    ok, buf = cv2.imencode(ext, img, params)
    if not ok:
        raise LabelerError(f"cannot encode {dst.name}")
    dst.parent.mkdir(parents=True, exist_ok=True)
    buf.tofile(str(dst))


# -- helpers for importers (issue 13) -----------------------------------------------------
def shown(value: object, limit: int = 60) -> str:
    """``repr(value)`` cut to ``limit`` characters, for a message about a bad value: a
    100 MB string or a deeply nested list read from a dataset stays one short line.

    >>> shown("x" * 100, 10)
    "'xxxxxxx…"
    """
    try:
        text = repr(value)
    except (RecursionError, ValueError):
        text = f"<{type(value).__name__}>"
    return text if len(text) <= limit else text[: limit - 1] + "…"


def image_files(root: Path, top: Path, problems: list[str]) -> list[Path]:
    """Every image-named regular file below ``top`` (`walk_files`), sorted; see
    `image_files_among`."""
    return image_files_among(root, walk_files(root, top, problems), problems)


def image_files_among(root: Path, paths: Sequence[Path], problems: list[str]) -> list[Path]:
    """The image-named entries of ``paths`` that are regular files (links followed). One that
    is not (a FIFO, a socket, a broken link), or whose name is not UTF-8 (the project cannot
    store it), is reported in ``problems`` and left out: nothing named like an image is
    skipped without a word."""
    found = []
    for path in paths:
        if not is_image_path(path):
            continue
        try:
            regular = stat.S_ISREG(os.stat(path).st_mode)
        except OSError as e:
            what = "a broken symbolic link" if os.path.islink(path) else e.strerror or str(e)
            problems.append(f"{shown_path(root, path)}: skipped: {what}")
            continue
        if not regular:
            problems.append(f"{shown_path(root, path)}: skipped: not a regular file")
        elif not is_utf8(str(path)):
            problems.append(
                f"{shown_path(root, path)}: skipped: the file name is not valid UTF-8 (rename it)"
            )
        else:
            found.append(path)
    return found


def is_utf8(text: str) -> bool:
    """False for a name whose bytes are not UTF-8: it reaches Python as lone surrogates,
    which the project (SQLite text) cannot store."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def shown_path(root: Path, path: Path) -> str:
    """`display`, with bytes that are not UTF-8 shown as ``\\xNN``: one printable line."""
    text = display(root, path)
    return text if is_utf8(text) else os.fsencode(text).decode("utf-8", "backslashreplace")


def head_text(head: bytes) -> bytes:
    """The first bytes of a file as UTF-8, for a format's cheap detection: a head in
    UTF-16 with a byte-order mark (which `decode_text` accepts) is converted, a cut
    character dropped, so ``b'"shapes"' in head_text(head)`` works for both."""
    if head[:2] in (b"\xff\xfe", b"\xfe\xff"):
        return head.decode("utf-16", "ignore").encode("utf-8")
    return head


def one_line(text: str) -> str:
    """``text`` printable on one line, however it was built: control characters (a newline
    in a file name read from an annotation file, ESC, DEL) and line separators are escaped
    (``\\n``, ``\\u2028``), and a byte that is not UTF-8 in a file name (which Python holds
    as a lone surrogate) is shown as ``\\xff``."""
    out = []
    for c in text:
        o = ord(c)
        if 0xDC80 <= o <= 0xDCFF:
            out.append(f"\\x{o - 0xDC00:02x}")
        elif o < 32 or o == 127 or c in "\u2028\u2029\x85" or 0xD800 <= o <= 0xDFFF:
            out.append(c.encode("unicode_escape").decode("ascii"))
        else:
            out.append(c)
    return "".join(out)
