"""The assists in the window (issue 18): box to polygon (GrabCut), the magic wand, and edge
snapping while a polygon is drawn. The work is `labeler.app.assists` and `labeler.core.assists`;
this module is the gestures, the overlay that previews a result, and the worker that runs them.

`AssistTools(window)` sits in front of the canvas as an event filter, so the canvas needs no
assist code: while an assist tool is on, it takes the canvas's mouse gestures (a middle-button
or Space pan still reaches the canvas), and with snapping on it follows each click of the
polygon tool with the edge path from the vertex before.

- **GrabCut** (tool, or G with one box selected: that box is converted): drag a box; the
  outline found is previewed, not stored. Left-drag marks what is surely object, right-drag
  (or Shift+left-drag) what is surely background; each stroke runs GrabCut again. Enter
  stores the polygon (replacing the box it came from) as one undo step; Esc drops it.
- **Wand**: a click stores the region's outline as a polygon; dragging sideways before
  releasing sets the tolerance (right: more), as the toolbar's slider does. Shift+click adds
  the region to the selected polygon (or the wand's last one), Alt+click cuts it away. One
  undo step each.
- **Snapping**: the segment between two clicks of the polygon tool follows the strongest
  edge (intelligent scissors, about 30 ms per segment: on the GUI thread).

GrabCut takes up to a few hundred milliseconds, so every assist runs on a worker thread (the
image is decoded there once and kept); the window never waits. A failure is one line in the
status bar, and nothing is written.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np
from PySide6.QtCore import QEvent, QObject, QPointF, QRectF, Qt
from PySide6.QtGui import QBrush, QColor, QKeyEvent, QMouseEvent, QPainterPath, QPen, QPolygonF
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QGraphicsPathItem,
    QLabel,
    QMainWindow,
    QSlider,
    QToolBar,
)

from labeler.app.assists import (
    AssistRequest,
    Strokes,
    decode_checked,
    polygon_edit,
    run_assist_on,
)
from labeler.app.session import Session
from labeler.core.assists import (
    ASSISTS,
    MAX_VERTICES,
    AssistFailed,
    Point,
    combine,
    crosses,
    simplify,
    snap_path,
)
from labeler.core.errors import LabelerError
from labeler.core.shapes import Shape
from labeler.gui.jobs import JobRunner
from labeler.store.edits import AddShapes, DeleteShapes, Edit, ShapeChange, UpdateShapes
from labeler.store.project import Project

MODES = ("grabcut", "wand")
MIN_BOX_PX = 4.0  # on screen: a smaller drag is a slip, not a box
DRAG_PX = 4.0  # a wand press that moves further than this sets the tolerance
TOLERANCE = (1, 120, 24)
SEAM_PX = 2.0  # how far a Shift+click region is grown to meet the polygon it joins  # the slider's range and default (colour units, 0-255 scale)


@dataclass
class ReplaceShapes(Edit):
    """A box converted to its polygon: the box goes, the polygon comes, one undo step."""

    image_id: int
    removed: list[Shape]
    added: list[Shape]
    text: str = "box to polygon"
    _delete: DeleteShapes = field(init=False, repr=False)
    _add: AddShapes = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._delete = DeleteShapes(self.image_id, self.removed)
        self._add = AddShapes(self.image_id, self.added)

    def do(self, project: Project) -> None:
        with project.atomic():
            self._delete.do(project)
            self._add.do(project)
        self.added = self._add.shapes

    def undo(self, project: Project) -> None:
        with project.atomic():
            self._add.undo(project)
            self._delete.undo(project)

    def change(self, undone: bool = False) -> ShapeChange:
        a, d = self._add.change(undone), self._delete.change(undone)
        return ShapeChange(removed=a.removed + d.removed, written=a.written + d.written)


@dataclass
class _GrabCut:
    """A box being turned into a polygon: not stored until Enter."""

    image_id: int
    box: tuple[float, float, float, float]
    replace: Shape | None = None  # the stored box it converts
    foreground: list[tuple[Point, ...]] = field(default_factory=list)
    background: list[tuple[Point, ...]] = field(default_factory=list)
    polygon: list[Point] | None = None
    running: bool = False
    accept_when_done: bool = False


@dataclass
class _Gesture:
    kind: str  # box | stroke_fg | stroke_bg | wand
    start: QPointF
    view_start: QPointF
    points: list[QPointF] = field(default_factory=list)
    modifiers: Qt.KeyboardModifier = Qt.KeyboardModifier.NoModifier
    tolerance: float | None = None  # the wand's, once the press was dragged sideways
    base: float = 0.0


def _area(points) -> float:
    return abs(cv2.contourArea(np.asarray(points, np.float32).reshape(-1, 1, 2)))


def _grown(points: list[Point], px: float) -> list[Point]:
    """The outline grown outwards by about `px` image pixels."""
    pts = np.asarray(points, np.float64)
    ox, oy = np.floor(pts.min(0)) - px - 2
    w, h = (np.ceil(pts.max(0)) - (ox, oy) + px + 3).astype(int)
    mask = np.zeros((h, w), np.uint8)
    cv2.fillPoly(mask, [np.round(pts - (ox, oy)).astype(np.int32)], 1)
    k = int(2 * round(px) + 1)
    mask = cv2.dilate(mask, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k)))
    contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    c = max(contours, key=cv2.contourArea)[:, 0].astype(np.float64)
    return [(float(x) + ox, float(y) + oy) for x, y in simplify(c, MAX_VERTICES)]


def _pen(colour: str, width: float, style=Qt.PenStyle.SolidLine) -> QPen:
    pen = QPen(QColor(colour), width, style)
    pen.setCosmetic(True)
    pen.setCapStyle(Qt.PenCapStyle.RoundCap)
    pen.setJoinStyle(Qt.PenJoinStyle.RoundJoin)
    return pen


class AssistBar(QToolBar):
    """The assists' settings: the wand's tolerance and edges, and edge snapping."""

    def __init__(self, parent: QMainWindow) -> None:
        super().__init__("Assists", parent)
        self.setObjectName("assists_toolbar")
        self.mode_label = QLabel("")
        self.tolerance = QSlider(Qt.Orientation.Horizontal)
        lo, hi, default = TOLERANCE
        self.tolerance.setRange(lo, hi)
        self.tolerance.setValue(default)
        self.tolerance.setFixedWidth(140)
        self.tolerance.setToolTip("Magic wand tolerance (or drag sideways while clicking)")
        self.tolerance_label = QLabel(f"Wand tolerance {default}")
        self.tolerance.valueChanged.connect(
            lambda v: self.tolerance_label.setText(f"Wand tolerance {v}")
        )
        self.edges = QCheckBox("Wand stops at edges")
        self.snap = QCheckBox("Snap polygon to edges")
        self.snap.setToolTip(
            "Polygon tool: the segment between two clicks follows the strongest edge"
        )
        # A plugin's assists (ASSISTS): a box one runs in place of GrabCut, a click one in
        # place of the wand. Shown only when there is a choice.
        self.box_method, self.point_method = QComboBox(), QComboBox()
        self.box_method.setToolTip("What the G tool runs on a box (plugins add their own)")
        self.point_method.setToolTip("What the W tool runs on a click (plugins add their own)")
        self.addWidget(self.mode_label)
        self._box_action = self.addWidget(self.box_method)
        self.addSeparator()
        self._point_action = self.addWidget(self.point_method)
        for w in (self.tolerance_label, self.tolerance, self.edges):
            self.addWidget(w)
        self.addSeparator()
        self.addWidget(self.snap)
        self.refresh_methods()

    def refresh_methods(self) -> None:
        """List the registered assists (a plugin may have added some since)."""
        for combo, action, needs, default in (
            (self.box_method, self._box_action, "box", "grabcut"),
            (self.point_method, self._point_action, "point", "wand"),
        ):
            keep = combo.currentData() or default
            combo.blockSignals(True)
            combo.clear()
            for name, assist in ASSISTS.items():
                if assist.needs == needs:
                    combo.addItem(assist.title, name)
            combo.setCurrentIndex(max(0, combo.findData(keep)))
            combo.blockSignals(False)
            action.setVisible(combo.count() > 1)


class AssistTools(QObject):
    """The assist tools of one window (see the module docstring). The window hands in itself;
    what this reads of it: `canvas`, `session` (a `Session`) and its status bar."""

    def __init__(self, window: QMainWindow) -> None:
        super().__init__(window)
        self.window = window
        self.canvas = window.canvas  # type: ignore[attr-defined]
        self.session: Session = window.session  # type: ignore[attr-defined]
        self.jobs = JobRunner(threads=1, parent=self)
        self.mode: str | None = None
        self.bar = AssistBar(window)
        window.addToolBar(Qt.ToolBarArea.TopToolBarArea, self.bar)
        self.bar.snap.toggled.connect(self._snap_toggled)
        self.pending: _GrabCut | None = None
        self.last_wand_id: int | None = None
        self.last_error = ""
        self._gesture: _Gesture | None = None
        self._pixels: tuple[int, np.ndarray] | None = None  # (image id, BGR), decoded once
        self._decoding: int | None = None
        self._generation = 0
        scene = self.canvas.scene()
        self._box_item = QGraphicsPathItem()
        self._fg_item = QGraphicsPathItem()
        self._bg_item = QGraphicsPathItem()
        self._result_item = QGraphicsPathItem()
        for z, item in enumerate((self._result_item, self._box_item, self._bg_item, self._fg_item)):
            item.setZValue(3 + z)
            scene.addItem(item)
        self._box_item.setPen(_pen("#ffd479", 1.5, Qt.PenStyle.DashLine))
        self._fg_item.setPen(_pen("#3ddc84", 5))
        self._bg_item.setPen(_pen("#ff5c5c", 5))
        self._viewport = self.canvas.viewport()
        self._viewport.installEventFilter(self)
        self.canvas.installEventFilter(self)

    # -- state ------------------------------------------------------------------------
    @property
    def snapping(self) -> bool:
        return self.bar.snap.isChecked()

    def set_snapping(self, on: bool) -> None:
        self.bar.snap.setChecked(on)

    def toggle_snapping(self) -> None:
        self.set_snapping(not self.snapping)

    @property
    def tolerance(self) -> int:
        return self.bar.tolerance.value()

    def set_mode(self, mode: str | None) -> None:
        """Turn an assist tool on (`grabcut`, `wand`) or off (None)."""
        if mode is not None and mode not in MODES:
            raise ValueError(mode)
        self.cancel()
        self.mode = None
        if mode is not None and self.session.tool != "select":
            # Class keys then pick the polygon's class (or recolour the selection): with
            # the tag tool they would tag the image.
            self.session.set_tool("select")
        self.mode = mode
        titles = {"grabcut": "GrabCut: drag a box", "wand": "Magic wand: click a region"}
        self.bar.mode_label.setText(titles.get(mode or "", ""))
        if mode is not None:
            self.bar.refresh_methods()
            self.canvas.scene().clearSelection()
            self.canvas.viewport().setCursor(Qt.CursorShape.CrossCursor)
            self._say(self._hint())
            self._ensure_pixels()
        else:
            self.canvas.viewport().setCursor(self.canvas.tool_cursor())

    def box_to_polygon(self) -> None:
        """G: convert the one selected box, else turn the GrabCut tool on."""
        boxes = [s for s in self.canvas.selected_shapes() if s.kind == "box"]
        if len(boxes) != 1 or self.session.current is None:
            self.set_mode("grabcut")
            return
        self.set_mode("grabcut")
        (x1, y1), (x2, y2) = boxes[0].points
        self.pending = _GrabCut(self.session.current.id, (x1, y1, x2, y2), replace=boxes[0])
        self._show_pending()
        self._run_grabcut()

    def tool_changed(self, _tool: str) -> None:
        """The canvas's own tool was chosen (T, V, B, P): the assist tool is off."""
        if self.mode is not None:
            self.set_mode(None)

    def image_changed(self) -> None:
        """Another image is shown: a GrabCut in progress on the last one is dropped."""
        if self.pending is not None and self._current_id() != self.pending.image_id:
            self.cancel()
            # Its "Enter keeps the polygon" hint no longer holds (it stayed, issue 18).
            self._say("GrabCut dropped: another image is shown; nothing was saved", 4000)
        if self.mode is not None or self.snapping:
            self._ensure_pixels()

    def cancel(self) -> None:
        """Drop what is in progress (Esc); nothing is written."""
        self._generation += 1
        self.pending = None
        self._gesture = None
        if self.mode == "grabcut":
            self.bar.mode_label.setText("GrabCut: drag a box")
        for item in (self._box_item, self._fg_item, self._bg_item, self._result_item):
            item.setPath(QPainterPath())

    def shutdown(self) -> None:
        self.cancel()
        self.jobs.shutdown()

    def _current_id(self) -> int | None:
        return self.session.current.id if self.session.current is not None else None

    def _hint(self) -> str:
        if self.mode == "wand":
            return (
                "Magic wand: click a region (drag sideways for the tolerance); Shift+click adds,"
                " Alt+click cuts away"
            )
        if self.pending is None:
            return "GrabCut: drag a box around the object"
        return (
            "GrabCut: Enter keeps the polygon, Esc drops it; drag over the object (left) or"
            " the background (right / Shift) to correct it"
        )

    def _say(self, text: str, ms: int = 8000) -> None:
        self.window.statusBar().showMessage(text, ms)

    def _fail(self, message: str) -> None:
        self.last_error = message
        self._say(f"Assist: {message} (nothing was saved)", 10000)

    # -- events -----------------------------------------------------------------------
    def eventFilter(self, obj: QObject, event: QEvent) -> bool:  # noqa: N802 (Qt's name)
        t = event.type()
        if obj is self.canvas:
            if t == QEvent.Type.ShortcutOverride and self._takes_key(event):  # type: ignore[arg-type]
                event.accept()
                return True
            if t == QEvent.Type.KeyPress and self._takes_key(event):  # type: ignore[arg-type]
                return self._key(event)  # type: ignore[arg-type]
            if t == QEvent.Type.KeyPress and self._closes_snapped(event):  # type: ignore[arg-type]
                self._snap_closing()  # then the canvas closes the polygon with it
            return False
        if obj is self._viewport and t in (
            QEvent.Type.MouseButtonPress,
            QEvent.Type.MouseMove,
            QEvent.Type.MouseButtonRelease,
            QEvent.Type.MouseButtonDblClick,
        ):
            return self._mouse(event)  # type: ignore[arg-type]
        return False

    def _takes_key(self, event: QKeyEvent) -> bool:
        keys = (Qt.Key.Key_Return, Qt.Key.Key_Enter, Qt.Key.Key_Escape)
        return self.pending is not None and event.key() in keys

    def _key(self, event: QKeyEvent) -> bool:
        if event.key() == Qt.Key.Key_Escape:
            self.cancel()
            self._say("GrabCut dropped; nothing was saved", 4000)
        else:
            self.accept()
        return True

    def _panning(self, event: QMouseEvent) -> bool:
        return event.button() == Qt.MouseButton.MiddleButton or self.canvas.panning()

    def _mouse(self, event: QMouseEvent) -> bool:
        t = event.type()
        if self.mode is None:
            if (
                self.snapping
                and t == QEvent.Type.MouseButtonPress
                and event.button() == Qt.MouseButton.LeftButton
                and self.canvas.tool == "polygon"
                and not self._panning(event)
            ):
                before = self.canvas.drawing_polygon()
                if self.canvas.closes_polygon(self.canvas.mapToScene(event.position().toPoint())):
                    self._snap_closing()
                self.canvas.mousePressEvent(event)
                self._snap_last(before)
                return True
            return False
        if self._panning(event):
            return False
        pos = self.canvas.mapToScene(event.position().toPoint())
        if t == QEvent.Type.MouseButtonPress:
            self._press(event, pos)
        elif t == QEvent.Type.MouseMove:
            self.canvas.cursor_moved.emit(pos.x(), pos.y())
            self._move(event, pos)
        elif t == QEvent.Type.MouseButtonRelease:
            self._release(event, pos)
        return True

    def _press(self, event: QMouseEvent, pos: QPointF) -> None:
        if self.session.current is None or self.session.current_class is None:
            self._say("Choose an image and a class first", 5000)
            return
        mods = event.modifiers()
        button = event.button()
        view = event.position()
        if self.mode == "wand":
            if button == Qt.MouseButton.LeftButton:
                self._gesture = _Gesture("wand", self._clamp(pos), view, modifiers=mods)
            return
        if self.pending is not None and self.pending.image_id != self._current_id():
            self.cancel()
        if self.pending is None:
            if button == Qt.MouseButton.LeftButton:
                self._gesture = _Gesture("box", self._clamp(pos), view)
            return
        background = button == Qt.MouseButton.RightButton or (
            button == Qt.MouseButton.LeftButton and mods & Qt.KeyboardModifier.ShiftModifier
        )
        if button in (Qt.MouseButton.LeftButton, Qt.MouseButton.RightButton):
            kind = "stroke_bg" if background else "stroke_fg"
            self._gesture = _Gesture(kind, pos, view, [pos])
            self._show_strokes()

    def _move(self, event: QMouseEvent, pos: QPointF) -> None:
        g = self._gesture
        if g is None:
            return
        if g.kind == "box":
            path = QPainterPath()
            path.addRect(QRectF(g.start, self._clamp(pos)).normalized())
            self._box_item.setPath(path)
        elif g.kind.startswith("stroke"):
            g.points.append(pos)
            self._show_strokes()
        elif g.kind == "wand":
            dx = event.position().x() - g.view_start.x()
            if g.tolerance is not None or abs(dx) > DRAG_PX:
                lo, hi, _ = TOLERANCE
                if g.tolerance is None:
                    g.base = float(self.tolerance)
                g.tolerance = float(min(hi, max(lo, round(g.base + dx / 2))))
                self.bar.tolerance.setValue(int(g.tolerance))  # the slider follows the drag
                self._say(f"Wand tolerance {g.tolerance:.0f}: release to fill", 3000)

    def _release(self, event: QMouseEvent, pos: QPointF) -> None:
        g, self._gesture = self._gesture, None
        if g is None or self.session.current is None:
            return
        if g.kind == "box":
            end = self._clamp(pos)
            zoom = self.canvas.zoom() or 1.0
            w, h = abs(end.x() - g.start.x()), abs(end.y() - g.start.y())
            if w * zoom < MIN_BOX_PX or h * zoom < MIN_BOX_PX:
                self._box_item.setPath(QPainterPath())
                return
            box = (g.start.x(), g.start.y(), end.x(), end.y())
            self.pending = _GrabCut(self.session.current.id, box)
            self._show_pending()
            self._run_grabcut()
        elif g.kind.startswith("stroke") and self.pending is not None:
            g.points.append(pos)
            line = tuple((p.x(), p.y()) for p in g.points)
            (self.pending.background if g.kind == "stroke_bg" else self.pending.foreground).append(
                line
            )
            self._show_strokes()
            self._run_grabcut()
        elif g.kind == "wand":
            if g.tolerance is not None:
                self.bar.tolerance.setValue(int(g.tolerance))
            mods = g.modifiers
            how = (
                "subtract"
                if mods & Qt.KeyboardModifier.AltModifier
                else "add"
                if mods & Qt.KeyboardModifier.ShiftModifier
                else "new"
            )
            self._run_wand((g.start.x(), g.start.y()), how)

    # -- GrabCut ----------------------------------------------------------------------
    def _run_grabcut(self) -> None:
        p = self.pending
        if p is None:
            return
        strokes = Strokes(tuple(p.foreground), tuple(p.background), radius=self._brush())
        request = AssistRequest(box=p.box, strokes=strokes)
        self._generation += 1
        generation = self._generation
        p.running = True
        method = self.bar.box_method.currentData() or "grabcut"
        self._say(f"{self.bar.box_method.currentText() or 'GrabCut'}: finding the object…", 0)

        def done(result) -> None:
            if generation != self._generation or self.pending is not p:
                return  # a newer stroke, or dropped
            p.running = False
            p.polygon = result.polygon
            self._show_pending()
            if p.accept_when_done:
                self.accept()
            else:
                self._say(self._hint(), 0)

        def failed(message: str) -> None:
            if generation != self._generation or self.pending is not p:
                return
            p.running = False
            p.accept_when_done = False
            self._fail(message)

        self._run(method, request, done, failed)

    def _brush(self) -> float:
        # Strokes are drawn 5 screen pixels wide: the same width in image pixels.
        return max(1.0, 2.5 / (self.canvas.zoom() or 1.0))

    def accept(self) -> bool:
        """Enter: store the previewed polygon as one edit (after the running GrabCut, if one
        is still running). False when there is nothing to store."""
        p = self.pending
        if p is None:
            return False
        if p.running:
            p.accept_when_done = True
            self._say("GrabCut: storing the polygon when it is found…", 0)
            return True
        if p.polygon is None:
            self._say("GrabCut found no polygon to keep: draw another box or a stroke", 5000)
            return False
        project, class_name = self._target(p.replace.class_id if p.replace else None)
        if project is None or class_name is None:
            return False
        try:
            edit = polygon_edit(project, p.image_id, class_name, p.polygon)
        except LabelerError as e:
            self._fail(str(e))
            return False
        if p.replace is not None:
            edit = ReplaceShapes(p.image_id, [p.replace], edit.shapes)
        self.cancel()
        if self.session.apply(edit):
            self._select(edit.added if isinstance(edit, ReplaceShapes) else edit.shapes)
            self._say(f"Polygon stored ({len(p.polygon)} vertices); Ctrl+Z takes it back", 5000)
            return True
        return False

    # -- wand -------------------------------------------------------------------------
    def _run_wand(self, point: Point, how: str) -> None:
        request = AssistRequest(
            point=point, tolerance=float(self.tolerance), use_edges=self.bar.edges.isChecked()
        )
        if how != "new" and self._wand_target() is None:
            if how == "subtract":
                self._say("Alt+click cuts from a polygon: select one first", 5000)
                return
            how = "new"
        image_id = self._current_id()
        self._say("Magic wand…", 0)

        def done(result) -> None:
            if self._current_id() != image_id:
                return
            self._wand_done(result.polygon, how)

        self._run(self.bar.point_method.currentData() or "wand", request, done, self._fail)

    def _wand_target(self) -> Shape | None:
        polygons = [s for s in self.canvas.selected_shapes() if s.kind == "polygon"]
        if len(polygons) == 1:
            return polygons[0]
        for s in self.session.shapes:
            if s.id == self.last_wand_id and s.kind == "polygon":
                return s
        return None

    def _wand_done(self, polygon: list[Point], how: str) -> None:
        project, class_name = self._target()
        current = self.session.current
        if project is None or class_name is None or current is None:
            return
        target = self._wand_target() if how != "new" else None
        try:
            if target is None:
                edit: Edit = polygon_edit(project, current.id, class_name, polygon)
            else:
                if how == "add":
                    # Two wand regions side by side are outlined a pixel or so apart (each
                    # outline is simplified inwards): grown by a seam's width, they join.
                    polygon = _grown(polygon, SEAM_PX)
                merged = combine(target.points, polygon, subtract=how == "subtract")
                if _area(merged) <= _area(target.points) + 1 and how == "add":
                    raise AssistFailed("that region does not touch the polygon: nothing added")
                edit = UpdateShapes(
                    current.id, [target], [target.with_points(merged)], text=f"wand {how}"
                )
        except (AssistFailed, LabelerError) as e:
            self._fail(str(e))
            return
        if self.session.apply(edit):
            shapes = edit.shapes if isinstance(edit, AddShapes) else edit.after  # type: ignore[attr-defined]
            self.last_wand_id = shapes[0].id
            self._select(shapes)
            verb = {"new": "stored", "add": "added to", "subtract": "cut from"}[how]
            self._say(f"Magic wand: region {verb} the polygon; Ctrl+Z takes it back", 5000)

    # -- snapping ---------------------------------------------------------------------
    def _snap_toggled(self, on: bool) -> None:
        if on:
            self._ensure_pixels()
        self._say(
            "Edge snapping on: polygon segments follow the strongest edge"
            if on
            else "Edge snapping off",
            4000,
        )

    def _snap_last(self, before: list[QPointF]) -> None:
        """After a polygon-tool click: route the new segment along the strongest edge."""
        poly = self.canvas.drawing_polygon()
        if len(poly) != len(before) + 1 or len(poly) < 2:
            return  # the click closed (or restarted) the polygon
        pixels = self._cached_pixels()
        if pixels is None:
            self._ensure_pixels()
            self._say("Edge snapping: the image is still loading (a straight segment)", 3000)
            return
        path = self._snapped(pixels, poly[-2], poly[-1])
        if path:
            self.canvas.route_last_segment(path[1:])

    def _closes_snapped(self, event: QKeyEvent) -> bool:
        return (
            self.mode is None
            and self.snapping
            and self.canvas.tool == "polygon"
            and event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter)
            and len(self.canvas.drawing_polygon()) >= 3
        )

    def _snap_closing(self) -> None:
        """The polygon is being closed (Enter, or a click on its first vertex): the closing
        segment, last vertex back to the first, follows the edge like the others."""
        poly = self.canvas.drawing_polygon()
        pixels = self._cached_pixels()
        if len(poly) < 3 or pixels is None:
            return
        path = self._snapped(pixels, poly[-1], poly[0])
        if len(path) <= 2:
            return
        if crosses([(p.x(), p.y()) for p in path], [(p.x(), p.y()) for p in poly]):
            # E.g. clicks along one side only: the edge path back runs over them.
            self._say("Edge snapping: the closing segment stays straight (snapped, it would"
                      " cross the polygon)", 4000)  # fmt: skip
            return
        self.canvas.route_last_segment(path[:-1])  # the last vertex, then the bends

    def _snapped(self, pixels: np.ndarray, a: QPointF, b: QPointF) -> list[QPointF]:
        """The edge path from `a` to `b`, both ends included, in that order; [] on failure
        (said in the status bar; the segment stays straight)."""
        try:
            path = snap_path(pixels, (a.x(), a.y()), (b.x(), b.y()))
        except (AssistFailed, ValueError) as e:
            self._say(f"Edge snapping: {e}", 4000)
            return []
        return [QPointF(x, y) for x, y in path]

    # -- running ----------------------------------------------------------------------
    def _cached_pixels(self) -> np.ndarray | None:
        if self._pixels is not None and self._pixels[0] == self._current_id():
            return self._pixels[1]
        return None

    def _path(self) -> str | None:
        project, current = self.session.project, self.session.current
        if project is None or current is None:
            return None
        return str(project.resolve(current.path))

    def _ensure_pixels(self) -> None:
        """Decode the current image on the worker (for snapping, which runs on this thread)."""
        image_id, path = self._current_id(), self._path()
        if image_id is None or path is None or self._cached_pixels() is not None:
            return
        if self._decoding == image_id:
            return
        self._decoding = image_id

        def done(pixels: np.ndarray) -> None:
            self._decoding = None
            self._pixels = (image_id, pixels)

        def failed(message: str) -> None:
            self._decoding = None
            self._fail(message)

        record = self.session.current  # the file must still be the image imported
        self.jobs.start(lambda _job: decode_checked(path, record), done, failed)

    def _run(self, method: str, request: AssistRequest, on_done, on_failed) -> None:
        image_id, path = self._current_id(), self._path()
        if image_id is None or path is None:
            return
        cached, record = self._cached_pixels(), self.session.current

        def work(_job):
            pixels = cached if cached is not None else decode_checked(path, record)
            return pixels, run_assist_on(pixels, method, request, image_id=image_id)

        def done(out) -> None:
            pixels, result = out
            self._pixels = (image_id, pixels)
            on_done(result)

        self.jobs.start(work, done, on_failed)

    # -- helpers ----------------------------------------------------------------------
    def _target(self, class_id: int | None = None) -> tuple[Project | None, str | None]:
        """The project and the polygon's class: `class_id` (a converted box keeps its
        class), else the current class."""
        s = self.session
        class_id = class_id if class_id is not None else s.current_class
        c = s.classes.get(class_id) if class_id is not None else None
        if s.project is None or c is None:
            self._say("Add a class first: the polygon needs one", 5000)
            return s.project, None
        return s.project, c.name

    def _select(self, shapes: list[Shape]) -> None:
        self.canvas.select_ids({s.id for s in shapes if s.id is not None})

    def _clamp(self, pos: QPointF) -> QPointF:
        w, h = self.canvas.image_size
        return QPointF(min(max(pos.x(), 0.0), float(w)), min(max(pos.y(), 0.0), float(h)))

    def _colour(self) -> str:
        s, p = self.session, self.pending
        class_id = p.replace.class_id if p is not None and p.replace else s.current_class
        c = s.classes.get(class_id) if class_id is not None else None
        return c.colour if c is not None else "#ffffff"

    def _show_pending(self) -> None:
        p = self.pending
        if self.mode == "grabcut":
            self.bar.mode_label.setText(
                "GrabCut: drag a box" if p is None else "GrabCut: Enter keeps, Esc drops"
            )
        box, result = QPainterPath(), QPainterPath()
        if p is not None:
            x1, y1, x2, y2 = p.box
            box.addRect(QRectF(QPointF(x1, y1), QPointF(x2, y2)).normalized())
            if p.polygon:
                result.addPolygon(QPolygonF([QPointF(x, y) for x, y in p.polygon]))
                result.closeSubpath()
        self._box_item.setPath(box)
        colour = QColor(self._colour())
        self._result_item.setPen(_pen(colour.name(), 2, Qt.PenStyle.DashLine))
        colour.setAlpha(70)
        self._result_item.setBrush(QBrush(colour))
        self._result_item.setPath(result)
        self._show_strokes()

    def _show_strokes(self) -> None:
        fg, bg = QPainterPath(), QPainterPath()
        p, g = self.pending, self._gesture
        lines: list[tuple[QPainterPath, list[QPointF]]] = []
        if p is not None:
            lines += [(fg, [QPointF(x, y) for x, y in line]) for line in p.foreground]
            lines += [(bg, [QPointF(x, y) for x, y in line]) for line in p.background]
        if g is not None and g.kind.startswith("stroke"):
            lines.append((bg if g.kind == "stroke_bg" else fg, g.points))
        for path, pts in lines:
            if pts:
                path.moveTo(pts[0])
                for q in pts[1:]:
                    path.lineTo(q)
                if len(pts) == 1:
                    path.lineTo(pts[0] + QPointF(0.01, 0.01))
        self._fg_item.setPath(fg)
        self._bg_item.setPath(bg)
