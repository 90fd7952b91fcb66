"""Import speed and memory against the fastest decode-bound loop, and `stats` on 100k images.

    .venv/bin/python benchmarks/import/bench_import.py [--sizes 2000 10000] [--stats-rows 100000]

The photos (about 1400x1050 JPEG, made from ../shared/data/demo-photos, each made unique by a
small per-file mark) are generated once into build/bench-import/. The reference is, over all
cores, read bytes + SHA-256 + cv2.IMREAD_REDUCED_COLOR_4 decode; the goal is import >= 0.8x
the reference, with peak memory flat as the folder grows. Ratios are printed; absolute times on
these shared machines are noise.
"""

from __future__ import annotations

import argparse
import hashlib
import multiprocessing
import os
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parents[2]
PHOTOS = REPO.parent / "shared" / "data" / "demo-photos"
CACHE = REPO / "build" / "bench-import"


def make_photos(n: int) -> Path:
    folder = CACHE / f"photos-{n}"
    done = folder / ".done"
    if done.exists():
        return folder
    folder.mkdir(parents=True, exist_ok=True)
    bases = [
        cv2.resize(cv2.imread(str(p)), (1400, 1050), interpolation=cv2.INTER_CUBIC)
        for p in sorted(PHOTOS.iterdir())
    ]
    rng = np.random.default_rng(0)
    for i in range(n):
        img = bases[i % len(bases)].copy()
        x, y = rng.integers(0, 1300), rng.integers(0, 950)
        img[y : y + 100, x : x + 100] = rng.integers(0, 255, 3)  # unique content per file
        sub = folder / f"{i // 1000:02d}"
        sub.mkdir(exist_ok=True)
        cv2.imwrite(str(sub / f"photo{i:05d}.jpg"), img, [cv2.IMWRITE_JPEG_QUALITY, 90])
    done.touch()
    return folder


def _reference_one(path: str) -> int:
    data = Path(path).read_bytes()
    hashlib.sha256(data).hexdigest()
    img = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_REDUCED_COLOR_4)
    return img.shape[0]


def _init_ref() -> None:
    cv2.setNumThreads(1)


def reference(folder: Path) -> float:
    files = sorted(str(p) for p in folder.rglob("*.jpg"))
    workers = os.cpu_count() or 1
    t = time.perf_counter()
    # forkserver: forking a parent whose OpenCV thread pool has run deadlocks the children.
    ctx = multiprocessing.get_context("forkserver")
    with ProcessPoolExecutor(workers, mp_context=ctx, initializer=_init_ref) as ex:
        for _ in ex.map(_reference_one, files, chunksize=16):
            pass
    return len(files) / (time.perf_counter() - t)


def ours(folder: Path, n: int) -> tuple[float, float]:
    """(images/s, peak RSS MiB of the import process) for `labeler import` as a user runs it."""
    labeler = Path(sys.executable).parent / "labeler"
    with tempfile.TemporaryDirectory() as tmp:
        proj = Path(tmp) / "bench.labeler"
        subprocess.run([labeler, "init", proj], check=True, capture_output=True)
        code = (
            "import resource, sys, time;"
            "from labeler.store.project import Project;"
            "from labeler.app.imports import import_folders;"
            "p = Project.open(sys.argv[1]); t = time.perf_counter();"
            "r = import_folders(p, [sys.argv[2]]);"
            "dt = time.perf_counter() - t;"
            "print(r.added, dt, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)"
        )
        out = subprocess.run(
            [sys.executable, "-c", code, proj, folder], check=True, capture_output=True, text=True
        ).stdout.split()
        added, seconds, rss_kib = int(out[0]), float(out[1]), int(out[2])
        assert added == n, f"imported {added} of {n}"
        return n / seconds, rss_kib / 1024


def bench_stats(rows: int) -> float:
    from labeler.store.name_key import name_key
    from labeler.store.project import Project

    with tempfile.TemporaryDirectory() as tmp:
        p = Project.create(Path(tmp) / "big.labeler")
        names = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse"]
        ids = [p.add_class(n).id for n in names]
        rng = np.random.default_rng(0)
        splits = rng.choice(["train", "val", "test", None], rows, p=[0.7, 0.1, 0.1, 0.1])
        with p.atomic():
            p.conn.executemany(
                "INSERT INTO images(id, path, name_key, sha256, phash, width, height, format,"
                " bytes, split) VALUES (?, ?, ?, ?, ?, 640, 480, 'JPEG', 1000, ?)",
                (
                    (i, f"img/{i}.jpg", name_key(f"img/{i}.jpg"), f"{i:064x}", i, splits[i - 1])
                    for i in range(1, rows + 1)
                ),
            )
            cls = rng.choice(ids, rows)
            p.conn.executemany(
                "INSERT INTO shapes(image_id, class_id, kind) VALUES (?, ?, 'tag')",
                ((i, int(cls[i - 1])) for i in range(1, rows + 1) if i % 10),
            )
        p.close()
        labeler = Path(sys.executable).parent / "labeler"
        subprocess.run([labeler, "stats", p.path], check=True, capture_output=True)  # warm
        t = time.perf_counter()
        subprocess.run([labeler, "stats", p.path, "--json"], check=True, capture_output=True)
        return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", type=int, nargs="+", default=[2000, 10000])
    ap.add_argument("--stats-rows", type=int, default=100_000)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    print(f"cores: {os.cpu_count()}", flush=True)
    peaks = []
    for n in args.sizes:
        folder = make_photos(n)
        reference(folder)  # warm the page cache for both
        refs, rates = [], []
        for _ in range(args.rounds):  # alternate, so drift in machine load hits both alike
            refs.append(reference(folder))
            rate, peak = ours(folder, n)
            rates.append(rate)
        peaks.append(peak)
        ratios = sorted(r / f for r, f in zip(rates, refs, strict=True))
        print(
            f"import {n:>6} photos 1400x1050: labeler {statistics.median(rates):7.1f} img/s |"
            f" reference (read+sha256+reduced decode, all cores)"
            f" {statistics.median(refs):7.1f} img/s | ratio {statistics.median(ratios):.2f}"
            f" (min {ratios[0]:.2f}, max {ratios[-1]:.2f}; goal >= 0.80) | peak RSS {peak:.0f} MiB",
            flush=True,
        )
    if len(peaks) > 1:
        print(
            f"memory growth {args.sizes[0]} -> {args.sizes[-1]} photos: {peaks[-1] / peaks[0]:.2f}x"
        )
    seconds = bench_stats(args.stats_rows)
    print(
        f"labeler stats on {args.stats_rows:,} images (whole command): {seconds:.2f} s |"
        f" limit 1.00 s | ratio {seconds:.2f}"
    )


if __name__ == "__main__":
    main()
