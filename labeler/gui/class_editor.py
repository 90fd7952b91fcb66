"""The class panel's buttons: a dialog (or a confirmation that counts what goes) for each, then
the session's write. Class changes are not edits: they cannot be undone, so the ones that lose
shapes ask first.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from PySide6.QtGui import QAction, QColor
from PySide6.QtWidgets import QColorDialog, QInputDialog, QMainWindow, QMessageBox, QWidget

from labeler.app.session import WRITE_ERRORS, Session
from labeler.core.model import LabelClass
from labeler.gui.panels import ClassPanel

CLASS_KEYS = "1234567890QWERTYUIOPASDFGHJKLZXCVBNM"
"""The keys a new class may get, in order: the digits, then letters; any bound to an action
(T, V, B, P, F, D, A, N by default) or to another class is skipped."""


def taken_keys(window: QWidget) -> set[str]:
    """Single keys (no modifier) the window's actions answer to."""
    taken = set()
    for action in window.findChildren(QAction):
        for seq in action.shortcuts():
            text = seq.toString()
            if len(text) == 1:
                taken.add(text.upper())
    return taken


CLASS_ACTION = "labeler_class_key"  # marks the window's class-key actions


def command_using(window: QWidget, key: str) -> str | None:
    """The window command (not a class) that single key ``key`` triggers, by its menu text;
    None when no command uses it. A class given that key would make both ambiguous, and Qt
    then triggers neither."""
    for action in window.findChildren(QAction):
        if action.property(CLASS_ACTION):  # a class's own key (old ones linger until deleted)
            continue
        if any(seq.toString().upper() == key.upper() for seq in action.shortcuts()):
            return action.text().replace("&", "").rstrip("…") or action.objectName()
    return None


def next_free_key(classes: Iterable[LabelClass], taken: set[str]) -> str | None:
    """The first of `CLASS_KEYS` no class and no action uses; None when all are used.

    >>> next_free_key([], {"1"})
    '2'
    """
    used = taken | {c.shortcut.upper() for c in classes if c.shortcut}
    return next((k for k in CLASS_KEYS if k not in used), None)


class ClassEditor:
    """Adds, renames, recolours, re-keys, merges and deletes classes for one window."""

    def __init__(
        self, window: QMainWindow, session: Session, error_box: Callable[[str, str], None]
    ) -> None:
        self.window = window
        self.session = session
        self.error_box = error_box

    def request(self, what: str, class_id: int) -> None:
        """What the class panel asked for (add|rename|colour|shortcut|merge|delete)."""
        if what == "add":
            self.ask_add()
            return
        c = self.session.classes.get(class_id)
        if c is None:
            self.window.statusBar().showMessage("Select a class in the list first.", 4000)
            return
        w = self.window
        if what == "rename":
            new, ok = QInputDialog.getText(w, "Rename class", "New name:", text=c.name)
            if ok and new.strip():
                self.rename(class_id, new)
        elif what == "colour":
            colour = QColorDialog.getColor(QColor(c.colour), w, f"Colour of {c.name}")
            if colour.isValid():
                self.recolour(class_id, colour.name())
        elif what == "shortcut":
            key, ok = QInputDialog.getText(
                w, "Class key", "One key (empty for none):", text=c.shortcut or ""
            )
            if ok:
                self.set_shortcut(class_id, key.strip()[:1] or None)
        elif what == "merge":
            others = [o.name for o in self.session.classes.values() if o.id != class_id]
            target, ok = QInputDialog.getItem(
                w, "Merge class", f"Merge “{c.name}” into:", others, 0, False
            )
            if ok and target:
                dst = next(o for o in self.session.classes.values() if o.name == target)
                self.merge(class_id, dst.id)
        elif what == "delete":
            self.delete(class_id)

    def ask_add(self) -> None:
        if self.session.project is None:  # say why rather than take a name and drop it
            self.window.statusBar().showMessage(f"To add a class, {ClassPanel.NO_PROJECT}.", 6000)
            return
        name, ok = QInputDialog.getText(self.window, "Add class", "Class name:")
        if ok and name.strip():
            self.add(name)

    def add(self, name: str) -> LabelClass | None:
        """Add the class with the next free key, and make it the current class (selected in
        the panel, scrolled into view): the user added it to use it."""
        added = self._write(lambda s: s.add_class(name), "Cannot add class")
        if not isinstance(added, LabelClass):
            return None
        if added.shortcut is None:
            key = next_free_key(self.session.classes.values(), taken_keys(self.window))
            if key is not None:
                done = self._write(
                    lambda s: s.update_class(added.id, shortcut=key), "Cannot set key"
                )
                added = done if isinstance(done, LabelClass) else added
        self.session.current_class = added.id  # not pick_class: that would tag the image
        self.session.view.class_picked(added)
        return added

    def rename(self, class_id: int, new: str) -> bool:
        return self._write(lambda s: s.rename_class(class_id, new), "Cannot rename") is not None

    def recolour(self, class_id: int, colour: str) -> bool:
        done = self._write(lambda s: s.update_class(class_id, colour=colour), "Cannot recolour")
        return done is not None

    def set_shortcut(self, class_id: int, key: str | None) -> bool:
        command = command_using(self.window, key) if key else None
        if command is not None:
            self.error_box(
                "Cannot set key", f"{key.upper()} is the key of “{command}”: choose another."
            )
            return False
        done = self._write(lambda s: s.update_class(class_id, shortcut=key), "Cannot set key")
        return done is not None

    def merge(self, source_id: int, target_id: int) -> bool:
        """Merge after a confirmation that says how many shapes move."""
        src, dst = self.session.classes[source_id], self.session.classes[target_id]
        n = self.session.class_usage(source_id)
        if not self._confirm(
            "Merge classes",
            f"Merge “{src.name}” into “{dst.name}”? {n} shape(s) will move to “{dst.name}” and"
            f" “{src.name}” will be removed. This cannot be undone.",
        ):
            return False
        return (
            self._write(lambda s: s.merge_class(source_id, target_id), "Cannot merge") is not None
        )

    def delete(self, class_id: int) -> bool:
        """Delete after a confirmation that says how many shapes go with it."""
        c = self.session.classes[class_id]
        n = self.session.class_usage(class_id)
        if not self._confirm(
            "Delete class",
            f"Delete class “{c.name}” and the {n} shape(s) that use it? This cannot be undone.",
        ):
            return False
        return self._write(lambda s: s.delete_class(class_id), "Cannot delete") is not None

    def _confirm(self, title: str, text: str) -> bool:
        return QMessageBox.question(self.window, title, text) == QMessageBox.StandardButton.Yes

    def _write(self, fn: Callable[[Session], object], title: str):
        if self.session.project is None:
            return None
        try:
            result = fn(self.session)
        except WRITE_ERRORS as e:
            self.error_box(title, str(e))
            return None
        return result if result is not None else True
