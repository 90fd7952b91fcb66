"""Drawing and editing shapes with the mouse and keys, checked in the project file."""

from __future__ import annotations

import pytest
from gui_helpers import click, drag, view_point
from PySide6.QtCore import QPoint, Qt
from PySide6.QtWidgets import QApplication


def _one_to_one(window):
    # At 1:1 a view pixel is an image pixel, so exact coordinates can be asserted.
    window.canvas.set_zoom(1.0)
    window.canvas.centerOn(200, 150)


def _boxes(db, image_id):
    return [s for s in db()[image_id] if s.kind == "box"]


@pytest.mark.parametrize("zoom", ["fit", 1.0, 2.0])
def test_dragging_a_box_stores_its_pixel_corners_at_any_zoom(qtbot, window, db, zoom):
    window.set_tool("box")
    if zoom == "fit":
        window.canvas.fit()
    else:
        window.canvas.set_zoom(zoom)
        window.canvas.centerOn(100, 100)
    drag(qtbot, window, (60, 50), (150, 120))
    (box,) = _boxes(db, window.current.id)
    tol = 1.0 / window.canvas.zoom() + 0.01  # one screen pixel, in image pixels
    (x1, y1), (x2, y2) = box.points
    assert abs(x1 - 60) <= tol and abs(y1 - 50) <= tol
    assert abs(x2 - 150) <= tol and abs(y2 - 120) <= tol
    assert box.class_id == window.current_class


def test_box_is_clamped_to_the_image_and_tiny_drags_draw_nothing(qtbot, window, db):
    window.set_tool("box")
    window.canvas.fit()
    drag(qtbot, window, (350, 250), (390, 280))
    vp = window.canvas.viewport()
    a = view_point(window, 300, 200)
    qtbot.mousePress(vp, Qt.MouseButton.LeftButton, pos=a)
    qtbot.mouseRelease(vp, Qt.MouseButton.LeftButton, pos=a)
    (box,) = _boxes(db, window.current.id)
    assert box.points[1][0] <= 400 and box.points[1][1] <= 300


def test_move_resize_and_nudge_each_is_one_undo_step(qtbot, window, db):
    _one_to_one(window)
    window.set_tool("box")
    drag(qtbot, window, (50, 50), (150, 150))
    window.set_tool("select")
    click(qtbot, window, 100, 100)
    assert len(window.canvas.selected_items()) == 1
    drag(qtbot, window, (100, 100), (130, 110), steps=6)  # move
    (box,) = _boxes(db, window.current.id)
    assert box.points == ((80, 60), (180, 160))
    drag(qtbot, window, (180, 160), (200, 190))  # resize by the bottom-right handle
    (box,) = _boxes(db, window.current.id)
    assert box.points == ((80, 60), (200, 190))
    window.canvas.setFocus()
    for _ in range(3):
        qtbot.keyClick(window.canvas, Qt.Key.Key_Right)
    qtbot.keyClick(window.canvas, Qt.Key.Key_Down, Qt.KeyboardModifier.ShiftModifier)
    (box,) = _boxes(db, window.current.id)
    assert box.points == ((83, 70), (203, 200))
    assert window.current_row == 0  # arrows nudged, they did not change image
    window.undo.undo()  # the four nudges are one step
    assert _boxes(db, window.current.id)[0].points == ((80, 60), (200, 190))
    window.undo.undo()
    assert _boxes(db, window.current.id)[0].points == ((80, 60), (180, 160))
    window.undo.undo()
    assert _boxes(db, window.current.id)[0].points == ((50, 50), (150, 150))
    window.undo.redo()
    window.undo.redo()
    assert _boxes(db, window.current.id)[0].points == ((80, 60), (200, 190))


def test_polygon_draw_close_by_first_vertex_then_edit_vertices(qtbot, window, db):
    _one_to_one(window)
    window.set_tool("polygon")
    for x, y in ((100, 100), (200, 100), (200, 200), (100, 200)):
        click(qtbot, window, x, y)
    click(qtbot, window, 100, 100)  # the first vertex closes it
    (poly,) = [s for s in db()[window.current.id] if s.kind == "polygon"]
    assert poly.points == ((100, 100), (200, 100), (200, 200), (100, 200))
    window.set_tool("select")
    click(qtbot, window, 150, 150)
    drag(qtbot, window, (200, 200), (230, 240))  # drag a vertex
    poly = db()[window.current.id][0]
    assert poly.points[2] == (230, 240)
    qtbot.mouseDClick(
        window.canvas.viewport(), Qt.MouseButton.LeftButton, pos=view_point(window, 150, 100)
    )
    poly = db()[window.current.id][0]
    assert len(poly.points) == 5 and poly.points[1] == pytest.approx((150, 100), abs=2)
    click(qtbot, window, 150, 100, Qt.KeyboardModifier.AltModifier)  # alt-click deletes it
    assert len(db()[window.current.id][0].points) == 4
    click(qtbot, window, 100, 200)  # select a vertex, then Del
    qtbot.keyClick(window.canvas, Qt.Key.Key_Delete)
    poly = db()[window.current.id][0]
    assert poly.points == ((100, 100), (200, 100), (230, 240))
    for expected in (4, 5, 4, 4):
        window.undo.undo()
        assert len(db()[window.current.id][0].points) == expected


