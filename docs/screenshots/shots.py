"""What the screenshot scripts share: where things are, and waiting on the event loop."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
OUT = Path(__file__).resolve().parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))


def settle(app, seconds: float = 0.5) -> None:
    """Let the window paint and its workers report for a moment."""
    end = time.time() + seconds
    while time.time() < end:
        app.processEvents()
        time.sleep(0.01)


def wait_for(app, done: Callable[[], bool], timeout: float = 300) -> None:
    """Run the event loop until `done()` (a job finished), or fail after `timeout` s."""
    end = time.time() + timeout
    while not done():
        if time.time() > end:
            raise TimeoutError("the window did not finish in time")
        app.processEvents()
        time.sleep(0.02)
