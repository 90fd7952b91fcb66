"""The rough edges a new annotator hit (issue 17), each driven as a user would: real key and
mouse events on a real window over a real project, checked on the screen and on disk."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from gui_helpers import drag, make_images, view_point
from PySide6.QtCore import QPointF, QRect, Qt, QTimer
from PySide6.QtGui import QColor
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QFileDialog, QMessageBox

from labeler.core.shapes import Shape
from labeler.gui.actions import REPEAT_GAP_MS
from labeler.store.project import Project

NO = Qt.KeyboardModifier.NoModifier


def _key(qtbot, widget, key, mod=NO):
    qtbot.keyClick(widget, key, mod)


def _status(path, image_id) -> str:
    with Project.open(path) as p:
        return p.image(image_id).status


def _tags(path, image_id) -> list[int]:
    with Project.open(path) as p:
        return sorted(s.class_id for s in p.shapes(image_id) if s.kind == "tag")


def _hold(widget, key, repeats: int = 6) -> None:
    """Hold a key down: a press, the auto-repeat's press/release pairs, the release."""
    QTest.simulateEvent(widget, True, key, NO, " ", False)
    for _ in range(repeats):
        QTest.simulateEvent(widget, False, key, NO, " ", True)
        QTest.simulateEvent(widget, True, key, NO, " ", True)
    QTest.simulateEvent(widget, False, key, NO, " ", False)


@pytest.fixture
def open_window(qtbot):
    """A window on a project file, shown at the default size, closed after the test."""
    opened = []

    def make(path, **kwargs):
        from labeler.gui.main_window import MainWindow

        w = MainWindow(str(path), open_last=False, **kwargs)
        qtbot.addWidget(w)
        w.show()
        qtbot.waitExposed(w)
        if w.current is not None:
            qtbot.waitUntil(w.canvas.has_pixels, timeout=5000)
        opened.append(w)
        return w

    yield make
    for w in opened:
        w.close()


def _image_on_screen(canvas) -> QRect:
    w, h = canvas.image_size
    return QRect(canvas.mapFromScene(QPointF(0, 0)), canvas.mapFromScene(QPointF(w, h)))


def _fitted(canvas) -> bool:
    """The whole image is on screen and fills the view in one direction."""
    shown, view = _image_on_screen(canvas), canvas.viewport().rect()
    inside = view.adjusted(-2, -2, 2, 2).contains(shown)
    fills = abs(shown.width() - view.width()) <= 3 or abs(shown.height() - view.height()) <= 3
    return inside and fills


# -- 1. Space pans; it never marks the image reviewed ----------------------------------------
def test_holding_space_pans_and_never_flips_the_reviewed_mark(qtbot, window, project_path):
    image = window.current.id
    canvas = window.canvas
    canvas.setFocus()
    for _ in range(4):
        _key(qtbot, canvas, Qt.Key.Key_Equal)  # zoom in, so there is room to pan
    _hold(canvas, Qt.Key.Key_Space)  # held, no drag
    assert _status(project_path, image) == "new"
    bar = canvas.horizontalScrollBar()
    before = bar.value()
    QTest.simulateEvent(canvas, True, Qt.Key.Key_Space, NO, " ", False)
    drag(qtbot, window, (300, 150), (100, 150))  # held with a drag: pans
    QTest.simulateEvent(canvas, False, Qt.Key.Key_Space, NO, " ", False)
    assert bar.value() > before
    assert _status(project_path, image) == "new"
    window.list_view.setFocus()  # where the key goes does not matter
    _hold(window.list_view, Qt.Key.Key_Space)
    assert _status(project_path, image) == "new"
    canvas.setFocus()
    _hold(canvas, Qt.Key.Key_R)  # R marks it: once, however long it is held
    assert _status(project_path, image) == "reviewed"
    qtbot.wait(3 * REPEAT_GAP_MS)  # a person's next tap comes this much later at the least
    _key(qtbot, canvas, Qt.Key.Key_R)
    assert _status(project_path, image) == "new"


def _fake_clock(window) -> list[float]:
    """The window's key clock, moved by the test (ms): QTest's key events carry no time."""
    now = [1000.0]
    window.actions.held.clock = lambda: now[0]
    return now


def _hold_as_x(widget, key, now: list[float], repeats: int) -> None:
    """Hold a key as X does with auto-repeat on and nothing marking the repeats: a press,
    then every 40 ms a release and a press 1 ms apart, all unmarked; the release."""
    text = ""  # shortcuts match on the key, not the text
    QTest.simulateEvent(widget, True, key, NO, text, False)
    now[0] += 660  # the auto-repeat delay
    for _ in range(repeats):
        QTest.simulateEvent(widget, False, key, NO, text, False)
        now[0] += 1
        QTest.simulateEvent(widget, True, key, NO, text, False)
        now[0] += 39
    QTest.simulateEvent(widget, False, key, NO, text, False)
    now[0] += 400


