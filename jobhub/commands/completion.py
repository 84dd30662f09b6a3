"""`jobhub completion SHELL`: the shell's tab-completion script for `jobhub`, generated from the
command's own parser by shtab (so it never falls behind a new command or option)."""

from __future__ import annotations

import argparse
import sys

from jobhub.commands import ExitCode

SHELLS = ("bash", "zsh", "tcsh", "fish", "powershell")
HELP = "print a tab-completion script for bash, zsh, tcsh, fish or powershell"
DESCRIPTION = """\
Print the tab-completion script for SHELL: commands, options, choices (states, formats,
sort keys) and file names complete as you type. Load it once per shell, or for good:

  bash:  eval "$(jobhub completion bash)"   # or save it in bash-completion/completions/jobhub
  zsh:   jobhub completion zsh > "${fpath[1]}/_jobhub"
  fish:  jobhub completion fish > ~/.config/fish/completions/jobhub.fish
"""

# shtab's file-name completion per shell (shtab.FILE), without importing shtab for --help.
FILES = {
    "bash": "_shtab_compgen_files",
    "zsh": "_files",
    "tcsh": "f",
    "fish": "(__fish_complete_path (commandline -ct))",
    "powershell": "_shtab_powershell_compgen_files",
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("shell", choices=SHELLS, metavar="SHELL", help=", ".join(SHELLS))


def run(args: argparse.Namespace) -> int:
    import shtab

    from jobhub.cli import build_parser

    sys.stdout.write(shtab.complete(build_parser(), shell=args.shell))
    return ExitCode.OK
