"""The GUI starts offscreen and shows the project it was given."""

from __future__ import annotations

from labeler.gui.app import MainWindow
from labeler.store.project import Project


def test_window_opens_with_project_in_title(qtbot, tmp_path):
    Project.create(tmp_path / "demo.labeler").close()
    w = MainWindow(str(tmp_path / "demo.labeler"))
    qtbot.addWidget(w)
    w.show()
    assert "demo.labeler" in w.windowTitle()
    assert "0 images" in w.summary.text()
