"""QUndoStack as a thin adapter over the domain's edits (`labeler.store.edits`).

The same surface as the session's Qt-free `EditHistory`: the edit is applied to the project
before it is pushed, so a failed write (a locked database) never enters the history. Undo and
redo report the edit they applied (and whether it was undone) through `applied`; the window
hands that to its session, which shows the edit's image, so undoing a change made three
images ago takes you there.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QUndoCommand, QUndoStack

from labeler.app.session import WRITE_ERRORS, write_edit
from labeler.store.edits import Edit
from labeler.store.project import Project

__all__ = ["WRITE_ERRORS", "UndoAdapter"]


class _Command(QUndoCommand):
    def __init__(self, adapter: UndoAdapter, edit: Edit) -> None:
        super().__init__(edit.text)
        self.adapter = adapter
        self.edit = edit
        self.skip = True  # the first redo() is the push: the edit is already applied

    def redo(self) -> None:
        if self.skip:
            self.skip = False
            return
        self.adapter._apply(self.edit, undo=False)

    def undo(self) -> None:
        self.adapter._apply(self.edit, undo=True)

    def id(self) -> int:
        return 1 if getattr(self.edit, "gesture", None) else -1

    def mergeWith(self, other: QUndoCommand) -> bool:
        return isinstance(other, _Command) and self.edit.merge(other.edit)


class UndoAdapter(QObject):
    """Runs edits against the project and keeps them on a QUndoStack."""

    applied = Signal(object, bool)  # the Edit just done, undone or redone; True when undone
    failed = Signal(str)

    def __init__(
        self, project_getter: Callable[[], Project | None], parent: QObject | None = None
    ) -> None:
        super().__init__(parent)
        self.stack = QUndoStack(self)
        self._project = project_getter
        self._failed = False
        self._suppress = False

    def push(self, edit: Edit) -> bool:
        """Apply `edit` and record it; False (and `failed` emitted) when the write failed."""
        project = self._project()
        if project is None:
            return False
        error = write_edit(project, edit)
        if error is not None:
            self.failed.emit(f"Not saved: {error}")
            return False
        self.stack.push(_Command(self, edit))
        self.applied.emit(edit, False)
        return True

    def undo(self) -> None:
        self._step(self.stack.undo, self.stack.redo)

    def redo(self) -> None:
        self._step(self.stack.redo, self.stack.undo)

    def can_undo(self) -> bool:
        return self.stack.canUndo()

    def can_redo(self) -> bool:
        return self.stack.canRedo()

    def clear(self) -> None:
        self.stack.clear()

    def _step(self, forward: Callable[[], None], back: Callable[[], None]) -> None:
        self._failed = False
        forward()
        if self._failed:
            # The write did not happen: put the stack's index back without touching the project.
            self._suppress = True
            try:
                back()
            finally:
                self._suppress = False

    def _apply(self, edit: Edit, undo: bool) -> None:
        if self._suppress:
            return
        error = write_edit(self._project(), edit, undo=undo)
        if error is not None:
            self._failed = True
            self.failed.emit(f"{'Undo' if undo else 'Redo'} failed: {error}")
            return
        self.applied.emit(edit, undo)
