"""The cyclic garbage collector, kept out of the parse and normalization of an answer.

Reading an answer allocates many small dicts, lists and models, and each few hundred
allocations start a collection that walks the young objects; while a large answer (a prunner
batch refresh of 10,000 jobs) is read, the older generations are walked again and again as
well, and the collector can take more time than the parsing. A payload holds no reference
cycles, so what a parse builds and drops is freed by reference counting without the collector;
`paused()` turns the collector off for the parse and back on after it, and the next allocation
then walks the young objects once.

`paused()` nests and is shared by threads: the collector is turned back on when the outermost
pause ends, and only if it was on when the first began (a program that runs with the collector
off keeps it off).
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["paused"]

_lock = threading.Lock()
_depth = 0  # pauses open now, in every thread (the collector is one per process)
_restore = False  # whether the outermost pause found the collector on


@contextmanager
def paused() -> Iterator[None]:
    """No cyclic collection while the block runs; the collector's previous state after it."""
    global _depth, _restore
    with _lock:
        if _depth == 0:
            _restore = gc.isenabled()
            gc.disable()
        _depth += 1
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0 and _restore:
                gc.enable()
