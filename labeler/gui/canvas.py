"""The canvas: the image, its shapes, and the mouse and keyboard gestures that edit them.

Scene coordinates are original-image pixels (a reduced decode is scaled up to the full size),
so a shape's points go to the project unchanged. The canvas never writes to the project: it
emits what the user did (`shape_drawn`, `shapes_edited`) and the window turns that into an
undoable edit; after the edit the window hands the stored shapes back through `set_shapes`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from PySide6.QtCore import QEvent, QPoint, QPointF, QRectF, Qt, Signal
from PySide6.QtGui import (
    QColor,
    QFont,
    QImage,
    QKeyEvent,
    QMouseEvent,
    QPainter,
    QPainterPath,
    QPen,
    QPixmap,
    QPolygonF,
    QWheelEvent,
)
from PySide6.QtWidgets import (
    QGraphicsPathItem,
    QGraphicsPixmapItem,
    QGraphicsScene,
    QGraphicsView,
    QWidget,
)

from labeler.core.shapes import Point, Shape
from labeler.gui.shape_item import HANDLE_PX, ShapeItem

TOOLS = ("tag", "select", "box", "polygon")
MIN_BOX_PX = 2.0  # a smaller drag is a click, not a box
ARROWS = {
    Qt.Key.Key_Left: (-1, 0),
    Qt.Key.Key_Right: (1, 0),
    Qt.Key.Key_Up: (0, -1),
    Qt.Key.Key_Down: (0, 1),
}


@dataclass
class _Drag:
    """A gesture in progress: what it moves and where it started."""

    kind: str  # move | handle | box | pan
    start: QPointF
    items: list[ShapeItem] = field(default_factory=list)
    before: list[Shape] = field(default_factory=list)
    index: int = -1
    last_view: QPointF | None = None
    moved: bool = False


class Canvas(QGraphicsView):
    """The image view and editor. Emits gestures; never writes to the project."""

    shape_drawn = Signal(object)  # Shape without id
    shapes_edited = Signal(object, object, str)  # before, after, gesture ('' = one step)
    selection_changed = Signal()
    zoom_changed = Signal(float)
    cursor_moved = Signal(float, float)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setScene(QGraphicsScene(self))
        self.setRenderHints(
            QPainter.RenderHint.Antialiasing | QPainter.RenderHint.SmoothPixmapTransform
        )
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.AnchorUnderMouse)
        self.setResizeAnchor(QGraphicsView.ViewportAnchor.AnchorViewCenter)
        self.setViewportUpdateMode(QGraphicsView.ViewportUpdateMode.SmartViewportUpdate)
        self.setBackgroundBrush(QColor("#202124"))
        self.setMouseTracking(True)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.tool = "tag"
        self.colour = "#ffffff"
        self.class_id: int | None = None
        self.image_size = (0, 0)
        self.items_by_id: dict[int, ShapeItem] = {}
        self.tags: list[tuple[str, str]] = []  # (name, colour) chips drawn over the image
        self.message = ""
        self.fit_mode = True
        # Off: every new image opens fitted. On: it opens at the zoom (and the place) of the
        # one before, for going through a series at 400% on the same corner.
        self.zoom_locked = False
        self._hovered: ShapeItem | None = None
        self._pixmap = QGraphicsPixmapItem()
        self._pixmap.setTransformationMode(Qt.TransformationMode.SmoothTransformation)
        self._pixmap.setZValue(0)
        self.scene().addItem(self._pixmap)
        self._preview = QGraphicsPathItem()
        self._preview.setZValue(2)
        self.scene().addItem(self._preview)
        self._drag: _Drag | None = None
        self._poly: list[QPointF] = []
        self._space = False
        self.scene().selectionChanged.connect(self._on_selection)

    # -- image and shapes -------------------------------------------------------------
    def set_image(self, width: int, height: int, *, keep_view: bool = False) -> None:
        """Start showing a new image of this size (pixels come later through set_pixels).

        It opens fitted, unless the zoom is locked (then at the same zoom, on the same
        relative spot) or `keep_view` (the same image shown again: nothing moves)."""
        self.cancel_gesture()
        self._hovered = None
        old_w, old_h = self.image_size
        centre = self.mapToScene(self.viewport().rect().center())
        self.image_size = (width, height)
        if not keep_view:
            self._pixmap.setPixmap(QPixmap())
        self.scene().setSceneRect(QRectF(0, 0, width, height))
        if keep_view and not self.fit_mode:
            return
        if self.fit_mode or not self.zoom_locked:
            self.fit()
        elif old_w and old_h:
            self.centerOn(centre.x() / old_w * width, centre.y() / old_h * height)
            self._zoomed()

    def set_pixels(self, image: QImage) -> None:
        """Show decoded pixels, scaled so scene units stay original-image pixels."""
        pm = QPixmap.fromImage(image)
        self._pixmap.setPixmap(pm)
        w, h = self.image_size
        if pm.width() and w:
            self._pixmap.setTransform(
                self._pixmap.transform().fromScale(w / pm.width(), h / pm.height())
            )
        self._zoomed()
        self.viewport().update()

    def has_pixels(self) -> bool:
        return not self._pixmap.pixmap().isNull()

    def clear(self) -> None:
        self.set_shapes([], {})
        self.set_image(0, 0)
        self.tags = []

    def set_shapes(self, shapes: list[Shape], classes: dict[int, tuple[str, str]]) -> None:
        """Show these shapes (tags become chips); keeps the selection of ids still present.

        `classes` maps class id -> (name, colour)."""
        keep = {s.id for s in self.selected_shapes()}
        self._hovered = None
        scene = self.scene()
        scene.blockSignals(True)
        for item in self.items_by_id.values():
            scene.removeItem(item)
        self.items_by_id = {}
        self.tags = []
        handle = self._handle_size()
        for s in shapes:
            name, colour = classes.get(s.class_id, ("?", "#ffffff"))
            if s.kind == "tag":
                self.tags.append((name, colour))
                continue
            item = ShapeItem(s, colour, name)
            item.set_handle_size(handle)
            scene.addItem(item)
            item.setSelected(s.id in keep)
            self.items_by_id[s.id] = item  # type: ignore[index]
        scene.blockSignals(False)
        self.selection_changed.emit()
        self.viewport().update()

    def selected_items(self) -> list[ShapeItem]:
        return [i for i in self.items_by_id.values() if i.isSelected()]

    def selected_shapes(self) -> list[Shape]:
        return [i.shape_ for i in self.selected_items()]

    def select_ids(self, ids: set[int]) -> None:
        for sid, item in self.items_by_id.items():
            item.setSelected(sid in ids)

    def selected_vertex(self) -> tuple[ShapeItem, int] | None:
        for item in self.selected_items():
            if item.active_vertex is not None and item.shape_.kind == "polygon":
                return item, item.active_vertex
        return None

    def show_message(self, text: str) -> None:
        """A line over the canvas (loading, a missing file); '' hides it."""
        self.message = text
        self.viewport().update()

    # -- tools and zoom ---------------------------------------------------------------
    def set_tool(self, tool: str) -> None:
        if tool not in TOOLS:
            raise ValueError(tool)
        self.cancel_gesture()
        self.tool = tool
        drawing = tool in ("box", "polygon")
        self.viewport().setCursor(
            Qt.CursorShape.CrossCursor if drawing else Qt.CursorShape.ArrowCursor
        )

    def set_class(self, class_id: int | None, colour: str) -> None:
        self.class_id = class_id
        self.colour = colour

    def zoom(self) -> float:
        return self.transform().m11()

    def fit(self) -> None:
        self.fit_mode = True
        w, h = self.image_size
        if w and h:
            self.fitInView(QRectF(0, 0, w, h), Qt.AspectRatioMode.KeepAspectRatio)
        self._zoomed()

    def set_zoom(self, factor: float) -> None:
        self.fit_mode = False
        self.setTransform(self.transform().fromScale(factor, factor))
        self._zoomed()

    def set_zoom_locked(self, locked: bool) -> None:
        """Whether new images keep the zoom of the one before (see `zoom_locked`)."""
        self.zoom_locked = locked

    def zoom_by(self, factor: float) -> None:
        self.fit_mode = False
        new = max(0.02, min(64.0, self.zoom() * factor))
        f = new / self.zoom()
        self.scale(f, f)
        self._zoomed()

    def _zoomed(self) -> None:
        # Past 3x, annotators want to see pixels, not a blur.
        self._pixmap.setTransformationMode(
            Qt.TransformationMode.FastTransformation
            if self.zoom() * self._pixel_scale() >= 3
            else Qt.TransformationMode.SmoothTransformation
        )
        size = self._handle_size()
        for item in self.items_by_id.values():
            item.set_handle_size(size)
        # 0: no image, so no zoom to speak of (the status bar shows "–").
        self.zoom_changed.emit(self.zoom() if self.image_size[0] else 0.0)

    def _pixel_scale(self) -> float:
        """Image pixels per decoded pixel (8 while a 1/8 preview is shown)."""
        pm = self._pixmap.pixmap()
        return self.image_size[0] / pm.width() if pm.width() else 1.0

    def _handle_size(self) -> float:
        return HANDLE_PX / (self.zoom() or 1.0)

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        if self.fit_mode:
            self.fit()

    def wheelEvent(self, event: QWheelEvent) -> None:
        delta = event.angleDelta().y()
        if delta:
            self.zoom_at(event.position().toPoint(), 1.0015**delta)
        event.accept()

    def zoom_at(self, view_pos: QPoint, factor: float) -> None:
        """Zoom keeping the image point under `view_pos` where it is on screen."""
        anchor = self.mapToScene(view_pos)
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.NoAnchor)
        self.zoom_by(factor)
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.AnchorUnderMouse)
        moved = self.mapFromScene(anchor) - view_pos
        self.horizontalScrollBar().setValue(self.horizontalScrollBar().value() + moved.x())
        self.verticalScrollBar().setValue(self.verticalScrollBar().value() + moved.y())

    # -- painting extras --------------------------------------------------------------
    def scrollContentsBy(self, dx: int, dy: int) -> None:
        # A scroll moves the pixels already drawn and paints only the strip that came in, so
        # the chips and the message (pinned to the viewport, not to the image) would be
        # smeared along with it: repaint the whole viewport when something is pinned there.
        super().scrollContentsBy(dx, dy)
        if self.tags or self.message:
            self.viewport().update()

    def drawForeground(self, painter: QPainter, rect: QRectF) -> None:
        if not (self.tags or self.message):
            return
        painter.save()
        painter.resetTransform()
        font = QFont()
        font.setPixelSize(14)
        font.setBold(True)
        painter.setFont(font)
        fm = painter.fontMetrics()
        x = 10
        for name, colour in self.tags:
            w = fm.horizontalAdvance(name) + 16
            c = QColor(colour)
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(c)
            painter.drawRoundedRect(QRectF(x, 10, w, 24), 6, 6)
            painter.setPen(QColor("black") if c.lightness() > 140 else QColor("white"))
            painter.drawText(QRectF(x, 10, w, 24), Qt.AlignmentFlag.AlignCenter, name)
            x += w + 6
        if self.message:
            vr = QRectF(self.viewport().rect())
            box = QRectF(vr.center().x() - 260, vr.center().y() - 30, 520, 60)
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(QColor(0, 0, 0, 190))
            painter.drawRoundedRect(box, 8, 8)
            painter.setPen(QColor("#ffd479"))
            painter.drawText(
                box.adjusted(12, 0, -12, 0),
                Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap,
                self.message,
            )
        painter.restore()

    # -- keyboard ---------------------------------------------------------------------
    def event(self, event: QEvent) -> bool:
        # Take keys from window shortcuts when they mean something here: Space to pan, arrows
        # to nudge a selection, Enter/Escape while a polygon is being drawn.
        if event.type() == QEvent.Type.ShortcutOverride:
            key = event.key()  # type: ignore[attr-defined]
            mods = event.modifiers()  # type: ignore[attr-defined]
            plain = mods in (Qt.KeyboardModifier.NoModifier, Qt.KeyboardModifier.ShiftModifier)
            if (
                (key == Qt.Key.Key_Space and mods == Qt.KeyboardModifier.NoModifier)
                or (key in ARROWS and plain and self.selected_items())
                or (key in (Qt.Key.Key_Return, Qt.Key.Key_Enter, Qt.Key.Key_Escape) and self._poly)
            ):
                event.accept()
                return True
        return super().event(event)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        key = event.key()
        if key == Qt.Key.Key_Space:
            if not event.isAutoRepeat():
                self._space = True
                self.viewport().setCursor(Qt.CursorShape.OpenHandCursor)
            return
        if key in ARROWS and self.selected_items():
            step = 10 if event.modifiers() & Qt.KeyboardModifier.ShiftModifier else 1
            dx, dy = ARROWS[key]
            self.nudge(dx * step, dy * step)
            return
        if key in (Qt.Key.Key_Return, Qt.Key.Key_Enter) and self._poly:
            self.close_polygon()
            return
        if key == Qt.Key.Key_Escape:
            if self._poly or self._drag:
                self.cancel_gesture()
            else:
                self.scene().clearSelection()
            return
        super().keyPressEvent(event)

    def keyReleaseEvent(self, event: QKeyEvent) -> None:
        # Space only pans while held: it never edits anything, however long it is held and
        # however the key repeats (it once also marked the image reviewed).
        if event.key() == Qt.Key.Key_Space and not event.isAutoRepeat():
            self._space = False
            self.viewport().setCursor(self._tool_cursor())
            return
        super().keyReleaseEvent(event)

    def nudge(self, dx: float, dy: float) -> None:
        items = self.selected_items()
        before = [i.shape_ for i in items]
        after = [self._clamped_translate(s, dx, dy) for s in before]
        if after != before:
            self.shapes_edited.emit(before, after, "nudge")

    # -- mouse ------------------------------------------------------------------------
    def scene_point(self, event: QMouseEvent) -> QPointF:
        return self.mapToScene(event.position().toPoint())

    def mousePressEvent(self, event: QMouseEvent) -> None:
        pos = self.scene_point(event)
        button = event.button()
        if button == Qt.MouseButton.MiddleButton or (
            button == Qt.MouseButton.LeftButton and self._space
        ):
            self._drag = _Drag("pan", pos, last_view=event.position())
            self.viewport().setCursor(Qt.CursorShape.ClosedHandCursor)
            return
        if button != Qt.MouseButton.LeftButton:
            return super().mousePressEvent(event)
        mods = event.modifiers()
        if self.tool == "polygon" and (self._poly or not self._handle_hit(pos)):
            self._polygon_click(pos)
            return
        hit = self._handle_hit(pos)
        if hit is not None:
            item, index = hit
            if mods & Qt.KeyboardModifier.AltModifier:
                self._delete_vertex(item, index)
                return
            if not item.isSelected():  # the vertex under the cursor, selected or not
                if not mods & Qt.KeyboardModifier.ControlModifier:
                    self.scene().clearSelection()
                item.setSelected(True)
            for other in self.selected_items():
                other.active_vertex = None
                other.update()
            item.active_vertex = index
            self._drag = _Drag("handle", pos, [item], [item.shape_], index)
            return
        if self.tool == "box":
            self._drag = _Drag("box", self._clamp(pos))
            return
        self._select_press(event, pos, mods)

    def _select_press(self, event: QMouseEvent, pos: QPointF, mods) -> None:
        item = self._item_at(pos)
        ctrl = bool(mods & Qt.KeyboardModifier.ControlModifier)
        if item is None:
            if not ctrl:
                self.scene().clearSelection()
            self.setDragMode(QGraphicsView.DragMode.RubberBandDrag)
            super().mousePressEvent(event)
            return
        if ctrl:
            item.setSelected(not item.isSelected())
            return
        if not item.isSelected():
            self.scene().clearSelection()
            item.setSelected(True)
        for i in self.selected_items():
            i.active_vertex = None
        items = self.selected_items()
        self._drag = _Drag("move", pos, items, [i.shape_ for i in items])

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        pos = self.scene_point(event)
        self.cursor_moved.emit(pos.x(), pos.y())
        d = self._drag
        if d is None:
            if self._poly:
                self._show_polygon_preview(pos)
            else:
                self._hover(pos)
            return super().mouseMoveEvent(event)
        d.moved = True
        if d.kind == "pan":
            delta = event.position() - d.last_view
            d.last_view = event.position()
            self.horizontalScrollBar().setValue(self.horizontalScrollBar().value() - int(delta.x()))
            self.verticalScrollBar().setValue(self.verticalScrollBar().value() - int(delta.y()))
        elif d.kind == "box":
            end = self._clamp(pos)
            path = QPainterPath()
            path.addRect(QRectF(d.start, end).normalized())
            self._set_preview(path)
        elif d.kind == "move":
            dx, dy = pos.x() - d.start.x(), pos.y() - d.start.y()
            dx, dy = self._limit_translation(d.before, dx, dy)
            for item, s in zip(d.items, d.before, strict=True):
                item.set_shape(s.translated(dx, dy))
        elif d.kind == "handle":
            item = d.items[0]
            item.set_shape(_move_point(d.before[0], d.index, self._clamp(pos)))

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        d, self._drag = self._drag, None
        if d is None:
            super().mouseReleaseEvent(event)
            self.setDragMode(QGraphicsView.DragMode.NoDrag)
            return
        if d.kind == "pan":
            self.viewport().setCursor(
                Qt.CursorShape.OpenHandCursor if self._space else self._tool_cursor()
            )
        elif d.kind == "box":
            self._set_preview(None)
            end = self._clamp(self.scene_point(event))
            w, h = abs(end.x() - d.start.x()), abs(end.y() - d.start.y())
            if w * self.zoom() >= MIN_BOX_PX and h * self.zoom() >= MIN_BOX_PX and self.class_id:
                self.shape_drawn.emit(
                    Shape.box(self.class_id, d.start.x(), d.start.y(), end.x(), end.y())
                )
        elif d.kind in ("move", "handle"):
            after = [i.shape_ for i in d.items]
            if d.moved and after != d.before:
                self.shapes_edited.emit(d.before, after, "")

    def mouseDoubleClickEvent(self, event: QMouseEvent) -> None:
        if self.tool == "polygon" or event.button() != Qt.MouseButton.LeftButton:
            return
        pos = self.scene_point(event)
        for item in self._items_at(pos):
            if item.shape_.kind != "polygon":
                continue
            edge = item.edge_at(pos)
            if edge is not None and item.handle_at(pos) is None:
                pts = list(item.shape_.points)
                pts.insert(edge + 1, (pos.x(), pos.y()))
                self.shapes_edited.emit([item.shape_], [item.shape_.with_points(pts)], "")
                return

    # -- polygon drawing --------------------------------------------------------------
    def _polygon_click(self, pos: QPointF) -> None:
        pos = self._clamp(pos)
        if self.closes_polygon(pos):
            self.close_polygon()
            return
        self._poly.append(pos)
        self._show_polygon_preview(pos)

    def closes_polygon(self, pos: QPointF) -> bool:
        """Whether a click at `pos` (scene) closes the polygon being drawn: it is on the
        first vertex of one with three or more."""
        if len(self._poly) < 3:
            return False
        first, pos = self._poly[0], self._clamp(pos)
        return math.hypot(first.x() - pos.x(), first.y() - pos.y()) <= self._handle_size() * 1.6

    def drawing_polygon(self) -> list[QPointF]:
        """The vertices of the polygon being drawn (a copy; empty when none is)."""
        return list(self._poly)

    def route_last_segment(self, points: list[QPointF]) -> None:
        """Replace the last vertex of the polygon being drawn with `points`, which end at it:
        the segment from the vertex before follows them (edge snapping)."""
        if len(self._poly) >= 2 and points:
            self._poly[-1:] = points
            self._show_polygon_preview(self._poly[-1])

    def panning(self) -> bool:
        """Space is held or a pan drag is under way (a tool in front lets these through)."""
        return self._space or (self._drag is not None and self._drag.kind == "pan")

    def tool_cursor(self) -> Qt.CursorShape:
        return self._tool_cursor()

    def close_polygon(self) -> None:
        pts = [(p.x(), p.y()) for p in self._poly]
        self._poly = []
        self._set_preview(None)
        if len(pts) >= 3 and self.class_id:
            self.shape_drawn.emit(Shape.polygon(self.class_id, pts))

    def _show_polygon_preview(self, cursor: QPointF) -> None:
        path = QPainterPath()
        path.addPolygon(QPolygonF([*self._poly, cursor]))
        h = self._handle_size()
        for p in self._poly:
            path.addRect(QRectF(p.x() - h, p.y() - h, 2 * h, 2 * h))
        self._set_preview(path)

    def _set_preview(self, path: QPainterPath | None) -> None:
        pen = QPen(QColor(self.colour), 2, Qt.PenStyle.DashLine)
        pen.setCosmetic(True)
        self._preview.setPen(pen)
        self._preview.setPath(path or QPainterPath())

    def cancel_gesture(self) -> None:
        if self._drag and self._drag.kind in ("move", "handle"):
            for item, s in zip(self._drag.items, self._drag.before, strict=True):
                item.set_shape(s)
        self._drag = None
        self._poly = []
        self._set_preview(None)

    # -- helpers ----------------------------------------------------------------------
    def _tool_cursor(self) -> Qt.CursorShape:
        drawing = self.tool in ("box", "polygon")
        return Qt.CursorShape.CrossCursor if drawing else Qt.CursorShape.ArrowCursor

    def _items_at(self, pos: QPointF) -> list[ShapeItem]:
        return [i for i in self.scene().items(pos) if isinstance(i, ShapeItem)]

    def _item_at(self, pos: QPointF) -> ShapeItem | None:
        items = self._items_at(pos)
        return items[0] if items else None

    def _grabs_any_shape(self) -> bool:
        # The drawing tools grab only the selection's handles: a new box or polygon often
        # starts on the corner of one beside it.
        return self.tool in ("tag", "select")

    def _handle_hit(self, pos: QPointF) -> tuple[ShapeItem, int] | None:
        """The vertex (or box corner) under `pos`: the selection's first, then, with the
        select and tag tools, any shape's, the topmost first."""
        candidates = self.selected_items()
        if self._grabs_any_shape():
            r = self._handle_size() * 2
            near = self.scene().items(QRectF(pos.x() - r, pos.y() - r, 2 * r, 2 * r))
            candidates += [i for i in near if isinstance(i, ShapeItem) and not i.isSelected()]
        for item in candidates:
            index = item.handle_at(pos)
            if index is not None:
                return item, index
        return None

    def _hover(self, pos: QPointF) -> None:
        """Show the handles of the shape under the cursor, and a grab cursor on a vertex."""
        hit = self._handle_hit(pos) if self._grabs_any_shape() else None
        item = hit[0] if hit else (self._item_at(pos) if self._grabs_any_shape() else None)
        if item is not self._hovered:
            if self._hovered is not None and self._hovered.scene() is self.scene():
                self._hovered.set_hovered(False)
            self._hovered = item
            if item is not None:
                item.set_hovered(True)
        if not self._space:
            self.viewport().setCursor(Qt.CursorShape.SizeAllCursor if hit else self._tool_cursor())

    def _delete_vertex(self, item: ShapeItem, index: int) -> None:
        s = item.shape_
        if s.kind != "polygon" or len(s.points) <= 3:
            return
        pts = [p for i, p in enumerate(s.points) if i != index]
        item.active_vertex = None
        self.shapes_edited.emit([s], [s.with_points(pts)], "")

    def delete_selected_vertex(self) -> bool:
        """Delete the active polygon vertex; False when none is active."""
        hit = self.selected_vertex()
        if hit is None or len(hit[0].shape_.points) <= 3:
            return False
        self._delete_vertex(*hit)
        return True

    def _clamp(self, pos: QPointF) -> QPointF:
        w, h = self.image_size
        return QPointF(min(max(pos.x(), 0.0), float(w)), min(max(pos.y(), 0.0), float(h)))

    def _limit_translation(self, shapes: list[Shape], dx: float, dy: float) -> tuple[float, float]:
        w, h = self.image_size
        for s in shapes:
            x1, y1, x2, y2 = s.bbox()  # type: ignore[misc]
            dx = min(max(dx, -x1), w - x2)
            dy = min(max(dy, -y1), h - y2)
        return dx, dy

    def _clamped_translate(self, s: Shape, dx: float, dy: float) -> Shape:
        dx, dy = self._limit_translation([s], dx, dy)
        return s.translated(dx, dy)

    def _on_selection(self) -> None:
        for item in self.items_by_id.values():
            if not item.isSelected():
                item.active_vertex = None
        self.selection_changed.emit()


def _move_point(shape: Shape, index: int, pos: QPointF) -> Shape:
    """The shape with corner/vertex `index` at `pos` (a box keeps the opposite corner)."""
    x, y = pos.x(), pos.y()
    if shape.kind == "box":
        (x1, y1), (x2, y2) = shape.points
        corners: list[Point] = [(x1, y1), (x2, y1), (x2, y2), (x1, y2)]
        ox, oy = corners[(index + 2) % 4]
        if abs(x - ox) < 1 or abs(y - oy) < 1:
            return shape  # never collapse a box to a line
        return shape.with_points(((ox, oy), (x, y)))
    pts = list(shape.points)
    pts[index] = (x, y)
    return shape.with_points(pts)
