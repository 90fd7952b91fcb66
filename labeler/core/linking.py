"""An export's images written and read back: each one linked (or copied, or re-encoded
upright) into the export, then read back whole once for its SHA-256, its upright size and its
`signature` (ADR 0096, 0106).

What a writing thread of `labeler.core.formats.export` runs: it gets plain values
(`ImageJob`), never the project's objects, returns `WrittenImage`, and raises a one-line
`LabelerError` naming the export's file or the source. The general image readers are
imported only for what a JPEG's own header does not answer.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Sequence
from pathlib import Path
from typing import NamedTuple

from labeler.core.errors import LabelerError
from labeler.core.files import Signature, WrittenFile, link_or_copy, read_written
from labeler.core.images import (
    JPEG_EXTENSIONS,
    jpeg_upright,
    path_suffix,
)

# Errors that are about the file being written, never about the file being read.
WRITE_ERRNOS = frozenset(
    e
    for e in (errno.ENOSPC, getattr(errno, "EDQUOT", None), errno.EFBIG, errno.EROFS)
    if e is not None
)


class ImageJob(NamedTuple):
    """One image to write: its source file, its path inside the export (POSIX), its
    export file name (for messages), the upright size the project recorded, and whether
    its bytes were made for this export (an augmented copy: never re-encoded again)."""

    source: str
    path: str
    file_name: str
    size: tuple[int, int]
    prerendered: bool = False


class WrittenImage(NamedTuple):
    """An image as written into the export and read back: how it got there ("linked",
    "copied", "reencoded"), the SHA-256 and `signature` of the file read back, and the
    size its header gives (upright)."""

    how: str
    sha256: str
    signature: Signature
    size: tuple[int, int]


def write_images(
    jobs: Sequence[ImageJob], root: str, final_dir: str, strip_metadata: bool
) -> list[WrittenImage]:
    """`write_image` of each job, in order (a batch: a task per image cost more than its
    link)."""
    return [write_image(j, root, final_dir, strip_metadata) for j in jobs]


def write_image(job: ImageJob, root: str, final_dir: str, strip_metadata: bool) -> WrittenImage:
    """Link the image unless it needs new pixels or no metadata, then read the written file
    back whole, once: its hash, its size, its orientation and its signature come from that
    read. A failed write (a full disk...) names the file of the export, not the source."""
    dst = f"{root}{os.sep}{job.path}"  # a string: a Path per image cost more than its link
    try:
        if strip_metadata and not job.prerendered:
            _write_upright(job.source, dst)
            how = "reencoded"
        else:
            how = link_or_copy(job.source, dst)
        got = _read_back(dst)
        turn, (w, h) = got.seen
        # A rotated JPEG must be re-encoded upright: shapes are in upright pixels and many
        # loaders (OpenCV with IGNORE_ORIENTATION, PIL without exif_transpose) ignore the tag.
        if how != "reencoded" and not job.prerendered and turn != 1:
            os.unlink(dst)
            _write_upright(job.source, dst)
            how = "reencoded"
            got = _read_back(dst)
            turn, (w, h) = got.seen
    except OSError as e:
        if not os.path.isfile(job.source):
            raise LabelerError(f"{job.file_name}: source image not found: {job.source}") from None
        if e.errno not in WRITE_ERRNOS and e.filename == job.source and e.filename2 is None:
            raise LabelerError(f"cannot read {job.source}: {e.strerror or e}") from None
        raise cannot_write(Path(final_dir) / job.path, e) from None
    check_size_on_disk(job.file_name, (w, h), job.size)
    return WrittenImage(how, got.sha256, got.signature, (w, h))


def cannot_write(path: Path, e: OSError) -> LabelerError:
    return LabelerError(f"cannot write {path}: {e.strerror or e}; the export was not changed")


def check_size_on_disk(name: str, size: tuple[int, int], recorded: tuple[int, int]) -> None:
    """A one-line `LabelerError` when an image's upright size on disk is not the size the
    project recorded at import: the file was replaced, and shapes in the project's pixels do
    not fit it. Export, assists and pre-labels refuse such a file alike."""
    if tuple(size) != tuple(recorded):
        (w, h), (rw, rh) = size, recorded
        raise LabelerError(f"{name}: the image is {w}x{h} on disk but {rw}x{rh} in the project")


def _read_back(dst: str) -> WrittenFile:  # ``seen``: the header's facts
    return read_written(dst, lambda first, whole: header_facts(dst, first, whole))


def header_facts(path: str, first: memoryview, whole: bool) -> tuple[int, tuple[int, int]]:
    """(EXIF orientation, upright size) from a file's first bytes: a plain JPEG's from one
    walk over its markers here, anything else by ``labeler.core.formats._io.head_facts``."""
    if path_suffix(path).lower() in JPEG_EXTENSIONS and (got := jpeg_upright(first, path)):
        return got
    from labeler.core.formats._io import head_facts  # the general readers, rarely needed

    return head_facts(path, (first, whole))


def _write_upright(src: str, dst: str) -> None:
    from labeler.core.formats._io import write_upright

    write_upright(Path(src), Path(dst))
