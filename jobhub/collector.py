"""The cyclic garbage collector, kept out of the parse and normalization of an answer.

Reading an answer allocates many small dicts, lists and models, and each few hundred
allocations start a collection that walks the young objects; while a large answer (a prunner
batch refresh of 10,000 jobs) is read, the older generations are walked again and again as
well, and the collector can take more time than the parsing. A payload holds no reference
cycles, so what a parse builds and drops is freed by reference counting without the collector;
`paused()` turns the collector off for the parse and back on after it.

Turned back on, the collector would walk every object the answer built at its next young
collection and again at the next middle one, before they reach the oldest generation, where
whatever is held anyway ends up: for a 10,000-job refresh that is as long as the parse. So
after an answer that built more than `PROMOTE_AFTER` objects, the young objects are moved to
the oldest generation at once (`gc.freeze()` then `gc.unfreeze()`: two list splices, no walk);
a full collection walks them there, as it walks everything held. Nothing is lost: cyclic
garbage that was young at that moment is still found, by the next full collection. A program
that has frozen objects itself (`gc.freeze()`, before forking workers) is left as it is.

`paused()` nests and is shared by threads: the collector is turned back on when the outermost
pause ends, and only if it was on when the first began (a program that runs with the collector
off keeps it off).
"""

from __future__ import annotations

import gc
import threading
from types import TracebackType

__all__ = ["PROMOTE_AFTER", "paused"]

# Objects built (container allocations since the last collection) past which a pause's end
# moves the young generation to the oldest: about 500 prunner jobs of 50 tasks. Below it the
# young collection that follows costs little.
PROMOTE_AFTER = 100_000

_lock = threading.Lock()
_depth = 0  # pauses open now, in every thread (the collector is one per process)
_restore = False  # whether the outermost pause found the collector on


class _Pause:
    """The context manager `paused()` gives: a class of its own, not a generator, because it
    wraps every answer read, a small one in a few microseconds."""

    __slots__ = ()

    def __enter__(self) -> None:
        global _depth, _restore
        with _lock:
            if _depth == 0:
                _restore = gc.isenabled()
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
                if gc.get_count()[0] > PROMOTE_AFTER and not gc.get_freeze_count():
                    gc.freeze()  # every tracked object into the permanent generation,
                    gc.unfreeze()  # and from there into the oldest one, unwalked
                gc.enable()


_PAUSE = _Pause()


def paused() -> _Pause:
    """No cyclic collection while the block runs; the collector's previous state after it."""
    return _PAUSE
