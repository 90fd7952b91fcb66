"""The assists in the window, driven by real mouse and key events: box to polygon (GrabCut)
with strokes, the magic wand with its tolerance and modifiers, and edge snapping. What is
checked is the project file, as another process reads it."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from gui_helpers import click, drag, view_point
from PySide6.QtCore import QRectF, Qt

from labeler.store.project import Project

W, H = 400, 300
DISK = ((110, 150), 60)  # the object GrabCut and the wand should find
SMALL = ((195, 150), 32)  # a second object, of another colour, touching it
A = (260, 40, 380, 140)  # a flat region for the wand, and a slightly lighter corner over it
B = (345, 105, 395, 160)


def _scene() -> np.ndarray:
    rng = np.random.default_rng(3)
    yy, xx = np.mgrid[0:H, 0:W]
    base = 70 + 20 * np.sin(xx / 23.0) * np.cos(yy / 31.0)
    img = np.dstack([base + 10, base, base - 10]) + rng.normal(0, 4, (H, W, 3))
    img = np.clip(img, 0, 255).astype(np.uint8)
    cv2.circle(img, *DISK, (60, 190, 70), -1)
    cv2.circle(img, *SMALL, (40, 200, 225), -1)
    cv2.rectangle(img, A[:2], A[2:], (90, 110, 215), -1)
    cv2.rectangle(img, B[:2], B[2:], (100, 122, 232), -1)
    return img


def _mask(points, shape=(H, W)) -> np.ndarray:
    m = np.zeros(shape, np.uint8)
    cv2.fillPoly(m, [np.round(np.asarray(points)).astype(np.int32)], 1)
    return m


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    return float((a & b).sum() / max(1, (a | b).sum()))


def _disk(centre_radius) -> np.ndarray:
    m = np.zeros((H, W), np.uint8)
    cv2.circle(m, *centre_radius, 1, -1)
    return m


@pytest.fixture
def scene_path(tmp_path):
    from labeler.app.imports import import_folders

    folder = tmp_path / "imgs"
    folder.mkdir()
    for i in range(2):
        cv2.imwrite(str(folder / f"scene{i}.png"), np.roll(_scene(), i * 5, axis=0))
    path = tmp_path / "scene.labeler"
    with Project.create(path) as p:
        import_folders(p, [folder])
        for name in ("leaf", "tile"):
            p.add_class(name)
    return path


@pytest.fixture
def win(qtbot, scene_path):
    from labeler.gui.main_window import MainWindow

    w = MainWindow(str(scene_path), open_last=False)
    qtbot.addWidget(w)
    w.resize(1100, 750)
    w.show()
    qtbot.waitExposed(w)
    qtbot.waitUntil(lambda: w.canvas.has_pixels(), timeout=5000)
    w.canvas.set_zoom(2.0)
    w.canvas.centerOn(W / 2, H / 2)
    w.canvas.setFocus()
    yield w
    w.close()


@pytest.fixture
def tools(win):
    from labeler.gui.assist_tools import AssistTools

    t = getattr(win, "assists", None) or AssistTools(win)
    yield t
    t.shutdown()


def _shapes(path, image_id, kind=None):
    with Project.open(path) as p:
        return [s for s in p.shapes(image_id) if kind is None or s.kind == kind]


def _right_drag(qtbot, win, start, end, steps=6):
    vp = win.canvas.viewport()
    a, b = view_point(win, *start), view_point(win, *end)
    qtbot.mousePress(vp, Qt.MouseButton.RightButton, Qt.KeyboardModifier.NoModifier, a)
    for i in range(1, steps + 1):
        qtbot.mouseMove(vp, a + (b - a) * (i / steps))
    qtbot.mouseRelease(vp, Qt.MouseButton.RightButton, Qt.KeyboardModifier.NoModifier, b)


def _found(qtbot, tools):
    qtbot.waitUntil(
        lambda: tools.pending is not None and tools.pending.polygon is not None
        and not tools.pending.running, timeout=15000,
    )  # fmt: skip


def test_grabcut_box_previews_then_enter_stores_one_polygon_and_undo_takes_it(
    qtbot, win, tools, scene_path
):
    image = win.current.id
    qtbot.keyClick(win.canvas, Qt.Key.Key_G)  # no box selected: the GrabCut tool
    assert tools.mode == "grabcut"
    drag(qtbot, win, (35, 75), (185, 225))
    # The window did not wait: the release returned with GrabCut still to run on a worker.
    assert tools.pending is not None and tools.pending.polygon is None
    _found(qtbot, tools)
    assert _shapes(scene_path, image) == []  # a preview is not a shape
    qtbot.keyClick(win.canvas, Qt.Key.Key_Return)
    (poly,) = _shapes(scene_path, image)
    assert poly.kind == "polygon" and 6 <= len(poly.points) <= 60
    assert _iou(_mask(poly.points), _disk(DISK)) > 0.85
    assert poly.class_id == win.current_class
    qtbot.keyClick(win.canvas, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert _shapes(scene_path, image) == []


def test_a_background_stroke_cuts_the_neighbour_out_and_esc_writes_nothing(
    qtbot, win, tools, scene_path
):
    image = win.current.id
    qtbot.keyClick(win.canvas, Qt.Key.Key_G)  # no box selected: the GrabCut tool
    assert tools.mode == "grabcut"
    drag(qtbot, win, (35, 75), (245, 225))  # the box holds both objects
    _found(qtbot, tools)
    both = _mask(tools.pending.polygon)
    assert both[150, 205] == 1  # the small object is in
    _right_drag(qtbot, win, (205, 125), (205, 178))  # right-drag: that is background
    _found(qtbot, tools)
    one = _mask(tools.pending.polygon)
    assert one[150, 205] == 0 and one[150, 110] == 1
    assert _iou(one, _disk(DISK)) > 0.8
    drag(qtbot, win, (110, 130), (110, 170))  # left-drag: object (already in: stays in)
    _found(qtbot, tools)
    assert _mask(tools.pending.polygon)[150, 110] == 1
    qtbot.keyClick(win.canvas, Qt.Key.Key_Escape)
    assert tools.pending is None
    qtbot.keyClick(win.canvas, Qt.Key.Key_Return)  # nothing left to accept
    assert _shapes(scene_path, image) == []


def test_a_selected_box_becomes_its_polygon_in_one_undo_step(qtbot, win, tools, scene_path):
    image = win.current.id
    win.set_tool("box")
    drag(qtbot, win, (35, 75), (185, 225))
    (box,) = _shapes(scene_path, image)
    win.set_tool("select")
    click(qtbot, win, 60, 100)
    assert [s.id for s in win.canvas.selected_shapes()] == [box.id]
    win.session.current_class = next(c for c in win.classes if c != box.class_id)
    qtbot.keyClick(win.canvas, Qt.Key.Key_G)  # G with a box selected converts it
    _found(qtbot, tools)
    qtbot.keyClick(win.canvas, Qt.Key.Key_Enter)
    (poly,) = _shapes(scene_path, image)
    assert poly.kind == "polygon" and _iou(_mask(poly.points), _disk(DISK)) > 0.85
    assert poly.class_id == box.class_id  # the box's class, not the one picked since
    win.undo.undo()
    assert [s.kind for s in _shapes(scene_path, image)] == ["box"]
    assert _shapes(scene_path, image)[0].points == box.points
    win.undo.redo()
    assert [s.kind for s in _shapes(scene_path, image)] == ["polygon"]


def test_wand_click_shift_adds_alt_cuts_each_one_undo_step(qtbot, win, tools, scene_path):
    image = win.current.id
    qtbot.keyClick(win.canvas, Qt.Key.Key_W)
    assert tools.mode == "wand"
    click(qtbot, win, 110, 150)
    qtbot.waitUntil(lambda: len(_shapes(scene_path, image)) == 1, timeout=10000)
    (disk,) = _shapes(scene_path, image)
    assert _iou(_mask(disk.points), _disk(DISK)) > 0.85
    click(qtbot, win, 205, 150, Qt.KeyboardModifier.ShiftModifier)  # the neighbour joins it
    qtbot.waitUntil(lambda: _mask(_shapes(scene_path, image)[0].points)[150, 205] == 1)
    (both,) = _shapes(scene_path, image)
    assert both.id == disk.id
    # A flat region at the default tolerance takes its lighter corner with it.
    tools.bar.tolerance.setValue(24)
    click(qtbot, win, 300, 70)
    qtbot.waitUntil(lambda: len(_shapes(scene_path, image)) == 2, timeout=10000)
    tile = next(s for s in _shapes(scene_path, image) if s.id != disk.id)
    assert _mask(tile.points)[130, 370] == 1
    tools.bar.tolerance.setValue(4)  # the corner alone, cut away
    click(qtbot, win, 370, 130, Qt.KeyboardModifier.AltModifier)
    qtbot.waitUntil(
        lambda: _mask(next(s for s in _shapes(scene_path, image) if s.id == tile.id).points)[
            130, 370] == 0, timeout=10000,
    )  # fmt: skip
    cut = next(s for s in _shapes(scene_path, image) if s.id == tile.id)
    assert _mask(cut.points)[70, 300] == 1
    for _ in range(2):  # the cut, then the tile
        win.undo.undo()
    assert [s.id for s in _shapes(scene_path, image)] == [disk.id]
    win.undo.undo()  # the add
    assert _mask(_shapes(scene_path, image)[0].points)[150, 205] == 0
    win.undo.undo()
    assert _shapes(scene_path, image) == []


def test_dragging_sideways_sets_the_wand_tolerance(qtbot, win, tools, scene_path):
    qtbot.keyClick(win.canvas, Qt.Key.Key_W)
    assert tools.mode == "wand"
    tools.bar.tolerance.setValue(4)
    vp = win.canvas.viewport()
    a = view_point(win, 300, 70)
    qtbot.mousePress(vp, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, a)
    for dx in (20, 40, 60):
        qtbot.mouseMove(vp, a + type(a)(dx, 0))
        # The toolbar's slider and its label follow the drag, as the status bar does.
        assert tools.bar.tolerance.value() == 4 + dx // 2
        assert tools.bar.tolerance_label.text() == f"Wand tolerance {4 + dx // 2}"
        assert win.statusBar().currentMessage().startswith(f"Wand tolerance {4 + dx // 2}:")
    qtbot.mouseRelease(
        vp, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, a + type(a)(60, 0)
    )
    assert tools.tolerance == 34  # 4 + 60 px / 2
    qtbot.waitUntil(lambda: len(_shapes(scene_path, win.current.id)) == 1, timeout=10000)
    (tile,) = _shapes(scene_path, win.current.id)
    assert _mask(tile.points)[130, 370] == 1  # the wider tolerance took the corner too


def test_edge_snapping_routes_a_polygon_segment_along_the_object_edge(
    qtbot, win, tools, scene_path
):
    (cx, cy), r = DISK
    win.set_tool("polygon")
    qtbot.keyClick(win.canvas, Qt.Key.Key_E)
    assert tools.snapping
    qtbot.waitUntil(lambda: tools._cached_pixels() is not None, timeout=5000)
    # On the rim, away from the neighbour: a quarter and an eighth of the way round.
    corners = [(cx - r, cy), (cx, cy - r), (cx + 42, cy - 42)]
    for x, y in corners:
        click(qtbot, win, x, y)
    qtbot.keyClick(win.canvas, Qt.Key.Key_Return)
    (poly,) = _shapes(scene_path, win.current.id, "polygon")
    assert len(poly.points) > 5  # the segments bend with the rim, not straight chords
    # Each snapped stretch runs from its click to the next, in order: the vertices go round
    # the rim one way (issue 18: they were all on the rim, but each stretch backwards, a
    # zig-zag this test once let through because it never looked at the order).
    i, j = poly.points.index(corners[0]), poly.points.index(corners[1])
    k = poly.points.index(corners[2])
    assert i < j < k
    between = poly.points[i + 1 : k]
    off_rim = [abs(np.hypot(x - cx, y - cy) - r) for x, y in between if (x, y) not in corners]
    assert off_rim and max(off_rim) < 5
    angles = np.unwrap([np.arctan2(y - cy, x - cx) for x, y in poly.points[i : k + 1]])
    assert (np.diff(angles) > -0.05).all()  # clockwise on screen, never doubling back
    # Closing would run back along the same rim: it stays the straight chord instead.
    assert _self_crossings(poly.points) == [] and poly.points[-1] == corners[2]
    win.undo.undo()
    # All the above can take under 30 ms here, and an E that soon after the last is taken for
    # its auto-repeat (actions.REPEAT_GAP_MS); no person presses it again that fast.
    qtbot.wait(60)
    qtbot.keyClick(win.canvas, Qt.Key.Key_E)
    assert not tools.snapping
    for x, y in corners:
        click(qtbot, win, x, y)
    qtbot.keyClick(win.canvas, Qt.Key.Key_Return)
    (poly,) = _shapes(scene_path, win.current.id, "polygon")
    assert len(poly.points) == 3  # off: the clicks alone


@pytest.mark.parametrize("close_by", ["enter", "first-vertex click"])
def test_a_snapped_polygon_round_an_object_follows_its_edge_and_never_crosses_itself(
    qtbot, win, tools, scene_path, close_by
):
    """Issue 18, as a user does it: P, E, five clicks round the object, close. The stored
    polygon is a simple outline along the rim, the closing segment snapped too."""
    (cx, cy), r = DISK
    win.set_tool("polygon")
    qtbot.keyClick(win.canvas, Qt.Key.Key_E)
    qtbot.waitUntil(lambda: tools._cached_pixels() is not None, timeout=5000)
    # Round the disk, away from the neighbour that touches it on the right.
    degrees = [150, 210, 260, 300, 90]
    clicks = [
        (round(cx + r * np.cos(np.radians(a))), round(cy + r * np.sin(np.radians(a))))
        for a in degrees
    ]
    for x, y in clicks:
        click(qtbot, win, x, y)
    if close_by == "enter":
        qtbot.keyClick(win.canvas, Qt.Key.Key_Return)
    else:
        click(qtbot, win, *clicks[0])
    (poly,) = _shapes(scene_path, win.current.id, "polygon")
    assert _self_crossings(poly.points) == []
    assert _iou(_mask(poly.points), _disk(DISK)) > 0.93  # the object, not a zig-zag
    off_rim = [abs(np.hypot(x - cx, y - cy) - r) for x, y in poly.points]
    assert max(off_rim) < 8 and np.mean(off_rim) < 2  # where the neighbour touches, a bit off
    # The closing stretch (last click back to the first) bends with the rim too: vertices
    # after the last click, none of them on the straight chord.
    last = poly.points.index(tuple(float(v) for v in clicks[-1]))
    closing = poly.points[last + 1 :]
    assert len(closing) >= 2
    chord_mid = ((clicks[-1][0] + clicks[0][0]) / 2, (clicks[-1][1] + clicks[0][1]) / 2)
    assert np.hypot(chord_mid[0] - cx, chord_mid[1] - cy) < r - 5  # the chord cuts inside
    assert all(abs(np.hypot(x - cx, y - cy) - r) < 5 for x, y in closing)


def _self_crossings(points) -> list[tuple[int, int]]:
    """Pairs of edges of the closed polygon that cross (adjacent edges share a vertex)."""
    n = len(points)
    edges = [(points[i], points[(i + 1) % n]) for i in range(n)]

    def side(a, b, c) -> float:
        return (b[0] - a[0]) * (c[1] - a[1]) - (b[1] - a[1]) * (c[0] - a[0])

    def cross(p1, p2, q1, q2) -> bool:
        d1, d2 = side(q1, q2, p1), side(q1, q2, p2)
        d3, d4 = side(p1, p2, q1), side(p1, p2, q2)
        return d1 * d2 < 0 and d3 * d4 < 0

    return [
        (i, j)
        for i in range(n)
        for j in range(i + 2, n)
        if not (i == 0 and j == n - 1) and cross(*edges[i], *edges[j])
    ]


def test_a_failing_assist_says_so_in_one_line_and_writes_nothing(
    qtbot, win, tools, scene_path, tmp_path
):
    image = win.current.id
    (tmp_path / "imgs" / "scene0.png").write_bytes(b"not a png any more")
    qtbot.keyClick(win.canvas, Qt.Key.Key_G)  # no box selected: the GrabCut tool
    assert tools.mode == "grabcut"
    drag(qtbot, win, (35, 75), (185, 225))
    qtbot.waitUntil(lambda: tools.last_error != "", timeout=10000)
    message = win.statusBar().currentMessage()
    assert message.startswith("Assist:") and "nothing was saved" in message
    assert "\n" not in message
    qtbot.keyClick(win.canvas, Qt.Key.Key_Return)
    qtbot.keyClick(win.canvas, Qt.Key.Key_W)
    assert tools.mode == "wand"
    click(qtbot, win, 110, 150)
    qtbot.wait(200)
    assert _shapes(scene_path, image) == []


def test_a_file_replaced_after_import_is_refused_and_nothing_is_written(
    qtbot, win, tools, scene_path, tmp_path
):
    """The CLI refuses an assist on a replaced file (the outside attack's D1); the window
    decoded the file on disk as it found it. Same size, other pixels: the hash tells."""
    image = win.current.id
    other = np.full((H, W, 3), 40, np.uint8)
    cv2.circle(other, (300, 200), 50, (200, 200, 200), -1)
    assert cv2.imwrite(str(tmp_path / "imgs" / "scene0.png"), other)
    qtbot.keyClick(win.canvas, Qt.Key.Key_W)
    click(qtbot, win, 300, 200)
    qtbot.waitUntil(lambda: tools.last_error != "", timeout=10000)
    assert "changed on disk since import" in tools.last_error
    assert "nothing was saved" in win.statusBar().currentMessage()
    assert _shapes(scene_path, image) == []


@pytest.mark.parametrize("zoom", [0.5, 1.0, 3.0])
def test_a_selected_box_label_covers_none_of_its_handles(qtbot, win, zoom):
    win.canvas.set_zoom(zoom)
    win.canvas.centerOn(W / 2, H / 2)
    win.set_tool("box")
    drag(qtbot, win, (100, 100), (100 + 24 / zoom, 160))  # narrow: the label is wider than it
    win.set_tool("select")
    click(qtbot, win, 100 + 12 / zoom, 130)
    (item,) = win.canvas.selected_items()
    label = item.mapRectToScene(item.label_rect())
    h = item.handle
    handles = [QRectF(p.x() - h, p.y() - h, 2 * h, 2 * h) for p in item.points()]
    assert not any(label.intersects(r) for r in handles)
    assert item.mapRectToScene(item.boundingRect()).contains(label)
    assert label.width() * zoom == pytest.approx(item._label_width(), abs=0.5)  # screen px


def test_class_keys_in_an_assist_tool_pick_the_class_and_never_tag_the_image(
    qtbot, win, tools, scene_path
):
    assert win.session.tool == "tag"
    qtbot.keyClick(win.canvas, Qt.Key.Key_W)
    qtbot.keyClick(win.canvas, Qt.Key.Key_2)
    assert _shapes(scene_path, win.current.id) == []
    tile = next(c.id for c in win.classes.values() if c.name == "tile")
    assert win.current_class == tile and tools.mode == "wand"
    click(qtbot, win, 300, 70)
    qtbot.waitUntil(lambda: len(_shapes(scene_path, win.current.id)) == 1, timeout=10000)
    assert _shapes(scene_path, win.current.id)[0].class_id == tile
    qtbot.keyClick(win.canvas, Qt.Key.Key_P)  # another tool turns the assist off
    assert tools.mode is None and win.canvas.tool == "polygon"


def test_the_cheat_sheet_lists_the_assist_keys_and_gestures(win):
    from labeler.gui.dialogs import cheat_sheet_html

    text = cheat_sheet_html(win.actions, list(win.classes.values()))
    for key, what in (("G", "Box → polygon"), ("W", "Magic wand"), ("E", "Snap polygon"),
                      ("Y", "Accept the pre-label proposal")):  # fmt: skip
        assert f"<code>{key}</code></b></td><td>{what}" in text
    assert "Shift / Alt + click" in text and "mark object / background" in text


class _Square:
    """A plugin-like click assist: the 40 px square around the click."""

    name, title, needs = "square", "Square (test plugin)", "point"

    def __call__(self, image, request):
        x, y = request.point
        return [(x - 20, y - 20), (x + 20, y - 20), (x + 20, y + 20), (x - 20, y + 20)]


class _Broken:
    name, title, needs = "broken", "Broken (test plugin)", "box"

    def __call__(self, image, request):
        raise RuntimeError("model file missing\nTraceback noise")


@pytest.fixture
def plugin_assists():
    from labeler.core.assists import ASSISTS

    before = ASSISTS.snapshot()
    ASSISTS.register("square", _Square())
    ASSISTS.register("broken", _Broken())
    yield
    ASSISTS.restore(before)


def test_a_plugin_s_assists_are_offered_in_the_toolbar_and_run_like_the_built_ins(
    qtbot, win, tools, scene_path, plugin_assists
):
    image = win.current.id
    qtbot.keyClick(win.canvas, Qt.Key.Key_W)
    bar = tools.bar
    assert [bar.point_method.itemData(i) for i in range(bar.point_method.count())] == [
        "wand", "square"]  # fmt: skip
    bar.point_method.setCurrentIndex(1)
    click(qtbot, win, 100, 100)
    qtbot.waitUntil(lambda: len(_shapes(scene_path, image)) == 1, timeout=10000)
    (square,) = _shapes(scene_path, image)
    assert sorted(square.points) == [(80, 80), (80, 120), (120, 80), (120, 120)]
    qtbot.keyClick(win.canvas, Qt.Key.Key_G)  # the square is selected: not a box, so a tool
    bar.box_method.setCurrentIndex(bar.box_method.findData("broken"))
    drag(qtbot, win, (200, 50), (300, 150))
    qtbot.waitUntil(lambda: tools.last_error != "", timeout=10000)
    assert tools.last_error == "assist 'broken' failed: RuntimeError: Traceback noise"
    assert "\n" not in win.statusBar().currentMessage()
    qtbot.keyClick(win.canvas, Qt.Key.Key_Return)
    assert _shapes(scene_path, image) == [square]


def test_enter_while_grabcut_runs_stores_the_polygon_once_found(qtbot, win, tools, scene_path):
    image = win.current.id
    qtbot.keyClick(win.canvas, Qt.Key.Key_G)
    drag(qtbot, win, (35, 75), (185, 225))
    assert tools.pending.running  # Enter comes before the result: the window did not wait
    qtbot.keyClick(win.canvas, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: len(_shapes(scene_path, image)) == 1, timeout=15000)
    assert _iou(_mask(_shapes(scene_path, image)[0].points), _disk(DISK)) > 0.85
    assert tools.pending is None


def test_going_to_another_image_drops_a_pending_grabcut(qtbot, win, tools, scene_path):
    first = win.current.id
    qtbot.keyClick(win.canvas, Qt.Key.Key_G)
    drag(qtbot, win, (35, 75), (185, 225))
    _found(qtbot, tools)
    assert "Enter keeps the polygon" in win.statusBar().currentMessage()
    qtbot.keyClick(win.canvas, Qt.Key.Key_D)
    assert win.current.id != first and tools.pending is None
    assert "Enter keeps" not in win.statusBar().currentMessage()  # the hint went with it
    qtbot.keyClick(win.canvas, Qt.Key.Key_A)
    qtbot.keyClick(win.canvas, Qt.Key.Key_Return)
    assert _shapes(scene_path, first) == []
