"""Starting the GUI: the QApplication, the main window, and the project to open."""

from __future__ import annotations

import os
import sys
import warnings

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication

from labeler import __version__


def make_app() -> QApplication:
    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("Labeler")
    app.setOrganizationName("Labeler")
    app.setApplicationVersion(__version__)
    return app  # type: ignore[return-value]


def run_gui(project_path: str | None = None) -> int:
    """Open the annotation window (on `project_path`, else the last project); returns the
    exit code of the event loop."""
    from labeler.gui.main_window import MainWindow

    app = make_app()
    # The GAN panel says in its own words when jobs run on the CPU; the library's warning
    # would only reach the terminal, as a source line (the CLI prints it as one line).
    warnings.filterwarnings("ignore", message="No CUDA GPU found", category=UserWarning)
    window = MainWindow(project_path)
    window.show()
    if quit_ms := os.environ.get("LABELER_QUIT_AFTER_MS"):  # packaging/smoke_test.py
        QTimer.singleShot(int(quit_ms), app.quit)
    return app.exec()
