"""Files we hash and files we write: one owner for each, used by every layer.

- `sha256_file` is the identity of a file's bytes (images, export annotation files, GAN
  checkpoints); like every function that opens a file a user or a dataset named, it refuses a
  (link to a) project file this process holds open (ADR 0081).
- `atomic_writer`, `atomic_write_bytes` and `atomic_write_text` write a whole file under a
  unique temporary name beside it, flush it to disk and rename it into place, so a reader (or a
  crash) sees the old file or the new one, never half of one; a failure leaves no temporary
  file behind. Two writers of one file never share a temporary name.

>>> target = atomic_write_text(folder / "report.html", html)          # doctest: +SKIP
>>> with atomic_writer(folder / "checkpoint.pt") as f:                # doctest: +SKIP
...     torch.save(payload, f)
"""

from __future__ import annotations

import errno
import hashlib
import os
import shutil
import tempfile
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from stat import S_ISREG
from typing import Any, BinaryIO, NamedTuple

from labeler.core.errors import LabelerError
from labeler.core.held import refuse_held


def sha256_file(path: str | os.PathLike[str]) -> str:
    """Hex SHA-256 of a file's bytes, read in 1 MiB blocks (a checkpoint need not fit in
    memory). Raises `HeldFile` for a project file this process has open, and OSError when
    the file cannot be read."""
    refuse_held(path)  # a link to the open project is not a file of ours (ADR 0081)
    return read_written(path).sha256


class WrittenFile(NamedTuple):
    """What one read of a file just written says: its SHA-256, what the caller's ``look``
    made of its first bytes (None without one), and its `signature` taken on the open
    descriptor."""

    sha256: str
    seen: Any
    signature: Signature


Signature = tuple[int, int, int, int, int]
"""``(inode, size, mode, mtime_ns, ctime_ns)``: what tells, without reading it again, that a
file is still the one that was read (`signature`)."""


def signature(st: os.stat_result) -> Signature:
    """A file's `Signature` from its stat. A file cut short or rewritten since gets another
    size or modification time; replaced, another inode; its time set back by hand, another
    change time (which only the kernel sets). An equal signature is the same bytes; a
    different one may still be (a hard link made elsewhere changes the change time), so a
    caller that sees one reads the file again before it says it changed."""
    return (st.st_ino, st.st_size, st.st_mode, st.st_mtime_ns, st.st_ctime_ns)


def read_written(
    path: str | os.PathLike[str], look: Callable[[memoryview, bool], Any] | None = None
) -> WrittenFile:
    """Hex SHA-256 of a file, what ``look(first, whole)`` makes of its first bytes (so a
    caller that also needs the header, an image's size, reads the file once) and its
    `signature`, taken on the descriptor it was read through (no second lookup of the
    path), so a later ``lstat`` tells whether the file is still what was read. Refuses
    (``OSError``) a symbolic link and what is not a regular file.

    ``first`` is a view of the first read, up to 1 MiB, valid only during the call (copy
    what is kept); ``whole`` says it is all of the file. The bytes go through one buffer per
    thread, reused: a fresh block per read, or a copy of a photo's first 256 KiB to look at
    its header later, cost an export of 3,000 photos more than hashing them did (page
    faults on new memory).

    Without `refuse_held`: only for a file this process has just written into a new folder
    of its own (an export's temporary folder), which is a new file or a hard link to a
    source `link_or_copy` has checked. The check costs a ``realpath`` per file, about as
    much as hashing a photo."""
    fd = os.open(path, os.O_RDONLY | _NOFOLLOW | _NONBLOCK)
    try:
        st = os.fstat(fd)
        if not S_ISREG(st.st_mode):
            raise OSError(errno.EINVAL, "not a regular file", os.fspath(path))
        buf = _buffer()
        h = hashlib.sha256()
        n = os.readv(fd, [buf])
        # All the size the descriptor gave is read: no read for the end of the file. A
        # file that grows after this is no longer the file read (another size in its
        # `signature`), which is what a caller compares.
        last = n == st.st_size < len(buf)
        seen = None if look is None else look(buf[:n], last or not n)
        while n:
            h.update(buf[:n])
            n = 0 if last else os.readv(fd, [buf])
    finally:
        os.close(fd)
    return WrittenFile(h.hexdigest(), seen, signature(st))


