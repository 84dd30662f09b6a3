"""The suite itself: every test runs under a time bound, so a hang fails one test instead of
stalling CI."""

from __future__ import annotations

import pytest


def test_every_test_has_a_time_bound(pytestconfig: pytest.Config) -> None:
    assert pytestconfig.pluginmanager.hasplugin("timeout"), "pytest-timeout is not installed"
    bound = float(pytestconfig.getini("timeout"))
    assert 0 < bound <= 300
