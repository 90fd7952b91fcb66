"""Nothing lost: a window killed with SIGKILL mid-session keeps every edit it reported."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

from labeler.store.project import Project

CHILD = textwrap.dedent(
    """
    import sys
    from PySide6.QtCore import QTimer
    from labeler.core.shapes import Shape
    from labeler.gui.app import make_app
    from labeler.gui.main_window import MainWindow

    app = make_app()
    w = MainWindow(sys.argv[1], open_last=False)
    w.show()
    n = 0

    def edit():
        global n
        n += 1
        image = w.current.id
        if n % 2:
            w.set_tool("box")
            box = Shape.box(w.current_class, n, n, n + 20, n + 10)
            w.canvas.shape_drawn.emit(box)  # what a mouse drag emits
            print(f"committed box {image} {n}", flush=True)
        else:
            w.set_tool("tag")
            w.pick_class(list(w.classes)[n % 3])  # what a class key does
            print(f"committed tag {image} {list(w.classes)[n % 3]}", flush=True)
            w.step(1)

    timer = QTimer(interval=int(sys.argv[2]), timeout=edit)
    timer.start()
    app.exec()
    """
)


def run_and_kill(project_path, interval_ms: int, edits: int, beside=None) -> list[list[str]]:
    """Run the window, let it report `edits` committed edits (calling `beside()` after each,
    as a terminal user would), SIGKILL it, and return what it reported."""
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(project_path), str(interval_ms)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=env,
    )
    reported = []
    try:
        for line in child.stdout:
            if line.startswith("committed"):
                reported.append(line.split()[1:])
                if beside is not None:
                    beside()
            if len(reported) >= edits:
                break
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(10)
    assert child.returncode == -signal.SIGKILL
    assert len(reported) == edits
    return reported


def assert_on_disk(project_path, reported) -> None:
    with Project.open(project_path) as p:
        assert p.conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        for kind, image, arg in reported:
            shapes = p.shapes(int(image))
            if kind == "box":
                n = float(arg)
                assert any(s.kind == "box" and s.points[0] == (n, n) for s in shapes), (kind, arg)
            else:
                assert any(s.kind == "tag" and s.class_id == int(arg) for s in shapes)


def test_sigkill_loses_nothing_that_was_reported_committed(project_path):
    assert_on_disk(project_path, run_and_kill(project_path, 5, 9))


def test_a_terminal_beside_the_window_costs_no_edit_at_a_sigkill(project_path):
    """The window refreshes its chart on its own connection after each edit (a second
    connection in the same process); `labeler stats` runs beside it after every edit. Neither
    may make the window's committed edits vanish when it is killed."""
    labeler = Path(sys.executable).parent / "labeler"

    def stats() -> None:
        subprocess.run([labeler, "stats", str(project_path)], capture_output=True, check=True)

    assert_on_disk(project_path, run_and_kill(project_path, 400, 8, beside=stats))
