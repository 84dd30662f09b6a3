"""`jobhub completion SHELL`: a script generated from the command's own parser (by shtab) that
completes commands, options and their choices in a real bash."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.cli_helpers import run_command


def script(shell: str) -> str:
    result = run_command(["completion", shell], env=os.environ, cwd=os.getcwd())
    assert result.returncode == 0, result.stderr
    return result.stdout


def bash_completes(words: list[str], tmp_path: Path) -> list[str]:
    """What bash offers for the last of `words`, with the generated script loaded."""
    path = tmp_path / "jobhub.bash"
    path.write_text(script("bash"))
    line = " ".join(f"'{word}'" for word in words)
    program = (
        f"source {path}\n"
        f"COMP_WORDS=({line}); COMP_CWORD={len(words) - 1}\n"
        f'COMP_LINE="{" ".join(words)}"; COMP_POINT=${{#COMP_LINE}}\n'
        "_shtab_jobhub jobhub\n"
        'printf "%s\\n" "${COMPREPLY[@]}"\n'
    )
    bash = shutil.which("bash")
    assert bash is not None
    result = subprocess.run(
        [bash, "--norc", "-c", program], capture_output=True, text=True, timeout=30
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.split()


def test_bash_completes_commands(tmp_path: Path) -> None:
    assert bash_completes(["jobhub", "li"], tmp_path) == ["list"]
    assert {"wait", "watch"} <= set(bash_completes(["jobhub", "wa"], tmp_path))


def test_bash_completes_options_and_their_choices(tmp_path: Path) -> None:
    assert "--state" in bash_completes(["jobhub", "list", "--st"], tmp_path)
    assert bash_completes(["jobhub", "list", "-o", "js"], tmp_path) == ["json", "jsonl"]
    assert bash_completes(["jobhub", "completion", "fi"], tmp_path) == ["fish"]


@pytest.mark.parametrize("shell", ["zsh", "fish", "tcsh", "powershell"])
def test_every_shell_gets_a_script_naming_every_command(shell: str) -> None:
    text = script(shell)
    for command in ("get", "list", "wait", "watch", "cancel", "emulator", "completion"):
        assert command in text


def test_an_unknown_shell_is_a_usage_error() -> None:
    result = run_command(["completion", "csh"], env=os.environ, cwd=os.getcwd())
    assert result.returncode == 2
    assert "invalid choice: 'csh'" in result.stderr
