"""The annotation session: what the window shows and what the annotator's keys mean, without Qt.

A `Session` holds the open project, the filtered image list, the current image with its
shapes, the current class and tool, and the clipboard. It turns intents (a class key, a drawn
box, paste, next image) into domain edits (`labeler.store.edits`) and pushes them through a
history, and it tells its view what changed through `SessionView`. The window is wiring and
widgets over it; a test drives it with a plain `EditHistory` and a recording view.

>>> session = Session()                                              # doctest: +SKIP
>>> session.set_project(project); session.go_to_row(0)               # doctest: +SKIP
>>> session.pick_class(cat.id)   # the tag tool: tags the image      # doctest: +SKIP
>>> session.undo()                                                   # doctest: +SKIP
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from typing import Protocol

from labeler.app.image_list import ImageList
from labeler.core.errors import LabelerError
from labeler.core.model import LabelClass
from labeler.core.shapes import Shape
from labeler.store import queries
from labeler.store.edits import (
    AddShapes,
    DeleteShapes,
    Edit,
    SetStatus,
    SetTag,
    UpdateShapes,
)
from labeler.store.project import Project
from labeler.store.queries import ImageQuery, ImageRow

WRITE_ERRORS = (LabelerError, sqlite3.Error)
TOOLS: tuple[str, ...] = ("tag", "select", "box", "polygon")
# A locked file should say "not saved" within a couple of seconds, not freeze the window for
# the store's default ten.
BUSY_TIMEOUT_MS = 2000


class History(Protocol):
    """Where a session's edits go: applied at once, kept for undo. `EditHistory` here, a
    QUndoStack adapter in the window. Either reports back through `Session.edit_applied` and
    `Session.edit_failed`."""

    def push(self, edit: Edit) -> bool: ...
    def undo(self) -> None: ...
    def redo(self) -> None: ...
    def can_undo(self) -> bool: ...
    def can_redo(self) -> bool: ...
    def clear(self) -> None: ...


def write_edit(project: Project | None, edit: Edit, *, undo: bool = False) -> str | None:
    """Do (or undo) `edit` on the project; why it could not be written, or None."""
    try:
        if project is None:
            raise LabelerError("no project open")
        if undo:
            edit.undo(project)
        else:
            edit.do(project)
    except WRITE_ERRORS as e:
        return str(e)
    return None


class EditHistory:
    """Undo and redo over the domain's edits, without Qt. An edit is written before it is
    recorded, so a failed write never enters the history; a failed undo or redo leaves the
    history where it was. Consecutive edits of one gesture merge into one step."""

    def __init__(
        self,
        project: Callable[[], Project | None],
        applied: Callable[[Edit, bool], None],
        failed: Callable[[str], None],
    ) -> None:
        self._project = project
        self._applied = applied
        self._failed = failed
        self._edits: list[Edit] = []
        self._index = 0  # how many of `_edits` are applied

    def push(self, edit: Edit) -> bool:
        error = write_edit(self._project(), edit)
        if error is not None:
            self._failed(f"Not saved: {error}")
            return False
        del self._edits[self._index :]
        if not (self._edits and self._edits[-1].merge(edit)):
            self._edits.append(edit)
        self._index = len(self._edits)
        self._applied(edit, False)
        return True

    def undo(self) -> None:
        if self.can_undo() and self._step(self._edits[self._index - 1], undo=True):
            self._index -= 1

    def redo(self) -> None:
        if self.can_redo() and self._step(self._edits[self._index], undo=False):
            self._index += 1

    def can_undo(self) -> bool:
        return self._index > 0

    def can_redo(self) -> bool:
        return self._index < len(self._edits)

    def clear(self) -> None:
        self._edits.clear()
        self._index = 0

    def _step(self, edit: Edit, *, undo: bool) -> bool:
        error = write_edit(self._project(), edit, undo=undo)
        if error is not None:
            self._failed(f"{'Undo' if undo else 'Redo'} failed: {error}")
            return False
        self._applied(edit, undo)
        return True


class SessionView:
    """What a session tells the screen. Every method is optional: this base does nothing, so
    a headless session (a test, a script) needs no view."""

    def image_shown(self, image: ImageRow, row: int | None) -> None:
        """An image is current (`row` is None when the filter leaves it out). The same image
        again when the project changed under it (a relink, an import): show it afresh."""

    def nothing_shown(self, filtered: bool) -> None:
        """No image is current: the project has none (`filtered` False) or the filter lets
        none through."""

    def shapes_changed(self, shapes: list[Shape]) -> None:
        """The current image's shapes, as the project holds them."""

    def classes_changed(self, classes: list[LabelClass]) -> None:
        """The project's classes were read again (added, renamed, merged...)."""

    def class_picked(self, label_class: LabelClass) -> None:
        """The current class changed."""

    def tool_changed(self, tool: str) -> None:
        """The annotation tool changed."""

    def zoom_lock_changed(self, locked: bool) -> None:
        """New images now open fitted (False) or at the zoom of the one before (True)."""

    def edit_saved(self, edit: Edit) -> None:
        """An edit (or its undo or redo) is written to the project."""

    def edit_failed(self, message: str) -> None:
        """An edit could not be written: it is not saved."""

    def message(self, text: str, timeout_ms: int) -> None:
        """A passing line for the status bar."""

    def error(self, title: str, text: str) -> None:
        """Something the user asked for could not be done."""


