"""Importing folders of images into a project.

Files are probed (read, hashed, header parsed, decoded at reduced size to verify them and
compute the perceptual hash) in worker processes, a bounded number of chunks in flight so
memory stays flat however large the folder; the main process alone writes to the project, in
batches of one transaction each, so an interrupted import keeps what it committed and a re-run
adds only the rest. Bad files never stop an import: each is skipped with its reason.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

from labeler.core.errors import LabelerError
from labeler.core.images import BadImage, ImageInfo, is_image_path, probe_file
from labeler.core.progress import ProgressFn, ShouldStop, never_stop, no_progress
from labeler.core.shapes import Shape
from labeler.store.project import Project

BATCH = 256  # images per transaction: small enough to lose little, large enough to be fast
CHUNK = 16  # files per worker task
_IN_PROCESS_BELOW = 48  # a process pool costs more than it saves on a handful of files


@dataclass(frozen=True, slots=True)
class Skipped:
    path: str
    reason: str


@dataclass
class ImportReport:
    added: int = 0
    already_present: int = 0
    relinked: int = 0
    duplicates: list[Skipped] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    classes_created: list[str] = field(default_factory=list)
    tags_added: int = 0
    cancelled: bool = False

    def to_dict(self) -> dict:
        d = asdict(self)
        d["duplicates"] = [asdict(s) for s in self.duplicates]
        d["skipped"] = [asdict(s) for s in self.skipped]
        return d


@dataclass(frozen=True, slots=True)
class _Candidate:
    path: Path  # the file as found
    root: Path  # the import root it was found under
    rel: str  # its path below the root (POSIX)


def iter_candidates(sources: Sequence[str | os.PathLike[str]]) -> Iterator[_Candidate]:
    """Every file with an image extension under the sources, in a stable order.

    Symlinked folders are not followed (no loops); symlinked files are, and a broken one is
    yielded so that it is reported."""
    for src in sources:
        root = Path(src).absolute()
        if root.is_file() or (root.is_symlink() and not root.exists()):
            yield _Candidate(root, root.parent, root.name)
            continue
        if not root.is_dir():
            raise LabelerError(f"no such file or folder: {src}")
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames.sort()
            for name in sorted(filenames):
                if is_image_path(name):
                    p = Path(dirpath) / name
                    yield _Candidate(p, root, p.relative_to(root).as_posix())


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
    import multiprocessing as mp

    # fork is fastest but unsafe once threads exist (the GUI); forkserver is safe and cheap,
    # and preloading the probe's imports there saves every worker importing them again.
    if not sys.platform.startswith("linux"):
        return mp.get_context("spawn")
    ctx = mp.get_context("forkserver")
    ctx.set_forkserver_preload(["labeler.core.images"])
    return ctx


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
    With `labels_from_folders`, `root/<class>/...` becomes an image-level tag of `<class>`.
    With `copy`, files are copied into the project's media folder first.
    """
    report = ImportReport()
    candidates = list(iter_candidates(sources))  # paths only: small even for 100k files
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
            _commit_batch(project, batch, report, labels_from_folders, copy)
            batch = []
        progress(done, total)
    if should_stop() and done < total:
        report.cancelled = True
    if batch:
        _commit_batch(project, batch, report, labels_from_folders, copy)
    return report


def _commit_batch(
    project: Project,
    batch: list[tuple[_Candidate, ImageInfo]],
    report: ImportReport,
    labels_from_folders: bool,
    copy: bool,
) -> None:
    with project.atomic():
        for cand, info in batch:
            known = project.image_by_sha(info.sha256)
            if known is not None:
                known_file = project.resolve(known)
                if not known_file.exists():
                    project.relink_image(known.id, cand.path)
                    report.relinked += 1
                elif copy and known_file.is_relative_to(project.media_folder):
                    report.already_present += 1  # a re-run of the same --copy import
                else:
                    report.duplicates.append(
                        Skipped(str(cand.path), f"same content as image {known.id} ({known.path})")
                    )
                continue
            path = _copy_into_project(project, cand, info) if copy else cand.path
            parent = Path(cand.rel).parent.as_posix()
            group = f"{cand.root.name}/{parent}" if parent != "." else cand.root.name
            image_id = project.add_probed(
                path,
                info,
                source_group=group,
            )
            report.added += 1
            if labels_from_folders and "/" in cand.rel:
                name = cand.rel.split("/", 1)[0]
                cls = project.class_by_name(name)
                if cls is None:
                    cls = project.add_class(name)
                    report.classes_created.append(cls.name)
                project.add_shape(image_id, Shape.tag(cls.id))
                report.tags_added += 1


def _copy_into_project(project: Project, cand: _Candidate, info: ImageInfo) -> Path:
    dest = project.media_folder / "imported" / cand.root.name / cand.rel
    if dest.exists():
        dest = dest.with_name(f"{dest.stem}-{info.sha256[:8]}{dest.suffix}")
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(cand.path, dest)
    return dest
