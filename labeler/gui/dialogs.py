"""Dialogs: the import question and report, the cheat sheet, and the key-binding settings."""

from __future__ import annotations

import html
import os
from dataclasses import dataclass

from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QKeySequenceEdit,
    QLabel,
    QMessageBox,
    QPlainTextEdit,
    QTableWidget,
    QTableWidgetItem,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from labeler.app.annotations import AnnotationImportReport
from labeler.app.imports import ImportReport
from labeler.core.images import is_image_path
from labeler.core.model import LabelClass
from labeler.gui.actions import ACTIONS, MENUS, ActionRegistry, conflicts, store_keys


@dataclass(frozen=True)
class FolderLayout:
    """What the top of a folder looks like: its sub-folders and the images beside them."""

    subfolders: tuple[str, ...]
    top_images: int

    @property
    def looks_like_classes(self) -> bool:
        """An ImageFolder tree (`cat/`, `dog/`, nothing else with images at the top)."""
        return len(self.subfolders) >= 2 and self.top_images == 0


def folder_layout(folder: str) -> FolderLayout:
    """One listing of the folder's top level (symlinked and hidden folders are not counted:
    the import does not follow them), cheap enough for the GUI thread."""
    subfolders, top_images = [], 0
    try:
        with os.scandir(folder) as entries:
            for e in entries:
                if e.name.startswith("."):
                    continue
                if e.is_dir(follow_symlinks=False):
                    subfolders.append(e.name)
                elif is_image_path(e.name):
                    top_images += 1
    except OSError:
        pass  # the import reports the folder it cannot read
    return FolderLayout(tuple(sorted(subfolders)), top_images)


def ask_labels_from_folders(parent: QWidget, folder: str) -> bool | None:
    """Whether to tag images with their sub-folder's name: asked only when the folder has
    sub-folders, with the answer its layout suggests as the default. None: cancelled."""
    layout = folder_layout(folder)
    if not layout.subfolders:
        return False
    names = ", ".join(layout.subfolders[:6]) + (", …" if len(layout.subfolders) > 6 else "")
    text = (
        f"This folder has {len(layout.subfolders)} sub-folder(s): {names}.\n\n"
        "Tag each image with the name of the sub-folder it is in, as its class?"
    )
    if layout.top_images:
        text += f"\n({layout.top_images} image(s) lie outside any sub-folder: they stay untagged.)"
    box = QMessageBox(
        QMessageBox.Icon.Question,
        "Import folder",
        text,
        QMessageBox.StandardButton.Yes
        | QMessageBox.StandardButton.No
        | QMessageBox.StandardButton.Cancel,
        parent,
    )
    box.button(QMessageBox.StandardButton.Yes).setText("Yes, sub-folders are classes")
    box.button(QMessageBox.StandardButton.No).setText("No, import untagged")
    box.setDefaultButton(
        QMessageBox.StandardButton.Yes
        if layout.looks_like_classes
        else QMessageBox.StandardButton.No
    )
    answer = box.exec()
    if answer == QMessageBox.StandardButton.Cancel:
        return None
    return answer == QMessageBox.StandardButton.Yes


class ImportReportDialog(QDialog):
    """What an import did, with every skipped file and why."""

    def __init__(
        self, report: ImportReport | AnnotationImportReport, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Import report")
        self.resize(640, 420)
        if isinstance(report, AnnotationImportReport):
            summary, lines = _annotation_summary(report)
        else:
            summary, lines = _folder_summary(report)
        self.summary = QLabel(summary)
        self.summary.setWordWrap(True)
        self.details = QPlainTextEdit("\n".join(lines) or "Nothing was skipped.")
        self.details.setReadOnly(True)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok)
        buttons.accepted.connect(self.accept)
        layout = QVBoxLayout(self)
        layout.addWidget(self.summary)
        layout.addWidget(QLabel("Skipped files and reasons:"))
        layout.addWidget(self.details)
        layout.addWidget(buttons)


def _annotation_summary(report: AnnotationImportReport) -> tuple[str, list[str]]:
    summary = (
        f"{report.format}: added {report.images_added} image(s) and {report.shapes_added}"
        f" shape(s); {report.images_known} image(s) already in the project;"
        f" {len(report.problems)} problem(s)"
    )
    lines = []
    if report.detection is not None:
        lines.append(f"format\t{report.format}: found {report.detection.reason}")
        lines += [f"not read\t{u}" for u in report.detection.unused]
    lines += [f"{path}\timported without annotations" for path in report.unannotated]
    lines += [f"{path}\tnot imported: {why}" for path, why in report.not_imported]
    lines += [f"problem\t{p}" for p in report.problems]
    return summary, lines


def _folder_summary(report: ImportReport) -> tuple[str, list[str]]:
    summary = (
        f"Added {report.added} image(s); {report.already_present} already in the project; "
        f"{len(report.duplicates)} duplicate(s); {len(report.skipped)} skipped"
        + (f"; {report.relinked} relinked" if report.relinked else "")
        + (f"; {report.tags_added} tag(s) from folder names" if report.tags_added else "")
        + (f"; {report.untagged} imported untagged" if report.untagged else "")
        + (" — cancelled before the end." if report.cancelled else ".")
    )
    lines = [
        f"{u.path}\t{u.images} image(s) imported untagged: {u.reason}"
        for u in report.untagged_folders
    ]
    lines += [f"{s.path}\t{s.reason}" for s in report.skipped]
    lines += [f"{s.path}\tduplicate: {s.reason}" for s in report.duplicates]
    return summary, lines