class Session:
    """One annotator's session on one project. See the module's docstring."""

    def __init__(self, history: History | None = None, view: SessionView | None = None) -> None:
        self.project: Project | None = None
        self.images: ImageList | None = None
        self.current: ImageRow | None = None
        self.current_row: int | None = None
        self.current_class: int | None = None
        self.classes: dict[int, LabelClass] = {}
        self.shapes: list[Shape] = []  # the current image's, as stored
        self.clipboard: list[Shape] = []
        self.tool = "tag"
        self.zoom_locked = False  # new images open fitted unless the annotator locks the zoom
        self._kept: int | None = None  # the image to come back to when a filter empties the list
        # The shapes the user selected; the window hands in its canvas's selection.
        self.selected: Callable[[], list[Shape]] = list
        self.view = view or SessionView()
        self.history: History = history or EditHistory(
            lambda: self.project, self.edit_applied, self.edit_failed
        )

    # -- the project ------------------------------------------------------------------
    def set_project(self, project: Project) -> None:
        """Work on `project` (the previous one is closed). Shows no image yet: the caller
        chooses which with `go_to_row` once its views are ready."""
        self.close()
        self.project = project
        project.conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        self.images = ImageList(project)
        self.current = self.current_row = self._kept = None
        self.shapes = []
        self.refresh_classes()

    def close(self) -> None:
        """Close the project and forget its history (idempotent)."""
        self.history.clear()
        if self.project is not None:
            self.project.close()
            self.project = None

    def toggle_multi_label(self) -> None:
        """Switch between single-label (a tag replaces the image's tag) and multi-label."""
        if self.project is None:
            return
        on = not self.project.multi_label
        try:
            self.project.set_setting("multi_label", "1" if on else "0")
        except WRITE_ERRORS as e:
            self.view.error("Cannot change the setting", str(e))
        self.view.message(
            "Multi-label: an image may carry several tags"
            if on
            else "Single-label: a new tag replaces the image's tag",
            5000,
        )

    # -- navigation -------------------------------------------------------------------
    def go_to_row(self, row: int) -> None:
        """Show the image at this row of the list (clamped to the list)."""
        if self.images is None or len(self.images) == 0:
            return
        row = max(0, min(row, len(self.images) - 1))
        if row == self.current_row and self.current is not None:
            return
        record = self.images.row(row)
        if record is not None:
            self._show(record, row)

    def go_to_last(self) -> None:
        if self.images is not None:
            self.go_to_row(len(self.images) - 1)

    def go_to_image(self, image_id: int) -> None:
        """Show an image, by its row when the list's filter includes it."""
        if self.images is None or self.project is None:
            return
        row = self.images.position_of(image_id)
        if row is not None:
            self.go_to_row(row)
            return
        record = queries.row_of(self.project, image_id)
        if record is not None:
            self._show(record, None)

    def step(self, delta: int) -> None:
        self.go_to_row((self.current_row if self.current_row is not None else -delta) + delta)

    def next_unlabeled(self) -> None:
        if self.project is None or self.images is None:
            return
        found = self.images.next_unlabeled(self.current.id if self.current else None)
        if found is None:
            self.view.message("Every image in this list is labelled.", 4000)
        else:
            self.go_to_image(found)

    def go_to_text(self, text: str) -> bool:
        """Go to image number `text` (1-based) or to the first file name matching it."""
        if self.project is None or self.images is None:
            return False
        if text.isdigit():
            self.go_to_row(int(text) - 1)
            return True
        found = queries.find_by_name(self.project, self.images.query, text)
        if found is None:
            self.view.message(f"No image matching {text!r} in this list.", 5000)
            return False
        self.go_to_image(found)
        return True

    def set_query(self, query: ImageQuery) -> None:
        """Filter and sort the list; stay on the current image when the filter keeps it. A
        filter that lets nothing through shows nothing (`nothing_shown`), and a later one that
        lets the image through again comes back to it."""
        if self.images is None:
            return
        self.images.set_query(query)
        self._follow()

    def reload_list(self) -> None:
        """Read the list and the current image again (after an import, a relink or a class
        removal): the image shows what the project now says (its new path, its row)."""
        if self.images is None:
            return
        self.images.reload()
        self._follow()

    def _follow(self) -> None:
        """After the list changed: show the current (or kept) image afresh at its new row;
        the first image when it is gone or left out; nothing when the list is empty."""
        assert self.images is not None and self.project is not None
        keep = self.current.id if self.current is not None else self._kept
        if not len(self.images):
            self._kept = keep
            self.current = self.current_row = None
            self.shapes = []
            self.view.nothing_shown(self.images.query.filter != "all")
            return
        self._kept = None
        row = self.images.position_of(keep) if keep is not None else None
        fresh = queries.row_of(self.project, keep) if row is not None else None  # type: ignore[arg-type]
        if fresh is None:
            row, fresh = 0, self.images.row(0)
        if fresh is not None:
            self._show(fresh, row)

    def _show(self, record: ImageRow, row: int | None) -> None:
        self.current, self.current_row = record, row
        self.view.image_shown(record, row)
        self.reload_shapes()

    def reload_shapes(self) -> None:
        """Read the current image's shapes from the project (a new image, a failed write)."""
        if self.project is None or self.current is None:
            return
        try:
            self.shapes = self.project.shapes(self.current.id)
        except sqlite3.Error as e:
            self.view.message(f"Cannot read shapes: {e}", 10000)
            return
        self.view.shapes_changed(self.shapes)

    # -- classes and tools ------------------------------------------------------------
    def refresh_classes(self) -> None:
        """Read the classes again (their shapes too: a merge or delete moves them)."""
        if self.project is None:
            return
        classes = self.project.classes()
        self.classes = {c.id: c for c in classes}
        if self.current_class not in self.classes:
            self.current_class = classes[0].id if classes else None
        self.view.classes_changed(classes)
        self.reload_shapes()

    def class_usage(self, class_id: int) -> int:
        """How many shapes use the class (for a confirmation before merge or delete)."""
        return self.project.class_usage(class_id) if self.project is not None else 0

    # Class changes are not edits (no undo): each is written at once, then the classes and
    # the current image's shapes are read again. They raise WRITE_ERRORS when not written.
    def add_class(self, name: str) -> LabelClass:
        return self._class_write(lambda p: p.add_class(name))

    def rename_class(self, class_id: int, new: str) -> LabelClass:
        old = self.classes[class_id].name
        return self._class_write(lambda p: p.rename_class(old, new))

    def update_class(self, class_id: int, **changes: str | None) -> LabelClass:
        """Change a class's `colour` and/or `shortcut` (None: no key)."""
        return self._class_write(lambda p: p.update_class(class_id, **changes))  # type: ignore[arg-type]

    def merge_class(self, source_id: int, target_id: int) -> int:
        """Move the source's shapes to the target and remove the source; how many moved."""
        src, dst = self.classes[source_id].name, self.classes[target_id].name
        try:
            return self._class_write(lambda p: p.merge_classes(src, dst))
        finally:
            self._class_removed()

    def delete_class(self, class_id: int) -> int:
        """Remove the class and every shape that uses it; how many shapes went."""
        name = self.classes[class_id].name
        try:
            return self._class_write(lambda p: p.remove_class(name, force=True))
        finally:
            self._class_removed()

    def _class_write(self, write):
        if self.project is None:
            raise LabelerError("no project open")
        result = write(self.project)
        self.refresh_classes()
        return result

    def _class_removed(self) -> None:
        # Edits on the history may name the removed class: replaying them could not succeed.
        self.history.clear()
        self.reload_list()

    def set_tool(self, tool: str) -> None:
        self.tool = tool if tool in TOOLS else "tag"
        self.view.tool_changed(self.tool)

    def toggle_zoom_lock(self) -> None:
        self.zoom_locked = not self.zoom_locked
        self.view.zoom_lock_changed(self.zoom_locked)
        self.view.message(
            "Zoom locked: the next images open at this zoom"
            if self.zoom_locked
            else "Zoom unlocked: each image opens fitted",
            4000,
        )

    def pick_class(self, class_id: int) -> None:
        """A class key: set the class of the selected shapes, else tag the image (tag tool);
        the class is the next shape's either way."""
        c = self.classes.get(class_id)
        if c is None:
            return
        self.current_class = class_id
        self.view.class_picked(c)
        # A selected tag is there to be deleted; its key sets tags as in the tag tool.
        selected = [s for s in self.selected() if s.kind != "tag"]
        if selected and self.current is not None:
            after = [s.with_class(class_id) for s in selected]
            if after != selected:
                self.apply(UpdateShapes(self.current.id, selected, after, text="change class"))
        elif self.tool == "tag":
            self.set_tag(class_id)

    def set_tag(self, class_id: int) -> None:
        """Tag the image with the class. A key sets, never removes: the key of a tag the image
        already has changes nothing (an annotator confirming a label keeps it). Single-label:
        the new tag replaces the image's other tags (`SetTag`). A tag is removed as any shape
        is: selected (in the shape list) and deleted."""
        if self.project is None or self.current is None:
            return
        # Asked of the project, not of `shapes`: another process may have tagged the image.
        tags = {s.class_id for s in self.project.shapes(self.current.id) if s.kind == "tag"}
        alone = len(tags) == 1 or self.project.multi_label
        if class_id in tags and alone:
            self.view.message(f"Already tagged {self.classes[class_id].name}", 2000)
            return
        self.apply(SetTag(self.current.id, class_id))

    # -- shapes -----------------------------------------------------------------------
    def draw(self, shape: Shape) -> None:
        if self.current is not None:
            self.apply(AddShapes(self.current.id, [shape], text=f"draw {shape.kind}"))

    def edit_shapes(self, before: list[Shape], after: list[Shape], gesture: str = "") -> None:
        """A move, resize, vertex edit or nudge; nudges of one gesture are one undo step."""
        if self.current is not None:
            self.apply(UpdateShapes(self.current.id, before, after, gesture=gesture or None))

    def delete_selection(self) -> None:
        shapes = self.selected()
        if self.current is not None and shapes:
            self.apply(DeleteShapes(self.current.id, shapes, text=f"delete {len(shapes)} shape(s)"))

    def toggle_reviewed(self) -> None:
        if self.current is not None:
            after = "new" if self.current.status == "reviewed" else "reviewed"
            self.apply(SetStatus(self.current.id, self.current.status, after))

    def copy(self) -> None:
        """Copy the selected shapes, or every box and polygon of the image when none is."""
        if self.project is None or self.current is None:
            return
        shapes = [s for s in self.selected() if s.kind != "tag"] or [
            s for s in self.project.shapes(self.current.id) if s.kind != "tag"
        ]
        self.clipboard = [Shape(s.kind, s.class_id, s.points) for s in shapes]
        self.view.message(f"Copied {len(shapes)} shape(s)", 3000)

    def paste(self) -> None:
        """Paste the clipboard onto the current image, clamped to its size."""
        if self.current is None or not self.clipboard:
            return
        w, h = self.current.width, self.current.height
        shapes = [
            s.with_points([(min(max(x, 0), w), min(max(y, 0), h)) for x, y in s.points])
            for s in self.clipboard
        ]
        self.apply(AddShapes(self.current.id, shapes, text=f"paste {len(shapes)} shape(s)"))

    # -- edits ------------------------------------------------------------------------
    def apply(self, edit: Edit) -> bool:
        """Write an edit to the project and record it for undo; False when not written."""
        return self.history.push(edit)

    def undo(self) -> None:
        self.history.undo()

    def redo(self) -> None:
        self.history.redo()

    def edit_applied(self, edit: Edit, undone: bool = False) -> None:
        """An edit was done (or undone): follow it. An edit on another image (an undo made
        three images later) takes the session there; on this image, the edit's own change
        updates the shapes: the image is not read again."""
        if self.project is None:
            return
        fresh = queries.row_of(self.project, edit.image_id)  # labelled, reviewed
        if fresh is not None and self.images is not None:
            self.images.replace(fresh)
        if self.current is None or edit.image_id != self.current.id:
            self.go_to_image(edit.image_id)
        else:
            if fresh is not None:
                self.current = fresh
            self.shapes = edit.change(undone).apply(self.shapes)
            self.view.shapes_changed(self.shapes)
        self.view.edit_saved(edit)

    def edit_failed(self, message: str) -> None:
        self.view.edit_failed(message)
        self.reload_shapes()  # show what the project holds, not the failed gesture
