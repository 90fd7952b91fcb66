"""The side panels: classes, the current image's shapes, and the dataset chart.

Panels show what they are given and report what the user picked through signals; the window
owns the project and turns requests into edits.
"""

from __future__ import annotations

from PySide6.QtCore import QRectF, QSize, Qt, Signal
from PySide6.QtGui import QColor, QFont, QIcon, QPainter, QPixmap
from PySide6.QtWidgets import (
    QHBoxLayout,
    QListWidget,
    QListWidgetItem,
    QSizePolicy,
    QToolButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from labeler.core.health.model import ratio_text
from labeler.core.model import LabelClass
from labeler.core.shapes import Shape


def swatch(colour: str, size: int = 14) -> QIcon:
    pm = QPixmap(size, size)
    pm.fill(QColor(colour))
    return QIcon(pm)


class ClassPanel(QWidget):
    """Classes with colour, shortcut key and image count, and buttons to manage them.

    The table asks for room for every class up to `ROWS_SHOWN` (ten CIFAR classes fit at the
    default window size); beyond that it scrolls, and the current class is scrolled to. The
    buttons work only once a project is open (`set_classes`), and the ones that act on a class
    only while one is selected.
    """

    ROWS_SHOWN = 12
    NO_PROJECT = "open or create a project first (File → New project…)"

    class_picked = Signal(int)
    requested = Signal(str, int)  # what (add|rename|colour|shortcut|merge|delete), class id

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.tree = QTreeWidget()
        self.tree.setHeaderLabels(["Key", "Class", "Images"])
        self.tree.setRootIsDecorated(False)
        self.tree.setUniformRowHeights(True)
        self.tree.setColumnWidth(0, 40)
        self.tree.setColumnWidth(1, 130)
        self.tree.itemClicked.connect(self._clicked)
        self.tree.currentItemChanged.connect(lambda *_a: self._update_buttons())
        buttons = QHBoxLayout()
        buttons.setContentsMargins(0, 0, 0, 0)
        buttons.setSpacing(2)
        self.buttons: dict[str, QToolButton] = {}
        self.tips: dict[str, str] = {}
        for what, text, tip in (
            ("add", "+", "Add a class"),
            ("rename", "Rename", "Rename the selected class"),
            ("colour", "Colour", "Change the selected class's colour"),
            ("shortcut", "Key", "Set the selected class's shortcut key"),
            ("merge", "Merge", "Merge the selected class into another"),
            ("delete", "Delete", "Delete the selected class and its shapes"),
        ):
            b = QToolButton()
            b.setText(text)
            b.setObjectName(f"class_{what}")
            b.clicked.connect(lambda _c=False, w=what: self.requested.emit(w, self.selected_id()))
            buttons.addWidget(b)
            self.buttons[what], self.tips[what] = b, tip
        buttons.addStretch(1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.tree)
        layout.addLayout(buttons)
        self.counts: dict[int, int] = {}
        self.classes: list[LabelClass] = []
        self.project_open = False
        self._fit_rows(self.ROWS_SHOWN)
        self._update_buttons()

    def set_classes(self, classes: list[LabelClass], current: int | None) -> None:
        """Show a project's classes (the window calls it whenever a project is open)."""
        self.project_open = True
        self.classes = classes
        self.tree.clear()
        for c in classes:
            item = QTreeWidgetItem([c.shortcut or "", c.name, str(self.counts.get(c.id, 0))])
            item.setIcon(1, swatch(c.colour))
            item.setData(0, Qt.ItemDataRole.UserRole, c.id)
            item.setTextAlignment(2, Qt.AlignmentFlag.AlignRight)
            self.tree.addTopLevelItem(item)
            if c.id == current:
                self.tree.setCurrentItem(item)
        if self.tree.currentItem() is not None:
            self.tree.scrollToItem(self.tree.currentItem())
        self._update_buttons()

    def _fit_rows(self, rows: int) -> None:
        """Ask the dock for room for `rows` rows and the header, so that the classes of a
        small project are all in view without scrolling."""
        probe = QTreeWidgetItem(["0", "class", "0"])
        probe.setIcon(1, swatch("#000000"))
        self.tree.addTopLevelItem(probe)
        row = self.tree.sizeHintForRow(0)
        self.tree.takeTopLevelItem(0)
        frame = 2 * self.tree.frameWidth()
        self.tree.setMinimumHeight(self.tree.header().sizeHint().height() + rows * row + frame)

    def _update_buttons(self) -> None:
        selected = self.tree.currentItem() is not None
        for what, b in self.buttons.items():
            on = self.project_open and (what == "add" or selected)
            b.setEnabled(on)
            why = self.NO_PROJECT if not self.project_open else "select a class in the list first"
            b.setToolTip(self.tips[what] if on else f"{self.tips[what]}: {why}")

    def set_counts(self, counts: dict[int, int]) -> None:
        self.counts = counts
        for i in range(self.tree.topLevelItemCount()):
            item = self.tree.topLevelItem(i)
            cid = item.data(0, Qt.ItemDataRole.UserRole)
            item.setText(2, str(counts.get(cid, 0)))

    def set_current(self, class_id: int | None) -> None:
        for i in range(self.tree.topLevelItemCount()):
            item = self.tree.topLevelItem(i)
            if item.data(0, Qt.ItemDataRole.UserRole) == class_id:
                self.tree.setCurrentItem(item)
                self.tree.scrollToItem(item)
                return

    def selected_id(self) -> int:
        item = self.tree.currentItem()
        return int(item.data(0, Qt.ItemDataRole.UserRole)) if item else -1

    def _clicked(self, item: QTreeWidgetItem, _col: int) -> None:
        self.class_picked.emit(int(item.data(0, Qt.ItemDataRole.UserRole)))


class ShapeList(QListWidget):
    """The current image's tags and shapes; selecting a row selects the shape on the canvas."""

    shapes_selected = Signal(object)  # set of shape ids

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setSelectionMode(QListWidget.SelectionMode.ExtendedSelection)
        self.itemSelectionChanged.connect(self._changed)
        self._updating = False

    def set_shapes(self, shapes: list[Shape], classes: dict[int, LabelClass]) -> None:
        self._updating = True
        self.clear()
        for s in shapes:
            c = classes.get(s.class_id)
            name = c.name if c else "?"
            if s.kind == "box":
                x1, y1, x2, y2 = s.bbox()  # type: ignore[misc]
                detail = f"{x2 - x1:.0f}×{y2 - y1:.0f} at ({x1:.0f}, {y1:.0f})"
            elif s.kind == "polygon":
                detail = f"{len(s.points)} vertices"
            else:
                detail = "image tag"
            item = QListWidgetItem(
                swatch(c.colour if c else "#888888"), f"{s.kind} · {name} · {detail}"
            )
            item.setData(Qt.ItemDataRole.UserRole, s.id)
            item.setData(Qt.ItemDataRole.UserRole + 1, s.kind)
            self.addItem(item)
        self._updating = False

    def select_ids(self, ids: set[int]) -> None:
        self._updating = True
        for i in range(self.count()):
            item = self.item(i)
            item.setSelected(item.data(Qt.ItemDataRole.UserRole) in ids)
        self._updating = False

    def _changed(self) -> None:
        if not self._updating:
            self.shapes_selected.emit(
                {i.data(Qt.ItemDataRole.UserRole) for i in self.selectedItems()}
            )


SPLIT_SHADES = {"train": 1.0, "val": 0.7, "test": 0.45, "unassigned": 0.25}


class DatasetChart(QWidget):
    """A bar per class (images with that class), split into train/val/test once splits
    exist, with the imbalance ratio and the unlabeled count above it. Painted, not a table."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.stats: dict | None = None
        self.colours: dict[int, str] = {}
        self.setMinimumHeight(160)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)

    def sizeHint(self) -> QSize:
        return QSize(260, 240)

    def set_stats(self, stats: dict, colours: dict[int, str]) -> None:
        self.stats = stats
        self.colours = colours
        n = len(stats.get("classes", []))
        self.setMinimumHeight(70 + 22 * max(n, 1))
        self.update()

    def paintEvent(self, _event) -> None:
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        p.fillRect(self.rect(), QColor("#26282c"))
        s = self.stats
        font = QFont()
        font.setPixelSize(12)
        p.setFont(font)
        if not s:
            p.setPen(QColor("#9aa0a6"))
            p.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter, "No project")
            return
        self._paint_header(p, s)
        classes = s["classes"]
        if not classes:
            p.setPen(QColor("#9aa0a6"))
            p.drawText(QRectF(8, 50, self.width() - 16, 20), "No classes yet")
            return
        has_splits = any(s["splits"].get(k, 0) for k in ("train", "val", "test"))
        top = 54
        label_w = min(110, max(p.fontMetrics().horizontalAdvance(c["name"]) for c in classes) + 8)
        bar_x = 8 + label_w
        bar_w = max(20, self.width() - bar_x - 56)
        most = max((c["images"] for c in classes), default=0) or 1
        for i, c in enumerate(classes):
            y = top + i * 22
            p.setPen(QColor("#e8eaed"))
            name = p.fontMetrics().elidedText(c["name"], Qt.TextElideMode.ElideRight, label_w - 6)
            p.drawText(QRectF(8, y, label_w - 6, 18), Qt.AlignmentFlag.AlignVCenter, name)
            self._paint_bar(p, c, QRectF(bar_x, y + 2, bar_w, 14), most, has_splits)
            p.setPen(QColor("#e8eaed"))
            p.drawText(
                QRectF(bar_x + bar_w + 4, y, 50, 18),
                Qt.AlignmentFlag.AlignVCenter,
                str(c["images"]),
            )
        if has_splits:
            self._paint_legend(p, top + len(classes) * 22 + 4)

    def _paint_header(self, p: QPainter, s: dict) -> None:
        ratio = s["imbalance_ratio"]
        p.setPen(QColor("#e8eaed"))
        bold = QFont(p.font())
        bold.setBold(True)
        p.setFont(bold)
        p.drawText(QRectF(8, 6, self.width() - 16, 18), f"{s['images']:,} images")
        p.setFont(QFont(p.font().family(), -1))
        f = p.font()
        f.setPixelSize(12)
        p.setFont(f)
        warn = ratio is not None and ratio >= 10
        p.setPen(QColor("#f28b82") if warn else QColor("#9aa0a6"))
        p.drawText(QRectF(8, 26, self.width() - 16, 18), self.facts_line())

    def facts_line(self) -> str:
        """The line under the image count: the imbalance ratio as the health check writes it,
        and how many images are unlabeled."""
        s = self.stats or {}
        ratio = s.get("imbalance_ratio")
        imbalance = f"imbalance {ratio_text(ratio)}" if ratio is not None else "imbalance –"
        return f"{imbalance}   ·   {s.get('unlabeled', 0):,} unlabeled"

    def _paint_bar(self, p: QPainter, c: dict, rect: QRectF, most: int, has_splits: bool) -> None:
        p.setPen(Qt.PenStyle.NoPen)
        p.setBrush(QColor("#3a3d42"))
        p.drawRoundedRect(rect, 3, 3)
        base = QColor(self.colours.get(c["id"], "#8ab4f8"))
        x = rect.x()
        parts = (
            [(k, c["splits"].get(k, 0)) for k in ("train", "val", "test", "unassigned")]
            if has_splits
            else [("train", c["images"])]
        )
        for split, n in parts:
            w = rect.width() * n / most
            if w <= 0:
                continue
            colour = QColor(base)
            colour.setAlphaF(SPLIT_SHADES[split])
            p.setBrush(colour)
            p.drawRect(QRectF(x, rect.y(), w, rect.height()))
            x += w

    def _paint_legend(self, p: QPainter, y: float) -> None:
        x = 8.0
        for split, shade in SPLIT_SHADES.items():
            c = QColor("#8ab4f8")
            c.setAlphaF(shade)
            p.setBrush(c)
            p.setPen(Qt.PenStyle.NoPen)
            p.drawRect(QRectF(x, y + 4, 10, 10))
            p.setPen(QColor("#9aa0a6"))
            p.drawText(QRectF(x + 14, y, 80, 18), Qt.AlignmentFlag.AlignVCenter, split)
            x += 24 + p.fontMetrics().horizontalAdvance(split)
