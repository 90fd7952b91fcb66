"""Importing folders of images into a project.

Files are probed (read, hashed, header parsed, decoded at reduced size to verify them and
compute the perceptual hash) in worker processes, a bounded number of chunks in flight so
memory stays flat however large the folder; the main process alone writes to the project, in
batches of one transaction each, so an interrupted import (cancelled, Ctrl-C, killed) keeps
what it committed and a re-run adds only the rest. Bad files never stop an import: each is
skipped with its reason. An import that fails (an error, not an interruption) undoes what it
committed, so the project is as it was before (ADR 0080 and DESIGN.md, "Files and processes").

With labels from folders, a class folder whose name is not a valid class name is reported once
with the reason, and its images are imported untagged and counted; so are the images lying in
the source folder itself, outside any class folder: nothing is left out unsaid.

Odd entries never stop or hang an import: what is named like an image but is not a regular
file (a FIFO, a socket, a broken link, a link loop) is probed without blocking and skipped
with its reason; a symbolic link to a folder is not followed (no loops) and is listed; a folder
that cannot be read is listed; a file or folder whose name is not valid UTF-8 (the project
stores paths as text) is listed, once for a folder, with ``\\xNN`` for the bad bytes.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

from labeler.core import procs
from labeler.core.errors import LabelerError
from labeler.core.images import BadImage, ImageInfo, is_image_path, probe_file
from labeler.core.model import validate_class_name
from labeler.core.progress import ProgressFn, ShouldStop, never_stop, no_progress
from labeler.core.shapes import Shape
from labeler.store.name_key import name_key
from labeler.store.project import Project

BATCH = 256  # images per transaction: small enough to lose little, large enough to be fast
CHUNK = 16  # files per worker task
_IN_PROCESS_BELOW = 48  # a process pool costs more than it saves on a handful of files


@dataclass(frozen=True, slots=True)
class Skipped:
    path: str
    reason: str


NOT_IN_A_CLASS_FOLDER = "not inside a class folder: the images lie in the source folder itself"


@dataclass
class UntaggedFolder:
    """Images imported untagged with labels from folders, counted per folder: a class folder
    whose name is not a valid class name, or the source folder itself (`NOT_IN_A_CLASS_FOLDER`)
    for the images lying directly in it."""

    path: str
    reason: str
    images: int = 0


@dataclass
class ImportReport:
    added: int = 0
    already_present: int = 0
    relinked: int = 0
    duplicates: list[Skipped] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    classes_created: list[str] = field(default_factory=list)
    tags_added: int = 0
    untagged: int = 0  # images added without the tag of their folder (see untagged_folders)
    untagged_folders: list[UntaggedFolder] = field(default_factory=list)
    cancelled: bool = False

    def to_dict(self) -> dict:
        d = asdict(self)
        d["duplicates"] = [asdict(s) for s in self.duplicates]
        d["skipped"] = [asdict(s) for s in self.skipped]
        d["untagged_folders"] = [asdict(u) for u in self.untagged_folders]
        return d


@dataclass(frozen=True, slots=True)
class _Candidate:
    path: Path  # the file as found
    root: Path  # the import root it was found under
    rel: str  # its path below the root (POSIX)


def check_sources(sources: Sequence[str | os.PathLike[str]]) -> None:
    """Refuse the whole import, before anything is read or written, if a source is missing."""
    for src in sources:
        root = Path(src).absolute()
        if root.is_symlink() and not root.exists():
            continue  # a broken link is reported as a skipped file
        if not root.exists():
            raise LabelerError(f"no such file or folder: {src}")
        if not (root.is_dir() or root.is_file()):
            raise LabelerError(f"not a file or folder: {src}")


NOT_UTF8 = "the name is not valid UTF-8 (the project stores paths as text): rename it to import it"
LINKED_FOLDER = "a symbolic link to a folder is not followed (so links cannot loop)"


def iter_candidates(
    sources: Sequence[str | os.PathLike[str]], skipped: list[Skipped] | None = None
) -> Iterator[_Candidate]:
    """Every file with an image extension under the sources, in a stable order.

    Symlinked files are followed, and a broken one is yielded so that it is reported.
    Added to ``skipped`` instead, each with its reason: a symbolic link to a folder (never
    followed, so a loop of links cannot trap the walk), a folder that cannot be listed, and
    a file or folder whose name is not valid UTF-8 (a folder once, for all it holds)."""
    out = skipped if skipped is not None else []

    def cannot_list(err: OSError) -> None:
        out.append(Skipped(shown_path(err.filename), f"cannot read folder: {err.strerror}"))

    for src in sources:
        root = Path(src).absolute()
        if not _is_text(str(root)):
            out.append(Skipped(shown_path(root), NOT_UTF8))
            continue
        if root.is_file() or (root.is_symlink() and not root.exists()):
            yield _Candidate(root, root.parent, root.name)
            continue
        if not root.is_dir():
            raise LabelerError(f"no such file or folder: {src}")
        for dirpath, dirnames, filenames in os.walk(root, onerror=cannot_list):
            walk_into = []
            for name in sorted(dirnames):
                folder = os.path.join(dirpath, name)
                if os.path.islink(folder):  # os.walk lists it but never goes in: say so
                    out.append(Skipped(shown_path(folder), LINKED_FOLDER))
                elif not _is_text(name):
                    out.append(Skipped(shown_path(folder), NOT_UTF8))
                else:
                    walk_into.append(name)
            dirnames[:] = walk_into
            for name in sorted(filenames):
                if not is_image_path(name):
                    continue
                p = Path(dirpath) / name
                if _is_text(name):
                    yield _Candidate(p, root, p.relative_to(root).as_posix())
                else:
                    out.append(Skipped(shown_path(p), NOT_UTF8))


def _is_text(name: str) -> bool:
    """False for a name with bytes that are not UTF-8 (Python holds them as lone surrogates,
    which SQLite cannot store)."""
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def shown_path(path: str | os.PathLike[str] | bytes | None) -> str:
    """A path as text for a report: bytes that are not UTF-8 are shown as ``\\xNN``."""
    if path is None:
        return "?"
    return os.fsdecode(path).encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def _probe(path: str) -> ImageInfo | str:
    try:
        return probe_file(path)
    except BadImage as e:
        return str(e)
    except Exception as e:  # a decoder crash on one file must not stop the others
        return f"unreadable: {type(e).__name__}: {e}"


def _probe_chunk(paths: list[str]) -> list[ImageInfo | str]:
    return [_probe(p) for p in paths]


def _quiet_worker() -> None:
    # libpng and libjpeg print to the C stderr on bad files; the report already says why.
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    import cv2

    cv2.setNumThreads(1)


def _pool_context():
    # fork is fastest but unsafe once threads exist (the GUI); forkserver is safe and cheap,
    # and preloading the probe's imports there saves every worker importing them again.
    # procs.context: the workers import nothing from the current folder (ADR 0080).
    if sys.platform.startswith("linux"):
        return procs.context("forkserver", preload=["labeler.core.images"])
    return procs.context("spawn")


def probe_many(
    paths: Iterable[str], workers: int | None = None, should_stop: ShouldStop = never_stop
) -> Iterator[tuple[str, ImageInfo | str]]:
    """(path, info or reason) for each path, in order, probed over all cores."""
    paths_iter = iter(paths)
    first = []
    for p in paths_iter:
        first.append(p)
        if len(first) >= _IN_PROCESS_BELOW:
            break
    if len(first) < _IN_PROCESS_BELOW:
        for p in first:
            if should_stop():
                return
            yield p, _probe(p)
        return
    workers = workers or os.cpu_count() or 1
    pending: list[tuple[list[str], Future]] = []

    def chunks() -> Iterator[list[str]]:
        buf = list(first)
        for p in paths_iter:
            buf.append(p)
            if len(buf) >= CHUNK:
                yield buf
                buf = []
        while len(buf) > CHUNK:
            yield buf[:CHUNK]
            buf = buf[CHUNK:]
        if buf:
            yield buf

    with ProcessPoolExecutor(workers, mp_context=_pool_context(), initializer=_quiet_worker) as ex:
        source = chunks()
        for chunk in source:
            pending.append((chunk, ex.submit(_probe_chunk, chunk)))
            if len(pending) >= workers * 4:
                break
        while pending:
            chunk, fut = pending.pop(0)
            yield from zip(chunk, fut.result(), strict=True)
            if should_stop():
                for _, f in pending:
                    f.cancel()
                return
            nxt = next(source, None)
            if nxt is not None:
                pending.append((nxt, ex.submit(_probe_chunk, nxt)))


def import_folders(
    project: Project,
    sources: Sequence[str | os.PathLike[str]],
    *,
    labels_from_folders: bool = False,
    copy: bool = False,
    workers: int | None = None,
    progress: ProgressFn = no_progress,
    should_stop: ShouldStop = never_stop,
) -> ImportReport:
    """Import every image under `sources` (folders or files).

    Re-running the same import adds nothing. An exact duplicate (same SHA-256) of an image
    already in the project is reported, not imported again, unless the known file has gone
    missing: then the project is relinked to the new location (moved files are found again).
    With `labels_from_folders`, `root/<class>/...` becomes an image-level tag of `<class>`; a
    folder whose name is not a valid class name is reported in `untagged_folders` and its
    images are imported untagged. With `copy`, files are copied into the project's media
    folder first. Every source is checked before anything is read. When `should_stop()`
    turns true the import ends, keeping what it committed (`cancelled`); when it fails, what
    it committed is undone and the error is raised.
    """
    check_sources(sources)
    report = ImportReport()
    undo = _Undo()
    try:
        _import(
            project,
            sources,
            report,
            undo,
            labels_from_folders,
            copy,
            workers,
            progress,
            should_stop,
        )
    except Exception as exc:
        failed = undo.run(project)
        if failed is not None:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise LabelerError(
                f"{first}; undoing the {len(undo.images)} image(s) the import had added"
                f" failed too: {failed}"
            ) from exc
        raise
    return report


def _import(
    project: Project,
    sources: Sequence[str | os.PathLike[str]],
    report: ImportReport,
    undo: _Undo,
    labels_from_folders: bool,
    copy: bool,
    workers: int | None,
    progress: ProgressFn,
    should_stop: ShouldStop,
) -> None:
    # paths only: small even for 100k files
    candidates = list(iter_candidates(sources, report.skipped))
    total = len(candidates)
    progress(0, total)
    todo: list[_Candidate] = []
    for c in candidates:
        if project.image_by_stored_path(project.stored_path(c.path)) is not None:
            report.already_present += 1
        else:
            todo.append(c)
    done = report.already_present
    progress(done, total)
    by_path = {str(c.path): c for c in todo}
    seen_sha: dict[str, str] = {}
    batch: list[tuple[_Candidate, ImageInfo]] = []
    folders = _ClassFolders(project, report, undo) if labels_from_folders else None
    for path, result in probe_many(by_path, workers, should_stop):
        cand = by_path[path]
        done += 1
        if isinstance(result, str):
            report.skipped.append(Skipped(str(cand.path), result))
        elif result.sha256 in seen_sha:
            report.duplicates.append(
                Skipped(str(cand.path), f"same content as {seen_sha[result.sha256]}")
            )
        else:
            seen_sha[result.sha256] = str(cand.path)
            batch.append((cand, result))
        if len(batch) >= BATCH:
            _commit_batch(project, batch, report, undo, folders, copy)
            batch = []
        progress(done, total)
    if should_stop() and done < total:
        report.cancelled = True
    if batch:
        _commit_batch(project, batch, report, undo, folders, copy)


class _Undo:
    """What an import committed, so that a failure can take it back."""

    def __init__(self) -> None:
        self.images: list[int] = []
        self.classes: list[int] = []
        self.relinks: list[tuple[int, str, str]] = []  # image id, old path, old updated_at
        self.files: list[Path] = []  # copied into the media folder

    def committed(self, staged: _Undo) -> None:
        self.images += staged.images
        self.classes += staged.classes
        self.relinks += staged.relinks
        self.files += staged.files

    def run(self, project: Project) -> Exception | None:
        """Take back what was committed; returns the error if that fails too."""
        try:
            if self.images or self.classes or self.relinks:
                with project.atomic():
                    project.remove_images(self.images)  # their shapes go with them
                    for class_id in self.classes:
                        if project.class_usage(class_id) == 0:
                            project.conn.execute("DELETE FROM classes WHERE id = ?", (class_id,))
                    for image_id, path, updated_at in reversed(self.relinks):
                        project.conn.execute(
                            "UPDATE images SET path = ?, name_key = ?, updated_at = ? WHERE id = ?",
                            (path, name_key(path), updated_at, image_id),
                        )
        except Exception as exc:
            return exc
        _remove_copies(project, self.files)
        return None


def _remove_copies(project: Project, files: list[Path]) -> None:
    """Delete files an import copied into the media folder, and the folders it left empty."""
    for f in files:
        f.unlink(missing_ok=True)
        parent = f.parent
        while parent != project.media_folder and parent.is_relative_to(project.media_folder):
            try:
                parent.rmdir()
            except OSError:
                break
            parent = parent.parent


class _ClassFolders:
    """The class of each top folder, created on first use; a name that is not a valid class
    name is reported once (`UntaggedFolder`) and its images stay untagged, as do those lying
    in the source folder itself, counted the same way."""

    def __init__(self, project: Project, report: ImportReport, undo: _Undo) -> None:
        self.project = project
        self.report = report
        self.undo = undo
        self.bad: dict[tuple[Path, str], UntaggedFolder] = {}

    def class_id(self, cand: _Candidate, staged: _Undo) -> int | None:
        if "/" not in cand.rel:  # lying in the source folder itself: no class folder
            return self._untagged(cand.root, "", NOT_IN_A_CLASS_FOLDER)
        name = cand.rel.split("/", 1)[0]
        if (cand.root, name) in self.bad:
            return self._untagged(cand.root, name, "")
        try:
            validate_class_name(name)
        except LabelerError as e:
            return self._untagged(cand.root, name, str(e))
        cls = self.project.class_by_name(name)
        if cls is None:
            cls = self.project.add_class(name)
            staged.classes.append(cls.id)
            self.report.classes_created.append(cls.name)
        return cls.id

    def _untagged(self, root: Path, name: str, reason: str) -> None:
        """Count one more untagged image of folder ``root/name`` (reported on its first)."""
        folder = self.bad.get((root, name))
        if folder is None:
            folder = self.bad[(root, name)] = UntaggedFolder(str(root / name), reason)
            self.report.untagged_folders.append(folder)
        folder.images += 1
        self.report.untagged += 1


def _commit_batch(
    project: Project,
    batch: list[tuple[_Candidate, ImageInfo]],
    report: ImportReport,
    undo: _Undo,
    folders: _ClassFolders | None,
    copy: bool,
) -> None:
    # The batch's counts and undo entries go into the report only once it is committed.
    staged = _Undo()
    out = ImportReport()
    try:
        with project.atomic():
            for cand, info in batch:
                _add_one(project, cand, info, out, staged, folders, copy)
    except BaseException:
        _remove_copies(project, staged.files)
        for name in out.classes_created:
            report.classes_created.remove(name)
        raise
    undo.committed(staged)
    report.added += out.added
    report.relinked += out.relinked
    report.already_present += out.already_present
    report.duplicates += out.duplicates
    report.tags_added += out.tags_added


def _add_one(
    project: Project,
    cand: _Candidate,
    info: ImageInfo,
    out: ImportReport,
    staged: _Undo,
    folders: _ClassFolders | None,
    copy: bool,
) -> None:
    known = project.image_by_sha(info.sha256)
    if known is not None:
        known_file = project.resolve(known)
        if not known_file.exists():
            staged.relinks.append((known.id, known.path, known.updated_at))
            project.relink_image(known.id, cand.path)
            out.relinked += 1
        elif copy and known_file.is_relative_to(project.media_folder):
            out.already_present += 1  # a re-run of the same --copy import
        else:
            out.duplicates.append(
                Skipped(str(cand.path), f"same content as image {known.id} ({known.path})")
            )
        return
    if copy:
        path = _copy_into_project(project, cand, info)
        staged.files.append(path)
    else:
        path = cand.path
    parent = Path(cand.rel).parent.as_posix()
    group = f"{cand.root.name}/{parent}" if parent != "." else cand.root.name
    image_id = project.add_probed(path, info, source_group=group)
    staged.images.append(image_id)
    out.added += 1
    if folders is not None:
        class_id = folders.class_id(cand, staged)
        if class_id is not None:
            project.add_shape(image_id, Shape.tag(class_id))
            out.tags_added += 1


def _copy_into_project(project: Project, cand: _Candidate, info: ImageInfo) -> Path:
    dest = project.media_folder / "imported" / cand.root.name / cand.rel
    if dest.exists():
        dest = dest.with_name(f"{dest.stem}-{info.sha256[:8]}{dest.suffix}")
    tmp = dest.with_name(f".{dest.name}.{os.getpid()}.tmp")
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(cand.path, tmp)
        os.replace(tmp, dest)
    except OSError as e:
        tmp.unlink(missing_ok=True)
        raise LabelerError(
            f"cannot copy {cand.path.name} into the project: writing {dest}: {e.strerror or e}"
        ) from e
    return dest
