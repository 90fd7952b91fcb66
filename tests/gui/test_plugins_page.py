"""The Plugins page, offscreen: rows for the built-in features, a working plugin and a broken
one; ticking Enabled persists the choice and says it applies at the next start."""

from __future__ import annotations

import json

import pytest
from PySide6.QtCore import Qt

from labeler import plugins
from labeler.gui.plugins_page import COLUMNS, ENABLED, PluginsPage

GOOD = """
from labeler.core.augment import Op

__version__ = "1.2"

class Shade(Op):
    name = "test_shade"

def register(api):
    api.add_op(Shade)
"""


@pytest.fixture
def page(qtbot):
    folder = plugins.plugin_dir()
    folder.mkdir(parents=True)
    (folder / "shade.py").write_text(GOOD)
    (folder / "broken.py").write_text("raise RuntimeError('cannot start')\n")
    plugins.load_plugins(reload=True)
    w = PluginsPage()
    qtbot.addWidget(w)
    w.resize(900, 400)
    w.show()
    qtbot.waitExposed(w)
    yield w
    plugins.unload_plugins()


def cell(page: PluginsPage, row: int, column: str) -> str:
    return page.table.item(row, COLUMNS.index(column)).text()


def rows(page: PluginsPage) -> dict[str, int]:
    return {cell(page, r, "Name"): r for r in range(page.table.rowCount())}


def test_every_plugin_is_listed_with_what_it_adds_and_its_error(page):
    r = rows(page)
    assert list(r) == ["labeler.builtin", "broken", "shade"]
    assert cell(page, r["shade"], "Version") == "1.2"
    assert cell(page, r["shade"], "Source") == "folder"
    assert cell(page, r["shade"], "Adds") == "ops: test_shade"
    assert cell(page, r["shade"], "Error") == ""
    assert cell(page, r["broken"], "Error") == "import failed: RuntimeError: cannot start"
    assert "ops: " in cell(page, r["labeler.builtin"], "Adds")
    assert "exporters: " in cell(page, r["labeler.builtin"], "Adds")


def test_the_built_in_row_cannot_be_unticked(page):
    box = page.table.item(rows(page)["labeler.builtin"], ENABLED)
    assert box.checkState() == Qt.CheckState.Checked
    assert not box.flags() & Qt.ItemFlag.ItemIsUserCheckable


def test_unticking_a_plugin_persists_it_and_asks_for_a_restart(page, qtbot):
    box = page.table.item(rows(page)["shade"], ENABLED)
    assert box.flags() & Qt.ItemFlag.ItemIsUserCheckable
    assert not page.restart_note.isVisible()
    with qtbot.waitSignal(page.plugin_toggled) as sig:
        box.setCheckState(Qt.CheckState.Unchecked)
    assert sig.args == ["shade", False]
    assert json.loads(plugins.settings_path().read_text()) == {"disabled": ["shade"]}
    assert page.restart_note.isVisible()

    page.refresh(plugins.load_plugins(reload=True))
    box = page.table.item(rows(page)["shade"], ENABLED)
    assert box.checkState() == Qt.CheckState.Unchecked
    with qtbot.waitSignal(page.plugin_toggled) as sig:
        box.setCheckState(Qt.CheckState.Checked)
    assert sig.args == ["shade", True] and plugins.disabled_plugins() == set()


def test_the_page_names_the_plugin_folder(page):
    assert str(plugins.plugin_dir()) in page.folder_label.text()
