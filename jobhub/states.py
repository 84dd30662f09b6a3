"""A backend's status words mapped to canonical states, in one table per backend."""

from __future__ import annotations

import logging
from collections.abc import Mapping

from jobhub.model import JobState
from jobhub.problems import excerpt

__all__ = ["StateTable"]

log = logging.getLogger("jobhub")


class StateTable:
    """A backend's native status words → canonical states, matched case-insensitively.

    An unknown word maps to `JobState.UNKNOWN` and is logged once per backend type and word.
    """

    def __init__(self, backend_type: str, table: Mapping[str, JobState]) -> None:
        self.backend_type = backend_type
        self._table = {word.lower(): state for word, state in table.items()}
        self._warned: set[str] = set()
        # The words as the table spells them and in lower case: a hot loop reads a word with
        # `known.get(word)` and calls the table only for what that misses.
        self.known: Mapping[str, JobState] = {**self._table, **table}

    def __call__(self, word: str | None) -> JobState:
        if word is None:
            return JobState.UNKNOWN
        state = self._table.get(word.lower())
        if state is None:
            self._warn(word)
            return JobState.UNKNOWN
        return state

    # A backend sending endless new words must not grow memory or flood the log.
    MAX_WARNED = 100

    def _warn(self, word: str) -> None:
        if word in self._warned or len(self._warned) > self.MAX_WARNED:
            return
        self._warned.add(word)
        if len(self._warned) > self.MAX_WARNED:
            log.warning("%s: many unknown status words; no more are logged", self.backend_type)
        else:
            log.warning(
                "%s: unknown status word %r, reported as 'unknown'",
                self.backend_type,
                word if len(word) <= 80 else excerpt(word, 80),
            )

    def words(self, state: JobState) -> list[str]:
        """Native words that map to `state` (for server-side filters)."""
        return [word for word, mapped in self._table.items() if mapped is state]

    def items(self) -> list[tuple[str, JobState]]:
        return list(self._table.items())
