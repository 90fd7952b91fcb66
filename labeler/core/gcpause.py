"""Python's cyclic garbage collector held off while a large job makes many objects.

An export of 3,000 photos makes some 100,000 objects that live until it ends (shapes, items,
records, a COCO file parsed back); the collector walks all of them again and again as they
are made (20 full collections in one export), and that cost 5 to 16 % of the export's time.
The job's objects hold no reference cycles: they are freed as they go out of use whether the
collector runs or not. Inside `gc_paused` it does not run; on leaving, it runs as before
(and collects, at its next turn, any cycles another thread made meanwhile). Nesting and
several threads are counted: the collector resumes when the last one leaves, and only if it
was on when the first one came.

>>> with gc_paused():
...     pass
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

_lock = threading.Lock()
_inside = 0
_was_on = False


@contextmanager
def gc_paused() -> Iterator[None]:
    """Hold the cyclic collector off for the block (see the module)."""
    global _inside, _was_on
    with _lock:
        if _inside == 0:
            _was_on = gc.isenabled()
            gc.disable()
        _inside += 1
    try:
        yield
    finally:
        with _lock:
            _inside -= 1
            if _inside == 0 and _was_on:
                gc.enable()
