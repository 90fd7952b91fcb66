"""One rule for every path a user names for us to write: an export folder (``export --out``,
the export dialog), the HTML health report (``health --html``, the health panel) and the recipe
preview grid (``recipe preview --out``).

Nothing we write lands on the project file, its companions (``-wal``, ``-shm``, ``-journal``,
the pre-upgrade backups ``NAME.labeler.schemaN.bak`` and any other name beginning with the
project file's name beside it), inside its media folder, or on an image the project references;
an export folder may also not be or contain the project's folder or a source image. Paths are
compared resolved *and* by ``(st_dev, st_ino)``, so a symlink, a hard link, a bind mount or
``a/../b`` does not get past. Only ``os.stat`` is used on the project's files: opening and closing
a descriptor of the database would drop SQLite's POSIX locks (DESIGN.md, "Files and processes").

Files are then written to a temporary name in the same folder and renamed into place
(``atomic_write_bytes`` / ``atomic_write_text``, from ``labeler.core.files``), so a failure
leaves the old file (or none).

>>> target = check_output_path(project, "report.html")              # doctest: +SKIP
>>> atomic_write_text(target, html)                                 # doctest: +SKIP
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import Literal

from labeler.core.errors import LabelerError
from labeler.core.files import atomic_write_bytes, atomic_write_text
from labeler.store.project import Project

__all__ = ["atomic_write_bytes", "atomic_write_text", "check_output_path"]

Kind = Literal["file", "folder"]
Ident = tuple[int, int]


def check_output_path(
    project: Project, path: str | os.PathLike[str], *, kind: Kind = "file"
) -> Path:
    """Refuse an output path that could overwrite or delete what the project is made of.

    ``kind="file"``: a file we will replace (report, preview grid). ``kind="folder"``: a folder
    an export will fill or replace. Returns the path made absolute; raises ``LabelerError``
    with one line naming the path and what it would hit. Nothing is created or opened.
    """
    if kind not in ("file", "folder"):
        raise ValueError(f"kind must be 'file' or 'folder', not {kind!r}")
    target = Path(path).absolute()
    real = target.resolve()
    tid = _ident(target)

    def refuse(what: str) -> LabelerError:
        return LabelerError(f"refusing to write {target}: {what}")

    if kind == "file" and target.is_dir():
        raise refuse("it is a folder; give a file name")

    proj = project.path
    folder_id = _ident(proj.parent)
    # The project file and its companions: any name beginning with the project file's name
    # beside it (-wal, -shm, -journal, .schemaN.bak, and whatever temporary names they use).
    beside = (folder_id is not None and _ident(real.parent) == folder_id) or (
        real.parent == proj.parent.resolve()
    )
    if beside and _is_companion_name(real.name, proj.name):
        raise refuse(f"the name is the project file's or one of its companions ({proj.name}*)")
    if tid is not None and tid in _project_file_ids(proj):
        raise refuse(f"it is the project file {proj.name} or one of its companions")

    media = project.media_folder
    media_id = _ident(media)
    if (media_id is not None and media_id in _chain(real)) or real.is_relative_to(media.resolve()):
        raise refuse(f"it is inside the project's media folder {media}")

    def images() -> Iterable[Path]:
        # Read only where something exists there to hit (an export's new folder has none).
        return [project.resolve(i) for i in project.images()]

    if kind == "file":
        _refuse_image_file(target, real, tid, images(), refuse)
    elif tid is not None:
        if tid in _chain(proj.parent) or proj.resolve().is_relative_to(real):
            raise refuse(f"it holds the project file {proj}; choose a folder outside it")
        hit = _image_inside(tid, real, images())
        if hit is not None:
            raise refuse(f"it holds {hit}, an image of the project; choose another folder")
    if kind == "file" and not target.parent.is_dir():
        # A report or a preview goes into a folder that exists, as cp's would: a typo in
        # the folder name must not silently create folders.
        raise refuse(f"folder {target.parent} does not exist")
    return target


# -- helpers ----------------------------------------------------------------------------------
def _ident(path: Path | str) -> Ident | None:
    """(st_dev, st_ino) of what ``path`` names, following symlinks; None when nothing is there."""
    try:
        st = os.stat(path)
    except (OSError, ValueError):
        return None
    return (st.st_dev, st.st_ino)


def _chain(path: Path, cache: dict[Path, Ident | None] | None = None) -> set[Ident]:
    """The identities of ``path`` (resolved) and every folder above it."""
    cache = {} if cache is None else cache
    out: set[Ident] = set()
    p = path.resolve()
    while True:
        if p not in cache:
            cache[p] = _ident(p)
        ident = cache[p]
        if ident is not None:
            out.add(ident)
        if p.parent == p:
            return out
        p = p.parent


def _is_companion_name(name: str, project_name: str) -> bool:
    n, base = name.casefold(), project_name.casefold()
    return n.startswith(base) or n.startswith("." + base)


def _project_file_ids(proj: Path) -> set[Ident]:
    """Identities of the project file and of its companions that exist now (os.stat only)."""
    ids = {i for i in [_ident(proj)] if i is not None}
    try:
        names = os.listdir(proj.parent)
    except OSError:
        return ids
    for name in names:
        if _is_companion_name(name, proj.name):
            ident = _ident(proj.parent / name)
            if ident is not None:
                ids.add(ident)
    return ids


def _refuse_image_file(
    target: Path, real: Path, tid: Ident | None, images: Iterable[Path], refuse
) -> None:
    names = {os.path.normcase(os.path.normpath(target)), os.path.normcase(str(real))}
    for img in images:
        if os.path.normcase(os.path.normpath(img)) in names or (
            tid is not None and _ident(img) == tid
        ):
            raise refuse(f"it is {img}, an image of the project")


def _image_inside(tid: Ident, real: Path, images: Iterable[Path]) -> Path | None:
    """An image whose folder is the folder ``tid`` or below it, or None."""
    cache: dict[Path, Ident | None] = {}
    seen: dict[Path, bool] = {}
    for img in images:
        parent = img.parent
        if parent not in seen:
            seen[parent] = tid in _chain(parent, cache) or img.resolve().is_relative_to(real)
        if seen[parent]:
            return img
    return None
