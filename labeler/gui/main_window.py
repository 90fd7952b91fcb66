"""The annotation window: widgets and wiring over a Qt-free `Session` (`labeler.app.session`).

The session holds the project, the image list, the current image, class and tool, and turns
what the user does into edits; this window shows what it says (it is the session's view) and
forwards the canvas's gestures and the panels' requests to it. Every edit goes through
`UndoAdapter.push`, which writes it to the project before anything else happens: there is
nothing to save.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QItemSelectionModel, QModelIndex, Qt, QTimer
from PySide6.QtGui import QAction, QCloseEvent, QImage, QKeySequence
from PySide6.QtWidgets import (
    QComboBox,
    QDockWidget,
    QFileDialog,
    QHBoxLayout,
    QInputDialog,
    QListView,
    QMainWindow,
    QMessageBox,
    QProgressDialog,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from labeler import __version__
from labeler.app.session import Session, SessionView
from labeler.core.errors import LabelerError
from labeler.core.model import SPLITS, LabelClass
from labeler.core.shapes import Shape
from labeler.gui.actions import ActionRegistry, app_settings
from labeler.gui.assist_tools import AssistTools
from labeler.gui.canvas import Canvas
from labeler.gui.class_editor import CLASS_ACTION, ClassEditor, command_using
from labeler.gui.data_tools import DataTools
from labeler.gui.dialogs import (
    CheatSheetDialog,
    ImportReportDialog,
    ShortcutDialog,
    ask_labels_from_folders,
)
from labeler.gui.image_list import (
    ImageListModel,
    ThumbnailLoader,
    make_list_view,
    thumbnail_cache_dir,
)
from labeler.gui.jobs import JobContext, JobRunner
from labeler.gui.panels import ClassPanel, DatasetChart, ShapeList
from labeler.gui.prelabel_panel import PrelabelPanel
from labeler.gui.status_bar import StatusBar
from labeler.gui.undo import UndoAdapter
from labeler.gui.workers import ImageLoader
from labeler.store.edits import Edit
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
SORTS: tuple[tuple[str, str], ...] = (
    ("Name", "name"),
    ("Date added", "added"),
    ("Class", "class"),
    ("Least sure proposal", "uncertainty"),  # pre-labels: label these first
)

if TYPE_CHECKING:  # the formats load when an import starts, not with the window
    from labeler.core.formats import Detection


def _session_attr(name: str) -> property:
    """The window's name for the session's state (tests and tools read it from the window)."""
    return property(lambda w: getattr(w.session, name), lambda w, v: setattr(w.session, name, v))


class MainWindow(QMainWindow, SessionView):
    """The window. `project_path` opens a project; otherwise the last one is reopened."""

    project = _session_attr("project")
    current = _session_attr("current")
    current_row = _session_attr("current_row")
    current_class = _session_attr("current_class")
    classes = _session_attr("classes")
    clipboard = _session_attr("clipboard")

    def __init__(self, project_path: str | None = None, *, open_last: bool = True) -> None:
        super().__init__()
        self.model: ImageListModel | None = None
        self.last_import_report = None
        self._class_actions: list[QAction] = []
        self._stats_task = None
        self._stats_dirty = False
        self._stats_images: int | None = None  # the image count the last stats read
        self.stats: dict | None = None  # the last stats read (None until the first is in)
        self.workers = JobRunner(threads=3, parent=self)  # image decodes and thumbnails
        self.loader = ImageLoader(self.workers)
        self.thumbs = ThumbnailLoader(self.workers.pool, thumbnail_cache_dir())
        self.jobs = JobRunner(threads=2, parent=self)  # stats and import, on the open project
        self.undo = UndoAdapter(lambda: self.session.project, self)
        self.session = Session(self.undo, view=self)
        self.data_tools = DataTools(
            self, self.session, self.refresh_after_data_change, self.show_images
        )
        self.class_editor = ClassEditor(self, self.session, self.error_box)
        # The class panel's operations, under the window's names for them.
        e = self.class_editor
        self.ask_add_class, self.add_class, self.rename_class = e.ask_add, e.add, e.rename
        self.recolour_class, self.set_class_shortcut = e.recolour, e.set_shortcut
        self.merge_class, self.delete_class = e.merge, e.delete
        self.canvas = Canvas()
        self._shown_id: int | None = None  # the image the canvas shows
        self._list_tags: set[int] = set()  # tags selected in the shape list (tags are no items)
        self._from_list = False
        self.session.selected = self._selected_shapes
        self.setCentralWidget(self.canvas)
        self._build_docks()
        self.status = StatusBar()
        self.setStatusBar(self.status)
        self.pos_label, self.size_label = self.status.pos_label, self.status.size_label
        self.saved_label = self.status.saved_label
        self.assists = AssistTools(self)  # GrabCut, wand, snapping: in front of the canvas
        self.prelabels = PrelabelPanel(self)
        self.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, self.prelabels)
        self.prelabels.hide()
        self.unsaved: str | None = None  # why the last edit could not be written
        self.actions = ActionRegistry(self, self.session)
        self.actions.build_menus()
        self._connect()
        self._stats_timer = QTimer(self, singleShot=True, interval=250)
        self._stats_timer.timeout.connect(self._start_stats)
        # Where the annotator is (project, image, tool) is written shortly after it changes,
        # not only on quit, so a killed window reopens there.
        self._place_timer = QTimer(self, singleShot=True, interval=300)
        self._place_timer.timeout.connect(self.save_place)
        self.setWindowTitle("Labeler")
        self.resize(1280, 820)
        self._restore_layout()
        self.set_tool(str(app_settings().value("tool", "tag")))
        if str(app_settings().value("zoom_locked", "false")).lower() == "true":
            self.session.toggle_zoom_lock()
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

    def _connect(self) -> None:
        c, s = self.canvas, self.session
        c.shape_drawn.connect(s.draw)
        c.shapes_edited.connect(s.edit_shapes)
        c.selection_changed.connect(self._on_canvas_selection)
        c.zoom_changed.connect(self.status.show_zoom)
        self.shape_list.shapes_selected.connect(self._on_list_selection)
        self.class_panel.class_picked.connect(s.pick_class)
        self.class_panel.requested.connect(self.class_editor.request)
        self.loader.image_loaded.connect(self._on_image_loaded)
        self.loader.image_failed.connect(self._on_image_failed)
        self.undo.applied.connect(s.edit_applied)
        self.undo.failed.connect(s.edit_failed)
        self.undo.stack.indexChanged.connect(lambda _i: self.actions.update_enabled())
        self.filter_box.activated.connect(lambda _i: self._apply_query())
        self.sort_box.activated.connect(lambda _i: self._apply_query())

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
        s.sync()
        self.save_place()
        self.shutdown()
        super().closeEvent(event)

    def save_place(self) -> None:
        """Write the project, its current image and the tool to the settings now."""
        self._place_timer.stop()
        s, project = app_settings(), self.session.project
        s.setValue("tool", self.session.tool)
        if project is not None:
            s.setValue("last_project", str(project.path))
            if self.session.current is not None:
                s.setValue(f"last_image/{project.path}", self.session.current.id)
        s.sync()

    def shutdown(self) -> None:
        """Stop every worker and close the project (idempotent)."""
        self._stats_timer.stop()
        self._place_timer.stop()
        self.data_tools.close_all()
        self.assists.shutdown()
        self.prelabels.shutdown()
        self.thumbs.stop()
        self.jobs.shutdown()
        self.workers.shutdown()
        self.session.close()

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
        self.data_tools.close_all()  # before the session closes the previous project
        self.session.set_project(project)
        self.jobs.path = project.path
        self.setWindowTitle(f"{project.path.stem} — Labeler")
        self.model = ImageListModel(self.session.images, self.thumbs)  # type: ignore[arg-type]
        self.list_view.setModel(self.model)
        self.list_view.selectionModel().currentChanged.connect(self._on_row_changed)
        self.unsaved = None
        self._stats_images = None
        self.prelabels.project_changed()
        self.status.show_saved("● all edits saved")
        self._schedule_stats(0)
        app_settings().setValue("last_project", str(project.path))
        last = app_settings().value(f"last_image/{project.path}")
        row = self.session.images.position_of(int(last)) if last is not None else None  # type: ignore[union-attr]
        self.session.go_to_row(row or 0)
        if self.model.rowCount() == 0:
            self.nothing_shown(False)
        self.actions.update_enabled()

    # -- what the user does, handed to the session --------------------------------------
    def go_to_row(self, row: int) -> None:
        self.session.go_to_row(row)

    def step(self, delta: int) -> None:
        self.session.step(delta)

    def go_to_text(self, text: str) -> bool:
        """Go to image number `text` (1-based) or to the first file name matching it."""
        return self.session.go_to_text(text)

    def ask_go_to(self) -> None:
        text, ok = QInputDialog.getText(self, "Go to image", "Image number or file name:")
        if ok and text.strip():
            self.go_to_text(text.strip())

    def pick_class(self, class_id: int) -> None:
        """A class key: tag (tag tool), recolour the selection, or choose the next shape's class."""
        self.session.pick_class(class_id)

    def set_tool(self, tool: str) -> None:
        self.session.set_tool(tool)

    def delete_selection(self) -> None:
        if self.session.current is None or self.canvas.delete_selected_vertex():
            return
        self.session.delete_selection()

    def select_all(self) -> None:
        self.canvas.select_ids(set(self.canvas.items_by_id))

    def _on_row_changed(self, index: QModelIndex, _previous: QModelIndex) -> None:
        if index.isValid():
            self.session.go_to_row(index.row())

    def _selected_shapes(self) -> list[Shape]:
        """The canvas's selection and the tags selected in the shape list (Del removes them)."""
        tags = [s for s in self.session.shapes if s.kind == "tag" and s.id in self._list_tags]
        return self.canvas.selected_shapes() + tags

    def _on_list_selection(self, ids: set[int]) -> None:
        self._list_tags = {s.id for s in self.session.shapes if s.kind == "tag" and s.id in ids}
        self._from_list = True
        try:
            self.canvas.select_ids(ids)
        finally:
            self._from_list = False
        self.actions.update_enabled()

    def _on_canvas_selection(self) -> None:
        if not self._from_list:  # the canvas's own selection (a click, new shapes)
            self._list_tags = set()
        self.shape_list.select_ids({s.id for s in self.canvas.selected_shapes()} | self._list_tags)
        self.actions.update_enabled()

    # -- the session's view -------------------------------------------------------------
    def image_shown(self, image: ImageRow, row: int | None) -> None:
        selection = self.list_view.selectionModel()
        if row is None:
            selection.clearCurrentIndex()
        elif self.model is not None:
            index = self.model.index(row)
            # A click on the list made this row current already: the row is under the
            # pointer, and moving the list mid-click would put another row there (the press
            # selects one row, the release or a move another). Centre the row only when the
            # image changed by other means (keys, Go to, a filter).
            clicked = selection.currentIndex() == index
            selection.setCurrentIndex(index, QItemSelectionModel.SelectionFlag.ClearAndSelect)
            if not clicked:
                self.list_view.scrollTo(index, QListView.ScrollHint.PositionAtCenter)
        same = image.id == self._shown_id  # shown again: the project changed under it
        self._shown_id = image.id
        self.canvas.set_image(image.width, image.height, keep_view=same)
        if not same:
            self.canvas.show_message("Loading…")
        project = self.session.project
        self.loader.show(image.id, str(project.resolve(image.path)), image.width, image.height)  # type: ignore[union-attr]
        self._prefetch_neighbours(row)
        self.assists.image_changed()
        self.prelabels.image_changed()
        self._update_status()
        self.actions.update_enabled()
        self._place_timer.start()

    def nothing_shown(self, filtered: bool) -> None:
        self._shown_id = None
        self.list_view.selectionModel().clearCurrentIndex()
        self.canvas.clear()
        self.canvas.show_message(
            "No image matches this filter.\nChoose another filter above the image list."
            if filtered
            else "No images yet: File → Import folder… (Ctrl+I)"
        )
        self.shapes_changed([])
        self._update_status()
        self.actions.update_enabled()

    def shapes_changed(self, shapes: list[Shape]) -> None:
        present = {s.id for s in shapes}
        self._list_tags &= present
        classes = self.session.classes
        self.canvas.set_shapes(shapes, {cid: (c.name, c.colour) for cid, c in classes.items()})
        self.shape_list.set_shapes(shapes, classes)
        self._on_canvas_selection()

    def classes_changed(self, classes: list[LabelClass]) -> None:
        current = self.session.current_class
        if current is not None:
            self.canvas.set_class(current, self.session.classes[current].colour)
        self.class_panel.set_classes(classes, current)
        self._rebuild_class_actions(classes)
        self._rebuild_filters(classes)
        self._schedule_stats()

    def class_picked(self, label_class: LabelClass) -> None:
        if self.status.currentMessage().startswith("Already tagged"):
            self.status.clearMessage()  # about the key before: stale once another is pressed
        self.canvas.set_class(label_class.id, label_class.colour)
        self.class_panel.set_current(label_class.id)
        self._update_status()

    def tool_changed(self, tool: str) -> None:
        self.assists.tool_changed(tool)
        self.canvas.set_tool(tool)
        self.status.show_tool(tool)
        self._place_timer.start()

    def zoom_lock_changed(self, locked: bool) -> None:
        self.canvas.set_zoom_locked(locked)
        self.actions.update_enabled()
        s = app_settings()
        s.setValue("zoom_locked", locked)
        s.sync()

    def edit_saved(self, edit: Edit) -> None:
        self.unsaved = None
        self.status.show_saved()
        self.prelabels.image_changed()
        self._update_status()
        self._schedule_stats()

    def edit_failed(self, message: str) -> None:
        self.unsaved = message
        self.status.show_not_saved(message)

    def message(self, text: str, timeout_ms: int) -> None:
        self.status.showMessage(text, timeout_ms)

    def error(self, title: str, text: str) -> None:
        self.error_box(title, text)

    # -- pixels -----------------------------------------------------------------------
    def _prefetch_neighbours(self, row: int | None) -> None:
        images, project = self.session.images, self.session.project
        if row is None or images is None or project is None:
            return
        wanted = []
        for r in (row + 1, row - 1, row + 2):
            rec = images.row(r)
            if rec is not None:
                wanted.append((rec.id, str(project.resolve(rec.path))))
        self.loader.prefetch(wanted)

    def _on_image_loaded(self, image_id: int, image: QImage, full: bool) -> None:
        current = self.session.current
        if current is None or image_id != current.id:
            return
        self.canvas.set_pixels(image)
        self.canvas.show_message("")
        if not full:
            self.status.showMessage("Preview; loading full resolution…", 2000)

    def _on_image_failed(self, image_id: int, message: str) -> None:
        current = self.session.current
        if current is None or image_id != current.id:
            return
        text = f"Cannot show {current.name}: {message}"
        self.canvas.show_message(text + "\nIts shapes are still here and can be edited.")
        self.status.showMessage(text, 10000)

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

    # -- classes ----------------------------------------------------------------------
    def _rebuild_class_actions(self, classes: list[LabelClass]) -> None:
        for act in self._class_actions:
            self.removeAction(act)
            act.deleteLater()
        self._class_actions = []
        for c in classes:
            if not c.shortcut:
                continue
            command = command_using(self, c.shortcut)
            if command is not None:  # set before that command had the key: say so, not guess
                self.statusBar().showMessage(
                    f"Class {c.name}'s key {c.shortcut.upper()} is the key of “{command}”: "
                    "give the class another key (Classes panel → Key…).",
                    15000,
                )
                continue
            act = QAction(f"Class {c.name}", self)
            act.setProperty(CLASS_ACTION, True)
            act.setShortcut(QKeySequence(c.shortcut))
            act.triggered.connect(lambda _c=False, cid=c.id: self.session.pick_class(cid))
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
        filter_key = self.filter_box.currentData() or "all"
        self.session.set_query(ImageQuery(filter_key, self.sort_box.currentData()))
        self._update_status()

    # -- data tools -------------------------------------------------------------------
    def open_data_tool(self, name: str) -> QWidget | None:
        """Open (or bring back) a tool of the Data menu on the current project."""
        if self.session.project is None and name != "plugins":
            return None
        return self.data_tools.show(name)

    def open_prelabels(self) -> None:
        """Data → Pre-labels: the dock that trains, measures and proposes."""
        self.prelabels.show()
        self.prelabels.raise_()

    def show_images(self, image_ids: list[int]) -> None:
        """Filter the list to these images (a health finding's), and show the first."""
        if self.model is None or not image_ids:
            return
        key = "ids:" + ",".join(str(i) for i in image_ids)
        i = self.filter_box.findData(key)
        if i < 0:
            self.filter_box.addItem(f"Checked: {len(image_ids)} image(s)", key)
        self.set_filter(key)
        self.session.go_to_image(image_ids[0])
        self.raise_()

    def refresh_after_data_change(self) -> None:
        """A tool changed the project (split, relink, accepted samples...): re-read it."""
        if self.session.project is None:
            return
        self.session.refresh_classes()
        self._apply_query()
        self._stats_images = None  # read again just now: the next count is the new normal
        self._schedule_stats(0)

    # -- stats ------------------------------------------------------------------------
    def _schedule_stats(self, delay_ms: int = 250) -> None:
        self._stats_timer.start(delay_ms)

    def _start_stats(self) -> None:
        if self.session.project is None:
            return
        if self._stats_task is not None:
            self._stats_dirty = True
            return
        self._stats_task = self.jobs.start(
            lambda job: job.project.stats(), self._on_stats, self._on_stats_failed
        )

    def _on_stats(self, stats: dict) -> None:
        self._stats_task = None
        # Another process (the CLI) added or removed images: the count tells; the list,
        # read before, would stay at "412 / 417" until the filter changed.
        seen, self._stats_images = self._stats_images, stats["images"]
        if seen is not None and seen != stats["images"]:
            self.session.reload_list()
        self.stats = stats
        colours = {cid: c.colour for cid, c in self.session.classes.items()}
        self.chart.set_stats(stats, colours)
        self.class_panel.set_counts({c["id"]: c["images"] for c in stats["classes"]})
        if self._stats_dirty:
            self._stats_dirty = False
            self._schedule_stats(0)

    def _on_stats_failed(self, message: str) -> None:
        self._stats_task = None
        self.status.showMessage(f"Cannot count the dataset: {message}", 8000)

    # -- import -----------------------------------------------------------------------
    def ask_import_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Import folder")
        if not folder:
            return
        from labeler.app.annotations import FOLDER, choose_format

        try:
            found = choose_format([folder])
        except LabelerError as e:
            self.error_box("Cannot import this folder", str(e))
            return
        if found.format != FOLDER:  # a dataset with annotations: the CLI's own choice
            self.start_annotation_import(folder, found)
            return
        tags = ask_labels_from_folders(self, folder)
        if tags is not None:
            self.start_import([folder], labels_from_folders=tags)

    def start_import(self, sources: list[str], *, labels_from_folders: bool = False):
        """Import on a worker with a progress dialog and Cancel; a report follows."""
        from labeler.app.imports import import_folders

        def work(job: JobContext):
            return import_folders(
                job.project, sources, labels_from_folders=labels_from_folders,
                progress=job.progress, should_stop=job.should_stop,
            )  # fmt: skip

        return self._run_import("Importing images…", work)

    def start_annotation_import(self, folder: str, found: Detection):
        """Import a dataset with its annotations (COCO, YOLO, VOC, labelme, CVAT, CSV, ...) on
        a worker, as `labeler import` does, in the format `choose_format` found; the report
        says what was found and left out."""
        from labeler.app.annotations import import_annotations

        def work(job: JobContext):
            return import_annotations(
                job.project, folder, found, progress=job.progress, should_stop=job.should_stop
            )

        return self._run_import(f"Importing a {found.format} dataset…", work)

    def _run_import(self, label: str, work):
        if self.session.project is None:
            return None
        dialog = QProgressDialog(label, "Cancel", 0, 0, self)
        dialog.setWindowModality(Qt.WindowModality.WindowModal)
        dialog.setMinimumDuration(300)
        self.import_dialog = dialog

        def on_progress(done: int, total: int) -> None:
            dialog.setMaximum(total)
            dialog.setValue(done)

        task = self.jobs.start(work, self._on_import_done, self._on_import_failed, on_progress)
        if task is not None:
            dialog.canceled.connect(task.cancel)
        return task

    def _on_import_done(self, report) -> None:
        self.import_dialog.reset()
        self.last_import_report = report
        # New images, new classes, and files relinked to their new place (the current one
        # too): the list, the counter and the canvas show what the project now holds.
        self.refresh_after_data_change()
        self.report_dialog = ImportReportDialog(report, self)
        self.report_dialog.open()

    def _on_import_failed(self, message: str) -> None:
        self.import_dialog.reset()
        self.error_box("Import failed", message)

    # -- dialogs and messages ---------------------------------------------------------
    def show_cheat_sheet(self) -> None:
        classes = list(self.session.classes.values())
        self.cheat_sheet = CheatSheetDialog(self.actions, classes, self)
        self.cheat_sheet.show()

    def show_shortcut_settings(self) -> None:
        self.shortcut_dialog = ShortcutDialog(self.actions, self)
        self.shortcut_dialog.open()

    def show_about(self) -> None:
        QMessageBox.about(self, "Labeler", f"Labeler {__version__}: build image datasets offline.")

    def error_box(self, title: str, text: str) -> None:
        self.status.showMessage(f"{title}: {text}", 15000)
        QMessageBox.warning(self, title, text)

    def _update_status(self) -> None:
        self.status.show_session(self.session)
