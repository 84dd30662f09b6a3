"""Payloads an adapter must survive: arbitrary JSON, and its own samples bent out of shape.

Deterministic (a seeded generator), so a failure names a payload that fails again on the next
run. Every value is something `json.loads` can return.
"""

from __future__ import annotations

import copy
import random
from collections.abc import Iterator
from typing import Any

__all__ = ["JUNK", "field_names", "mutations", "random_json"]

# Values that stand in for any field: wrong types, empties, extremes, near-misses.
JUNK: tuple[Any, ...] = (
    None,
    "",
    "x",
    " ",
    "2024-13-45T99:99:99",
    "null",
    0,
    -1,
    2**63,
    1.5,
    -1e308,
    True,
    False,
    [],
    [None],
    {},
    {"": None},
)

Path = tuple[str | int, ...]
_ITEMS = 3


def _paths(value: Any, prefix: Path = ()) -> Iterator[Path]:
    """Key paths inside `value` (objects and arrays), outermost first. Of an array only the
    first `_ITEMS` items are walked: the rest are read the same way."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield (*prefix, key)
            yield from _paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value[:_ITEMS]):
            yield (*prefix, index)
            yield from _paths(item, (*prefix, index))


def _replace(value: Any, path: Path, new: Any, *, delete: bool = False) -> Any:
    """`value` with the item at `path` replaced (or deleted); only the containers along the
    path are copied, the rest is shared."""
    head, *rest = path
    copied = copy.copy(value)
    if rest:
        copied[head] = _replace(value[head], tuple(rest), new, delete=delete)
    elif delete:
        del copied[head]
    else:
        copied[head] = new
    return copied


def mutations(payload: Any, *, limit: int = 3000) -> Iterator[tuple[str, Any]]:
    """`payload` with one field replaced by each `JUNK` value, or removed, for every field at
    every depth (at most `limit` payloads); each with a short description (`status := None`,
    `tasks.0 removed`). The payload itself is not changed; the copies share its unchanged
    parts, so a parser must not change what it is given."""
    count = 0
    for path in _paths(payload):
        where = ".".join(str(part) for part in path)
        yield f"{where} removed", _replace(payload, path, None, delete=True)
        count += 1
        for junk in JUNK:
            if count >= limit:
                return
            yield f"{where} := {junk!r}", _replace(payload, path, junk)
            count += 1


def random_json(rng: random.Random, depth: int = 3, keys: tuple[str, ...] = ()) -> Any:
    """One arbitrary JSON value, nested at most `depth` deep; objects use `keys` (the field
    names of real payloads, so some values reach deep into a parser) and a few others."""
    kind = rng.randrange(8 if depth > 0 else 6)
    if kind == 0:
        return None
    if kind == 1:
        return rng.choice((True, False))
    if kind == 2:
        return rng.randint(-(2**64), 2**64)
    if kind == 3:
        return rng.choice((0.0, -0.5, 1e-9, 3.25, 1e300))
    if kind in (4, 5):
        alphabet = "abcXYZ019 _-:/.?#%\u00e9\u2603\x00"
        return "".join(rng.choice(alphabet) for _ in range(rng.randrange(12)))
    if kind == 6:
        return [random_json(rng, depth - 1, keys) for _ in range(rng.randrange(4))]
    names = (*keys, "id", "status", "state", "name", "tasks", "data", "error", "x")
    return {rng.choice(names): random_json(rng, depth - 1, keys) for _ in range(rng.randrange(6))}


def field_names(*payloads: Any) -> tuple[str, ...]:
    """Every object key used anywhere in `payloads`, sorted (for `random_json`)."""
    names: set[str] = set()
    for payload in payloads:
        for path in _paths(payload):
            if isinstance(path[-1], str):
                names.add(path[-1])
    return tuple(sorted(names))
