"""The window as an annotator uses it: keys, undo across images, filters, classes, errors."""

from __future__ import annotations

import sqlite3

import pytest
from gui_helpers import drag
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox

from labeler.store.project import Project


def _key(qtbot, window, key, mod=Qt.KeyboardModifier.NoModifier):
    qtbot.keyClick(window.canvas, key, mod)


def _tags(db, image_id):
    return sorted(s.class_id for s in db()[image_id] if s.kind == "tag")


def _status(path, image_id):
    with Project.open(path) as p:
        return p.image(image_id).status


def test_title_is_the_project_name_and_status_bar_shows_position(window):
    assert window.windowTitle() == "work — Labeler"
    assert window.pos_label.text().startswith("1 / 5")
    assert window.size_label.text() == "400×300"


def test_keys_tag_navigate_review_and_undo_everything_across_images(
    qtbot, window, db, project_path
):
    window.canvas.setFocus()
    cat, dog = (c.id for c in list(window.classes.values())[:2])
    first = window.current.id
    _key(qtbot, window, Qt.Key.Key_1)
    assert _tags(db, first) == [cat]
    _key(qtbot, window, Qt.Key.Key_2)  # single-label: replaces
    assert _tags(db, first) == [dog]
    _key(qtbot, window, Qt.Key.Key_R)
    assert _status(project_path, first) == "reviewed"
    _key(qtbot, window, Qt.Key.Key_D)
    second = window.current.id
    assert second != first and window.current_row == 1
    _key(qtbot, window, Qt.Key.Key_1)
    _key(qtbot, window, Qt.Key.Key_Right)
    assert window.current_row == 2
    _key(qtbot, window, Qt.Key.Key_A)
    assert window.current_row == 1
    _key(qtbot, window, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert _tags(db, second) == []
    _key(qtbot, window, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert window.current.id == first  # undo of an edit on another image goes there
    assert _status(project_path, first) == "new"
    _key(qtbot, window, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert _tags(db, first) == [cat]
    _key(qtbot, window, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert _tags(db, first) == []
    redo = Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier
    for _ in range(4):
        _key(qtbot, window, Qt.Key.Key_Z, redo)
    assert _tags(db, first) == [dog] and _tags(db, second) == [cat]
    assert _status(project_path, first) == "reviewed"
    assert window.current.id == second


def test_multi_label_toggle_keeps_several_tags(qtbot, window, db):
    window.actions["multi_label"].trigger()
    assert window.project.multi_label
    window.canvas.setFocus()
    _key(qtbot, window, Qt.Key.Key_1)
    _key(qtbot, window, Qt.Key.Key_3)
    assert len(_tags(db, window.current.id)) == 2
    _key(qtbot, window, Qt.Key.Key_1)  # pressing a present tag again keeps it
    assert len(_tags(db, window.current.id)) == 2


def test_next_unlabeled_and_filters(qtbot, window, db):
    window.canvas.setFocus()
    _key(qtbot, window, Qt.Key.Key_1)
    _key(qtbot, window, Qt.Key.Key_D)
    _key(qtbot, window, Qt.Key.Key_2)
    window.go_to_row(0)
    _key(qtbot, window, Qt.Key.Key_N)
    assert window.current_row == 2
    window.set_filter("unlabeled")
    assert window.model.rowCount() == 3
    window.set_filter("labeled")
    assert window.model.rowCount() == 2
    dog = next(c.id for c in window.classes.values() if c.name == "dog")
    window.set_filter(f"class:{dog}")
    assert window.model.rowCount() == 1
    window.set_filter("all", sort="class")
    assert window.model.image_row(0).labelled and window.model.image_row(1).labelled
    window.set_filter("reviewed")
    assert window.model.rowCount() == 0
    window.set_filter("all", sort="name")
    assert window.go_to_text("img004.jpg") and window.current_row == 4
    assert window.go_to_text("2") and window.current_row == 1
    assert not window.go_to_text("nope.png")


def test_split_and_generated_filters(window):
    with Project.open(window.project.path) as p:
        ids = [i.id for i in p.images()]
        p.set_splits({ids[0]: "train", ids[1]: "val"})
        p.conn.execute("UPDATE images SET provenance = 'generated' WHERE id = ?", (ids[2],))
    window.set_filter("split:train")
    assert window.model.rowCount() == 1
    window.set_filter("split:unassigned")
    assert window.model.rowCount() == 3
    window.set_filter("generated")
    assert window.model.rowCount() == 1


def test_copy_paste_shapes_to_the_next_image(qtbot, window, db):
    window.set_tool("box")
    drag(qtbot, window, (10, 10), (100, 80))
    first = window.current.id
    window.canvas.setFocus()
    _key(qtbot, window, Qt.Key.Key_C, Qt.KeyboardModifier.ControlModifier)
    _key(qtbot, window, Qt.Key.Key_D)
    _key(qtbot, window, Qt.Key.Key_V, Qt.KeyboardModifier.ControlModifier)
    (pasted,) = db()[window.current.id]
    assert pasted.points == db()[first][0].points and pasted.id != db()[first][0].id


def test_class_management_with_counted_confirmations(qtbot, window, db, monkeypatch):
    asked = []

    def answer(parent, title, text, *a, **k):
        asked.append(text)
        return QMessageBox.StandardButton.Yes

    monkeypatch.setattr(QMessageBox, "question", answer)
    cat, dog, bird = list(window.classes.values())
    window.canvas.setFocus()
    _key(qtbot, window, Qt.Key.Key_1)
    _key(qtbot, window, Qt.Key.Key_D)
    _key(qtbot, window, Qt.Key.Key_1)
    _key(qtbot, window, Qt.Key.Key_D)
    _key(qtbot, window, Qt.Key.Key_3)
    assert window.add_class("fish")
    assert window.rename_class(cat.id, "kitten")
    assert window.recolour_class(cat.id, "#123456")
    assert window.set_class_shortcut(dog.id, "9")
    with Project.open(window.project.path) as p:
        assert p.class_by_id(cat.id).name == "kitten"
        assert p.class_by_id(cat.id).colour == "#123456"
        assert p.class_by_id(dog.id).shortcut == "9"
    assert window.merge_class(cat.id, bird.id)
    assert "2 shape(s)" in asked[-1] and "kitten" in asked[-1]
    assert window.class_panel.tree.topLevelItemCount() == 3
    assert window.delete_class(bird.id)
    assert "3 shape(s)" in asked[-1]
    assert all(s == [] for s in db().values())
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.StandardButton.No)
    assert not window.delete_class(dog.id)
    assert dog.id in window.classes


def test_dataset_chart_refreshes_after_edits(qtbot, window):
    qtbot.waitUntil(lambda: window.chart.stats is not None, timeout=3000)
    assert window.chart.stats["unlabeled"] == 5
    window.canvas.setFocus()
    _key(qtbot, window, Qt.Key.Key_1)
    qtbot.waitUntil(lambda: window.chart.stats["unlabeled"] == 4, timeout=3000)
    assert window.chart.stats["classes"][0]["images"] == 1
    assert window.class_panel.tree.topLevelItem(0).text(2) == "1"
    img = window.chart.grab().toImage()
    assert img.width() > 0


def test_a_moved_away_image_shows_a_message_and_stays_editable(qtbot, window, db, tmp_path):
    # Row 3 is not a neighbour of row 0, so it was not prefetched before it moved.
    (tmp_path / "imgs" / "img003.jpg").rename(tmp_path / "elsewhere.jpg")
    window.go_to_row(3)
    qtbot.waitUntil(lambda: "Cannot show" in window.canvas.message, timeout=3000)
    assert "file not found" in window.canvas.message
    window.canvas.setFocus()
    _key(qtbot, window, Qt.Key.Key_2)
    assert len(db()[window.current.id]) == 1


def _lock_and_press_1(qtbot, window) -> sqlite3.Connection:
    """Another connection holds the write lock while the user tags: the edit cannot land.
    Returns that connection (ROLLBACK and close it to let writes through again)."""
    window.project.conn.execute("PRAGMA busy_timeout = 50")
    other = sqlite3.connect(window.project.path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    window.canvas.setFocus()
    _key(qtbot, window, Qt.Key.Key_1)
    return other


def test_a_locked_database_says_not_saved_and_keeps_working(qtbot, window, db):
    other = _lock_and_press_1(qtbot, window)
    assert "NOT SAVED" in window.saved_label.text()
    assert "locked" in window.statusBar().currentMessage()
    assert not window.undo.can_undo()
    other.execute("ROLLBACK")
    other.close()
    _key(qtbot, window, Qt.Key.Key_1)
    assert "saved" in window.saved_label.text() and "NOT" not in window.saved_label.text()
    assert len(db()[window.current.id]) == 1


def test_undo_that_cannot_write_leaves_the_history_in_place(qtbot, window, db):
    window.canvas.setFocus()
    _key(qtbot, window, Qt.Key.Key_1)
    window.project.conn.execute("PRAGMA busy_timeout = 50")
    other = sqlite3.connect(window.project.path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    window.undo.undo()
    other.execute("ROLLBACK")
    other.close()
    assert window.undo.can_undo() and len(db()[window.current.id]) == 1
    window.undo.undo()
    assert db()[window.current.id] == []


def test_import_runs_in_the_background_and_reports_skipped_files(qtbot, window, tmp_path):
    from gui_helpers import make_images

    folder = tmp_path / "more"
    make_images(folder, [(64, 48)] * 3)
    (folder / "broken.jpg").write_bytes(b"not a jpeg")
    window.start_import([str(folder)])
    qtbot.waitUntil(lambda: window.last_import_report is not None, timeout=10000)
    report = window.last_import_report
    assert report.added == 3 and len(report.skipped) == 1
    assert window.model.rowCount() == 8
    assert "broken.jpg" in window.report_dialog.details.toPlainText()
    assert "not an image" in window.report_dialog.details.toPlainText()
    window.report_dialog.close()


def test_importing_a_labelme_folder_from_the_menu_brings_its_polygons(
    qtbot, window, db, tmp_path, monkeypatch
):
    """The window's import reaches the same format choice as `labeler import`: a folder of
    labelme files comes in with its shapes, and its unannotated images too."""
    import json

    from gui_helpers import make_images
    from PySide6.QtWidgets import QFileDialog

    folder = tmp_path / "labelme"
    make_images(folder, [(64, 48)] * 2)
    first, second = sorted(p.name for p in folder.iterdir())
    polygon = [[5, 5], [40, 6], [30, 35]]
    (folder / (first.rsplit(".", 1)[0] + ".json")).write_text(
        json.dumps(
            {
                "version": "5.4.1", "flags": {}, "imagePath": first, "imageData": None,
                "imageHeight": 48, "imageWidth": 64,
                "shapes": [{"label": "fox", "points": polygon, "shape_type": "polygon",
                            "group_id": None, "flags": {}}],
            }
        )
    )  # fmt: skip
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", lambda *a, **k: str(folder))
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: pytest.fail("asked about tags"))
    window.ask_import_folder()
    qtbot.waitUntil(lambda: window.last_import_report is not None, timeout=10000)
    report = window.last_import_report
    assert (report.format, report.images_added, report.shapes_added) == ("labelme", 2, 1)
    assert "fox" in {c.name for c in window.classes.values()}
    assert "labelme: added 2 image(s) and 1 shape(s)" in window.report_dialog.summary.text()
    assert second in window.report_dialog.details.toPlainText()  # came in without shapes
    polygons = [s for shapes in db().values() for s in shapes if s.kind == "polygon"]
    assert [[list(p) for p in s.points] for s in polygons] == [polygon]
    window.report_dialog.close()


def test_cheat_sheet_and_rebinding_read_the_one_action_table(qtbot, window):
    from labeler.gui.actions import ACTIONS, store_keys
    from labeler.gui.dialogs import cheat_sheet_html

    html = cheat_sheet_html(window.actions, list(window.classes.values()))
    for spec in ACTIONS:
        if spec.keys:
            assert spec.title.replace("&", "") in html.replace("&amp;", "&")
    assert "cat" in html
    store_keys("next_image", ("J",))
    window.actions.apply_shortcuts()
    window.canvas.setFocus()
    _key(qtbot, window, Qt.Key.Key_J)
    assert window.current_row == 1
    _key(qtbot, window, Qt.Key.Key_D)
    assert window.current_row == 1  # D no longer moves on
    window.show_shortcut_settings()
    assert window.shortcut_dialog.bindings()["next_image"] == ("J",)
    window.shortcut_dialog.close()


def test_layout_and_last_project_come_back(qtbot, window, project_path):
    from labeler.gui.main_window import MainWindow

    window.go_to_row(3)
    window.classes_dock.hide()
    window.close()
    again = MainWindow()
    qtbot.addWidget(again)
    again.show()
    try:
        assert again.project is not None and again.project.path == project_path
        assert again.current_row == 3
        assert not again.classes_dock.isVisible()
    finally:
        again.close()


def test_big_image_shows_a_reduced_preview_then_full_size(qtbot, tmp_path):
    import cv2
    import numpy as np

    from labeler.app.imports import import_folders
    from labeler.gui.main_window import MainWindow

    big = tmp_path / "big"
    big.mkdir()
    rng = np.random.default_rng(0)
    img = cv2.resize(rng.integers(0, 255, (400, 600, 3), dtype=np.uint8), (6000, 4000))
    cv2.imwrite(str(big / "huge.jpg"), img)
    path = tmp_path / "big.labeler"
    with Project.create(path) as p:
        import_folders(p, [big])
    w = MainWindow(str(path), open_last=False)
    qtbot.addWidget(w)
    w.show()
    seen = []
    w.loader.image_loaded.connect(lambda _i, im, full: seen.append((im.width(), full)))
    w.loader.cache.clear()
    w.current = None
    w.current_row = None
    w.go_to_row(0)
    qtbot.waitUntil(lambda: any(full for _w, full in seen), timeout=15000)
    assert seen[0] == (750, False)  # the 1/8 decode came first
    assert seen[-1] == (6000, True)
    w.close()


def test_quitting_with_an_unsaved_edit_asks_first(qtbot, window, db, monkeypatch):
    asked: list[str] = []
    answer = [False]

    def confirm(message: str) -> bool:
        asked.append(message)
        return answer[0]

    monkeypatch.setattr(window, "confirm_quit_unsaved", confirm)
    other = _lock_and_press_1(qtbot, window)
    assert "NOT SAVED" in window.saved_label.text()
    assert not window.close()  # "Stay": the window and its project are still open
    assert len(asked) == 1 and "locked" in asked[0]
    assert window.isVisible() and window.project is not None
    other.execute("ROLLBACK")
    other.close()
    _key(qtbot, window, Qt.Key.Key_1)  # the retry is written: nothing to ask any more
    assert "NOT" not in window.saved_label.text()
    assert window.close()
    assert len(asked) == 1 and len(db()[window.current.id]) == 1


def test_quitting_after_a_failed_edit_can_discard_it(qtbot, window, monkeypatch):
    monkeypatch.setattr(window, "confirm_quit_unsaved", lambda message: True)
    other = _lock_and_press_1(qtbot, window)
    other.execute("ROLLBACK")
    other.close()
    assert window.close() and window.project is None


# -- issue 17, second round: the list, stale messages, outside imports, tie order ------------
@pytest.fixture
def long_list(tmp_path):
    """60 images named 1000.jpg .. 1059.jpg and one 4008.jpg; classes cat, dog, bird (1-3)."""
    from gui_helpers import make_images

    from labeler.app.imports import import_folders

    folder = tmp_path / "many"
    for i, src in enumerate(make_images(folder, [(40, 30)] * 61)):
        src.rename(folder / (f"{1000 + i}.jpg" if i < 60 else "4008.jpg"))
    path = tmp_path / "long.labeler"
    with Project.create(path) as p:
        import_folders(p, [folder])
        for name in ("cat", "dog", "bird"):
            p.add_class(name)
    return path


@pytest.fixture
def long_window(qtbot, long_list):
    from labeler.gui.main_window import MainWindow

    w = MainWindow(str(long_list), open_last=False)
    qtbot.addWidget(w)
    w.resize(1100, 750)
    w.show()
    qtbot.waitExposed(w)
    qtbot.waitUntil(w.canvas.has_pixels, timeout=5000)
    yield w
    w.close()


def _shown_name(window) -> str:
    return window.current.path.rsplit("/", 1)[-1]


def _highlighted_name(window) -> str:
    index = window.list_view.selectionModel().currentIndex()
    assert index.row() == window.current_row
    selected = window.list_view.selectionModel().selectedIndexes()
    assert [i.row() for i in selected] == [index.row()]
    return window.model.image_row(index.row()).name


def test_a_click_on_the_list_shows_that_row_and_never_moves_the_list_under_it(qtbot, long_window):
    w, view = long_window, long_window.list_view
    view.scrollToTop()
    from PySide6.QtTest import QTest

    vp = view.viewport()
    rows = [
        r
        for r in range(w.model.rowCount())
        if vp.rect().contains(view.visualRect(w.model.index(r)))
    ]
    assert len(rows) > 5  # a list longer than the view, scrolled to the top
    for row in (rows[-1], rows[-3], rows[1]):  # near the bottom edge, then higher up
        at = view.visualRect(w.model.index(row)).center()
        name = w.model.image_row(row).name
        qtbot.mouseClick(vp, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, at)
        QTest.qWait(20)
        assert _shown_name(w) == name  # the canvas shows the row clicked
        assert _highlighted_name(w) == name  # and the list highlights it
        assert view.indexAt(at).row() == row  # still under the pointer: the list stayed put
    # The list keeps the focus after a click; a key that is no command there (4: no class has
    # it) does not jump to the image whose name starts with it (4008.jpg).
    w.set_tool("box")
    before = _shown_name(w)
    qtbot.keyClick(view, Qt.Key.Key_4)
    assert _shown_name(w) == before and _highlighted_name(w) == before
    # Moving by keys still brings the shown row into view.
    w.canvas.setFocus()
    for _ in range(30):
        qtbot.keyClick(w.canvas, Qt.Key.Key_D)
    current = view.visualRect(w.model.index(w.current_row))
    assert vp.rect().contains(current) and _highlighted_name(w) == _shown_name(w)


def test_a_retag_clears_the_already_tagged_message(qtbot, window):
    _key(qtbot, window, Qt.Key.Key_1)
    _key(qtbot, window, Qt.Key.Key_1)
    assert window.statusBar().currentMessage() == "Already tagged cat"
    _key(qtbot, window, Qt.Key.Key_2)  # single-label: now a dog
    assert "Already tagged" not in window.statusBar().currentMessage()


def test_images_imported_by_the_cli_while_open_reach_the_list(
    qtbot, window, project_path, tmp_path
):
    import subprocess
    import sys

    from gui_helpers import make_images

    make_images(tmp_path / "more", [(60, 40)] * 3)
    before = window.model.rowCount()
    assert window.pos_label.text().endswith(f"/ {before}")
    done = subprocess.run(
        [sys.executable, "-m", "labeler", "import", str(project_path), str(tmp_path / "more")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    _key(qtbot, window, Qt.Key.Key_1)  # an edit: the window counts the dataset again
    qtbot.waitUntil(lambda: getattr(window, "stats", {}).get("images") == before + 3)
    qtbot.waitUntil(lambda: window.model.rowCount() == before + 3, timeout=3000)
    assert window.pos_label.text().endswith(f"/ {before + 3}")
    assert _highlighted_name(window) == _shown_name(window)  # still on the image tagged


def test_least_sure_sort_puts_images_without_a_proposal_in_natural_order(qtbot, tmp_path):
    from gui_helpers import make_images

    from labeler.app.imports import import_folders
    from labeler.gui.main_window import MainWindow

    folder = tmp_path / "blue"
    names = ["blue10.jpg", "blue1.jpg", "blue2.jpg", "blue0.jpg"]
    for name, src in zip(names, make_images(folder, [(40, 30)] * 4), strict=True):
        src.rename(folder / name)
    path = tmp_path / "blue.labeler"
    with Project.create(path) as p:
        import_folders(p, [folder])
        p.add_class("cat")
    w = MainWindow(str(path), open_last=False)
    qtbot.addWidget(w)
    try:
        w.set_filter("all", "uncertainty")
        shown = [w.model.image_row(r).name for r in range(w.model.rowCount())]
        assert shown == ["blue0.jpg", "blue1.jpg", "blue2.jpg", "blue10.jpg"]
        w.session.go_to_row(2)
        w.step(1)  # position and stepping follow the same order
        assert _shown_name(w) == "blue10.jpg"
    finally:
        w.close()
