"""The window's status bar: the tool and class, the image's position and size, the zoom, and
whether every edit is saved, as the session stands. Passing messages go through
`showMessage` as on any status bar.
"""

from __future__ import annotations

from PySide6.QtWidgets import QLabel, QStatusBar

from labeler import __version__
from labeler.app.session import Session

TOOL_NAMES = {"tag": "Tag", "select": "Select", "box": "Box", "polygon": "Polygon"}
_SAVED = "color: #34a853"
_NOT_SAVED = "color: #ea4335; font-weight: bold"
_KEEP = object()


class StatusBar(QStatusBar):
    def __init__(self) -> None:
        super().__init__()
        self.tool_label = QLabel()
        self.pos_label = QLabel("–")
        self.size_label = QLabel("")
        self.zoom_label = QLabel("")
        self.saved_label = QLabel("")
        self._class_name: str | None = None
        for w in (
            self.tool_label,
            self.pos_label,
            self.size_label,
            self.zoom_label,
            self.saved_label,
        ):
            w.setContentsMargins(6, 0, 6, 0)
            self.addPermanentWidget(w)
        self.showMessage(f"Labeler {__version__}")

    def show_session(self, s: Session) -> None:
        """Position in the list, review mark, size, tool and class of the current image."""
        total = len(s.images) if s.images is not None else 0
        # The class first: with no image (an empty project) it must not keep the previous
        # project's class.
        cls = s.classes.get(s.current_class) if s.current_class is not None else None
        self.show_tool(s.tool, cls.name if cls else None)
        if s.current is None:
            self.pos_label.setText(f"– / {total:,}")
            self.size_label.setText("")
            return
        pos = f"{s.current_row + 1:,}" if s.current_row is not None else "–"
        status = " · reviewed" if s.current.status == "reviewed" else ""
        self.pos_label.setText(f"{pos} / {total:,}{status}")
        self.size_label.setText(f"{s.current.width}×{s.current.height}")

    def show_tool(self, tool: str, class_name: str | None | object = _KEEP) -> None:
        """The tool, and the class (None: no class; left out: the class shown stays, as a
        tool change does not change the class)."""
        if class_name is not _KEEP:
            self._class_name = class_name
        self.tool_label.setText(
            f"Tool: {TOOL_NAMES[tool]}"
            + (f" · class {self._class_name}" if self._class_name else "")
        )

    def show_zoom(self, zoom: float) -> None:
        """The zoom in percent; "–" with no image shown (zoom 0)."""
        self.zoom_label.setText(f"{zoom * 100:.0f}%" if zoom > 0 else "–")

    def show_saved(self, text: str = "● saved") -> None:
        self.saved_label.setText(text)
        self.saved_label.setStyleSheet(_SAVED)

    def show_not_saved(self, message: str) -> None:
        self.saved_label.setText("● NOT SAVED")
        self.saved_label.setStyleSheet(_NOT_SAVED)
        self.showMessage(message, 15000)
