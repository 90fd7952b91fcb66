"""Batch augmentation over files, on all cores, for the exporter.

Each job reads one source image, augments it as copy ``copy_index`` and writes the result;
workers are processes (OpenCV and numpy release the GIL only in parts, and decoding, warping and
encoding all want a core each). At most ``in_flight`` jobs are queued at a time, so memory stays
flat however many jobs there are, and results come back in job order.

>>> jobs = [AugmentJob(Path("a.jpg"), (), "sha256...", i, Path(f"out/a_{i}.jpg")) for i in range(3)]
>>> for result in augment_files(jobs, recipe, progress=bar.update):  # doctest: +SKIP
...     if result.error: print(result.error)
"""

from __future__ import annotations

import importlib
import os
from collections import deque
from collections.abc import Iterable, Iterator, Sized
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from labeler.core import procs
from labeler.core.augment.engine import augment, rng_for
from labeler.core.augment.recipe import Recipe
from labeler.core.errors import LabelerError
from labeler.core.files import atomic_writer
from labeler.core.progress import ProgressFn, ShouldStop, never_stop, no_progress
from labeler.core.shapes import Shape

WRITE_SUFFIXES = (".jpg", ".jpeg", ".png")
JPEG_QUALITY = 95


@dataclass(frozen=True)
class AugmentJob:
    """Make augmented copy ``copy_index`` of ``source`` (whose shapes are ``shapes``, in its
    pixel coordinates with EXIF orientation applied) and write it to ``output``.
    ``image_key`` identifies the image for seeding: the SHA-256 of its bytes."""

    source: Path
    shapes: tuple[Shape, ...]
    image_key: str
    copy_index: int
    output: Path

    def __post_init__(self) -> None:
        object.__setattr__(self, "source", Path(self.source))
        object.__setattr__(self, "output", Path(self.output))
        object.__setattr__(self, "shapes", tuple(self.shapes))
        if not all(isinstance(s, Shape) for s in self.shapes):
            raise LabelerError(f"{self.source.name}: shapes must be Shape objects")
        if (
            isinstance(self.copy_index, bool)
            or not isinstance(self.copy_index, int)
            or self.copy_index < 0
        ):
            raise LabelerError(
                f"{self.source.name}: copy index must be >= 0, got {self.copy_index!r}"
            )
        if self.output.suffix.lower() not in WRITE_SUFFIXES:
            raise LabelerError(
                f"cannot write {self.output.name}: use one of {', '.join(WRITE_SUFFIXES)}"
            )


@dataclass(frozen=True)
class AugmentResult:
    """What a job produced: the shapes in the written image's coordinates and its size, or an
    ``error`` line (the job's file was not written) when the source could not be used or the
    output could not be written; ``write_failed`` tells the second case (a full disk...), where
    ``error`` names the output, not the source."""

    job: AugmentJob
    shapes: tuple[Shape, ...]
    width: int
    height: int
    error: str | None = None
    write_failed: bool = False

    @property
    def ok(self) -> bool:
        return self.error is None


def read_image(path: Path) -> np.ndarray:
    """Decode an image as uint8 BGR, or grey when the file is grey, with EXIF orientation
    applied (the coordinates shapes are stored in). Reading bytes first works for any path."""
    data = np.fromfile(str(path), dtype=np.uint8)
    image = cv2.imdecode(data, cv2.IMREAD_ANYCOLOR) if data.size else None
    if image is None:
        raise LabelerError(f"cannot decode image {path.name}")
    if image.ndim == 3 and image.shape[2] == 4:
        image = cv2.cvtColor(image, cv2.COLOR_BGRA2BGR)
    return image


def encode_image(path: Path, image: np.ndarray) -> bytes:
    """The encoded bytes of ``image`` for ``path``'s extension (JPEG quality 95, PNG)."""
    suffix = path.suffix.lower()
    params = [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY] if suffix in (".jpg", ".jpeg") else []
    ok, buf = cv2.imencode(suffix, image, params)
    if not ok:
        raise LabelerError(f"cannot encode {path.name}")
    return buf.tobytes()


def write_image(path: Path, image: np.ndarray) -> None:
    """Encode by extension (JPEG quality 95, PNG) and replace ``path`` atomically."""
    buf = encode_image(path, image)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_writer(path, sync=False) as f:  # written by the thousand; see atomic_writer
        f.write(buf)


