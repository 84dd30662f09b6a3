"""Reading JSON from backends: one fast parser, and the limits every Job must meet to be
printable (no lone surrogates, bounded nesting, integers Python can read)."""

from __future__ import annotations

import json
import re
from typing import Any

from pydantic_core import from_json

__all__ = ["MAX_JSON_DEPTH", "UnreadableJson", "read_json"]


# JSON nested deeper is refused: no backend describes a job this deep, and pydantic cannot
# serialize a Job holding it (`jobhub get --json` would fail).
MAX_JSON_DEPTH = 200
_SURROGATE = re.compile("[\ud800-\udfff]")


class UnreadableJson(ValueError):
    """What `read_json` refused; the message says what the text is instead ("is not JSON", "is
    nested more than 200 levels deep", ...), to follow the name of what was read."""


def read_json(content: bytes | str) -> Any:
    """JSON text as the value `json.loads` gives, made safe to carry into a Job, or
    `UnreadableJson`. Every JSON value jobhub reads from a backend comes through here.

    pydantic-core's parser reads it first: it is faster than `json.loads` and shares one
    object among equal short strings (status words, names, times), so jobs held for long take
    less memory. Text it refuses (lone surrogates, a byte-order mark, nesting deeper than it
    goes, a huge number) is read by `json.loads`, whose result and errors are the reference,
    with the limits every Job must meet to be printable: lone surrogates become U+FFFD, and
    nesting deeper than `MAX_JSON_DEPTH` is refused."""
    try:
        return from_json(content, cache_strings=True)
    except ValueError:
        pass
    try:
        return _carriable(json.loads(content, parse_int=_whole_number))
    except RecursionError:
        raise UnreadableJson(f"is nested more than {MAX_JSON_DEPTH} levels deep") from None
    except UnreadableJson:
        raise
    except ValueError:
        raise UnreadableJson("is not JSON") from None


# Python refuses to read longer integers (a guard against slow conversions): say so plainly.
_MAX_DIGITS = 4300


def _whole_number(text: str) -> int:
    if len(text.lstrip("-")) > _MAX_DIGITS:
        raise UnreadableJson(
            f"holds an integer of {len(text.lstrip('-'))} digits (more than {_MAX_DIGITS} "
            "cannot be read)"
        )
    return int(text)


def _carriable(value: Any) -> Any:
    """`json.loads`' result made safe to carry into a Job: a lone surrogate (JSON allows
    `"\\ud800"`; no UTF-8 output can hold it) becomes U+FFFD, and nesting past
    `MAX_JSON_DEPTH` is refused. Changes `value` in place; iterative, so any depth is walked."""
    if isinstance(value, str):
        return _SURROGATE.sub("\ufffd", value)
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_JSON_DEPTH:
            raise UnreadableJson(f"is nested more than {MAX_JSON_DEPTH} levels deep")
        if isinstance(node, dict):
            for key in [k for k in node if _SURROGATE.search(k)]:
                node[_SURROGATE.sub("\ufffd", key)] = node.pop(key)
            items: Any = node.items()
        elif isinstance(node, list):
            items = enumerate(node)
        else:
            continue
        for key, item in list(items):
            if isinstance(item, str):
                if _SURROGATE.search(item):
                    node[key] = _SURROGATE.sub("\ufffd", item)
            elif isinstance(item, dict | list):
                stack.append((item, depth + 1))
    return value
