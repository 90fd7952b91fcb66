"""Nothing lost: a window killed with SIGKILL mid-session keeps every edit it reported."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap

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

    timer = QTimer(interval=5, timeout=edit)
    timer.start()
    app.exec()
    """
)


def test_sigkill_loses_nothing_that_was_reported_committed(project_path, tmp_path):
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(project_path)],
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
            if len(reported) >= 9:
                break
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(10)
    assert child.returncode == -signal.SIGKILL
    assert len(reported) == 9
    with Project.open(project_path) as p:
        for kind, image, arg in reported:
            shapes = p.shapes(int(image))
            if kind == "box":
                n = float(arg)
                assert any(s.kind == "box" and s.points[0] == (n, n) for s in shapes), (kind, arg)
            else:
                assert any(s.kind == "tag" and s.class_id == int(arg) for s in shapes)