def _buffer() -> memoryview:
    buf = getattr(_local, "buffer", None)
    if buf is None:
        buf = _local.buffer = memoryview(bytearray(_BLOCK))
    return buf


_local = threading.local()


_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_NONBLOCK = getattr(os, "O_NONBLOCK", 0)


_BLOCK = 1 << 20


def link_or_copy(src: str | os.PathLike[str], dst: str | os.PathLike[str]) -> str:
    """Hard-link ``src`` at ``dst`` (no bytes copied); copy when linking is impossible
    (another file system, FAT, no permission). Returns "linked" or "copied"."""
    refuse_held(src)
    try:
        try:
            os.link(src, dst)
        except FileNotFoundError:
            # The folder is made when a file needs it, not asked for every file; when the
            # link fails again the source is gone.
            os.makedirs(os.path.dirname(dst), exist_ok=True)
            os.link(src, dst)
        return "linked"
    except FileNotFoundError:
        raise
    except OSError:
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        shutil.copyfile(src, dst)
        return "copied"


def current_umask() -> int:
    """The process's umask (read by setting it and putting it back at once)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


@contextmanager
def atomic_writer(path: str | os.PathLike[str], *, sync: bool = True) -> Iterator[BinaryIO]:
    """A binary file to write ``path``'s new content into; when the block ends without an
    exception it is flushed, fsynced and renamed onto ``path``. On an exception the temporary
    file is removed and the exception (an OSError as the OS gave it) propagates. The folder
    must exist; use `atomic_write_bytes` for whole contents and one-line errors.

    ``sync=False`` leaves out the fsync, for files written by the thousand whose loss in a
    power cut costs nothing (thumbnails, an export's augmented copies in its staging folder):
    they are still never seen half-written."""
    target = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        # mkstemp makes the file 0600; the file we deliver gets the mode any new file gets
        # (0666 less the umask), so an export or report can be shared like one made by cp.
        os.chmod(fd, 0o666 & ~current_umask())
        with os.fdopen(fd, "wb") as f:
            yield f
            if sync:
                f.flush()
                os.fsync(f.fileno())
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically (see `atomic_writer`), making missing folders
    first. A failure removes the temporary file and the folders this call made, and raises
    one `LabelerError` line naming the path. Returns the path made absolute.

    Outputs a user named are checked first (``labeler.app.outputs.check_output_path``)."""
    target = Path(path).absolute()
    created: list[Path] = []
    try:
        created = make_parents(target.parent)
        with atomic_writer(target) as f:
            f.write(data)
    except BaseException as e:
        remove_created(created)
        if isinstance(e, OSError):
            raise LabelerError(f"cannot write {target}: {e.strerror or e}") from None
        raise
    return target


def atomic_write_text(path: str | os.PathLike[str], text: str) -> Path:
    """`atomic_write_bytes` for UTF-8 text; line ends are written as given (LF stays LF on
    every OS, so what we write is byte-identical everywhere)."""
    return atomic_write_bytes(path, text.encode("utf-8"))


def make_parents(folder: Path) -> list[Path]:
    """Create ``folder`` and its missing parents; returns those created, outermost first, for
    ``remove_created`` to take away when the work that needed them fails."""
    missing = []
    p = folder
    while not p.exists() and not p.is_symlink() and p.parent != p:
        missing.append(p)
        p = p.parent
    folder.mkdir(parents=True, exist_ok=True)
    return missing[::-1]


def remove_created(created: Sequence[Path]) -> None:
    """Remove folders ``make_parents`` created, innermost first, while they are empty."""
    for p in reversed(created):
        try:
            os.rmdir(p)
        except OSError:
            return
