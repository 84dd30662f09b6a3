"""Backend text made safe for a terminal: what a server sends is shown, never obeyed.

A job's error, workflow, status or task name comes from a server jobhub does not control. Printed
raw, `\\x1b]0;…\\x07` retitles the window, `\\x1b[2J` clears the screen, an OSC 8 sequence plants a
link, U+202E reverses the rest of the line. Every human output passes backend text through
`printable` first: control characters are shown as Python-style escapes (`\\x1b`, `\\u202e`), so
the reader sees that they were there. Standard library only: `error_line` uses it before any
heavy import.
"""

from __future__ import annotations

import re

__all__ = ["printable"]

# Line breaks and tabs fold into one space (a field is shown on one line).
_SPACE = re.compile(r"[ \t\n\r\v\f]+")
# Every other C0 and C1 control, DEL, the line/paragraph separators, and the bidirectional
# controls that reorder what follows them (the "Trojan Source" characters).
_CONTROL = re.compile(
    "[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]"
)


def _escaped(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def printable(text: object) -> str:
    """`text` as one terminal-safe line: whitespace runs become one space, every other control
    character its escape (`"a\\x1b[2Jb"` shows as `a\\x1b[2Jb`)."""
    return _CONTROL.sub(_escaped, _SPACE.sub(" ", str(text)).strip())
