"""The annotation window: wires the canvas, the image list, the panels, the actions and the
undo stack to one open project. Every edit goes through `UndoAdapter.push`, which writes it
to the project before anything else happens: there is nothing to save.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from PySide6.QtCore import QItemSelectionModel, QModelIndex, Qt, QTimer
from PySide6.QtGui import QAction, QCloseEvent, QColor, QImage, QKeySequence
from PySide6.QtWidgets import (
    QColorDialog,
    QComboBox,
    QDockWidget,
    QFileDialog,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QListView,
    QMainWindow,
    QMessageBox,
    QProgressDialog,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from labeler import __version__
from labeler.core.errors import LabelerError
from labeler.core.model import SPLITS, LabelClass
from labeler.core.shapes import Shape
from labeler.gui.actions import ActionRegistry, app_settings
from labeler.gui.canvas import Canvas
from labeler.gui.data_tools import DataTools
from labeler.gui.dialogs import CheatSheetDialog, ImportReportDialog, ShortcutDialog
from labeler.gui.image_list import (
    ImageListModel,
    ThumbnailLoader,
    make_list_view,
    thumbnail_cache_dir,
)
from labeler.gui.panels import ClassPanel, DatasetChart, ShapeList
from labeler.gui.undo import WRITE_ERRORS, UndoAdapter
from labeler.gui.workers import ImageLoader, Workers
from labeler.store import queries
from labeler.store.edits import (
    AddShapes,
    DeleteShapes,
    Edit,
    RemoveTag,
    SetStatus,
    SetTag,
    UpdateShapes,
)
from labeler.store.project import Project
from labeler.store.queries import ImageQuery, ImageRow

FILTERS: tuple[tuple[str, str], ...] = (
    ("All images", "all"),
    ("Unlabeled", "unlabeled"),
    ("Labeled", "labeled"),
    ("Reviewed", "reviewed"),
    ("Not reviewed", "not_reviewed"),
    ("Generated", "generated"),
    *((f"Split: {s}", f"split:{s}") for s in SPLITS),
    ("No split", "split:unassigned"),
)
SORTS: tuple[tuple[str, str], ...] = (("Name", "name"), ("Date added", "added"), ("Class", "class"))
TOOL_NAMES = {"tag": "Tag", "select": "Select", "box": "Box", "polygon": "Polygon"}


class MainWindow(QMainWindow):
    """The window. `project_path` opens a project; otherwise the last one is reopened."""

    def __init__(self, project_path: str | None = None, *, open_last: bool = True) -> None:
        super().__init__()
        self.project: Project | None = None
        self.model: ImageListModel | None = None
        self.current: ImageRow | None = None
        self.current_row: int | None = None
        self.current_class: int | None = None
        self.clipboard: list[Shape] = []
        self.classes: dict[int, LabelClass] = {}
        self.last_import_report = None
        self._class_actions: list[QAction] = []
        self._stats_task = None
        self._stats_dirty = False
        self.data_tools = DataTools(self)
        self.workers = Workers(threads=3, parent=self)
        self.loader = ImageLoader(self.workers)
        self.thumbs = ThumbnailLoader(self.workers.pool, thumbnail_cache_dir())
        self.undo = UndoAdapter(lambda: self.project, self)
        self.canvas = Canvas()
        self.setCentralWidget(self.canvas)
        self._build_docks()
        self._build_status_bar()
        self.actions = ActionRegistry(self)
        self.actions.build_menus()
        self._connect()
        self._stats_timer = QTimer(self, singleShot=True, interval=250)
        self._stats_timer.timeout.connect(self._start_stats)
        self.setWindowTitle("Labeler")
        self.resize(1280, 820)
        self._restore_layout()
        self.set_tool(str(app_settings().value("tool", "tag")))
        path = project_path or (app_settings().value("last_project") if open_last else None)
        if path and (project_path or Path(str(path)).is_file()):
            self.open_project(str(path))
        self.actions.update_enabled()

    # -- building ---------------------------------------------------------------------
    def _dock(self, title: str, widget: QWidget, area: Qt.DockWidgetArea) -> QDockWidget:
        dock = QDockWidget(title, self)
        dock.setObjectName(f"dock_{title.lower()}")
        dock.setWidget(widget)
        self.addDockWidget(area, dock)
        return dock

    def _build_docks(self) -> None:
        self.filter_box = QComboBox()
        self.sort_box = QComboBox()
        for text, key in SORTS:
            self.sort_box.addItem(text, key)
        self.list_view = make_list_view()
        images = QWidget()
        row = QHBoxLayout()
        row.addWidget(self.filter_box, 2)
        row.addWidget(self.sort_box, 1)
        col = QVBoxLayout(images)
        col.setContentsMargins(4, 4, 4, 4)
        col.addLayout(row)
        col.addWidget(self.list_view)
        self.class_panel = ClassPanel()
        self.shape_list = ShapeList()
        self.chart = DatasetChart()
        chart_scroll = QScrollArea()
        chart_scroll.setWidget(self.chart)
        chart_scroll.setWidgetResizable(True)
        left, right = Qt.DockWidgetArea.LeftDockWidgetArea, Qt.DockWidgetArea.RightDockWidgetArea
        self.images_dock = self._dock("Images", images, left)
        self.classes_dock = self._dock("Classes", self.class_panel, right)
        self.shapes_dock = self._dock("Shapes", self.shape_list, right)
        self.dataset_dock = self._dock("Dataset", chart_scroll, right)
        self.images_dock.setMinimumWidth(230)
        self.classes_dock.setMinimumWidth(280)

    def _build_status_bar(self) -> None:
        bar = self.statusBar()
        self.tool_label = QLabel()
        self.pos_label = QLabel("–")
        self.size_label = QLabel("")
        self.zoom_label = QLabel("")
        self.saved_label = QLabel("")
        self.unsaved: str | None = None  # why the last edit could not be written
        for w in (
            self.tool_label,
            self.pos_label,
            self.size_label,
            self.zoom_label,
            self.saved_label,
        ):
            w.setContentsMargins(6, 0, 6, 0)
            bar.addPermanentWidget(w)
        bar.showMessage(f"Labeler {__version__}")

    def _connect(self) -> None:
        c = self.canvas
        c.shape_drawn.connect(self._on_shape_drawn)
        c.shapes_edited.connect(self._on_shapes_edited)
        c.selection_changed.connect(self._on_canvas_selection)
        c.zoom_changed.connect(lambda z: self.zoom_label.setText(f"{z * 100:.0f}%"))
        c.space_tapped.connect(self._on_space_tapped)
        self.shape_list.shapes_selected.connect(self.canvas.select_ids)
        self.class_panel.class_picked.connect(self.pick_class)
        self.class_panel.requested.connect(self._on_class_request)
        self.loader.image_loaded.connect(self._on_image_loaded)
        self.loader.image_failed.connect(self._on_image_failed)
        self.undo.applied.connect(self._on_edit_applied)
        self.undo.failed.connect(self._on_write_failed)
        self.undo.stack.indexChanged.connect(self._on_undo_index)
        self.filter_box.activated.connect(lambda _i: self._apply_query())
        self.sort_box.activated.connect(lambda _i: self._apply_query())

    def _on_undo_index(self, _index: int) -> None:
        self.actions.update_enabled()

    # -- layout and settings ----------------------------------------------------------
    def _restore_layout(self) -> None:
        s = app_settings()
        geometry, state = s.value("geometry"), s.value("window_state")
        if geometry is not None:
            self.restoreGeometry(geometry)
        if state is not None:
            self.restoreState(state)
        else:
            self.resizeDocks(
                [self.shapes_dock, self.dataset_dock], [160, 420], Qt.Orientation.Vertical
            )

    def closeEvent(self, event: QCloseEvent) -> None:
        if self.unsaved is not None and not self.confirm_quit_unsaved(self.unsaved):
            event.ignore()
            return
        s = app_settings()
        s.setValue("geometry", self.saveGeometry())
        s.setValue("window_state", self.saveState())
        s.setValue("tool", self.canvas.tool)
        if self.project is not None:
            s.setValue("last_project", str(self.project.path))
            if self.current is not None:
                s.setValue(f"last_image/{self.project.path}", self.current.id)
        s.sync()
        self.shutdown()
        super().closeEvent(event)

    def shutdown(self) -> None:
        """Stop every worker and close the project (idempotent)."""
        self._stats_timer.stop()
        self.data_tools.close_all()
        self.thumbs.stop()
        self.workers.shutdown()
        if self.project is not None:
            self.project.close()
            self.project = None

    # -- projects ---------------------------------------------------------------------
    def ask_open_project(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, "Open project", "", "Labeler projects (*.labeler)"
        )
        if path:
            self.open_project(path)

    def ask_new_project(self) -> None:
        path, _ = QFileDialog.getSaveFileName(
            self, "New project", "", "Labeler projects (*.labeler)"
        )
        if not path:
            return
        if not path.endswith(".labeler"):
            path += ".labeler"
        try:
            project = Project.create(path)
        except (LabelerError, OSError, sqlite3.Error) as e:
            self.error_box("Cannot create project", str(e))
            return
        self.set_project(project)

    def open_project(self, path: str) -> bool:
        try:
            project = Project.open(path)
        except (LabelerError, OSError, sqlite3.Error) as e:
            self.error_box("Cannot open project", str(e))
            return False
        self.set_project(project)
        return True

    def set_project(self, project: Project) -> None:
        self.data_tools.close_all()
        if self.project is not None:
            self.project.close()
        self.project = project
        # A locked file should say "not saved" within a couple of seconds, not freeze the
        # window for the store's default ten.
        project.conn.execute("PRAGMA busy_timeout = 2000")
        self.undo.clear()
        self.current = self.current_row = None
        self.setWindowTitle(f"{project.path.stem} — Labeler")
        self.model = ImageListModel(project, self.thumbs)
        self.list_view.setModel(self.model)
        self.list_view.selectionModel().currentChanged.connect(self._on_row_changed)
        self.actions["multi_label"].setChecked(project.multi_label)
        self.unsaved = None
        self.saved_label.setText("● all edits saved")
        self.saved_label.setStyleSheet("color: #34a853")
        self.refresh_classes()
        self._schedule_stats(0)
        app_settings().setValue("last_project", str(project.path))
        last = app_settings().value(f"last_image/{project.path}")
        row = self.model.position_of(int(last)) if last is not None else None
        self.go_to_row(row or 0)
        if self.model.rowCount() == 0:
            self.canvas.clear()
            self.canvas.show_message("No images yet: File → Import folder… (Ctrl+I)")
            self._update_status()
        self.actions.update_enabled()

    # -- navigation -------------------------------------------------------------------
    def go_to_row(self, row: int) -> None:
        if self.model is None or self.model.rowCount() == 0:
            return
        row = max(0, min(row, self.model.rowCount() - 1))
        index = self.model.index(row)
        if row == self.current_row and self.current is not None:
            return
        self.list_view.selectionModel().setCurrentIndex(
            index, QItemSelectionModel.SelectionFlag.ClearAndSelect
        )
        self.list_view.scrollTo(index, QListView.ScrollHint.PositionAtCenter)

    def go_to_image(self, image_id: int) -> None:
        """Show an image, by its row when the list's filter includes it."""
        if self.model is None or self.project is None:
            return
        row = self.model.position_of(image_id)
        if row is not None:
            self.go_to_row(row)
            return
        record = queries.row_of(self.project, image_id)
        if record is not None:
            self.list_view.selectionModel().clearCurrentIndex()
            self.show_image(record, None)

    def step(self, delta: int) -> None:
        self.go_to_row((self.current_row if self.current_row is not None else -delta) + delta)

    def next_unlabeled(self) -> None:
        if self.project is None or self.model is None:
            return
        found = queries.next_unlabeled(
            self.project, self.model.query, self.current.id if self.current else None
        )
        if found is None:
            self.statusBar().showMessage("Every image in this list is labelled.", 4000)
        else:
            self.go_to_image(found)

    def ask_go_to(self) -> None:
        text, ok = QInputDialog.getText(self, "Go to image", "Image number or file name:")
        if ok and text.strip():
            self.go_to_text(text.strip())

    def go_to_text(self, text: str) -> bool:
        """Go to image number `text` (1-based) or to the first file name matching it."""
        if self.project is None or self.model is None:
            return False
        if text.isdigit():
            self.go_to_row(int(text) - 1)
            return True
        found = queries.find_by_name(self.project, self.model.query, text)
        if found is None:
            self.statusBar().showMessage(f"No image matching {text!r} in this list.", 5000)
            return False
        self.go_to_image(found)
        return True

    def _on_row_changed(self, index: QModelIndex, _previous: QModelIndex) -> None:
        if self.model is None or not index.isValid():
            return
        record = self.model.image_row(index.row())
        if record is not None:
            self.show_image(record, index.row())

    def show_image(self, record: ImageRow, row: int | None) -> None:
        if self.project is None:
            return
        self.current, self.current_row = record, row
        self.canvas.set_image(record.width, record.height)
        self.canvas.show_message("Loading…")
        self.refresh_shapes()
        self.loader.show(
            record.id, str(self.project.resolve(record.path)), record.width, record.height
        )
        self._prefetch_neighbours(row)
        self._update_status()
        self.actions.update_enabled()

    def _prefetch_neighbours(self, row: int | None) -> None:
        if row is None or self.model is None or self.project is None:
            return
        wanted = []
        for r in (row + 1, row - 1, row + 2):
            rec = self.model.image_row(r)
            if rec is not None:
                wanted.append((rec.id, str(self.project.resolve(rec.path))))
        self.loader.prefetch(wanted)

    def _on_image_loaded(self, image_id: int, image: QImage, full: bool) -> None:
        if self.current is None or image_id != self.current.id:
            return
        self.canvas.set_pixels(image)
        self.canvas.show_message("")
        if not full:
            self.statusBar().showMessage("Preview; loading full resolution…", 2000)

    def _on_image_failed(self, image_id: int, message: str) -> None:
        if self.current is None or image_id != self.current.id:
            return
        text = f"Cannot show {self.current.name}: {message}"
        self.canvas.show_message(text + "\nIts shapes are still here and can be edited.")
        self.statusBar().showMessage(text, 10000)

    # -- shapes on screen -------------------------------------------------------------
    def refresh_shapes(self) -> None:
        if self.project is None or self.current is None:
            return
        try:
            shapes = self.project.shapes(self.current.id)
        except sqlite3.Error as e:
            self.statusBar().showMessage(f"Cannot read shapes: {e}", 10000)
            return
        cmap = {cid: (c.name, c.colour) for cid, c in self.classes.items()}
        self.canvas.set_shapes(shapes, cmap)
        self.shape_list.set_shapes(shapes, self.classes)
        self._on_canvas_selection()

    def _on_canvas_selection(self) -> None:
        self.shape_list.select_ids({s.id for s in self.canvas.selected_shapes()})
        self.actions.update_enabled()

    # -- edits ------------------------------------------------------------------------
    def apply(self, edit: Edit) -> bool:
        """Write an edit to the project and put it on the undo stack."""
        return self.undo.push(edit)

    def _on_shape_drawn(self, shape: Shape) -> None:
        if self.current is not None:
            self.apply(AddShapes(self.current.id, [shape], text=f"draw {shape.kind}"))

    def _on_shapes_edited(self, before: list[Shape], after: list[Shape], gesture: str) -> None:
        if self.current is not None:
            self.apply(UpdateShapes(self.current.id, before, after, gesture=gesture or None))

    def _on_edit_applied(self, edit: Edit) -> None:
        if self.project is None:
            return
        if self.current is None or edit.image_id != self.current.id:
            self.go_to_image(edit.image_id)  # undo of an edit made on another image
        else:
            fresh = queries.row_of(self.project, edit.image_id)
            if fresh is not None:
                self.current = fresh
            self.refresh_shapes()
        if self.model is not None:
            self.model.refresh_image(edit.image_id)
        self.unsaved = None
        self.saved_label.setText("● saved")
        self.saved_label.setStyleSheet("color: #34a853")
        self._update_status()
        self._schedule_stats()

    def confirm_quit_unsaved(self, message: str) -> bool:
        """Ask before quitting while the last edit could not be written; True quits."""
        box = QMessageBox(
            QMessageBox.Icon.Warning,
            "An edit was not saved",
            "Your last edit could not be written to the project, so it is not saved:\n\n"
            f"{message}\n\nQuit anyway and lose it, or stay and try again (the edit is"
            " written as soon as the project can be written to)?",
            QMessageBox.StandardButton.Discard | QMessageBox.StandardButton.Cancel,
            self,
        )
        box.button(QMessageBox.StandardButton.Discard).setText("Quit and lose it")
        box.button(QMessageBox.StandardButton.Cancel).setText("Stay")
        box.setDefaultButton(QMessageBox.StandardButton.Cancel)
        return box.exec() == QMessageBox.StandardButton.Discard

    def _on_write_failed(self, message: str) -> None:
        self.unsaved = message
        self.saved_label.setText("● NOT SAVED")
        self.saved_label.setStyleSheet("color: #ea4335; font-weight: bold")
        self.statusBar().showMessage(message, 15000)
        self.refresh_shapes()  # show what the project holds, not the failed gesture

    def pick_class(self, class_id: int) -> None:
        """A class key: tag (tag tool), recolour the selection, or choose the next shape's class."""
        c = self.classes.get(class_id)
        if c is None:
            return
        self.current_class = class_id
        self.canvas.set_class(class_id, c.colour)
        self.class_panel.set_current(class_id)
        selected = self.canvas.selected_shapes()
        if selected and self.current is not None:
            after = [s.with_class(class_id) for s in selected]
            if after != selected:
                self.apply(UpdateShapes(self.current.id, selected, after, text="change class"))
        elif self.canvas.tool == "tag":
            self.toggle_tag(class_id)
        self._update_status()

    def toggle_tag(self, class_id: int) -> None:
        if self.project is None or self.current is None:
            return
        has = any(
            s.kind == "tag" and s.class_id == class_id for s in self.project.shapes(self.current.id)
        )
        self.apply(
            RemoveTag(self.current.id, class_id) if has else SetTag(self.current.id, class_id)
        )

    def delete_selection(self) -> None:
        if self.current is None or self.canvas.delete_selected_vertex():
            return
        shapes = self.canvas.selected_shapes()
        if shapes:
            self.apply(DeleteShapes(self.current.id, shapes, text=f"delete {len(shapes)} shape(s)"))

    def toggle_reviewed(self) -> None:
        if self.current is not None:
            after = "new" if self.current.status == "reviewed" else "reviewed"
            self.apply(SetStatus(self.current.id, self.current.status, after))

    def copy_shapes(self) -> None:
        if self.project is None or self.current is None:
            return
        shapes = self.canvas.selected_shapes() or [
            s for s in self.project.shapes(self.current.id) if s.kind != "tag"
        ]
        self.clipboard = [Shape(s.kind, s.class_id, s.points) for s in shapes]
        self.statusBar().showMessage(f"Copied {len(shapes)} shape(s)", 3000)
        self.actions.update_enabled()

    def paste_shapes(self) -> None:
        if self.current is None or not self.clipboard:
            return
        w, h = self.current.width, self.current.height
        shapes = [
            s.with_points([(min(max(x, 0), w), min(max(y, 0), h)) for x, y in s.points])
            for s in self.clipboard
        ]
        self.apply(AddShapes(self.current.id, shapes, text=f"paste {len(shapes)} shape(s)"))

    def select_all(self) -> None:
        self.canvas.select_ids(set(self.canvas.items_by_id))

    def set_tool(self, tool: str) -> None:
        if tool not in TOOL_NAMES:
            tool = "tag"
        self.canvas.set_tool(tool)
        self.tool_label.setText(f"Tool: {TOOL_NAMES[tool]}")

    def _on_space_tapped(self) -> None:
        if "Space" in self.actions.keys("review"):
            self.actions["review"].trigger()

    def toggle_multi_label(self) -> None:
        if self.project is None:
            return
        on = not self.project.multi_label
        try:
            self.project.set_setting("multi_label", "1" if on else "0")
        except WRITE_ERRORS as e:
            self.error_box("Cannot change the setting", str(e))
        self.actions["multi_label"].setChecked(self.project.multi_label)
        self.statusBar().showMessage(
            "Multi-label: an image may carry several tags"
            if on
            else "Single-label: a new tag replaces the image's tag",
            5000,
        )

    # -- classes ----------------------------------------------------------------------
    def refresh_classes(self) -> None:
        if self.project is None:
            return
        classes = self.project.classes()
        self.classes = {c.id: c for c in classes}
        if self.current_class not in self.classes:
            self.current_class = classes[0].id if classes else None
        if self.current_class is not None:
            self.canvas.set_class(self.current_class, self.classes[self.current_class].colour)
        self.class_panel.set_classes(classes, self.current_class)
        self._rebuild_class_actions(classes)
        self._rebuild_filters(classes)
        self.refresh_shapes()
        self._schedule_stats()

    def _rebuild_class_actions(self, classes: list[LabelClass]) -> None:
        for act in self._class_actions:
            self.removeAction(act)
            act.deleteLater()
        self._class_actions = []
        for c in classes:
            if not c.shortcut:
                continue
            act = QAction(f"Class {c.name}", self)
            act.setShortcut(QKeySequence(c.shortcut))
            act.triggered.connect(lambda _c=False, cid=c.id: self.pick_class(cid))
            self.addAction(act)
            self._class_actions.append(act)

    def _rebuild_filters(self, classes: list[LabelClass]) -> None:
        keep = self.filter_box.currentData()
        self.filter_box.clear()
        for text, key in FILTERS:
            self.filter_box.addItem(text, key)
        for c in classes:
            self.filter_box.addItem(f"Class: {c.name}", f"class:{c.id}")
        i = self.filter_box.findData(keep)
        self.filter_box.setCurrentIndex(max(i, 0))

    def ask_add_class(self) -> None:
        name, ok = QInputDialog.getText(self, "Add class", "Class name:")
        if ok and name.strip():
            self.add_class(name)

    def add_class(self, name: str) -> LabelClass | None:
        return self._class_write(lambda p: p.add_class(name), "Cannot add class")

    def rename_class(self, class_id: int, new: str) -> bool:
        c = self.classes[class_id]
        return self._class_write(lambda p: p.rename_class(c.name, new), "Cannot rename") is not None

    def recolour_class(self, class_id: int, colour: str) -> bool:
        return (
            self._class_write(lambda p: p.update_class(class_id, colour=colour), "Cannot recolour")
            is not None
        )

    def set_class_shortcut(self, class_id: int, key: str | None) -> bool:
        return (
            self._class_write(lambda p: p.update_class(class_id, shortcut=key), "Cannot set key")
            is not None
        )

    def merge_class(self, source_id: int, target_id: int) -> bool:
        """Merge after a confirmation that says how many shapes move."""
        src, dst = self.classes[source_id], self.classes[target_id]
        n = self.project.class_usage(source_id) if self.project else 0
        if not self.confirm(
            "Merge classes",
            f"Merge “{src.name}” into “{dst.name}”? {n} shape(s) will move to “{dst.name}” and"
            f" “{src.name}” will be removed. This cannot be undone.",
        ):
            return False
        done = self._class_write(lambda p: p.merge_classes(src.name, dst.name), "Cannot merge")
        self._after_class_removed()
        return done is not None

    def delete_class(self, class_id: int) -> bool:
        """Delete after a confirmation that says how many shapes go with it."""
        c = self.classes[class_id]
        n = self.project.class_usage(class_id) if self.project else 0
        if not self.confirm(
            "Delete class",
            f"Delete class “{c.name}” and the {n} shape(s) that use it? This cannot be undone.",
        ):
            return False
        done = self._class_write(lambda p: p.remove_class(c.name, force=True), "Cannot delete")
        self._after_class_removed()
        return done is not None

    def _after_class_removed(self) -> None:
        # Edits on the stack may name the removed class: replaying them could not succeed.
        self.undo.clear()
        if self.model is not None:
            self.model.reload()
            if self.current is not None:
                row = self.model.position_of(self.current.id)
                self.current_row = None
                self.go_to_row(row or 0)

    def _class_write(self, fn, title: str):
        if self.project is None:
            return None
        try:
            result = fn(self.project)
        except WRITE_ERRORS as e:
            self.error_box(title, str(e))
            return None
        self.refresh_classes()
        return result if result is not None else True

    def _on_class_request(self, what: str, class_id: int) -> None:
        if what == "add":
            self.ask_add_class()
            return
        c = self.classes.get(class_id)
        if c is None:
            self.statusBar().showMessage("Select a class in the list first.", 4000)
            return
        if what == "rename":
            new, ok = QInputDialog.getText(self, "Rename class", "New name:", text=c.name)
            if ok and new.strip():
                self.rename_class(class_id, new)
        elif what == "colour":
            colour = QColorDialog.getColor(QColor(c.colour), self, f"Colour of {c.name}")
            if colour.isValid():
                self.recolour_class(class_id, colour.name())
        elif what == "shortcut":
            key, ok = QInputDialog.getText(
                self, "Class key", "One key (empty for none):", text=c.shortcut or ""
            )
            if ok:
                self.set_class_shortcut(class_id, key.strip()[:1] or None)
        elif what == "merge":
            others = [o.name for o in self.classes.values() if o.id != class_id]
            target, ok = QInputDialog.getItem(
                self, "Merge class", f"Merge “{c.name}” into:", others, 0, False
            )
            if ok and target:
                dst = next(o for o in self.classes.values() if o.name == target)
                self.merge_class(class_id, dst.id)
        elif what == "delete":
            self.delete_class(class_id)

    # -- filters ----------------------------------------------------------------------
    def set_filter(self, key: str, sort: str | None = None) -> None:
        i = self.filter_box.findData(key)
        if i < 0:
            raise ValueError(f"unknown filter {key}")
        self.filter_box.setCurrentIndex(i)
        if sort is not None:
            self.sort_box.setCurrentIndex(self.sort_box.findData(sort))
        self._apply_query()

    def _apply_query(self) -> None:
        if self.model is None:
            return
        query = ImageQuery(self.filter_box.currentData() or "all", self.sort_box.currentData())
        keep = self.current.id if self.current else None
        self.model.set_query(query)
        self.current_row = None
        row = self.model.position_of(keep) if keep is not None else None
        if self.model.rowCount():
            self.current = None
            self.go_to_row(row or 0)
        self._update_status()

    # -- data tools -------------------------------------------------------------------
    def open_data_tool(self, name: str) -> QWidget | None:
        """Open (or bring back) a tool of the Data menu on the current project."""
        if self.project is None and name != "plugins":
            return None
        return self.data_tools.show(name)

    def show_images(self, image_ids: list[int]) -> None:
        """Filter the list to these images (a health finding's), and show the first."""
        if self.model is None or not image_ids:
            return
        key = "ids:" + ",".join(str(i) for i in image_ids)
        i = self.filter_box.findData(key)
        if i < 0:
            self.filter_box.addItem(f"Checked: {len(image_ids)} image(s)", key)
        self.set_filter(key)
        self.go_to_image(image_ids[0])
        self.raise_()

    def refresh_after_data_change(self) -> None:
        """A tool changed the project (split, relink, accepted samples...): re-read it."""
        if self.project is None:
            return
        self.refresh_classes()
        self._apply_query()
        self._schedule_stats(0)

    # -- stats ------------------------------------------------------------------------
    def _schedule_stats(self, delay_ms: int = 250) -> None:
        self._stats_timer.start(delay_ms)

    def _start_stats(self) -> None:
        if self.project is None:
            return
        if self._stats_task is not None:
            self._stats_dirty = True
            return
        path = self.project.path

        def work(_progress, _stop) -> dict:
            # Its own connection: a Project belongs to the thread that opened it.
            with Project.open(path) as p:
                return p.stats()

        self._stats_task = self.workers.start(work, self._on_stats, self._on_stats_failed)

    def _on_stats(self, stats: dict) -> None:
        self._stats_task = None
        self.stats = stats
        colours = {cid: c.colour for cid, c in self.classes.items()}
        self.chart.set_stats(stats, colours)
        self.class_panel.set_counts({c["id"]: c["images"] for c in stats["classes"]})
        if self._stats_dirty:
            self._stats_dirty = False
            self._schedule_stats(0)

    def _on_stats_failed(self, message: str) -> None:
        self._stats_task = None
        self.statusBar().showMessage(f"Cannot count the dataset: {message}", 8000)

    # -- import -----------------------------------------------------------------------
    def ask_import_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Import folder")
        if not folder:
            return
        tags = (
            QMessageBox.question(
                self, "Import folder", "Use sub-folder names as image classes (tags)?"
            )
            == QMessageBox.StandardButton.Yes
        )
        self.start_import([folder], labels_from_folders=tags)

    def start_import(self, sources: list[str], *, labels_from_folders: bool = False):
        """Import on a worker with a progress dialog and Cancel; a report follows."""
        if self.project is None:
            return None
        from labeler.app.imports import import_folders

        path = self.project.path
        dialog = QProgressDialog("Importing images…", "Cancel", 0, 0, self)
        dialog.setWindowModality(Qt.WindowModality.WindowModal)
        dialog.setMinimumDuration(300)
        self.import_dialog = dialog

        def work(progress, should_stop):
            with Project.open(path) as p:
                return import_folders(
                    p,
                    sources,
                    labels_from_folders=labels_from_folders,
                    progress=progress,
                    should_stop=should_stop,
                )

        def on_progress(done: int, total: int) -> None:
            dialog.setMaximum(total)
            dialog.setValue(done)

        task = self.workers.start(work, self._on_import_done, self._on_import_failed, on_progress)
        if task is not None:
            dialog.canceled.connect(task.cancel)
        return task

    def _on_import_done(self, report) -> None:
        self.import_dialog.reset()
        self.last_import_report = report
        if self.model is not None:
            self.model.reload()
        self.refresh_classes()
        if self.current is None:
            self.canvas.show_message("")
            self.go_to_row(0)
        self._update_status()
        self.report_dialog = ImportReportDialog(report, self)
        self.report_dialog.open()

    def _on_import_failed(self, message: str) -> None:
        self.import_dialog.reset()
        self.error_box("Import failed", message)

    # -- dialogs and messages ---------------------------------------------------------
    def show_cheat_sheet(self) -> None:
        self.cheat_sheet = CheatSheetDialog(self.actions, list(self.classes.values()), self)
        self.cheat_sheet.show()

    def show_shortcut_settings(self) -> None:
        self.shortcut_dialog = ShortcutDialog(self.actions, self)
        self.shortcut_dialog.open()

    def show_about(self) -> None:
        QMessageBox.about(self, "Labeler", f"Labeler {__version__}: build image datasets offline.")

    def confirm(self, title: str, text: str) -> bool:
        answer = QMessageBox.question(self, title, text)
        return answer == QMessageBox.StandardButton.Yes

    def error_box(self, title: str, text: str) -> None:
        self.statusBar().showMessage(f"{title}: {text}", 15000)
        QMessageBox.warning(self, title, text)

    def _update_status(self) -> None:
        total = self.model.rowCount() if self.model else 0
        if self.current is None:
            self.pos_label.setText(f"– / {total:,}")
            self.size_label.setText("")
            return
        pos = f"{self.current_row + 1:,}" if self.current_row is not None else "–"
        status = " · reviewed" if self.current.status == "reviewed" else ""
        self.pos_label.setText(f"{pos} / {total:,}{status}")
        self.size_label.setText(f"{self.current.width}×{self.current.height}")
        cls = self.classes.get(self.current_class) if self.current_class else None
        self.tool_label.setText(
            f"Tool: {TOOL_NAMES[self.canvas.tool]}" + (f" · class {cls.name}" if cls else "")
        )
