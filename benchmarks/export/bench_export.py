"""Export of a project of N photos with boxes to YOLO and COCO, beside a plain copy.

    .venv/bin/python benchmarks/export/bench_export.py [--sizes 3000 10000] [--rounds 3]

Both sizes run by default (about 5 minutes on a 2-core machine, most of it making the photos
and importing them once; ``--sizes 3000`` for a quick look). The photos are those of the
import benchmark (build/bench-import/photos-N, made on first use from
../shared/data/demo-photos). Each image gets three boxes. The peer is `shutil.copy2` of the
same files into a fresh folder in the same run. The export includes everything a user waits
for: linking, the SHA-256 of every file for the manifest, the labels, and the check that
reads the export back and compares. Rounds alternate (copy, YOLO, COCO) so machine drift
hits all alike; for each size and format it prints the median seconds of ours and of the
copy, and the ratio taken round by round (median, min, max). Goal: ratio <= 1.5.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "benchmarks" / "import"))

from bench_import import make_photos  # noqa: E402

from labeler.app.exports import export_project  # noqa: E402
from labeler.app.imports import import_folders  # noqa: E402
from labeler.app.splits import split_project  # noqa: E402
from labeler.core.shapes import Shape  # noqa: E402
from labeler.store.project import Project  # noqa: E402


def build_project(folder: Path, where: Path) -> Project:
    p = Project.create(where / "bench.labeler")
    import_folders(p, [folder])
    classes = [p.add_class(n).id for n in ("car", "person", "dog")]
    with p.atomic():
        for img in p.images():
            for k, cid in enumerate(classes):
                x = 50 + 300 * k
                p.add_shape(img.id, Shape.box(cid, x, 100 + k * 40, x + 200, 400 + k * 60))
    split_project(p, (0.8, 0.1, 0.1), 0)
    return p


def time_copy(files: list[Path], dst: Path) -> float:
    t = time.perf_counter()
    dst.mkdir()
    for i, f in enumerate(files):
        shutil.copy2(f, dst / f"{i:06d}{f.suffix}")
    return time.perf_counter() - t


def time_export(p: Project, fmt: str, dst: Path) -> float:
    t = time.perf_counter()
    out = export_project(p, fmt, dst)
    assert out.report.verified
    return time.perf_counter() - t


def run_size(n: int, rounds: int) -> None:
    folder = make_photos(n)
    with tempfile.TemporaryDirectory(dir=REPO / "build") as tmp:
        tmp_path = Path(tmp)
        p = build_project(folder, tmp_path)
        files = [p.resolve(i) for i in p.images()]
        results: dict[str, list[float]] = {"yolo": [], "coco": []}
        copies: list[float] = []
        for r in range(rounds):
            copies.append(time_copy(files, tmp_path / f"copy{r}"))
            for fmt in results:
                results[fmt].append(time_export(p, fmt, tmp_path / f"{fmt}{r}"))
            for d in tmp_path.glob("*[0-9]"):
                shutil.rmtree(d)
        copy_s = statistics.median(copies)
        for fmt, times in results.items():
            ratios = sorted(t / c for t, c in zip(times, copies, strict=True))
            print(
                f"{n:>6} photos  {fmt:<5} ours {statistics.median(times):6.2f} s"
                f"  copy2 {copy_s:6.2f} s  ratio {statistics.median(ratios):.2f}"
                f" (min {ratios[0]:.2f}, max {ratios[-1]:.2f}; {rounds} rounds; goal <= 1.50)",
                flush=True,
            )
        p.close()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", type=int, nargs="+", default=[3_000, 10_000])
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    print("export (3 boxes per photo, re-read check included) beside shutil.copy2 of the files")
    for n in args.sizes:
        run_size(n, args.rounds)


if __name__ == "__main__":
    main()
