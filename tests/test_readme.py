"""The README's runnable examples run as written (each block marked `<!-- runnable -->`)."""

from __future__ import annotations

import re

import pytest

from tests.conftest import ROOT

BLOCKS = re.findall(
    r"<!-- runnable -->\n```python\n(.*?)```", (ROOT / "README.md").read_text(), re.S
)


def test_the_readme_has_runnable_examples() -> None:
    assert BLOCKS


@pytest.mark.parametrize("source", BLOCKS, ids=[f"block{i}" for i in range(len(BLOCKS))])
def test_a_readme_example_runs(source: str) -> None:
    exec(compile(source, "README.md", "exec"), {"__name__": "readme_example"})
