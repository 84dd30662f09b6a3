"""What the distribution declares about itself holds: one version, its license text, a changelog
entry for it."""

from __future__ import annotations

import tomllib
from importlib.metadata import metadata, version

import jobhub
from tests.conftest import ROOT

PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]


def test_the_version_is_written_once_and_the_metadata_reads_it() -> None:
    assert "version" not in PROJECT and "version" in PROJECT["dynamic"]
    assert version("jobhub") == jobhub.__version__


def test_the_license_file_is_the_apache_license_the_package_declares() -> None:
    text = (ROOT / "LICENSE").read_text(encoding="utf-8")
    assert PROJECT["license"] == "Apache-2.0" == metadata("jobhub")["License-Expression"]
    assert "Apache License\n                           Version 2.0, January 2004" in text
    assert "END OF TERMS AND CONDITIONS" in text and "9. Accepting Warranty" in text


def test_the_changelog_has_an_entry_for_the_version() -> None:
    headings = (ROOT / "CHANGELOG.md").read_text(encoding="utf-8").splitlines()
    assert f"## {jobhub.__version__}" in headings
