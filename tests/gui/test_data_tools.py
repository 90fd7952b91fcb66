"""The Data menu opens each tool on the window's project, and the tools talk back to the
window: a health finding filters the list, a change made by a tool refreshes it."""

from __future__ import annotations

import pytest
from PySide6.QtWidgets import QMessageBox

from labeler.store.project import Project


@pytest.mark.parametrize("name", ["export", "recipes", "health", "gan", "plugins"])
def test_data_menu_opens_each_tool_once(window, name):
    action = window.actions[name]
    assert action.isEnabled()
    action.trigger()
    tool = window.data_tools.open[name]
    assert tool.isVisible()
    action.trigger()  # a second request brings back the same tool
    assert window.data_tools.open[name] is tool
    window.close()
    assert window.data_tools.open == {}


def test_health_finding_filters_the_image_list(window):
    ids = [img.id for img in window.project.images()][1:3]
    window.show_images(ids)
    assert window.model.rowCount() == 2
    assert window.current.id == ids[0]
    assert window.filter_box.currentText() == "Checked: 2 image(s)"


def test_a_split_made_by_a_tool_reaches_the_list_and_chart(window, qtbot, project_path):
    window.set_filter("split:train")
    assert window.model.rowCount() == 0
    with Project.open(project_path) as other:  # as the export dialog's worker would
        other.set_splits({i.id: "train" for i in other.images()})
    window.refresh_after_data_change()
    assert window.model.rowCount() == 5
    # The stats are read on a worker: none may be in yet when the wait starts.
    qtbot.waitUntil(
        lambda: window.stats is not None and window.stats["splits"]["train"] == 5, timeout=5000
    )


def test_closing_the_project_closes_its_tools(window, monkeypatch, tmp_path):
    monkeypatch.setattr(QMessageBox, "critical", lambda *a, **k: None)
    window.open_data_tool("health")
    assert window.data_tools.open
    Project.create(tmp_path / "other.labeler").close()
    window.open_project(str(tmp_path / "other.labeler"))
    assert window.data_tools.open == {}
