"""`jobhub demo --serve`: the demo's jobs, followed into the dashboard; the URL printed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from jobhub.model import JobState
from tests.serve_helpers import eventually

pytestmark = pytest.mark.timeout(120)

JOBHUB = str(Path(sys.executable).parent / "jobhub")


def test_demo_serve_prints_the_url_and_every_job_ends_in_the_dashboard() -> None:
    process = subprocess.Popen(
        [JOBHUB, "demo", "--serve", "--speed", "30", "--jobs", "2"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        # The WES emulator runs real workflows (slow): the three quick backends are enough.
        env={**os.environ, "JOBHUB_LOAD_PLUGINS": "sieve,pixxel,prunner"},
    )
    try:
        assert process.stdout is not None
        first = process.stdout.readline()
        assert first.startswith("jobhub serve: listening on http://127.0.0.1:"), first
        url = first.split(" on ", 1)[1].strip()
        second = process.stdout.readline()
        assert second.startswith("jobhub demo: ") and f"open {url}/" in second

        def all_ended() -> list[dict[str, object]] | None:
            jobs = httpx.get(f"{url}/api/v1/jobs", timeout=30).json()["jobs"]
            ended = jobs and all(JobState(str(job["state"])).terminal for job in jobs)
            return jobs if ended and len(jobs) >= 6 else None

        jobs = eventually(all_ended, timeout=60, every=0.5)
        assert {job["backend"] for job in jobs} >= {"sieve", "pixxel", "prunner"}
        assert "<title>jobhub</title>" in httpx.get(f"{url}/", timeout=30).text
    finally:
        process.send_signal(signal.SIGINT)
        process.communicate(timeout=60)
    assert process.returncode == 130
