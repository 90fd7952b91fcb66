"""Screenshots of the Health and GAN panels for docs/gui-health-gan.md, and of the class panel
in a window at its default size (1280 x 820). Run under an X server:

    xvfb-run -a -s "-screen 0 1600x1000x24" .venv/bin/python \
        docs/screenshots/make_panel_screenshots.py

Builds a demo project in a temp folder (the long-tailed CIFAR-10 slice tagged from its folder
names and split, plus the demo photos with a few planted problems: a missing file, a moved
file, a resized copy in another split), shows the window at its default size, runs a health
check in the panel, then a tiny CPU training and one suggestion round in the GAN panel, and
saves three PNGs beside this script.
Takes about a minute on two cores.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import cv2  # noqa: E402
from PySide6.QtCore import QSettings  # noqa: E402
from shots import OUT, REPO, settle, wait_for

from labeler.app.gan import accept_suggestions  # noqa: E402
from labeler.app.imports import import_folders  # noqa: E402
from labeler.app.splits import split_project  # noqa: E402
from labeler.gui.app import make_app  # noqa: E402
from labeler.gui.gan_panel import GanPanel, open_gan_panel  # noqa: E402
from labeler.gui.health_panel import open_health_panel  # noqa: E402
from labeler.store import gan as store  # noqa: E402
from labeler.store.project import Project  # noqa: E402


def build(folder: Path) -> Path:
    """The demo project, with the planted problems the health check should find."""
    photos = folder / "photos"
    shutil.copytree(REPO / "resources" / "demo-photos", photos)
    near = folder / "near"
    near.mkdir()
    astro = cv2.imread(str(photos / "astronaut.jpg"))
    cv2.imwrite(str(near / "astronaut-small.jpg"), cv2.resize(astro, (300, 300)))
    path = folder / "demo.labeler"
    with Project.create(path) as p:
        import_folders(p, [REPO / "resources" / "cifar10-lt-mini"], labels_from_folders=True)
        import_folders(p, [photos, near])
        split_project(p, (0.8, 0.1, 0.1), 0)
        a, b = p.find_image("astronaut.jpg"), p.find_image("astronaut-small.jpg")
        p.set_splits({a.id: "train", b.id: "test"})  # a leak across splits
    (photos / "rocket.jpg").unlink()  # missing
    (folder / "moved").mkdir()
    shutil.move(photos / "chelsea.jpg", folder / "moved" / "chelsea.jpg")  # moved
    return path


def class_panel_shot(app, path: Path) -> None:
    """The Classes dock of a window at its default size: all ten CIFAR classes in view."""
    from labeler.gui.main_window import MainWindow

    w = MainWindow(str(path), open_last=False)
    w.show()
    settle(app, 1.0)
    w.classes_dock.grab().save(str(OUT / "class-panel.png"))
    w.close()


def health_shot(app, project: Project) -> None:
    panel = open_health_panel(None, project)
    panel.resize(820, 1000)  # every card in view, the label check at the bottom
    panel.start_check()
    wait_for(app, lambda: panel.report is not None and not panel.busy())
    settle(app)
    panel.grab().save(str(OUT / "health-panel.png"))
    panel.shutdown()
    panel.close()


def gan_shot(app, project: Project) -> None:
    GanPanel.torch_threads = 2
    panel = open_gan_panel(None, project)
    panel.resize(1400, 900)
    wait_for(app, lambda: panel.cuda_known)
    panel.width_box.setCurrentText("tiny")
    panel.budget_box.setCurrentText("steps")  # the CPU's default is 15 minutes
    panel.steps_spin.setValue(150)
    panel.batch_spin.setValue(32)
    panel.arch_box.setCurrentText("tiny")
    panel.clf_epochs_spin.setValue(3)
    panel.eval_epochs_spin.setValue(3)
    panel.p_min_spin.setValue(0.0)  # a 150-step generator fools no classifier: keep them all
    for start in (panel.start_training, panel.start_suggestions):
        start()
        wait_for(app, lambda: not panel.busy())
    settle(app, 1.0)
    # Accept a few of one class so the evaluation has its third row, then review the truck.
    ship = project.class_by_name("ship")
    some = store.list_suggestions(project, status="pending", class_id=ship.id)[:4]
    accept_suggestions(project, [s.id for s in some])
    panel.start_evaluation()
    wait_for(app, lambda: not panel.busy())
    panel.class_box.setCurrentIndex(panel.class_box.findData(project.class_by_name("truck").id))
    wait_for(app, lambda: panel.grid.count() > 0)
    settle(app, 1.0)
    for r in (1, 2):
        panel.grid.item(r).setSelected(True)
    panel.grid.setFocus()
    settle(app)
    panel.grab().save(str(OUT / "gan-review.png"))
    panel.shutdown()
    panel.close()


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, tmp)
        app = make_app()
        path = build(Path(tmp))
        class_panel_shot(app, path)
        with Project.open(path) as project:
            health_shot(app, project)
            gan_shot(app, project)
    print(
        f"wrote {OUT / 'class-panel.png'}, {OUT / 'health-panel.png'} and {OUT / 'gan-review.png'}"
    )


if __name__ == "__main__":
    main()
