"""Issue 17, items 8 and 10: the rough edges of the class panel, the status bar, the dataset
chart, the GAN and export progress bars and the cheat sheet, as a user at the default window
size meets them."""

from __future__ import annotations

import pytest
from gui_helpers import make_images
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QInputDialog

from labeler.app.imports import import_folders
from labeler.store.project import Project

CIFAR_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")  # fmt: skip


@pytest.fixture
def cifar_like(tmp_path):
    """Three images and the ten CIFAR-10 classes, as the demo has them (keys 1-9, truck none)."""
    path = tmp_path / "cifar.labeler"
    make_images(tmp_path / "imgs", [(64, 48)] * 3)
    with Project.create(path) as p:
        import_folders(p, [tmp_path / "imgs"])
        for name in CIFAR_CLASSES:
            p.add_class(name)
    return path


def open_window(qtbot, path=None):
    from labeler.gui.main_window import MainWindow

    w = MainWindow(str(path) if path else None, open_last=False)  # at its default size
    qtbot.addWidget(w)
    w.show()
    qtbot.waitExposed(w)
    return w


def rows_in_view(tree) -> list[str]:
    """The class names whose whole row the user can see without scrolling."""
    view = tree.viewport().rect()
    return [
        tree.topLevelItem(i).text(1)
        for i in range(tree.topLevelItemCount())
        if view.contains(tree.visualItemRect(tree.topLevelItem(i)))
    ]


def test_all_ten_cifar_classes_show_at_the_default_window_size(qtbot, cifar_like):
    w = open_window(qtbot, cifar_like)
    assert (w.width(), w.height()) == (1280, 820)
    qtbot.waitUntil(lambda: w.class_panel.tree.topLevelItemCount() == 10)
    assert rows_in_view(w.class_panel.tree) == list(CIFAR_CLASSES)
    w.close()


def test_a_new_class_gets_the_next_free_key_and_is_selected_in_view(qtbot, cifar_like, monkeypatch):
    w = open_window(qtbot, cifar_like)
    panel = w.class_panel
    w.set_tool("box")
    for name in ("lorry", "bus", "tram"):
        monkeypatch.setattr(QInputDialog, "getText", lambda *a, n=name, **k: (n, True))
        qtbot.mouseClick(panel.buttons["add"], Qt.MouseButton.LeftButton)
        new = w.session.classes[w.session.current_class]
        assert new.name == name
        assert panel.tree.currentItem().text(1) == name
        assert name in rows_in_view(panel.tree)  # scrolled to, whatever the list's length
        assert name in w.status.tool_label.text()
    keys = {c.name: c.shortcut for c in w.session.classes.values()}
    # 1-9 are taken, truck has none: the digits end with 0, then letters no action uses
    assert keys["lorry"] == "0"
    assert keys["bus"] == "Q" and keys["tram"] == "U"  # W E R T Y are commands
    with Project.open(cifar_like) as p:
        assert p.class_by_name("bus").shortcut == "Q"
        assert p.image_count() == 3 and all(p.shapes(i.id) == [] for i in p.images())
    w.close()


def test_adding_a_class_in_the_tag_tool_tags_nothing(qtbot, cifar_like, monkeypatch):
    w = open_window(qtbot, cifar_like)
    w.set_tool("tag")
    monkeypatch.setattr(QInputDialog, "getText", lambda *a, **k: ("lorry", True))
    qtbot.mouseClick(w.class_panel.buttons["add"], Qt.MouseButton.LeftButton)
    with Project.open(cifar_like) as p:
        assert all(p.shapes(i.id) == [] for i in p.images())
    w.close()


def test_without_a_project_the_class_buttons_are_off_and_say_why(qtbot, monkeypatch):
    w = open_window(qtbot)
    asked = []
    monkeypatch.setattr(QInputDialog, "getText", lambda *a, **k: asked.append(a) or ("x", True))
    add = w.class_panel.buttons["add"]
    assert not add.isEnabled()
    assert "open or create a project first" in add.toolTip()
    assert not any(b.isEnabled() for b in w.class_panel.buttons.values())
    w.class_editor.ask_add()  # reached another way (a plugin, a test): still no silent drop
    assert asked == []
    assert "open or create a project first" in w.status.currentMessage()
    w.close()


def test_class_buttons_need_a_selected_class(qtbot, cifar_like):
    w = open_window(qtbot, cifar_like)
    panel = w.class_panel
    assert panel.buttons["add"].isEnabled()
    panel.tree.setCurrentItem(None)
    assert not panel.buttons["delete"].isEnabled()
    assert "select a class" in panel.buttons["delete"].toolTip()
    panel.tree.setCurrentItem(panel.tree.topLevelItem(3))
    assert panel.buttons["delete"].isEnabled()
    w.close()


