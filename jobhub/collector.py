"""The cyclic garbage collector, kept out of the parse and normalization of an answer.

Reading an answer allocates many small dicts, lists and models, and each few hundred
allocations start a collection that walks the young objects; while a large answer (a prunner
batch refresh of 10,000 jobs) is read, the older generations are walked again and again as
well, and the collector can take more time than the parsing. A payload holds no reference
cycles, so what a parse builds and drops is freed by reference counting without the collector;
`paused()` turns the collector off for the parse and back on after it.

Turned back on, the collector would walk every object a large answer built at its next young
collection and again at the next middle one. Those held that long (a listing read page after
page, a refresh compared with the jobs followed) then reach the oldest generation as
survivors, and CPython starts a full collection, a walk of everything the process holds, each
time survivors come to a quarter of what that generation held: at 10,000 followed jobs a pause
of 0.3-0.4 s every 10 s or so. So an answer of `PROMOTE_FROM` bytes or more is read in young
generations of their own: what they held is collected first (`gc.collect(1)`: its survivors
go on to the oldest generation as any would, counted towards the next full collection), and
what the answer built is moved to the oldest generation when it ends (`gc.freeze()` then
`gc.unfreeze()`: two list splices, no walk, not counted). Nothing is lost: what it moves holds
no cycles, and a full collection walks whatever of it is still held, as it walks everything.
The cost: objects young at that moment reach the oldest generation sooner than they would,
so cyclic garbage among them waits for a full collection, which comes at CPython's own rule. A
program that has frozen objects itself (`gc.freeze()`, before forking workers) is left as it is.

`paused()` nests and is shared by threads: the collector is turned back on when the outermost
pause ends, and only if it was on when the first began (a program that runs with the collector
off keeps it off).
"""

from __future__ import annotations

import gc
import threading
from types import TracebackType

__all__ = ["PROMOTE_FROM", "paused"]

# Bytes of an answer from which its objects go to the oldest generation at once: some
# thousand objects (a list page, a large refresh); a single job's answer is read as it is.
PROMOTE_FROM = 64 * 1024

_lock = threading.Lock()
_depth = 0  # pauses open now, in every thread (the collector is one per process)
_restore = False  # whether the outermost pause found the collector on
_promote = False  # whether the outermost pause reads a large answer, collected before it


class _Pause:
    """The context manager `paused()` gives: a class of its own, not a generator, because it
    wraps every answer read, a small one in a few microseconds."""

    __slots__ = ("large",)

    def __init__(self, large: bool) -> None:
        self.large = large  # an answer of `PROMOTE_FROM` bytes or more

    def __enter__(self) -> None:
        global _depth, _restore, _promote
        collected = False
        if self.large and _depth == 0 and gc.isenabled() and not gc.get_freeze_count():
            gc.collect(1)  # outside the lock: a finalizer it runs may read an answer
            collected = True
        with _lock:
            if _depth == 0:
                _restore = gc.isenabled()
                # Only what the young generations hold since that collection is moved.
                _promote = collected
                gc.disable()
            _depth += 1

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        global _depth
        with _lock:
            _depth -= 1
            if _depth == 0 and _restore:
                if _promote and not gc.get_freeze_count():
                    gc.freeze()  # every young object (the answer's) into the permanent
                    gc.unfreeze()  # generation, and from there into the oldest, unwalked
                gc.enable()


_SMALL, _LARGE = _Pause(large=False), _Pause(large=True)


def paused(size: int = 0) -> _Pause:
    """No cyclic collection while the block runs; the collector's previous state after it.
    `size`: the bytes of the answer read in it (see `PROMOTE_FROM`)."""
    return _LARGE if size >= PROMOTE_FROM else _SMALL
