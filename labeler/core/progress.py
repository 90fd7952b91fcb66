"""The callback types every long-running function takes (import, export, augment, train).

The CLI wraps them in a progress bar on stderr; the GUI in a worker that emits signals.
"""

from __future__ import annotations

from collections.abc import Callable

ProgressFn = Callable[[int, int], None]
"""progress(done, total): called as work advances; total may be 0 when unknown."""

ShouldStop = Callable[[], bool]
"""should_stop(): polled between units of work; True asks the function to stop cleanly."""


def no_progress(done: int, total: int) -> None:
    """The default progress callback: says nothing."""


def never_stop() -> bool:
    """The default should_stop callback: never asks to stop."""
    return False
