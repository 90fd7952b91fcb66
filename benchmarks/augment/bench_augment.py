"""Labeler's augmentation engine against Albumentations 2.0.8, single-threaded, plus the
batch scaling over worker processes.

Run from the repository root:  .venv/bin/python benchmarks/augment/bench_augment.py
Recipe (both sides): horizontal flip p=0.5, rotate +-15 deg, random resized crop to 512x512
with scale 0.5-1, colour jitter 0.2/0.2/0.2/0.05, Gaussian blur p=0.5, on 1024x768 photos
with two boxes each. Albumentations is a benchmark peer only; labeler/ never imports it.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from labeler.core.augment import AugmentJob, Recipe, augment, augment_files, rng_for, step  # noqa: E402
from labeler.core.shapes import Shape  # noqa: E402

PHOTOS = ROOT / ".." / "shared" / "data" / "demo-photos"
SIZE = (1024, 768)
BOXES = [(100.0, 120.0, 500.0, 600.0), (600.0, 80.0, 950.0, 400.0)]


def load_photos() -> list[np.ndarray]:
    files = sorted(p for p in PHOTOS.iterdir() if p.suffix.lower() in (".jpg", ".png"))
    if not files:
        sys.exit(f"no demo photos in {PHOTOS}")
    return [cv2.resize(cv2.imread(str(p)), SIZE, interpolation=cv2.INTER_AREA) for p in files]


def labeler_recipe() -> Recipe:
    return Recipe(
        name="bench",
        steps=(
            step("horizontal_flip", p=0.5),
            step("rotate", angle=(-15, 15)),
            step("random_resized_crop", width=512, height=512, scale=(0.5, 1.0)),
            step("color_jitter", brightness=0.2, contrast=0.2, saturation=0.2, hue=0.05),
            step("gaussian_blur", p=0.5),
        ),
    )


def albumentations_pipeline():  # noqa: ANN201
    import albumentations as A

    return A.Compose(
        [
            A.HorizontalFlip(p=0.5),
            A.Rotate(limit=15, p=1.0),
            A.RandomResizedCrop(size=(512, 512), scale=(0.5, 1.0), p=1.0),
            A.ColorJitter(0.2, 0.2, 0.2, 0.05, p=1.0),
            A.GaussianBlur(p=0.5),
        ],
        bbox_params=A.BboxParams(format="pascal_voc", label_fields=["labels"]),
        seed=0,
    )


def time_labeler(photos: list[np.ndarray], n: int) -> float:
    recipe = labeler_recipe()
    shapes = [Shape.box(i, *b) for i, b in enumerate(BOXES)]
    t = time.perf_counter()
    for i in range(n):
        augment(photos[i % len(photos)], shapes, recipe, rng_for(0, str(i % len(photos)), i))
    return n / (time.perf_counter() - t)


def time_albumentations(photos: list[np.ndarray], n: int, pipe) -> float:  # noqa: ANN001
    t = time.perf_counter()
    for i in range(n):
        pipe(image=photos[i % len(photos)], bboxes=BOXES, labels=[0, 1])
    return n / (time.perf_counter() - t)


def single_thread(photos: list[np.ndarray], n: int, rounds: int) -> None:
    pipe = albumentations_pipeline()
    time_labeler(photos, 20)  # warm-up: caches, lazy imports, page faults
    time_albumentations(photos, 20, pipe)
    ours, theirs = [], []
    for _ in range(rounds):  # interleaved, so a noisy neighbour hits both sides alike
        ours.append(time_labeler(photos, n))
        theirs.append(time_albumentations(photos, n, pipe))
    lab, alb = statistics.median(ours), statistics.median(theirs)
    print(f"single thread, {n} images x {rounds} rounds (median):")
    print(f"  labeler        {lab:8.1f} img/s")
    print(f"  albumentations {alb:8.1f} img/s")
    print(f"  ratio          {lab / alb:8.2f}x  (goal >= 2.0x)")


def batch_scaling(photos: list[np.ndarray], copies: int, workers: list[int]) -> None:
    recipe = labeler_recipe()
    shapes = tuple(Shape.box(i, *b) for i, b in enumerate(BOXES))
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp)
        for i, img in enumerate(photos):
            cv2.imwrite(str(src / f"p{i}.jpg"), img, [cv2.IMWRITE_JPEG_QUALITY, 95])
        jobs = [
            AugmentJob(src / f"p{i}.jpg", shapes, f"key{i}", c, src / "out" / f"p{i}_{c}.jpg")
            for c in range(copies)
            for i in range(len(photos))
        ]
        print(
            f"batch (decode + augment + JPEG encode + write), {len(jobs)} jobs, {os.cpu_count()} cores:"
        )
        base = None
        for w in workers:
            t0 = time.perf_counter()
            first = None
            for r in augment_files(jobs, recipe, workers=w):
                assert r.ok, r.error
                first = first or time.perf_counter()
            end = time.perf_counter()
            # Steady state: from the first result on, so process start-up (spawn + imports,
            # paid once per export) does not hide the scaling.
            rate = (len(jobs) - 1) / (end - first)
            base = base or rate
            print(
                f"  {w} worker(s)   {rate:8.1f} img/s   speed-up {rate / base:4.2f}x"
                f"   (start-up {first - t0:4.2f} s, overall {len(jobs) / (end - t0):6.1f} img/s)"
            )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=200, help="images per timed round")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--copies", type=int, default=25, help="copies per photo in the batch test")
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 2, help="N for 1 vs N")
    ap.add_argument("--skip-batch", action="store_true")
    args = ap.parse_args()
    cv2.setNumThreads(1)
    photos = load_photos()
    print(f"{len(photos)} photos at {SIZE[0]}x{SIZE[1]}, two boxes each; cv2.setNumThreads(1)")
    single_thread(photos, args.n, args.rounds)
    if not args.skip_batch:
        batch_scaling(photos, args.copies, sorted({1, args.workers}))


if __name__ == "__main__":
    main()
