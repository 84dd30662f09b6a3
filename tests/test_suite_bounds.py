"""The suite itself: every test runs under a time bound, so a hang fails one test instead of
stalling CI."""

from __future__ import annotations

import pytest


def test_every_test_has_a_time_bound(pytestconfig: pytest.Config) -> None:
    # Named by its entry point when plugins load themselves, by its module when named with `-p`
    # (as `dev.py test` does).
    loaded = {"timeout", "pytest_timeout"} & {
        name for name, _ in pytestconfig.pluginmanager.list_name_plugin()
    }
    assert loaded, "pytest-timeout is not loaded"
    bound = float(pytestconfig.getini("timeout"))
    assert 0 < bound <= 300
