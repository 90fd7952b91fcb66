"""A shape on the canvas: its outline, vertex handles, label, and hit tests in scene pixels."""

from __future__ import annotations

import math

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import (
    QBrush,
    QColor,
    QFont,
    QFontMetricsF,
    QPainter,
    QPainterPath,
    QPainterPathStroker,
    QPen,
    QPolygonF,
)
from PySide6.QtWidgets import QGraphicsItem, QStyleOptionGraphicsItem

from labeler.core.shapes import Shape

HANDLE_PX = 5.0  # handle half-size on screen, whatever the zoom
LABEL_H = 17.0  # the label's height on screen
# The label sits above the shape, right of the top-left handle and clear of it, so the
# handles it once covered (top-left, and top-right on a narrow box) can be grabbed.
LABEL_X = HANDLE_PX + 2
LABEL_BOTTOM = -(HANDLE_PX + 1)


class ShapeItem(QGraphicsItem):
    """One box or polygon, drawn in its class colour; its handles show when it is selected
    or under the cursor (where a drag on one moves that vertex)."""

    def __init__(self, shape: Shape, colour: str, label: str) -> None:
        super().__init__()
        self.shape_ = shape
        self.colour = QColor(colour)
        self.label = label
        self.handle = HANDLE_PX  # in scene units; the canvas updates it on zoom
        self.active_vertex: int | None = None
        self.hovered = False
        self.setFlag(QGraphicsItem.GraphicsItemFlag.ItemIsSelectable, True)
        self.setZValue(1)

    # -- geometry ---------------------------------------------------------------------
    def points(self) -> list[QPointF]:
        pts = self.shape_.points
        if self.shape_.kind == "box":
            (x1, y1), (x2, y2) = pts
            return [QPointF(x1, y1), QPointF(x2, y1), QPointF(x2, y2), QPointF(x1, y2)]
        return [QPointF(x, y) for x, y in pts]

    def outline(self) -> QPolygonF:
        return QPolygonF(self.points())

    def set_shape(self, shape: Shape) -> None:
        self.prepareGeometryChange()
        self.shape_ = shape
        self.update()

    def set_hovered(self, hovered: bool) -> None:
        self.hovered = hovered
        self.update()

    def set_handle_size(self, size: float) -> None:
        self.prepareGeometryChange()
        self.handle = size

    def boundingRect(self) -> QRectF:
        m = self.handle * 2 + 2
        return self.outline().boundingRect().adjusted(-m, -m, m, m).united(self.label_rect())

    def _label_width(self) -> float:
        font = QFont()
        font.setPixelSize(12)
        font.setBold(True)
        return QFontMetricsF(font).horizontalAdvance(self.label) + 8

    def label_rect(self) -> QRectF:
        """Where the label is drawn, in scene units (it keeps its size on screen: the
        canvas's zoom is `HANDLE_PX / handle`)."""
        k = self.handle / HANDLE_PX  # scene units per screen pixel
        top_left = self.outline().boundingRect().topLeft()
        return QRectF(
            top_left.x() + LABEL_X * k,
            top_left.y() + (LABEL_BOTTOM - LABEL_H) * k,
            self._label_width() * k,
            LABEL_H * k,
        )

    def shape(self) -> QPainterPath:  # Qt's hit-test shape, not ours
        path = QPainterPath()
        path.addPolygon(self.outline())
        path.closeSubpath()
        stroker = QPainterPathStroker()
        stroker.setWidth(self.handle * 2)
        return path.united(stroker.createStroke(path))

    def handle_at(self, pos: QPointF) -> int | None:
        """The index of the vertex (polygon) or corner (box: TL, TR, BR, BL) under `pos`."""
        r = self.handle * 1.6
        best, best_d = None, r
        for i, p in enumerate(self.points()):
            d = math.hypot(p.x() - pos.x(), p.y() - pos.y())
            if d <= best_d:
                best, best_d = i, d
        return best

    def edge_at(self, pos: QPointF) -> int | None:
        """The index i of the edge (i, i+1) under `pos`, for inserting a vertex."""
        pts = self.points()
        for i in range(len(pts)):
            a, b = pts[i], pts[(i + 1) % len(pts)]
            if _segment_distance(pos, a, b) <= self.handle * 1.6:
                return i
        return None

    # -- painting ---------------------------------------------------------------------
    def paint(self, painter: QPainter, option: QStyleOptionGraphicsItem, widget=None) -> None:
        selected = self.isSelected()
        pen = QPen(self.colour, 3 if selected else 2)
        pen.setCosmetic(True)
        painter.setPen(pen)
        fill = QColor(self.colour)
        fill.setAlpha(80 if selected else 40)
        painter.setBrush(QBrush(fill))
        painter.drawPolygon(self.outline())
        scale = painter.worldTransform().m11() or 1.0
        self._paint_label(painter, scale)
        if selected or self.hovered:
            painter.setBrush(QBrush(QColor("white")))
            for i, p in enumerate(self.points()):
                h = self.handle
                if i == self.active_vertex:
                    painter.setBrush(QBrush(self.colour))
                painter.drawRect(QRectF(p.x() - h, p.y() - h, 2 * h, 2 * h))
                painter.setBrush(QBrush(QColor("white")))

    def _paint_label(self, painter: QPainter, scale: float) -> None:
        top_left = self.outline().boundingRect().topLeft()
        painter.save()
        painter.translate(top_left)
        painter.scale(1 / scale, 1 / scale)
        font = QFont()
        font.setPixelSize(12)
        font.setBold(True)
        painter.setFont(font)
        w = painter.fontMetrics().horizontalAdvance(self.label) + 8
        rect = QRectF(LABEL_X, LABEL_BOTTOM - LABEL_H, w, LABEL_H)
        painter.fillRect(rect, self.colour)
        painter.setPen(QColor("black") if self.colour.lightness() > 140 else QColor("white"))
        painter.drawText(rect.adjusted(4, 0, 0, 0), Qt.AlignmentFlag.AlignVCenter, self.label)
        painter.restore()


def _segment_distance(p: QPointF, a: QPointF, b: QPointF) -> float:
    ax, ay, bx, by = a.x(), a.y(), b.x(), b.y()
    dx, dy = bx - ax, by - ay
    length2 = dx * dx + dy * dy
    t = (
        0.0
        if length2 == 0
        else max(0.0, min(1.0, ((p.x() - ax) * dx + (p.y() - ay) * dy) / length2))
    )
    return math.hypot(p.x() - (ax + t * dx), p.y() - (ay + t * dy))
