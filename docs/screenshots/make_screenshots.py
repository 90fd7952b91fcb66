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
from shots import OUT, REPO, settle

from labeler.core.shapes import Shape  # noqa: E402
from labeler.gui.app import make_app  # noqa: E402
from labeler.store.importer import import_folders  # noqa: E402
from labeler.store.project import Project  # noqa: E402


def build(folder: Path) -> Path:
    path = folder / "demo.labeler"
    with Project.create(path) as p:
        import_folders(p, [REPO / "resources" / "cifar10-lt-mini"], labels_from_folders=True)
        import_folders(p, [REPO / "resources" / "demo-photos"])
        person = p.add_class("person", colour="#00c2ff")
        cup = p.add_class("cup", colour="#ffd400")
        coin = p.add_class("coin", colour="#ff4d6d")
        helmet = p.add_class("helmet", colour="#7cfc00")
        p.set_splits({i.id: ("train" if i.id % 5 else "val") for i in p.images()})
        astro = p.find_image("astronaut.jpg")
        p.add_shape(astro.id, Shape.box(person.id, 130, 20, 430, 510))
        p.add_shape(astro.id, Shape.box(helmet.id, 274, 330, 511, 511))
        coffee = p.find_image("coffee.jpg")
        p.add_shape(coffee.id, Shape.box(cup.id, 60, 20, 480, 330))
        coins = p.find_image("coins.png")
        coins_at = (
            (48, 46, 23), (104, 45, 20), (155, 43, 21), (210, 46, 21), (274, 46, 22),
            (338, 43, 27), (46, 123, 21), (103, 123, 19), (154, 123, 20),
        )  # fmt: skip
        for cx, cy, r in coins_at:
            pts = [(cx + r * c, cy + r * s) for c, s in _circle(10)]
            p.add_shape(coins.id, Shape.polygon(coin.id, pts))
    return path


def _circle(n: int):
    import math

    return [(math.cos(2 * math.pi * k / n), math.sin(2 * math.pi * k / n)) for k in range(n)]


def main() -> None:
    tmp = Path(tempfile.mkdtemp(prefix="labeler-shots-"))
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(tmp / "qs"))
    app = make_app()
    from labeler.gui.main_window import MainWindow

    empty = tmp / "empty.labeler"
    Project.create(empty).close()
    w = MainWindow(str(empty), open_last=False)
    w.resize(1500, 900)
    w.show()
    settle(app)
    w.grab().save(str(OUT / "empty-project.png"))
    w.close()

    path = build(tmp)
    w = MainWindow(str(path), open_last=False)
    w.resize(1500, 900)
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
            items = w.canvas.shape_items()
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
