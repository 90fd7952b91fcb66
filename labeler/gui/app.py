"""Starting the GUI: the QApplication, the main window, and the project to open."""

from __future__ import annotations

import sys
from pathlib import Path

from PySide6.QtWidgets import QApplication, QLabel, QMainWindow, QMessageBox

from labeler import __version__
from labeler.core.errors import LabelerError


class MainWindow(QMainWindow):
    def __init__(self, project_path: str | None = None) -> None:
        super().__init__()
        self.project = None
        self.setWindowTitle("Labeler")
        self.resize(1200, 800)
        self.summary = QLabel("Open or create a project to start.")
        self.summary.setMargin(24)
        self.setCentralWidget(self.summary)
        self.statusBar().showMessage(f"Labeler {__version__}")
        if project_path:
            self.open_project(project_path)

    def open_project(self, path: str) -> None:
        from labeler.store.project import Project

        try:
            project = Project.open(path)
        except LabelerError as e:
            QMessageBox.critical(self, "Cannot open project", str(e))
            return
        if self.project is not None:
            self.project.close()
        self.project = project
        self.setWindowTitle(f"{Path(path).name} — Labeler")
        s = project.stats()
        self.summary.setText(
            f"{s['images']} images, {len(s['classes'])} classes, {s['unlabeled']} unlabeled"
        )


def run_gui(project_path: str | None = None) -> int:
    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("Labeler")
    app.setOrganizationName("Labeler")
    window = MainWindow(project_path)
    window.show()
    return app.exec()
