"""What the natural "Name" order costs the image list, against the plain path order SQL
gives from its index (the order before issue 17), and against the Python sort of every name
it replaced (commit da549b5), on the same project in the same run.

    .venv/bin/python benchmarks/gui/bench_name_order.py [--rows 100000]

Prints the median of five builds of the list (order, first row, last row's position and row)
for each, and the ratios. The natural order now comes from SQL through the index on
`images.name_key` (ADR 0101).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from array import array
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_gui import make_rows  # noqa: E402

from labeler.app.image_list import ImageList  # noqa: E402
from labeler.store import queries  # noqa: E402
from labeler.store.name_key import name_key  # noqa: E402
from labeler.store.project import Project  # noqa: E402


def build_natural(project: Project, rows: int) -> None:
    lst = ImageList(project)
    lst.row(0)
    lst.position_of(rows)
    lst.row(rows - 1)


def _list_by(project: Project, rows: int, order_sql: str, key=None) -> None:
    """What `ImageList` does on opening: every id in order, the first page of rows, the
    position of the last image and its page; `key` sorts in Python as da549b5 did."""
    if key is None:
        ids = array(
            "q", (r[0] for r in project.conn.execute(f"SELECT id FROM images ORDER BY {order_sql}"))
        )
    else:
        listing = project.conn.execute(
            f"SELECT id, path FROM images ORDER BY {order_sql}"
        ).fetchall()
        ids = array("q", (i for i, _ in sorted(listing, key=key)))
    queries.rows(project, ids[:200].tolist())
    ids.index(rows)
    queries.rows(project, ids[-200:].tolist())


def build_python_sort(project: Project, rows: int) -> None:
    _list_by(project, rows, "path, id", key=lambda r: (name_key(r[1]), r[0]))


def build_by_path(project: Project, rows: int) -> None:
    _list_by(project, rows, "path, id")  # the order before issue 17, from images_path


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=100_000)
    rows = ap.parse_args().rows
    path = Path(tempfile.mkdtemp(prefix="bench-name-")) / "b.labeler"
    make_rows(path, rows)
    builds = {"natural": build_natural, "python": build_python_sort, "path": build_by_path}
    times: dict[str, list[float]] = {k: [] for k in builds}
    with Project.open(path) as p:
        for _ in range(5):
            for name, build in builds.items():
                t = time.perf_counter()
                build(p, rows)
                times[name].append(time.perf_counter() - t)
    nat, py, by_path = (statistics.median(times[k]) * 1000 for k in builds)
    print(
        f"{rows:,} images, building the list (median of 5):\n"
        f"  natural name order from SQL (name_key index) {nat:6.0f} ms\n"
        f"  natural name order sorted in Python (before)  {py:6.0f} ms   ratio {nat / py:.2f}\n"
        f"  path order from SQL (before issue 17)         {by_path:6.0f} ms   ratio"
        f" {nat / by_path:.2f}\n"
        "  (the whole window's open goal: < 2000 ms)"
    )


if __name__ == "__main__":
    main()
