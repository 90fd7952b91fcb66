"""The window's data tools (split and export, recipes, health, GAN, plugins): opened from the
Data menu, one instance each per project, wired to the window through signals only.

Each tool runs its long work on its own workers with its own project connections; the window
hears back through `project_changed` (refresh the list, classes and chart),
`images_requested` (show these images) and `gan_requested` (open the GAN panel on a class).
The tools see the session (its project and current image), never the window.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtWidgets import QDialog, QVBoxLayout, QWidget

from labeler.app.session import Session

TOOLS: tuple[str, ...] = ("export", "recipes", "health", "gan", "plugins")


class DataTools:
    """Opens each tool once and shows it again on later requests; closes them with the
    project."""

    def __init__(
        self,
        parent: QWidget,
        session: Session,
        changed: Callable[[], None],
        show_images: Callable[[list[int]], None],
    ) -> None:
        self.parent = parent
        self.session = session
        self.changed = changed  # a tool changed the project: read it again
        self.show_images = show_images  # a tool points at these images
        self.open: dict[str, QWidget] = {}

    def show(self, name: str, **kwargs) -> QWidget:
        if name not in TOOLS:
            raise ValueError(f"unknown data tool {name!r}")
        tool = self.open.get(name)
        if tool is None:
            tool = self._make(name, **kwargs)
            self.open[name] = tool
        if name == "recipes" and self.session.current is not None:
            tool.set_image(self.session.current.id)
        tool.show()
        tool.raise_()
        tool.activateWindow()
        return tool

    def _make(self, name: str, **kwargs) -> QWidget:
        w, project, current = self.parent, self.session.project, self.session.current
        changed = self.changed
        if name == "export":
            from labeler.gui.export_dialog import open_export_dialog

            tool = open_export_dialog(w, project)
            tool.project_changed.connect(changed)
        elif name == "recipes":
            from labeler.gui.recipe_editor import open_recipe_editor

            image = current.id if current is not None else None
            tool = open_recipe_editor(w, project, image)
            tool.recipe_saved.connect(self._recipes_changed)
            tool.recipe_removed.connect(self._recipes_changed)
        elif name == "health":
            from labeler.gui.health_panel import open_health_panel

            tool = open_health_panel(w, project)
            tool.project_changed.connect(changed)
            tool.images_requested.connect(self.show_images)
            tool.gan_requested.connect(
                lambda names: self.show("gan", class_name=names[0] if names else None)
            )
        elif name == "gan":
            from labeler.gui.gan_panel import open_gan_panel

            tool = open_gan_panel(w, project, kwargs.get("class_name"))
            tool.project_changed.connect(changed)
        else:
            tool = _plugins_dialog(w)
        return tool

    def _recipes_changed(self, _name: str) -> None:
        export = self.open.get("export")
        if export is not None:
            export.reload_recipes()

    def close_all(self) -> None:
        """Stop every tool's work and close it (before the project closes)."""
        for tool in self.open.values():
            stop = getattr(tool, "shutdown", None)
            if callable(stop):
                stop()
            tool.close()
            tool.deleteLater()
        self.open.clear()


def _plugins_dialog(parent: QWidget) -> QDialog:
    from labeler.gui.plugins_page import PluginsPage

    dialog = QDialog(parent)
    dialog.setWindowTitle("Plugins — Labeler")
    dialog.resize(900, 420)
    layout = QVBoxLayout(dialog)
    layout.addWidget(PluginsPage(parent=dialog))
    return dialog