def test_polygon_closes_with_enter(qtbot, window, db):
    window.set_tool("polygon")
    for x, y in ((10, 10), (90, 10), (50, 80)):
        click(qtbot, window, x, y)
    qtbot.keyClick(window.canvas, Qt.Key.Key_Return)
    assert [s.kind for s in db()[window.current.id]] == ["polygon"]


def test_ctrl_click_and_rubber_band_select_several_then_delete_and_class_change(qtbot, window, db):
    _one_to_one(window)
    window.set_tool("box")
    for x in (20, 120, 220):
        drag(qtbot, window, (x, 20), (x + 60, 80))
    window.set_tool("select")
    click(qtbot, window, 50, 50)
    click(qtbot, window, 150, 50, Qt.KeyboardModifier.ControlModifier)
    assert len(window.canvas.selected_items()) == 2
    qtbot.keyClick(window.canvas, Qt.Key.Key_2)  # class of the selection
    dog = next(c.id for c in window.classes.values() if c.name == "dog")
    classes = [s.class_id for s in db()[window.current.id]]
    assert classes.count(dog) == 2
    window.canvas.scene().clearSelection()
    drag(qtbot, window, (5, 5), (300, 95))  # rubber band around all three
    assert len(window.canvas.selected_items()) == 3
    qtbot.keyClick(window.canvas, Qt.Key.Key_Delete)
    assert db()[window.current.id] == []
    window.undo.undo()
    assert len(db()[window.current.id]) == 3


def test_wheel_zooms_around_the_cursor(qtbot, window):
    from PySide6.QtCore import QPoint, QPointF
    from PySide6.QtGui import QWheelEvent

    c = window.canvas
    c.set_zoom(2.0)
    c.centerOn(200, 150)
    before = c.zoom()
    p = view_point(window, 100, 100)
    ev = QWheelEvent(
        QPointF(p),
        QPointF(c.viewport().mapToGlobal(p)),
        QPoint(0, 0),
        QPoint(0, 240),
        Qt.MouseButton.NoButton,
        Qt.KeyboardModifier.NoModifier,
        Qt.ScrollPhase.NoScrollPhase,
        False,
    )
    c.wheelEvent(ev)
    assert c.zoom() > before
    under = c.mapToScene(p)
    assert abs(under.x() - 100) < 2 and abs(under.y() - 100) < 2


def _chip_pixels(img, colour, rows: int) -> int:
    """Pixels of the chip colour in the top rows of a view (chips are drawn in the top 40)."""
    from PySide6.QtGui import QColor

    want = QColor(colour).rgb()
    return sum(
        img.pixel(x, y) == want for y in range(min(rows, img.height())) for x in range(img.width())
    )


@pytest.mark.parametrize("how", ["middle-drag", "space-drag"])
def test_a_tag_chip_stays_one_chip_while_panning(qtbot, window, how):
    """The chip is pinned to the view: a pan scrolls the image under it and leaves no copies
    of it on the screen (what the window shows, not a fresh render)."""
    from PySide6.QtGui import QGuiApplication
    from PySide6.QtTest import QTest

    c = window.canvas
    c.setFocus()
    qtbot.keyClick(c, Qt.Key.Key_1)  # tag tool: tag the image "cat"
    colour = window.session.classes[window.current_class].colour
    assert c.tags == [("cat", colour)]
    c.set_zoom(4.0)
    c.centerOn(200, 150)
    qtbot.wait(50)

    def screen():
        QApplication.processEvents()
        shot = QGuiApplication.primaryScreen().grabWindow(window.winId()).toImage()
        top_left = c.viewport().mapTo(window, c.viewport().rect().topLeft())
        return shot.copy(top_left.x(), top_left.y(), c.viewport().width(), c.viewport().height())

    shot = screen()
    one = _chip_pixels(shot, colour, 40)
    assert one > 100 and _chip_pixels(shot, colour, 120) == one  # the chip, at its place
    vp = c.viewport()
    start = vp.rect().center()
    button = Qt.MouseButton.MiddleButton if how == "middle-drag" else Qt.MouseButton.LeftButton
    if how == "space-drag":
        QTest.simulateEvent(c, True, Qt.Key.Key_Space, Qt.KeyboardModifier.NoModifier, " ", False)
    qtbot.mousePress(vp, button, Qt.KeyboardModifier.NoModifier, start)
    for i in range(1, 7):  # right and down: the image moves away from the chip's corner
        qtbot.mouseMove(vp, start + QPoint(9 * i, 7 * i))
        QApplication.processEvents()  # painted at every step, as a real drag is
    qtbot.mouseRelease(vp, button, Qt.KeyboardModifier.NoModifier, start + QPoint(54, 42))
    if how == "space-drag":
        QTest.simulateEvent(c, False, Qt.Key.Key_Space, Qt.KeyboardModifier.NoModifier, " ", False)
    assert c.mapToScene(vp.rect().center()).x() < 200 - 5  # it panned
    shot = screen()
    # Still there, and no copy dragged along with the image (the blit of a scroll).
    assert _chip_pixels(shot, colour, 40) == one
    assert _chip_pixels(shot, colour, 120) == one