def test_a_new_empty_project_drops_the_previous_projects_class(qtbot, cifar_like, tmp_path):
    w = open_window(qtbot, cifar_like)
    w.session.pick_class(w.session.project.class_by_name("cat").id)
    qtbot.waitUntil(lambda: "class cat" in w.status.tool_label.text())
    w.set_tool("box")  # a tool change keeps the class it does not change
    assert w.status.tool_label.text() == "Tool: Box · class cat"
    w.set_project(Project.create(tmp_path / "empty.labeler"))
    assert "class" not in w.status.tool_label.text()
    assert w.status.tool_label.text().startswith("Tool: ")
    assert w.status.pos_label.text() == "– / 0"
    w.close()


def test_the_chart_and_the_health_check_write_the_imbalance_ratio_alike(qtbot, tmp_path):
    """121 : 6 was "20.167×" in the chart and "20.2 : 1" in the health card."""
    from labeler.core.health import HealthData, HealthImage, run_health
    from labeler.core.shapes import Shape
    from labeler.gui.panels import DatasetChart

    images = [HealthImage(i, f"{i}.jpg", exists=True) for i in range(1, 128)]
    shapes = {i: [Shape.tag(1 if i <= 121 else 2)] for i in range(1, 128)}
    title = (
        run_health(HealthData(images, shapes, {1: "big", 2: "small"}))
        .by_check("balance.imbalance")
        .title
    )
    chart = DatasetChart()
    qtbot.addWidget(chart)
    for ratio, text in ((121 / 6, "20.2 : 1"), (20.0, "20.0 : 1"), (3.5, "3.5 : 1")):
        chart.set_stats({"imbalance_ratio": round(ratio, 3), "unlabeled": 1, "classes": []}, {})
        assert chart.facts_line() == f"imbalance {text}   ·   1 unlabeled"
    chart.set_stats({"imbalance_ratio": round(121 / 6, 3), "unlabeled": 0, "classes": []}, {})
    assert "(20.2 : 1)" in title and "20.2 : 1" in chart.facts_line()


def test_the_cheat_sheet_columns_line_up_across_sections(qtbot, cifar_like):
    """Each section was its own table, so "what it does" started at a different x in each."""
    from PySide6.QtGui import QTextDocument

    from labeler.gui.dialogs import cheat_sheet_html

    w = open_window(qtbot, cifar_like)
    doc = QTextDocument()
    doc.setHtml(cheat_sheet_html(w.actions, list(w.session.classes.values())))
    doc.setTextWidth(500)  # the dialog's width
    left: dict[str, float] = {}
    block = doc.begin()
    while block.isValid():
        left[block.text()] = doc.documentLayout().blockBoundingRect(block).x()
        block = block.next()
    descriptions = ["Undo", "Next image", "Fit image", "ship", "pan (Space alone changes nothing)"]
    xs = {d: left[d] for d in descriptions}
    assert len(set(xs.values())) == 1, xs
    w.close()


def test_a_class_cannot_take_a_command_s_key(qtbot, cifar_like, monkeypatch):
    """G is Box → polygon: a class keyed G would make both ambiguous and Qt triggers neither."""
    w = open_window(qtbot, cifar_like)
    errors = []
    monkeypatch.setattr(w.class_editor, "error_box", lambda title, text: errors.append(text))
    truck = next(c for c in w.session.classes.values() if c.name == "truck")
    assert w.class_editor.set_shortcut(truck.id, "g") is False
    assert errors and errors[0].startswith("G is the key of")
    with Project.open(cifar_like) as p:
        assert p.class_by_name("truck").shortcut is None
    assert w.class_editor.set_shortcut(truck.id, "k") is True
    w.close()


def test_a_stored_class_key_that_a_command_uses_is_said_and_the_command_still_works(
    qtbot, cifar_like
):
    with Project.open(cifar_like) as p:  # set elsewhere (the CLI, an older version)
        p.update_class(p.class_by_name("truck").id, shortcut="R")
    w = open_window(qtbot, cifar_like)
    qtbot.waitUntil(lambda: "truck's key R" in w.statusBar().currentMessage())
    assert w.current is not None and w.current.status != "reviewed"
    qtbot.waitUntil(w.canvas.has_pixels, timeout=5000)
    qtbot.keyClick(w.canvas, Qt.Key.Key_R)  # R still marks the image reviewed
    with Project.open(cifar_like) as p:
        qtbot.waitUntil(lambda: p.image(w.current.id).status == "reviewed", timeout=3000)
    w.close()


def test_adding_classes_never_says_a_class_clashes_with_itself(qtbot, cifar_like, monkeypatch):
    """The old class-key actions linger until Qt deletes them: they are no command."""
    w = open_window(qtbot, cifar_like)
    said = []
    w.statusBar().messageChanged.connect(said.append)
    for name in ("cup", "person"):
        monkeypatch.setattr(QInputDialog, "getText", lambda *a, n=name, **k: (n, True))
        qtbot.mouseClick(w.class_panel.buttons["add"], Qt.MouseButton.LeftButton)
    qtbot.wait(50)
    assert not [m for m in said if "is the key of" in m]
    w.close()