@pytest.mark.parametrize("x_like", [True, False], ids=["x-release-press-pairs", "qt-marked"])
def test_a_held_key_acts_once_and_quick_taps_each_count(qtbot, window, project_path, x_like):
    """R, L (lock zoom) and Multi-label act once per press, however the platform reports a
    held key's repeats; taps a person makes (60 ms and more apart) each act."""
    now = _fake_clock(window)
    canvas, image = window.canvas, window.current.id
    window.actions["multi_label"].setShortcut("M")  # no default key; bound as a user would
    canvas.setFocus()

    def hold(key):
        if x_like:
            _hold_as_x(canvas, key, now, repeats=5)  # 6 presses: an even count undoes itself
        else:
            _hold(canvas, key, repeats=5)
            now[0] += 400

    hold(Qt.Key.Key_R)
    assert _status(project_path, image) == "reviewed"
    assert window.undo.stack.count() == 1  # one edit, not six that cancel out
    hold(Qt.Key.Key_L)
    assert window.actions["lock_zoom"].isChecked() and canvas.zoom_locked
    hold(Qt.Key.Key_M)
    assert window.actions["multi_label"].isChecked()
    with Project.open(project_path) as p:
        assert p.multi_label
    for expected in ("new", "reviewed", "new"):  # taps 60 ms apart: each one counts
        QTest.simulateEvent(canvas, True, Qt.Key.Key_R, NO, "r", False)
        now[0] += 30
        QTest.simulateEvent(canvas, False, Qt.Key.Key_R, NO, "r", False)
        now[0] += 60
        assert _status(project_path, image) == expected
    window.actions["review"].trigger()  # the menu, straight after a key: acts as well
    assert _status(project_path, image) == "reviewed"


# -- 2. New images open fitted unless the zoom is locked -------------------------------------
@pytest.fixture
def mixed_sizes(tmp_path) -> Path:
    """A project of a photo, a 32x32 image and a big photo, in that order."""
    path = tmp_path / "mixed.labeler"
    make_images(tmp_path / "imgs", [(800, 600), (32, 32), (3000, 2000)])
    from labeler.app.imports import import_folders

    with Project.create(path) as p:
        import_folders(p, [tmp_path / "imgs"])
        p.add_class("cat")
    return path


def test_a_new_image_opens_fitted_after_zooming_the_last_one(qtbot, open_window, mixed_sizes):
    w = open_window(mixed_sizes)
    canvas = w.canvas
    assert _fitted(canvas)
    canvas.setFocus()
    for _ in range(6):
        _key(qtbot, canvas, Qt.Key.Key_Equal)
    assert not _fitted(canvas)
    for row in (1, 2):
        _key(qtbot, canvas, Qt.Key.Key_D)
        assert w.current_row == row
        assert _fitted(canvas), f"row {row} opened at {canvas.zoom():.2f}"
    assert w.status.zoom_label.text() == f"{canvas.zoom() * 100:.0f}%"


def test_a_locked_zoom_carries_over_and_is_remembered(qtbot, open_window, mixed_sizes):
    w = open_window(mixed_sizes)
    canvas = w.canvas
    canvas.setFocus()
    _key(qtbot, canvas, Qt.Key.Key_L)
    assert w.actions["lock_zoom"].isChecked()
    for _ in range(3):
        _key(qtbot, canvas, Qt.Key.Key_Equal)
    zoom = canvas.zoom()
    _key(qtbot, canvas, Qt.Key.Key_D)
    assert canvas.zoom() == pytest.approx(zoom) and not _fitted(canvas)
    w.close()
    again = open_window(mixed_sizes)
    assert again.actions["lock_zoom"].isChecked() and again.canvas.zoom_locked
    again.canvas.setFocus()
    _key(qtbot, again.canvas, Qt.Key.Key_L)  # unlocked again: fitted from the next image on
    _key(qtbot, again.canvas, Qt.Key.Key_Equal)
    _key(qtbot, again.canvas, Qt.Key.Key_D)
    assert _fitted(again.canvas)


