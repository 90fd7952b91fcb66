"""The project files this process holds open, which it must never open a second time.

SQLite coordinates processes with POSIX advisory locks, and POSIX drops *every* lock a
process holds on a file when it closes *any* descriptor of that file. A process that holds a
project connection and then reads the same file another way (an "image" that is a symlink or
hard link to the project, a hash, a copy) silently loses its locks; another process then
believes it is alone, checkpoints and deletes the WAL, and edits vanish (SQLite's "How To
Corrupt An SQLite Database File", section 2.2; ADR 0081).

`Project` registers its file here while it is open; every function that opens a file a user
or a dataset named (image reads, hashes, copies) asks `refuse_held` first.

>>> is_held("/nonexistent")
False
"""

from __future__ import annotations

import os
import threading
from stat import S_ISLNK

from labeler.core.errors import LabelerError

_COMPANIONS = ("-wal", "-shm", "-journal")
_lock = threading.Lock()
_held: dict[tuple[int, int], int] = {}


class HeldFile(LabelerError):
    """A file that is (or belongs to) a project this process has open."""


def _key(path: str | os.PathLike[str]) -> tuple[int, int] | None:
    try:
        st = os.stat(path)
    except (OSError, ValueError):
        return None
    return st.st_dev, st.st_ino


def hold(path: str | os.PathLike[str]) -> None:
    """Register an open project file (counted: several connections may hold one file)."""
    key = _key(path)
    if key is not None:
        with _lock:
            _held[key] = _held.get(key, 0) + 1


def release(path: str | os.PathLike[str]) -> None:
    key = _key(path)
    if key is None:
        return
    with _lock:
        n = _held.get(key, 0) - 1
        if n > 0:
            _held[key] = n
        else:
            _held.pop(key, None)


def is_held(path: str | os.PathLike[str]) -> bool:
    """True when `path` (through any symlink or hard link) is a project file this process
    holds, or its `-wal`, `-shm` or `-journal` companion."""
    if not _held:
        return False
    try:
        st = os.lstat(path)
    except (OSError, ValueError):
        st = None
    link = st is not None and S_ISLNK(st.st_mode)
    # A plain file's lstat is its stat: one syscall; only a link is followed.
    key = _key(path) if link else None if st is None else (st.st_dev, st.st_ino)
    if key is not None and key in _held:
        return True
    # A companion file is only reached by its own name or through a link to it; the
    # realpath (an lstat per path component) is paid only then.
    if not os.fspath(path).endswith(_COMPANIONS) and not link:
        return False
    real = os.path.realpath(path)
    for suffix in _COMPANIONS:
        if real.endswith(suffix):
            base = _key(real[: -len(suffix)])
            if base is not None and base in _held:
                return True
    return False


def refuse_held(path: str | os.PathLike[str]) -> None:
    """Raise `HeldFile` when opening `path` would open a held project file again."""
    if is_held(path):
        raise HeldFile(f"{os.fspath(path)} is a Labeler project file in use, not an image")
