"""A hostile backend cannot drive the terminal: control characters in what a server sends
(errors, workflows, statuses, task names, ids) are shown escaped in every human output —
tables, job trees, event lines, error and warning lines — through the real console script."""

from __future__ import annotations

import json
import os
import subprocess
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from jobhub.model import Job, JobEvent, JobState, Task
from jobhub.render import event_line, job_detail, jobs_table, summary_table
from jobhub.terminal import printable
from tests.cli_helpers import run_command

# What a hostile server hides in its strings: a window title, a screen clear, a hyperlink,
# a bell, a right-to-left override, an 8-bit CSI, and rich markup.
TITLE = "\x1b]0;owned\x07"
CLEAR = "\x1b[2J"
LINK = "\x1b]8;;http://evil.example\x1b\\click\x1b]8;;\x1b\\"
RLO = "\u202e"
CSI8 = "\x9b31m"
MARKUP = "[link=http://evil.example]x[/link]"
HOSTILE = f"boom{TITLE}{CLEAR}{LINK}{RLO}{CSI8}{MARKUP}"
RAW = (TITLE, CLEAR, "\x1b]8", RLO, "\x9b", "\x07")
NOW = datetime(2026, 11, 30, 10, 0, 9, tzinfo=UTC)
JOB_ID = "8c1c6a5e-1111-4222-8333-944455556666"


def assert_inert(text: str) -> None:
    for sequence in RAW:
        assert sequence not in text, f"{sequence!r} reached the terminal: {text!r}"


def test_printable_shows_controls_as_escapes_on_one_line() -> None:
    assert printable("a\x1b[2Jb") == "a\\x1b[2Jb"
    assert printable("x\u202ey") == "x\\u202ey"
    assert printable("one\n two\t\tthree\r") == "one two three"
    assert printable("\x9b\x7f\x00") == "\\x9b\\x7f\\x00"
    assert printable("ünïcode ✓ 日本") == "ünïcode ✓ 日本"


def hostile_job(*, job_id: str = JOB_ID) -> Job:
    return Job(
        ref=f"sieve:{job_id}",
        backend="sieve",
        type="sieve",
        id=job_id,
        workflow=f"owner/{HOSTILE}",
        state=JobState.FAILED,
        status=HOSTILE,
        error=HOSTILE,
        user=HOSTILE,
        labels={"k": HOSTILE},
        tasks=[Task(name=HOSTILE, state=JobState.FAILED, status=HOSTILE, error=HOSTILE)],
    )


def rendered(*renderables: Any) -> str:
    out = Console(file=StringIO(), force_terminal=True, width=400, color_system="truecolor")
    for renderable in renderables:
        out.print(renderable)
    value = out.file.getvalue()  # type: ignore[attr-defined]
    assert isinstance(value, str)
    return value


def test_tables_trees_and_event_lines_escape_backend_text_on_a_terminal() -> None:
    job = hostile_job()
    event = JobEvent(
        ref=job.ref, kind="state", old=JobState.RUNNING, new=JobState.FAILED, job=job, at=NOW
    )
    task_event = JobEvent(
        ref=job.ref,
        kind="task",
        task=HOSTILE,
        old=JobState.RUNNING,
        new=JobState.FAILED,
        job=job,
        at=NOW,
    )
    text = rendered(jobs_table([job]), job_detail(job), event_line(event), event_line(task_event))
    assert_inert(text)
    assert "\\x1b]0;owned\\x07" in text  # shown, so the reader sees what the server sent
    assert "[link=http://evil.example]" in text  # markup printed as text, not applied
    assert_inert(rendered(summary_table([job.model_copy(update={"backend": HOSTILE})])))


# -- through the console script, against a hostile Sieve server on loopback ----------------------


def sieve_job(job_id: str, status: str = "error") -> dict[str, Any]:
    return {
        "id": job_id,
        "status": status,
        "function": {"owner_name": "owner", "name": HOSTILE},
        "error": HOSTILE,
        "created_at": "2026-11-30T10:00:00Z",
        "started_at": "2026-11-30T10:00:01Z",
        "completed_at": "2026-11-30T10:00:05Z",
    }


class HostileSieve:
    """Answers every job request with hostile strings; an unknown id is a 404 whose message
    carries them too; the listing holds a job whose very id is hostile."""

    def __init__(self) -> None:
        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                path = self.path.split("?")[0]
                if path == "/v2/jobs":
                    body: Any = {
                        "data": [sieve_job(JOB_ID), sieve_job(f"x{CLEAR}y", "running")],
                        "next_offset": -1,
                    }
                    status = 200
                elif path.startswith(f"/v2/jobs/{JOB_ID}"):
                    body, status = sieve_job(JOB_ID), 200
                elif path.startswith("/v2/jobs/weird"):
                    body, status = sieve_job("weird", f"{TITLE}sleeping"), 200
                else:
                    body, status = {"detail": f"no such job {HOSTILE}"}, 404
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()


@pytest.fixture(scope="module")
def config(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    server = HostileSieve()
    path = tmp_path_factory.mktemp("hostile") / "jobhub.toml"
    path.write_text(
        f'[backends.sieve]\ntype = "sieve"\nurl = "{server.url}"\napi_key = "k"\n'
        "poll_interval = 0.1\n",
        encoding="utf-8",
    )
    path.chmod(0o600)
    yield path
    server.httpd.shutdown()
    server.httpd.server_close()


def jobhub(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("JOBHUB_", "SIEVE_"))}
    result = run_command(["--config", str(config), *args], env=env, cwd=config.parent)
    assert_inert(result.stdout + result.stderr)
    return result


@pytest.mark.parametrize(
    "args",
    [
        ("get", f"sieve:{JOB_ID}"),
        ("list", "sieve"),
        ("wait", f"sieve:{JOB_ID}"),
        ("watch", f"sieve:{JOB_ID}"),
    ],
)
def test_human_output_shows_hostile_text_escaped(config: Path, args: tuple[str, ...]) -> None:
    result = jobhub(config, *args)
    assert result.returncode in (0, 1), result.stderr
    assert "boom\\x1b]0;owned\\x07" in result.stdout


def test_an_error_message_from_the_backend_is_escaped(config: Path) -> None:
    result = jobhub(config, "get", "sieve:missing")
    assert result.returncode == 3
    assert "\\x1b[2J" in result.stderr


def test_a_warning_quoting_a_status_word_is_escaped(config: Path) -> None:
    # The command, run in this process, starts with no status word warned about, as a process
    # of its own does (tests/conftest.py empties every table's warned words for each test).
    result = jobhub(config, "get", "sieve:weird")
    assert result.returncode == 0, result.stderr
    assert "warning" in result.stderr
    assert "\\x1b]0;owned\\x07sleeping" in result.stderr + result.stdout
