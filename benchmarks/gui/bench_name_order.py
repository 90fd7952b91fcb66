"""What the natural "Name" order costs the image list, against the plain path order SQL
gives from its index (the order before issue 17), on the same project in the same run.

    .venv/bin/python benchmarks/gui/bench_name_order.py [--rows 100000]

Prints the median of five builds of the list (order, first row, last row's position and row)
for each, and their ratio.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_gui import make_rows  # noqa: E402

from labeler.app.image_list import ImageList  # noqa: E402
from labeler.store import queries  # noqa: E402
from labeler.store.project import Project  # noqa: E402
from labeler.store.queries import ImageQuery  # noqa: E402


def build_natural(project: Project, rows: int) -> None:
    lst = ImageList(project)
    lst.row(0)
    lst.position_of(rows)
    lst.row(rows - 1)


def build_by_path(project: Project, rows: int) -> None:
    q = ImageQuery()  # the store's "name" key is the stored path, read through its index
    queries.count(project, q)
    queries.page(project, q, 0, 200)
    queries.position_of(project, q, rows)
    queries.page(project, q, (rows - 1) // 200 * 200, 200)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=100_000)
    rows = ap.parse_args().rows
    path = Path(tempfile.mkdtemp(prefix="bench-name-")) / "b.labeler"
    make_rows(path, rows)
    times: dict[str, list[float]] = {"natural": [], "path": []}
    with Project.open(path) as p:
        for _ in range(5):
            for name, build in (("natural", build_natural), ("path", build_by_path)):
                t = time.perf_counter()
                build(p, rows)
                times[name].append(time.perf_counter() - t)
    nat, by_path = (statistics.median(times[k]) * 1000 for k in ("natural", "path"))
    print(
        f"{rows:,} images: natural name order {nat:.0f} ms, path order {by_path:.0f} ms,"
        f" ratio {nat / by_path:.1f}x (extra {nat - by_path:.0f} ms on opening the list or"
        " changing its filter; goal: the whole window open < 2000 ms)"
    )


if __name__ == "__main__":
    main()
