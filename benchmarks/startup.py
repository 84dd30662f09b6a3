"""start-up: whole processes, against a process that only imports jobhub's dependencies.

    jobhub --help                 the console script
    jobhub backends --json        a command that reads a config file of one backend: plugins,
                                  settings and adapters loaded, no request sent
    python -c "import jobhub"     the library
    floor: python -c "import httpx, pydantic, pluggy"

Runs are interleaved (one of each in turn), so load on the machine falls on all alike; each
figure is the median wall time of its runs. Every process may write byte-code (whatever
`PYTHONDONTWRITEBYTECODE` says here), as an installed jobhub has it: the warm-up writes it,
and the timed runs read it instead of compiling jobhub's modules each time.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from benchmarks import Row, print_table, quick

__all__ = ["main"]

PYTHON = sys.executable
COMMAND = str(Path(PYTHON).parent / "jobhub")
FLOOR = [PYTHON, "-c", "import httpx, pydantic, pluggy"]
CONFIG = '[backends.sieve]\napi_key = "not-a-key"\n'
CASES = {
    "jobhub --help": ([COMMAND, "--help"], 1.3),
    "jobhub backends --json": ([COMMAND, "--config", "{config}", "backends", "--json"], 1.5),
    'python -c "import jobhub"': ([PYTHON, "-c", "import jobhub"], 1.1),
}


ENV = {name: value for name, value in os.environ.items() if name != "PYTHONDONTWRITEBYTECODE"}


def _run(argv: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=ENV)
    return time.perf_counter() - started


def main(argv: Sequence[str] = ()) -> list[Row]:
    with tempfile.TemporaryDirectory() as home:
        config = Path(home, "jobhub.toml")
        config.write_text(CONFIG, encoding="utf-8")
        os.chmod(config, 0o600)
        return _measure(argv, str(config))


def _measure(argv: Sequence[str], config: str) -> list[Row]:
    runs = 7 if quick(argv) else 25
    commands = {"floor": FLOOR}
    for name, (command, _) in CASES.items():
        commands[name] = [part.format(config=config) for part in command]
    for command in commands.values():  # warm the file cache and byte-code
        _run(command)
    times: dict[str, list[float]] = {name: [] for name in commands}
    for _ in range(runs):
        for name, command in commands.items():
            times[name].append(_run(command))
    floor = statistics.median(times["floor"])
    rows = [
        Row(name, statistics.median(times[name]), floor, target=target)
        for name, (_, target) in CASES.items()
    ]
    print_table(
        "start-up: whole process, wall time", 'python -c "import httpx, pydantic, pluggy"', rows
    )
    return rows


if __name__ == "__main__":
    main(sys.argv[1:])