# -- 3. A class key sets; removing a tag is select + Delete ----------------------------------
def test_the_key_of_a_tag_the_image_has_keeps_it_and_delete_removes_it(qtbot, window, project_path):
    cat = next(iter(window.classes))
    image = window.current.id
    window.canvas.setFocus()
    _key(qtbot, window.canvas, Qt.Key.Key_1)
    _key(qtbot, window.canvas, Qt.Key.Key_1)  # confirming: the tag stays
    assert _tags(project_path, image) == [cat]
    assert window.status.currentMessage() == "Already tagged cat"
    rows = window.shape_list
    assert rows.count() == 1
    qtbot.mouseClick(
        rows.viewport(), Qt.MouseButton.LeftButton, NO, rows.visualItemRect(rows.item(0)).center()
    )
    _key(qtbot, rows, Qt.Key.Key_Delete)
    assert _tags(project_path, image) == []
    _key(qtbot, window.canvas, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert _tags(project_path, image) == [cat]


# -- 4. A vertex of an unselected polygon is grabbed where it is -----------------------------
POLYGON = [(100.0, 80.0), (300.0, 90.0), (250.0, 240.0), (120.0, 200.0)]


@pytest.fixture
def with_polygon(project_path) -> Path:
    with Project.open(project_path) as p:
        first = p.images()[0].id
        p.add_shape(first, Shape.polygon(p.classes()[0].id, POLYGON))
    return project_path


def _white_at(window, x, y) -> bool:
    """Whether the canvas shows a white handle at image point (x, y)."""
    image = window.canvas.viewport().grab().toImage()
    p = view_point(window, x, y)
    return QColor(image.pixel(p.x(), p.y())) == QColor("white")


def test_dragging_a_vertex_of_an_unselected_polygon_moves_that_vertex(
    qtbot, open_window, with_polygon
):
    w = open_window(with_polygon)
    w.canvas.setFocus()
    _key(qtbot, w.canvas, Qt.Key.Key_V)
    assert not w.canvas.selected_items() and not _white_at(w, *POLYGON[2])
    qtbot.mouseMove(w.canvas.viewport(), view_point(w, 200, 150))  # over the polygon
    qtbot.waitUntil(lambda: _white_at(w, *POLYGON[2]), timeout=2000)  # its handles show
    drag(qtbot, w, POLYGON[2], (280.0, 260.0))
    with Project.open(with_polygon) as p:
        (stored,) = p.shapes(w.current.id)
    moved = [POLYGON[0], POLYGON[1], (280.0, 260.0), POLYGON[3]]
    flat = [c for point in stored.points for c in point]
    assert flat == pytest.approx([c for point in moved for c in point], abs=1.0)


# -- 5. A relink refreshes the image and the counter -----------------------------------------
def test_importing_a_moved_files_new_folder_shows_it_at_once(
    qtbot, window, tmp_path, monkeypatch, questions
):
    name = window.model.image_row(3).name  # not a neighbour of row 0: never decoded
    moved = tmp_path / "aaa"  # a folder whose path sorts before every other
    moved.mkdir()
    shutil.move(tmp_path / "imgs" / name, moved / name)
    window.go_to_row(3)
    qtbot.waitUntil(lambda: "Cannot show" in window.canvas.message, timeout=3000)
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", lambda *a, **k: str(moved))
    window.canvas.setFocus()
    _key(qtbot, window.canvas, Qt.Key.Key_I, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: window.last_import_report is not None, timeout=10000)
    window.report_dialog.close()
    assert window.last_import_report.relinked == 1
    qtbot.waitUntil(lambda: window.canvas.message == "", timeout=3000)
    assert window.canvas.has_pixels() and window.current.name == name
    row = window.list_view.currentIndex().row()
    assert window.model.image_row(row).id == window.current.id
    assert window.pos_label.text() == f"{row + 1} / 5"


# -- 6. A filter with no match shows an empty state ------------------------------------------
def test_a_filter_with_no_match_shows_an_empty_canvas_and_edits_nothing(
    qtbot, window, project_path
):
    image = window.current.id
    box = window.filter_box
    box.setFocus()
    for _ in range(3):  # All → Unlabeled → Labeled → Reviewed: none is reviewed
        _key(qtbot, box, Qt.Key.Key_Down)
    assert box.currentData() == "reviewed"
    assert window.current is None and not window.canvas.has_pixels()
    assert "No image matches this filter" in window.canvas.message
    assert window.pos_label.text() == "– / 0"
    assert window.status.zoom_label.text() == "–"  # no image: no zoom (it said 2138%)
    window.canvas.setFocus()
    _key(qtbot, window.canvas, Qt.Key.Key_1)  # nothing to tag
    assert _tags(project_path, image) == []
    box.setFocus()
    for _ in range(3):
        _key(qtbot, box, Qt.Key.Key_Up)
    assert window.current.id == image and window.canvas.message in ("", "Loading…")
    qtbot.waitUntil(window.canvas.has_pixels, timeout=3000)


# -- 9. The name sort is natural, by file name then folder -----------------------------------
def test_the_list_sorts_file_names_naturally_and_imports_do_not_jump_to_the_top(
    qtbot, open_window, tmp_path
):
    from labeler.app.imports import import_folders

    inside = tmp_path / "proj" / "b"
    outside = tmp_path / "elsewhere"  # stored with an absolute path
    a = tmp_path / "proj" / "a"
    sizes = iter([(40, 30), (41, 30), (42, 30), (43, 30)])  # four different files
    for folder, names in ((inside, ["img10", "0182"]), (outside, ["img2"]), (a, ["4870"])):
        for name, src in zip(names, make_images(folder, [next(sizes) for _ in names]), strict=True):
            src.rename(folder / f"{name}.jpg")
    path = tmp_path / "proj" / "p.labeler"
    with Project.create(path) as p:
        import_folders(p, [a, inside, outside])
    w = open_window(path)
    names = [w.model.image_row(r).name for r in range(w.model.rowCount())]
    assert names == ["0182.jpg", "4870.jpg", "img2.jpg", "img10.jpg"]


# -- 11. The import question: only with sub-folders, defaulting to what they suggest ---------
@pytest.fixture
def questions():
    """Press Enter (the default button) in each modal question box of the test; the list
    of what was asked, as 'default button|text'."""
    asked: list[str] = []

    def press() -> None:
        box = QApplication.activeModalWidget()
        if isinstance(box, QMessageBox):
            default = box.defaultButton()
            asked.append(f"{default.text() if default else None}|{box.text()}")
            QTest.keyClick(box, Qt.Key.Key_Return)
            if box.isVisible():  # no default button: Enter does nothing, answer No
                box.done(QMessageBox.StandardButton.No.value)

    timer = QTimer(interval=20)
    timer.timeout.connect(press)
    timer.start()
    yield asked
    timer.stop()


@pytest.mark.parametrize(
    "layout, asked_default, tagged",
    [
        ({"": 2}, None, False),  # no sub-folders: no question, no tags
        ({"cat": 2, "dog": 1}, "Yes, sub-folders are classes", True),
        ({"": 2, "2023": 1, "2024": 1}, "No, import untagged", False),  # images at the top
    ],
    ids=["flat", "classes", "mixed"],
)
def test_the_sub_folder_question_is_asked_only_when_it_means_something(
    qtbot, window, tmp_path, monkeypatch, questions, layout, asked_default, tagged
):
    root = tmp_path / "incoming"
    for sub, n in layout.items():
        for i, f in enumerate(make_images(root / sub, [(40, 30)] * n)):
            f.rename(f.with_name(f"{sub or 'top'}{i}.jpg"))
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", lambda *a, **k: str(root))
    window.canvas.setFocus()
    _key(qtbot, window.canvas, Qt.Key.Key_I, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: window.last_import_report is not None, timeout=10000)
    window.report_dialog.close()
    if asked_default is None:
        assert questions == []
    else:
        assert len(questions) == 1 and questions[0].startswith(asked_default + "|")
    assert (window.last_import_report.tags_added > 0) is tagged


# -- 12. A SIGKILL keeps the last image and tool ---------------------------------------------
CHILD = textwrap.dedent(
    """
    import sys
    from PySide6.QtCore import QSettings, Qt, QTimer
    from PySide6.QtTest import QTest
    from labeler.gui.app import make_app
    from labeler.gui.main_window import MainWindow

    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, sys.argv[2])
    app = make_app()
    w = MainWindow(sys.argv[1], open_last=False)
    w.show()

    def keys():
        w.canvas.setFocus()
        for key in (Qt.Key.Key_D, Qt.Key.Key_D, Qt.Key.Key_D, Qt.Key.Key_B):
            QTest.keyClick(w.canvas, key)
        print("moved", w.current.id, w.session.tool, flush=True)

    QTimer.singleShot(300, keys)
    app.exec()
    """
)


def test_a_killed_window_reopens_on_its_last_image_and_tool(qtbot, project_path, tmp_path):
    from labeler.gui.main_window import MainWindow

    settings = tmp_path / "qs"  # the folder the test's own settings live in
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(project_path), str(settings)],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env,
    )  # fmt: skip
    try:
        line = child.stdout.readline().split()
        assert line[0] == "moved" and line[2] == "box"
        ini = settings / "Labeler" / "Labeler.ini"
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:  # written as it goes: wait for it, then kill
            text = ini.read_text() if ini.exists() else ""
            if "tool=box" in text and f"={line[1]}\n" in text:
                break
            time.sleep(0.05)
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(10)
    assert child.returncode == -signal.SIGKILL
    again = MainWindow()
    qtbot.addWidget(again)
    try:
        assert again.project is not None and again.current.id == int(line[1])
        assert again.current_row == 3 and again.session.tool == "box"
    finally:
        again.close()