def run_job(job: AugmentJob, recipe: Recipe, seed: int) -> AugmentResult:
    """Do one job in this process; a bad source or output becomes ``error``, not an exception."""
    try:
        image = read_image(job.source)
        rng = rng_for(seed, job.image_key, job.copy_index)
        out, shapes = augment(image, job.shapes, recipe, rng)
    except (LabelerError, OSError, cv2.error) as exc:
        msg = str(exc).strip().splitlines()[-1] if str(exc).strip() else type(exc).__name__
        return AugmentResult(job, (), 0, 0, error=f"{job.source}: {msg}")
    try:
        write_image(job.output, out)
    except OSError as exc:
        why = exc.strerror or str(exc).strip() or type(exc).__name__
        return AugmentResult(
            job, (), 0, 0, error=f"cannot write {job.output}: {why}", write_failed=True
        )
    return AugmentResult(job, tuple(shapes), out.shape[1], out.shape[0])


_WORKER_STATE: tuple[Recipe, int] | None = None


def _init_worker(recipe_data: dict[str, Any], seed: int, modules: tuple[str, ...]) -> None:
    global _WORKER_STATE
    # One OpenCV thread per process: the pool already uses every core.
    cv2.setNumThreads(1)
    for name in modules:  # plugin ops register themselves on import (spawned workers)
        importlib.import_module(name)
    _WORKER_STATE = (Recipe.from_dict(recipe_data), seed)


def _work(job: AugmentJob) -> AugmentResult:
    assert _WORKER_STATE is not None, "worker not initialised"
    return run_job(job, *_WORKER_STATE)


def augment_files(
    jobs: Iterable[AugmentJob],
    recipe: Recipe,
    *,
    seed: int | None = None,
    workers: int | None = None,
    progress: ProgressFn | None = None,
    should_stop: ShouldStop | None = None,
    in_flight: int | None = None,
    mp_context: str = "spawn",
) -> Iterator[AugmentResult]:
    """Run jobs and yield one result per job, in job order.

    ``seed`` defaults to ``recipe.seed``; ``workers`` defaults to the number of cores, and 0
    runs everything in this process (same output, pixel for pixel). ``progress(done, total)``
    is called after each result. When ``should_stop()`` turns true no new job starts; jobs
    already running finish and are still yielded (their files exist), then the iterator ends.
    Processes are started with ``spawn`` by default (or ``forkserver``; see `procs.context`):
    safe beside Qt threads, the same on every platform, and importing nothing from the
    current folder.
    """
    if not isinstance(jobs, Sized):
        jobs = list(jobs)
    total = len(jobs)  # type: ignore[arg-type]
    seed = recipe.seed if seed is None else seed
    rng_for(seed, "", 0)  # validate the seed here, not once per job in a worker
    workers = (os.cpu_count() or 1) if workers is None else workers
    if workers < 0:
        raise LabelerError(f"workers must be >= 0, got {workers}")
    stop = should_stop or never_stop
    report = progress or no_progress
    if workers == 0:
        yield from _serial(jobs, recipe, seed, total, report, stop)
    else:
        limit = max(1, in_flight or 2 * workers)
        yield from _pooled(jobs, recipe, seed, total, report, stop, workers, limit, mp_context)


def _serial(
    jobs: Iterable[AugmentJob],
    recipe: Recipe,
    seed: int,
    total: int,
    report: ProgressFn,
    stop: ShouldStop,
) -> Iterator[AugmentResult]:
    for done, job in enumerate(jobs, 1):
        if stop():
            return
        result = run_job(job, recipe, seed)
        report(done, total)
        yield result


def _pooled(
    jobs: Iterable[AugmentJob],
    recipe: Recipe,
    seed: int,
    total: int,
    report: ProgressFn,
    stop: ShouldStop,
    workers: int,
    limit: int,
    mp_context: str,
) -> Iterator[AugmentResult]:
    modules = tuple(sorted({type(op).__module__ for op in recipe.ops()}))
    pool = ProcessPoolExecutor(
        max_workers=workers,
        mp_context=procs.context(mp_context),  # imports nothing from the cwd (ADR 0080)
        initializer=_init_worker,
        initargs=(recipe.to_dict(), seed, modules),
    )
    pending: deque[Future[AugmentResult]] = deque()
    source = iter(jobs)
    done = 0
    stopped = False
    try:
        while True:
            while not stopped and len(pending) < limit:
                if stop():
                    stopped = True
                    pending = deque(f for f in pending if not f.cancel())
                    break
                job = next(source, None)
                if job is None:
                    break
                pending.append(pool.submit(_work, job))
            if not pending:
                return
            result = pending.popleft().result()
            done += 1
            report(done, total)
            yield result
    finally:
        for f in pending:
            f.cancel()
        pool.shutdown(wait=True, cancel_futures=True)
