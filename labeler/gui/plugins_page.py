"""The Plugins page: every plugin with its version, source, what it adds, an Enabled checkbox
and its error. The settings dialog embeds it; it works on `labeler.plugins` only.

Ticking a box persists the choice at once (``plugins.json``); the plugin is loaded or left out
the next time Labeler starts, which the page says once something changed.
"""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import Qt, QUrl, Signal
from PySide6.QtGui import QBrush, QColor, QDesktopServices
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from labeler import plugins
from labeler.plugins import PluginStatus

COLUMNS = ("Name", "Version", "Source", "Adds", "Enabled", "Error")
ENABLED = COLUMNS.index("Enabled")
_ERROR_COLOUR = QColor("#c62828")


class PluginsPage(QWidget):
    """A table of plugins. ``plugin_toggled(name, enabled)`` is emitted after a choice is saved.

    ``statuses`` defaults to ``labeler.plugins.load_plugins()`` (already loaded at start-up,
    so this costs nothing).
    """

    plugin_toggled = Signal(str, bool)

    def __init__(
        self, statuses: Sequence[PluginStatus] | None = None, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.setObjectName("plugins_page")
        intro = QLabel(
            "Plugins add augmentation ops, export and import formats, and health checks. "
            "They come from installed packages and from your plugin folder; never from a "
            "project or an export."
        )
        intro.setWordWrap(True)
        self.table = QTableWidget(0, len(COLUMNS), self)
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setWordWrap(True)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(COLUMNS.index("Adds"), QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(COLUMNS.index("Error"), QHeaderView.ResizeMode.Stretch)
        self.restart_note = QLabel("Changes apply the next time Labeler starts.")
        self.restart_note.setObjectName("restart_note")
        self.restart_note.setVisible(False)
        self.folder_label = QLabel(f"Plugin folder: {plugins.plugin_dir()}")
        self.folder_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        open_folder = QPushButton("Open plugin folder")
        open_folder.clicked.connect(self.open_plugin_folder)
        row = QHBoxLayout()
        row.addWidget(self.folder_label, 1)
        row.addWidget(open_folder)
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.restart_note)
        layout.addLayout(row)
        self.table.itemChanged.connect(self._item_changed)
        self.refresh(statuses)

    def refresh(self, statuses: Sequence[PluginStatus] | None = None) -> None:
        """Show ``statuses`` (default: the loader's current list)."""
        self._statuses = list(plugins.load_plugins() if statuses is None else statuses)
        self.table.blockSignals(True)
        try:
            self.table.setRowCount(len(self._statuses))
            for r, s in enumerate(self._statuses):
                self._fill_row(r, s)
        finally:
            self.table.blockSignals(False)
        self.table.resizeRowsToContents()

    def _fill_row(self, r: int, s: PluginStatus) -> None:
        builtin = s.source == "built-in"
        adds = s.adds.summary()
        cells = [s.name, s.version or "-", s.source, adds, "", s.error or ""]
        for c, text in enumerate(cells):
            item = QTableWidgetItem(text)
            item.setFlags(Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable)
            item.setToolTip(s.location if c == 0 else text)
            self.table.setItem(r, c, item)
        self.table.item(r, COLUMNS.index("Adds")).setToolTip(adds.replace("; ", "\n"))
        if s.error:
            self.table.item(r, COLUMNS.index("Error")).setForeground(QBrush(_ERROR_COLOUR))
        box = self.table.item(r, ENABLED)
        box.setCheckState(Qt.CheckState.Checked if s.enabled else Qt.CheckState.Unchecked)
        if builtin:
            box.setToolTip("Labeler's own features are always on")
        else:
            box.setFlags(box.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            box.setToolTip("Load this plugin when Labeler starts")

    def _item_changed(self, item: QTableWidgetItem) -> None:
        if item.column() != ENABLED:
            return
        name = self._statuses[item.row()].name
        enabled = item.checkState() == Qt.CheckState.Checked
        plugins.set_plugin_enabled(name, enabled)
        self.restart_note.setVisible(True)
        self.plugin_toggled.emit(name, enabled)

    def open_plugin_folder(self) -> None:
        folder = plugins.plugin_dir()
        folder.mkdir(parents=True, exist_ok=True)
        QDesktopServices.openUrl(QUrl.fromLocalFile(str(folder)))
