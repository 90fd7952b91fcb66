"""Near-duplicate search and the fast health checks on 100,000 synthetic images.

Hashes are random 64-bit values with planted near-duplicate families (2-5 members each,
up to 4 bits flipped from a base, so members are within 8 bits of each other). Prints the
search time, the comparisons made beside all n(n-1)/2 pairs, and the time of all the
non-learning checks (no image decoding).

    .venv/bin/python benchmarks/health/bench_neardup.py [--n 100000]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from labeler.core.health import HealthData, HealthImage, run_health
from labeler.core.health.html import render_html
from labeler.core.neardup import near_duplicate_pairs
from labeler.core.shapes import Shape


def planted_hashes(n: int, rng: np.random.Generator) -> tuple[np.ndarray, int]:
    """n hashes, about 10 % of them in families; returns the hashes and the family count."""
    hashes = rng.integers(0, 2**64, n, dtype=np.uint64, endpoint=False)
    families, k = 0, 0
    while k < n // 10:
        size = int(rng.integers(2, 6))
        base = int(hashes[k])
        for m in range(1, size):
            flips = rng.choice(64, size=int(rng.integers(0, 5)), replace=False)
            hashes[k + m] = np.uint64(base ^ sum(1 << int(f) for f in flips))
        k += size
        families += 1
    return hashes, families


def synthetic_data(n: int, rng: np.random.Generator, hashes: np.ndarray) -> HealthData:
    splits = np.array(["train", "val", "test"])[rng.choice(3, n, p=[0.8, 0.1, 0.1])]
    classes = rng.zipf(1.6, n) % 20
    shas = [f"{x:064x}" for x in rng.integers(0, 2**62, n)]
    for k in range(0, n, 1000):  # a few exact copies
        shas[k + 1] = shas[k]
    images, shapes = [], {}
    for i in range(n):
        w, h = int(rng.integers(200, 2000)), int(rng.integers(200, 2000))
        images.append(
            HealthImage(
                i + 1,
                f"/data/{i}.jpg",
                shas[i],
                int(hashes[i]),
                w,
                h,
                False,
                str(splits[i]),
                exists=True,
            )  # fmt: skip
        )
        boxes = []
        for _ in range(int(rng.integers(0, 4))):
            x, y = float(rng.uniform(0, w - 20)), float(rng.uniform(0, h - 20))
            boxes.append(Shape.box(int(classes[i]), x, y, x + float(rng.uniform(5, w - x)), y + 20))
        shapes[i + 1] = boxes
    return HealthData(images, shapes, {c: f"class{c}" for c in range(20)})


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    rng = np.random.default_rng(args.seed)
    hashes, families = planted_hashes(args.n, rng)
    t = time.perf_counter()
    result = near_duplicate_pairs(hashes, np.arange(1, args.n + 1), max_distance=8)
    search_s = time.perf_counter() - t
    all_pairs = args.n * (args.n - 1) // 2
    print(f"images: {args.n:,}  planted families: {families:,}")
    print(f"near-duplicate search: {search_s:.2f} s, {len(result.pairs):,} pairs within 8 bits")
    print(
        f"comparisons: {result.comparisons:,} of {all_pairs:,} all pairs "
        f"(ratio {result.comparisons / all_pairs:.6f}, {all_pairs / result.comparisons:,.0f}x fewer)"
    )
    data = synthetic_data(args.n, rng, hashes)
    t = time.perf_counter()
    report = run_health(data)
    checks_s = time.perf_counter() - t
    print(f"all non-learning checks (run_health without load_image): {checks_s:.2f} s")
    print(f"findings: {', '.join(f'{f.check} ({len(f.image_ids)})' for f in report.findings)}")
    t = time.perf_counter()
    html = render_html(report)
    print(f"HTML report: {time.perf_counter() - t:.2f} s, {len(html) / 1e6:.1f} MB")


if __name__ == "__main__":
    main()
