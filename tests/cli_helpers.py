"""`jobhub` commands run in the test's own process, for tests of what a command prints.

`run_command(args, env=..., cwd=...)` calls `jobhub.cli.main(args)` as the console script does
and answers what `subprocess.run([jobhub, *args], capture_output=True, text=True)` would: the
exit code, and stdout and stderr written as bytes to pipes (UTF-8, strict on stdout as Python is
on a pipe) and decoded. The command sees exactly the environment given (so `$HOME`, `$TZ` and
`JOBHUB_LOAD_PLUGINS` count), that working directory and that stdin; it loads its own plugin
registry. Whatever it changes in the process is put back afterwards: the environment, the
working directory, the time zone, the registry, the `jobhub` and `httpx` loggers, the warnings
filters and display, the Ctrl-C handler. Commands run one at a time (the streams and the
environment belong to the process).

Tests where the process is the point (exit codes on signals, Ctrl-C, TTYs and pipes, start-up,
installs, concurrent commands) run the real console script (`JOBHUB`).
"""

from __future__ import annotations

import io
import logging
import os
import signal
import subprocess
import sys
import threading
import time
import warnings
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path

from jobhub.cli import main
from jobhub.plugins import reset_registry

__all__ = ["JOBHUB", "run_command"]

JOBHUB = str(Path(sys.executable).parent / "jobhub")
_one_at_a_time = threading.Lock()


def run_command(
    args: Sequence[str],
    *,
    env: Mapping[str, str],
    cwd: str | os.PathLike[str],
    stdin: str | None = None,
) -> subprocess.CompletedProcess[str]:
    """What `jobhub ARGS...` prints and exits with, run in this process (see the module)."""
    env = dict(env)  # a copy: it may be os.environ itself
    out, err = _pipe("strict"), _pipe("backslashreplace")
    with _one_at_a_time, _process_state_kept(), warnings.catch_warnings():
        _enter(env, cwd)
        sys.stdin, sys.stdout, sys.stderr = io.StringIO(stdin or ""), out, err
        try:
            code = main(list(args))
        except SystemExit as exc:  # argparse: --help, --version, a usage error
            code = _exit_status(exc.code, err)
    return subprocess.CompletedProcess([JOBHUB, *args], code, _read(out), _read(err))


def _pipe(errors: str) -> io.TextIOWrapper:
    return io.TextIOWrapper(io.BytesIO(), encoding="utf-8", errors=errors, write_through=True)


def _read(stream: io.TextIOWrapper) -> str:
    stream.flush()
    raw = stream.detach()
    assert isinstance(raw, io.BytesIO)
    return raw.getvalue().decode("utf-8")


def _exit_status(code: object, err: io.TextIOWrapper) -> int:
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    print(code, file=err)  # what the interpreter does with `sys.exit("message")`
    return 1


def _enter(env: Mapping[str, str], cwd: str | os.PathLike[str]) -> None:
    os.environ.clear()
    os.environ.update(env)
    time.tzset()
    os.chdir(cwd)
    reset_registry()


@contextmanager
def _process_state_kept() -> Iterator[None]:
    environ, cwd = dict(os.environ), os.getcwd()
    streams = sys.stdin, sys.stdout, sys.stderr
    loggers = [logging.getLogger(name) for name in ("jobhub", "httpx")]
    kept = [(log, list(log.handlers), log.level, log.propagate) for log in loggers]
    in_main_thread = threading.current_thread() is threading.main_thread()
    ctrl_c = signal.getsignal(signal.SIGINT) if in_main_thread else None
    try:
        yield
    finally:
        sys.stdin, sys.stdout, sys.stderr = streams
        os.environ.clear()
        os.environ.update(environ)
        time.tzset()
        os.chdir(cwd)
        reset_registry()
        for log, handlers, level, propagate in kept:
            log.handlers[:] = handlers
            log.setLevel(level)
            log.propagate = propagate
        if ctrl_c is not None:
            signal.signal(signal.SIGINT, ctrl_c)
