"""Screenshots of the recipe editor and the split and export dialog for docs/gui-data.md.
Run under a real X server:

    xvfb-run -a -s "-screen 0 1600x1000x24" .venv/bin/python \
        docs/screenshots/make_dialog_screenshots.py

Builds a demo project in a temp folder (the long-tailed CIFAR-10 slice tagged by folder, the
demo photos with a few boxes and polygons), saves a five-step recipe, opens each dialog with
real content (the preview grid rendered, an export finished) and saves PNGs beside this script.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from PySide6.QtCore import QSettings  # noqa: E402
from shots import OUT, build_demo, settle, wait_for

from labeler.core.augment import OneOf, Recipe, step  # noqa: E402
from labeler.gui.app import make_app  # noqa: E402
from labeler.store.project import Project  # noqa: E402
from labeler.store.recipes import save_recipe  # noqa: E402


def build(folder: Path) -> Path:
    """The demo project with four coins and no splits yet, plus two recipes."""
    path = build_demo(folder, coins=4, splits=False)
    with Project.open(path) as p:
        recipe = Recipe(
            (
                step("horizontal_flip", p=0.5),
                step("affine", p=0.8, scale=(0.85, 1.15), rotate=(-12, 12), shear=(-6, 6)),
                step("brightness_contrast", p=0.7, brightness=(-0.25, 0.25)),
                OneOf((step("gaussian_blur"), step("motion_blur")), p=0.3),
                step("cutout", p=0.5, holes=(1, 3), size=(0.05, 0.15)),
            ),
            name="detector-light",
            description="flips, small warps, light and blur; for the box detector",
        )
        save_recipe(p, "detector-light", recipe.to_dict())
        save_recipe(p, "flip-only", Recipe((step("horizontal_flip", p=0.5),)).to_dict())
    return path


def recipe_editor_shot(app, project: Project) -> None:
    from labeler.gui.recipe_editor import open_recipe_editor

    astro = project.find_image("astronaut.jpg").id
    editor = open_recipe_editor(None, project, astro)
    editor.resize(1400, 820)
    editor.recipe_list.setCurrentRow(0)  # detector-light
    editor.step_list.setCurrentRow(1)  # affine: a form with four ranges
    wait_for(app, lambda: editor.grid_image() is not None)
    settle(app)
    editor.grab().save(str(OUT / "recipe-editor.png"))
    editor.stop_workers()
    editor.hide()


def export_dialog_shot(app, project: Project, folder: Path) -> None:
    from labeler.gui.export_dialog import open_export_dialog

    dialog = open_export_dialog(None, project)
    dialog.resize(1200, 700)
    dialog.split_button.click()
    wait_for(app, lambda: dialog.last_split is not None)
    dialog.format_combo.setCurrentText("coco")
    dialog.recipe_combo.setCurrentText("detector-light")
    dialog.multiplier.setValue(2)
    dialog.strip_metadata.setChecked(True)
    dialog.target_edit.setText(str(folder / "exports" / "demo-coco-v1"))
    dialog.export_button.click()
    wait_for(app, lambda: dialog.last_export is not None or "failed" in dialog.result_title.text())
    settle(app)
    dialog.grab().save(str(OUT / "export-dialog.png"))
    dialog.stop_workers()
    dialog.hide()


def main() -> None:
    tmp = Path(tempfile.mkdtemp(prefix="labeler-dialog-shots-"))
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(tmp / "qs"))
    app = make_app()
    project = Project.open(build(tmp))
    try:
        recipe_editor_shot(app, project)
        export_dialog_shot(app, project, tmp)
    finally:
        project.close()
    print(f"wrote {OUT / 'recipe-editor.png'} and {OUT / 'export-dialog.png'}")


if __name__ == "__main__":
    main()
