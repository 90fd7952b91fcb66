"""The callback types every long-running function takes (import, export, augment, train):
one owner, so every layer names them alike.

The CLI wraps them in a progress bar on stderr; the GUI in a worker that emits signals.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

ProgressFn = Callable[[int, int], None]
"""progress(done, total): called as work advances; total may be 0 when unknown."""

ShouldStop = Callable[[], bool]
"""should_stop(): polled between units of work; True asks the function to stop cleanly."""

StatsFn = Callable[[dict[str, Any]], None]
"""progress(stats) for work measured as it goes rather than counted against a total (GAN and
classifier training, sampling): ``{"step": ..., "losses": ..., "eta_s": ...}``."""


def no_progress(done: int, total: int) -> None:
    """The default progress callback: says nothing."""


def never_stop() -> bool:
    """The default should_stop callback: never asks to stop."""
    return False
