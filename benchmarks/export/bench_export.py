"""Export of a project of N photos with boxes to YOLO and COCO, beside a plain copy.

    .venv/bin/python benchmarks/export/bench_export.py [--sizes 3000 10000] [--rounds 5]

Both sizes run by default (about 5 minutes on a 2-core machine, a minute of it making the
projects). The photos are those of the import benchmark (build/bench-import/photos-N, made
on first use from ../shared/data/demo-photos). Each image gets three boxes. The peer is
`shutil.copy2` of the same files into a fresh folder beside the export, in the same run. The
export includes everything a user waits for: reading the project, linking, the SHA-256 of
every file read back for the manifest, the labels, and the check (ADR 0096: every
annotation file read back and parsed by the importer, every image read back whole when
hashed, then a listing with an lstat per file). Rounds alternate (copy, YOLO, COCO) so
machine drift hits all alike, and each step starts after an untimed ``sync`` so that none
pays for the writeback of the one before. For each size and format it prints the median
seconds of ours and of the copy, the ratio taken round by round (median, min, max) and the
CPU seconds of both (steadier than the clock when other jobs share the cores), then both
sizes side by side. Goal: ratio <= 1.5 at both sizes.

``--dir DIR`` runs it all in DIR (the photos copied there first), e.g. on a tmpfs such as
/dev/shm: the ratio depends on what creating a file costs on the disk, which on some
virtual disks is 30 times what it is in memory (the copy creates one file per photo, a
YOLO export one label file per photo beside its hard links), so the figures from both
tell the disk from the code.
"""

from __future__ import annotations

import argparse
import os
import resource
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


def _cpu() -> float:
    """CPU seconds of this process so far, all threads, user and system."""
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def _settle() -> None:
    """Write out what the previous step left in the page cache, untimed, so that no step
    pays for another's writeback (the copy leaves 2.2 GB of it at 10,000 photos)."""
    os.sync()


def time_copy(files: list[Path], dst: Path) -> tuple[float, float]:
    """(seconds, CPU seconds) of `shutil.copy2` of ``files`` into the new folder ``dst``."""
    c, t = _cpu(), time.perf_counter()
    dst.mkdir()
    for i, f in enumerate(files):
        shutil.copy2(f, dst / f"{i:06d}{f.suffix}")
    return time.perf_counter() - t, _cpu() - c


def time_export(p: Project, fmt: str, dst: Path) -> tuple[float, float]:
    """(seconds, CPU seconds) of a checked export of ``p``."""
    c, t = _cpu(), time.perf_counter()
    out = export_project(p, fmt, dst)
    assert out.report.verified
    return time.perf_counter() - t, _cpu() - c


Ratios = dict[str, tuple[float, float, float]]  # format -> (median, min, max) ratio


def run_size(
    n: int, rounds: int, where: Path | None = None, verbose: bool = False
) -> tuple[Ratios, float]:
    """Time ``rounds`` alternating rounds at ``n`` photos; returns the ratios per format and
    the median seconds of the copy."""
    folder = make_photos(n)
    if where is not None:  # the photos on the same file system as the export
        local = where / folder.name
        if not (local / ".done").exists():
            shutil.copytree(folder, local, dirs_exist_ok=True)
        folder = local
    with tempfile.TemporaryDirectory(dir=where or REPO / "build") as tmp:
        tmp_path = Path(tmp)
        p = build_project(folder, tmp_path)
        files = [p.resolve(i) for i in p.images()]
        results: dict[str, list[tuple[float, float]]] = {"yolo": [], "coco": []}
        copies: list[tuple[float, float]] = []
        for r in range(rounds):
            _settle()
            copies.append(time_copy(files, tmp_path / f"copy{r}"))
            for fmt in results:
                _settle()
                results[fmt].append(time_export(p, fmt, tmp_path / f"{fmt}{r}"))
            if verbose:
                print(
                    f"    round {r + 1}: copy2 {copies[-1][0]:.2f} s, "
                    + ", ".join(f"{f} {t[-1][0]:.2f} s" for f, t in results.items()),
                    flush=True,
                )
            for d in tmp_path.glob("*[0-9]"):
                shutil.rmtree(d)
        copy_s = statistics.median(c for c, _ in copies)
        copy_cpu = statistics.median(c for _, c in copies)
        out: Ratios = {}
        for fmt, times in results.items():
            ratios = sorted(t / c for (t, _), (c, _) in zip(times, copies, strict=True))
            cpu = statistics.median(c for _, c in times)
            out[fmt] = (statistics.median(ratios), ratios[0], ratios[-1])
            print(
                f"{n:>6} photos  {fmt:<5} ours {statistics.median(t for t, _ in times):6.2f} s"
                f"  copy2 {copy_s:6.2f} s  ratio {out[fmt][0]:.2f}"
                f" (min {ratios[0]:.2f}, max {ratios[-1]:.2f}; {rounds} rounds; goal <= 1.50)"
                f"  CPU {cpu:.2f} s vs {copy_cpu:.2f} s",
                flush=True,
            )
        p.close()
    return out, copy_s


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", type=int, nargs="+", default=[3_000, 10_000])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--dir", type=Path, help="run in this folder (default: build/)")
    ap.add_argument("--verbose", action="store_true", help="print every round's times")
    args = ap.parse_args()
    if args.dir is not None:
        args.dir.mkdir(parents=True, exist_ok=True)
    print("export (3 boxes per photo, re-read check included) beside shutil.copy2 of the files")
    by_size = {n: run_size(n, args.rounds, args.dir, args.verbose) for n in args.sizes}
    print("\nratio to shutil.copy2, median (min-max) of the rounds; goal <= 1.50 at every size")
    print(f"{'':<6}" + "".join(f"{f'{n:,} photos':>22}" for n in by_size))
    for fmt in ("yolo", "coco"):
        cells = []
        for ratios, _ in by_size.values():
            med, lo, hi = ratios[fmt]
            flag = "" if med <= 1.5 else " !"
            cells.append(f"{med:.2f} ({lo:.2f}-{hi:.2f}){flag}")
        print(f"{fmt:<6}" + "".join(f"{c:>22}" for c in cells))
    print(f"{'copy2':<6}" + "".join(f"{f'{c:.2f} s':>22}" for _, c in by_size.values()))


if __name__ == "__main__":
    main()
