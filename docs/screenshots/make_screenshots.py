"""Screenshots of the real window for docs/gui.md. Run under a real X server:

    xvfb-run -a -s "-screen 0 1600x1000x24" .venv/bin/python docs/screenshots/make_screenshots.py

Builds a demo project in a temp folder (the demo photos with a few boxes and polygons, the
long-tailed CIFAR-10 slice with tags from its folder names), opens the window and saves PNGs
beside this script.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from PySide6.QtCore import QSettings, Qt  # noqa: E402
from shots import OUT, build_demo, settle

from labeler.gui.app import make_app  # noqa: E402
from labeler.store.project import Project  # noqa: E402


def main() -> None:
    tmp = Path(tempfile.mkdtemp(prefix="labeler-shots-"))
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(tmp / "qs"))
    app = make_app()
    from labeler.gui.main_window import MainWindow

    empty = tmp / "empty.labeler"
    Project.create(empty).close()
    w = MainWindow(str(empty), open_last=False)
    # the default window size (1280x820), as a user first sees it
    w.show()
    settle(app)
    w.grab().save(str(OUT / "empty-project.png"))
    w.close()

    path = build_demo(tmp)
    w = MainWindow(str(path), open_last=False)
    # the default window size (1280x820), as a user first sees it
    w.show()
    settle(app, 1.0)
    for name, file, tool, select in (
        ("boxes", "astronaut.jpg", "box", True),
        ("polygons", "coins.png", "select", True),
    ):
        w.go_to_text(file)
        w.set_tool(tool)
        settle(app, 1.0)
        if select:
            items = list(w.canvas.items_by_id.values())
            if items:
                items[-1].setSelected(True)
        settle(app, 0.4)
        w.grab().save(str(OUT / f"{name}.png"))
    w.go_to_text("cifar10-lt-mini/cat")
    w.set_tool("tag")
    settle(app, 1.0)
    w.grab().save(str(OUT / "tagging.png"))
    w.resizeDocks([w.shapes_dock, w.dataset_dock], [120, 520], Qt.Orientation.Vertical)
    settle(app, 0.5)
    w.grab().save(str(OUT / "class-chart-window.png"))
    w.dataset_dock.grab().save(str(OUT / "class-chart.png"))
    w.close()
    print("saved", *sorted(p.name for p in OUT.glob("*.png")))


if __name__ == "__main__":
    main()