def cheat_sheet_html(registry: ActionRegistry, classes: list[LabelClass]) -> str:
    """Every shortcut, grouped by menu, plus the class keys of this project.

    One table for all sections (headings are rows spanning both columns), so the keys and
    what they do line up from the first section to the last."""

    def heading(title: str, note: str = "") -> str:
        note = f"<p>{note}</p>" if note else ""
        return f"<tr><td colspan=2><h3>{title}</h3>{note}</td></tr>"

    def row(key: str, what: str, code: bool = True) -> str:
        key = f"<code>{html.escape(key)}</code>" if code else html.escape(key)
        return f"<tr><td><b>{key}</b></td><td>{html.escape(what)}</td></tr>"

    parts = ["<h2>Keyboard shortcuts</h2><table cellspacing=4>"]
    for menu in MENUS:
        rows = [
            row(" or ".join(registry.keys(spec.id)), spec.title.replace("&", ""))
            for spec in ACTIONS
            if spec.menu == menu and registry.keys(spec.id)
        ]
        if rows:
            parts += [heading(menu), *rows]
    parts.append(
        heading(
            "Classes",
            "A class key tags the image (tag tool), sets the class of the selected shapes, or"
            " picks the class of the next shape. It never removes a tag: click the tag in the"
            " Shapes panel and press Del. Set keys in the class panel.",
        )
    )
    parts += [row(c.shortcut, c.name) for c in classes if c.shortcut]
    parts.append(heading("Mouse"))
    parts += [
        row(key, what, code=False)
        for key, what in (
            ("Wheel", "zoom around the cursor"),
            ("Middle drag, Space + drag", "pan (Space alone changes nothing)"),
            ("Drag a vertex or corner", "move it, selected or not (handles show on hover)"),
            ("Ctrl + click, drag on empty space", "add to selection, rubber band"),
            ("Arrows (Shift: ×10)", "nudge the selected shapes"),
            ("Double-click an edge", "insert a polygon vertex"),
            ("Alt + click a vertex", "delete it (or select it and press Del)"),
            ("Enter / click the first vertex", "close the polygon"),
            ("GrabCut (G): left / right drag", "mark object / background; Enter keeps, Esc drops"),
            ("Wand (W): Shift / Alt + click", "add the region to / cut it from the polygon"),
            ("Wand (W): drag sideways", "set the tolerance"),
        )
    ]
    parts.append("</table>")
    return "".join(parts)


class CheatSheetDialog(QDialog):
    def __init__(
        self, registry: ActionRegistry, classes: list[LabelClass], parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Cheat sheet")
        self.resize(520, 640)
        self.browser = QTextBrowser()
        self.browser.setHtml(cheat_sheet_html(registry, classes))
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.browser)
        layout.addWidget(buttons)


class ShortcutDialog(QDialog):
    """Rebind any action's key; bindings are stored in the user's settings."""

    def __init__(self, registry: ActionRegistry, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.registry = registry
        self.setWindowTitle("Keyboard shortcuts")
        self.resize(560, 640)
        self.table = QTableWidget(len(ACTIONS), 2)
        self.table.setHorizontalHeaderLabels(["Action", "Key"])
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.setColumnWidth(0, 300)
        self.edits: dict[str, QKeySequenceEdit] = {}
        for row, spec in enumerate(ACTIONS):
            self.table.setItem(row, 0, QTableWidgetItem(spec.title.replace("&", "")))
            edit = QKeySequenceEdit(QKeySequence(", ".join(registry.keys(spec.id))))
            self.table.setCellWidget(row, 1, edit)
            self.edits[spec.id] = edit
        self.warning = QLabel("")
        self.warning.setStyleSheet("color: #c5221f")
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok
            | QDialogButtonBox.StandardButton.Cancel
            | QDialogButtonBox.StandardButton.RestoreDefaults
        )
        buttons.accepted.connect(self.save)
        buttons.rejected.connect(self.reject)
        buttons.button(QDialogButtonBox.StandardButton.RestoreDefaults).clicked.connect(
            self.restore_defaults
        )
        layout = QVBoxLayout(self)
        layout.addWidget(self.table)
        layout.addWidget(self.warning)
        layout.addWidget(buttons)

    def bindings(self) -> dict[str, tuple[str, ...]]:
        out = {}
        for aid, edit in self.edits.items():
            seq = edit.keySequence()
            # QKeySequenceEdit keeps several keys as one multi-chord sequence: split them.
            out[aid] = tuple(QKeySequence(seq[i]).toString() for i in range(seq.count()))
        return out

    def restore_defaults(self) -> None:
        for spec in ACTIONS:
            self.edits[spec.id].setKeySequence(QKeySequence(", ".join(spec.keys)))

    def save(self) -> None:
        b = self.bindings()
        clash = conflicts(b)
        if clash:
            self.warning.setText(
                "Used twice: " + "; ".join(f"{k} ({', '.join(v)})" for k, v in clash.items())
            )
            return
        for aid, keys in b.items():
            store_keys(aid, keys)
        self.registry.apply_shortcuts()
        self.accept()
