"""The annotation window's speed: next-image latency and opening a 100,000-image project.

    .venv/bin/python benchmarks/gui/bench_gui.py [--images 40] [--rows 10000 100000]

1. Next image: 1400x1050 JPEGs (made from resources/demo-photos with cv2) in a temp folder;
   the window shows one, the benchmark presses D and times key press -> the new image painted
   (the viewport repainted with the new pixels), with an annotator's pause between presses so
   prefetching can work. Goal: p95 < 50 ms.
2. Open: a project of N synthetic image rows (SQL, no files) -> a usable window (list counted,
   first page fetched, first image selected). Goal: < 2 s for 100,000. The list model's memory
   must stay flat: RSS after scrolling the whole list is printed for each N.
Each figure is printed beside its goal as a ratio (< 1 is within the goal). Runs offscreen.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))


def rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def _window(path: Path):
    from labeler.gui.app import make_app
    from labeler.gui.main_window import MainWindow

    app = make_app()
    w = MainWindow(str(path), open_last=False)
    w.resize(1400, 900)
    w.show()
    return app, w


def bench_next_image(n: int, pause_ms: int) -> None:
    import cv2
    from PySide6.QtCore import Qt
    from PySide6.QtTest import QTest

    from labeler.app.imports import import_folders
    from labeler.store.project import Project

    tmp = Path(tempfile.mkdtemp(prefix="bench-gui-"))
    photos = sorted((REPO / "resources" / "demo-photos").iterdir())
    (tmp / "imgs").mkdir()
    for i in range(n):
        img = cv2.resize(cv2.imread(str(photos[i % len(photos)])), (1400, 1050))
        cv2.putText(img, str(i), (50, 200), cv2.FONT_HERSHEY_SIMPLEX, 5, (255, 255, 255), 8)
        cv2.imwrite(str(tmp / "imgs" / f"p{i:04d}.jpg"), img, [cv2.IMWRITE_JPEG_QUALITY, 92])
    with Project.create(tmp / "b.labeler") as p:
        import_folders(p, [tmp / "imgs"])
    app, w = _window(tmp / "b.labeler")
    shown: dict[int, float] = {}
    w.loader.image_loaded.connect(
        lambda i, _img, full: shown.setdefault(i, time.perf_counter()) if full else None
    )

    def wait(cond, timeout=5.0):
        end = time.perf_counter() + timeout
        while not cond() and time.perf_counter() < end:
            app.processEvents()
        return cond()

    wait(lambda: w.canvas.has_pixels())
    w.canvas.setFocus()
    times = []
    for _ in range(n - 1):
        end = time.perf_counter() + pause_ms / 1000
        while time.perf_counter() < end:
            app.processEvents()
        target_row = w.current_row + 1
        t0 = time.perf_counter()
        QTest.keyClick(w.canvas, Qt.Key.Key_D)
        wait(lambda r=target_row: w.current_row == r and w.current.id in shown)
        w.canvas.viewport().repaint()  # paint now: the latency ends when pixels are on screen
        times.append((time.perf_counter() - t0) * 1000)
    w.close()
    times.sort()
    med = statistics.median(times)
    p95 = times[int(0.95 * (len(times) - 1))]
    print(f"next image, 1400x1050 JPEG, {len(times)} presses, {pause_ms} ms apart (prefetch on):")
    print(f"  median {med:6.1f} ms   p95 {p95:6.1f} ms   goal p95 < 50 ms   ratio {p95 / 50:.2f}")


def make_rows(path: Path, rows: int) -> None:
    from labeler.store.name_key import name_key
    from labeler.store.project import Project

    with Project.create(path) as p:
        p.add_class("cat")
        p.add_class("dog")
        with p.atomic():
            paths = (f"imgs/{i // 1000:03d}/img{i:06d}.jpg" for i in range(rows))
            p.conn.executemany(
                "INSERT INTO images(path, name_key, sha256, width, height, format, bytes)"
                " VALUES (?, ?, ?, 640, 480, 'JPEG', 1000)",
                ((path, name_key(path), f"{i:064x}") for i, path in enumerate(paths)),
            )
            p.conn.executemany(
                "INSERT INTO shapes(image_id, class_id, kind) VALUES (?, ?, 'tag')",
                ((i, 1 + i % 2) for i in range(1, rows, 3)),
            )


def bench_open(rows: int) -> None:
    """Runs in its own process so RSS figures do not mix."""
    tmp = Path(tempfile.mkdtemp(prefix="bench-open-"))
    make_rows(tmp / "big.labeler", rows)
    from labeler.gui.app import make_app

    app = make_app()
    base = rss_mb()
    t0 = time.perf_counter()
    _app, w = _window(tmp / "big.labeler")
    while w.current is None:
        app.processEvents()
    app.processEvents()
    opened = time.perf_counter() - t0
    after_open = rss_mb()
    # Scroll through the whole list, a page at a time, as a user dragging the scroll bar would.
    step = max(1, rows // 200)
    for r in range(0, rows, step):
        w.list_view.scrollTo(w.model.index(r))
        app.processEvents()
    w.go_to_row(rows - 1)
    app.processEvents()
    scrolled = rss_mb()
    w.close()
    print(
        f"open {rows:>7,} images: {opened * 1000:7.0f} ms  goal < 2000 ms  ratio {opened / 2:.2f}"
        f"   RSS +{after_open - base:5.1f} MB after open, +{scrolled - base:5.1f} MB after"
        f" scrolling all ({len(w.session.images._pages)} pages cached)"
    )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--images", type=int, default=40)
    ap.add_argument("--pause-ms", type=int, default=150)
    ap.add_argument("--rows", type=int, nargs="*", default=[10_000, 100_000])
    ap.add_argument("--open-one", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.open_one:
        bench_open(args.open_one)
        return
    bench_next_image(args.images, args.pause_ms)
    for rows in args.rows:
        subprocess.run([sys.executable, __file__, "--open-one", str(rows)], check=True)


if __name__ == "__main__":
    main()
