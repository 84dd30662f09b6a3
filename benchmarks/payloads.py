"""Realistic payloads in each vendor's own shape, generated deterministically.

The shapes follow the vendors' documented payloads (the cassettes and `tests/vendor/` specs):
Sieve's v2 Job with `InputOutput` records and signed-URL outputs, Pixxel's full job with tasks
whose results are raw JSON (base64 or byte arrays, as Go and the vendor's spec render them),
and prunner's `pipelineJobResult` with topologically ordered tasks and RFC 3339 times. Bodies
are compact JSON, as FastAPI (Sieve) and Go's encoding/json (Pixxel, prunner) write them.
"""

from __future__ import annotations

import base64
import json
import random
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

__all__ = [
    "body",
    "pixxel_job",
    "pixxel_list",
    "prunner_job",
    "prunner_jobs",
    "sieve_job",
    "sieve_list",
]

EPOCH = datetime(2025, 8, 15, 2, 0, tzinfo=UTC)


def body(payload: Any) -> bytes:
    """The payload as a server sends it: compact UTF-8 JSON."""
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()


def _uuid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


# -- Sieve ----------------------------------------------------------------------------------


def _sieve_time(when: datetime) -> str:
    """Sieve's zone-less UTC time with microseconds: `2024-12-15T01:41:59.195000`."""
    return when.replace(tzinfo=None).isoformat(timespec="microseconds")


def _signed_url(rng: random.Random, job_id: str, name: str) -> str:
    signature = "".join(rng.choice("0123456789abcdef") for _ in range(512))
    return (
        "https://sieve-au-fn-iter-out-us-central1-persistent-bucket.storage.googleapis.com/"
        f"{_uuid(rng)}/{job_id}/{_uuid(rng)}/{name}?X-Goog-Algorithm=GOOG4-RSA-SHA256"
        "&X-Goog-Credential=fn-runner%40sieve-prod.iam.gserviceaccount.com%2F20241215%2Fauto"
        "%2Fstorage%2Fgoog4_request&X-Goog-Date=20241215T014326Z&X-Goog-Expires=172800"
        f"&X-Goog-SignedHeaders=host&x-goog-signature={signature}"
    )


def _sieve_io(kind: str, name: str | None, data: Any, run_id: str | None) -> dict[str, Any]:
    return {
        "type": kind,
        "name": name,
        "data": data,
        "description": None,
        "schema": None,
        "run_id": run_id,
        "is_optional": False,
    }


def sieve_job(outputs: int = 20, *, seed: int = 0, listed: bool = False) -> dict[str, Any]:
    """A finished Sieve job of `sieve/retalker` with `outputs` video outputs (a generator
    function's yields), two inputs, a child job and a restart. `listed`: as the function
    listing sends it (`function: null`)."""
    rng = random.Random(seed)
    job_id = _uuid(rng)
    run_id = f"{job_id}-{_uuid(rng)}"
    created = EPOCH + timedelta(seconds=rng.randrange(86400), microseconds=rng.randrange(10**6))
    started = created + timedelta(seconds=1.809)
    completed = started + timedelta(seconds=60 + rng.randrange(600))
    return {
        "id": job_id,
        "function_id": _uuid(rng),
        "organization_id": _uuid(rng),
        "function": None if listed else {"name": "retalker", "owner_name": "sieve"},
        "status": "finished",
        "created_at": _sieve_time(created),
        "started_at": _sieve_time(started),
        "completed_at": _sieve_time(completed),
        "inputs": {
            "video": _sieve_io(
                "sieve.File",
                "video",
                {"url": "https://storage.googleapis.com/sieve-public-data/retalker/face.mp4"},
                None,
            ),
            "slow_factor": _sieve_io("int", "slow_factor", 2, None),
        },
        "outputs": [
            _sieve_io(
                "sieve.File",
                None,
                {"url": _signed_url(rng, job_id, f"out{n:03}.mp4"), "_path": None},
                run_id,
            )
            for n in range(outputs)
        ],
        "error": "",
        "visibility": "private",
        "run_id": run_id,
        "children": {"sieve/face-detect": [_uuid(rng), {"id": _uuid(rng), "status": "finished"}]},
        "restarts": [
            {
                "timestamp": _sieve_time(started - timedelta(seconds=0.35)),
                "reason": "The machine running the job was preempted.",
                "type": "preemption",
                "run_id": f"{job_id}-{_uuid(rng)}",
            }
        ],
    }


def sieve_list(jobs: int = 500, *, outputs: int = 2, seed: int = 0) -> dict[str, Any]:
    """A `GET /v2/jobs` page: `jobs` jobs of `outputs` outputs each, and where the next starts."""
    return {
        "data": [sieve_job(outputs, seed=seed * 100_003 + n) for n in range(jobs)],
        "next_offset": jobs,
    }


# -- Pixxel ---------------------------------------------------------------------------------


def _pixxel_time(when: datetime) -> str:
    """Go's RFC 3339 with trimmed fractions: `2025-03-02T14:00:03.2Z`."""
    text = when.strftime("%Y-%m-%dT%H:%M:%S.%f").rstrip("0").rstrip(".")
    return text + "Z"


def _go_duration(seconds: float) -> str:
    minutes, rest = divmod(seconds, 60)
    return f"{int(minutes)}m{rest:.3f}s".replace(".000s", "s") if minutes else f"{rest:.3f}s"


def _raw_json(value: Any, as_bytes: bool) -> Any:
    """Pixxel's raw-JSON fields: base64 (Go's []byte) or an array of byte values (its spec)."""
    data = json.dumps(value, separators=(",", ":")).encode()
    return list(data) if as_bytes else base64.b64encode(data).decode()


def _pixxel_task(
    rng: random.Random, n: int, start: datetime, depends_on: list[str], status: str
) -> dict[str, Any]:
    name = f"block_{n:02}"
    took = 30 + rng.randrange(300) + rng.randrange(1000) / 1000
    done = status in ("TaskCompleted", "completed")
    finished = start + timedelta(seconds=took)
    result = {"scene_ids": [f"FF0{n % 3 + 1}_20250207_05{n:04}_L1A"], "cloud_cover": 0.18}
    return {
        "id": _uuid(rng),
        "info_logs": None,
        "created_at": _pixxel_time(start),
        "updated_at": _pixxel_time(finished if done else start),
        "finished_at": _pixxel_time(finished) if done else "",
        "estimated_time_duration": 90,
        "time_taken": _go_duration(took) if done else "",
        "status": status,
        "state_msg": "",
        "inputs": _raw_json({"aoi": {"type": "Polygon", "index": n}}, as_bytes=False),
        "result": _raw_json(result, as_bytes=n % 2 == 1) if done else None,
        "depends_on": depends_on,
        "name": name,
        "progress": 100 if done else 40,
        "disclaimer": [],
        "recv_time": _pixxel_time(start + timedelta(seconds=1.7)),
        "send_time": _pixxel_time(finished) if done else "",
        "block_inf_start_time": _pixxel_time(start + timedelta(seconds=1.7)),
        "block_inf_end_time": _pixxel_time(finished - timedelta(seconds=0.4)) if done else "",
        "block_info": {"id": _uuid(rng), "name": f"block-{n}", "version": "1.4.0"},
        "err_msg": "",
        "failure_type": "",
    }


def pixxel_job(tasks: int = 20, *, seed: int = 0) -> dict[str, Any]:
    """A running Pixxel job of `tasks` chained tasks, most completed, one running, the rest
    created (`GET /v0/workflows/{workflow_id}/jobs/{job_id}`)."""
    rng = random.Random(seed)
    created = EPOCH + timedelta(seconds=rng.randrange(86400), milliseconds=rng.randrange(1000))
    exec_created = created + timedelta(seconds=4.25)
    items = []
    start = exec_created + timedelta(seconds=1.15)
    running = max(tasks - 3, 0)
    for n in range(tasks):
        status = "TaskCompleted" if n < running else "running" if n == running else "created"
        task = _pixxel_task(rng, n, start, [f"block_{n - 1:02}"] if n else [], status)
        items.append(task)
        if task["finished_at"]:
            start = datetime.fromisoformat(task["finished_at"]) + timedelta(seconds=0.2)
    spec = {"name": "ndvi-monitoring", "blocks": [t["name"] for t in items]}
    return {
        "created_by": _uuid(rng),
        "status": "running",
        "time_taken": "",
        "id": _uuid(rng),
        "tasks": items,
        "val_errors": [],
        "spec": _raw_json(spec, as_bytes=False),
        "cost": 30,
        "workflow_id": "8f14e45f-ceea-4671-a6c5-0d5cb3a1f2b7",
        "updated_at": _pixxel_time(start),
        "finished_at": "",
        "exec_created_at": _pixxel_time(exec_created),
        "exec_updated_at": _pixxel_time(start),
        "created_at": _pixxel_time(created),
        "estimated_duration": 90 * tasks,
        "progress": str(round(100 * running / tasks)) if tasks else "0",
    }


def pixxel_list(jobs: int = 500, *, seed: int = 0) -> dict[str, Any]:
    """`GET /v0/workflows/{workflow_id}/jobs`: list items (no tasks, spec or execution times)."""
    rng = random.Random(seed)
    items = []
    for _ in range(jobs):
        created = EPOCH + timedelta(seconds=rng.randrange(86400), milliseconds=rng.randrange(1000))
        finished = created + timedelta(seconds=300 + rng.randrange(600), milliseconds=250)
        items.append(
            {
                "id": _uuid(rng),
                "workflow_id": "8f14e45f-ceea-4671-a6c5-0d5cb3a1f2b7",
                "status": "completed",
                "progress": "100",
                "cost": 30,
                "created_by": _uuid(rng),
                "created_at": _pixxel_time(created),
                "updated_at": _pixxel_time(finished),
                "finished_at": _pixxel_time(finished),
                "estimated_duration": 400,
                "time_taken": _go_duration((finished - created).total_seconds()),
            }
        )
    return {"jobs": items}


# -- prunner --------------------------------------------------------------------------------


def _prunner_time(when: datetime) -> str:
    """Go's RFC 3339 in UTC without fractions: `2025-08-15T12:00:00Z`."""
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


def _prunner_task(
    name: str, depends_on: list[str], status: str, start: str | None, end: str | None
) -> dict[str, Any]:
    errored = status == "error"
    task: dict[str, Any] = {"name": name}
    if depends_on:
        task["dependsOn"] = depends_on
    task |= {
        "status": status,
        "start": start,
        "end": end,
        "skipped": status == "skipped",
        "exitCode": 2 if errored else 0 if status == "done" else -1,
        "errored": errored,
    }
    if errored:
        task["error"] = "exit status 2"
    return task


# How the jobs a server holds end: mostly done, some failed or cancelled, a few in flight.
_OUTCOMES = ("done",) * 14 + ("errored", "canceled", "running", "queued")


def prunner_job(
    tasks: int = 50, *, seed: int = 0, outcome: str = "done", pipeline: str = "release"
) -> dict[str, Any]:
    """A prunner job of `tasks` tasks in a fan-out/fan-in graph, as `GET /job/detail` sends it.
    `outcome`: done, errored (fail-fast: the rest stay waiting), canceled, running, queued."""
    rng = random.Random(seed)
    created = EPOCH + timedelta(seconds=rng.randrange(86400 * 30))
    queued = outcome == "queued"
    start = None if queued else created + timedelta(seconds=1)
    stop_at = {"errored": tasks * 2 // 3, "canceled": tasks // 2, "running": tasks // 3}.get(
        outcome, tasks
    )
    items = []
    clock = start
    for n in range(tasks):
        name = f"step_{n:02}"
        depends_on = [] if n == 0 else [f"step_{(n - 1) // 4 * 4:02}"] if n % 4 else []
        if n and not n % 4:
            depends_on = [f"step_{m:02}" for m in range(max(n - 3, 0), n)]
        if clock is None or n > stop_at or (n == stop_at and outcome == "done"):
            items.append(_prunner_task(name, depends_on, "waiting", None, None))
            continue
        began = _prunner_time(clock)
        if n == stop_at:
            status = {"errored": "error", "canceled": "canceled", "running": "running"}[outcome]
            clock += timedelta(seconds=rng.randrange(1, 90))
            end = None if status == "running" else _prunner_time(clock)
            items.append(_prunner_task(name, depends_on, status, began, end))
            continue
        clock += timedelta(seconds=rng.randrange(1, 90))
        items.append(_prunner_task(name, depends_on, "done", began, _prunner_time(clock)))
    ended = outcome in ("done", "errored", "canceled")
    job: dict[str, Any] = {
        "id": _uuid(rng),
        "pipeline": pipeline,
        "tasks": items,
        "completed": ended,
        "canceled": outcome in ("errored", "canceled"),
        "errored": outcome == "errored",
        "created": _prunner_time(created),
        "start": _prunner_time(start) if start else None,
        "end": _prunner_time(clock) if ended and clock else None,
    }
    if outcome == "errored":
        job["lastError"] = "exit status 2"
    job["variables"] = {"tag_name": f"v1.{seed % 40}.{seed % 7}", "databases": ["mysql"]}
    job["user"] = rng.choice(("ci-bot", "j.doe", "ops"))
    return job


def prunner_jobs(jobs: int = 10_000, *, tasks: int = 50, seed: int = 0) -> dict[str, Any]:
    """`GET /pipelines/jobs`: every job the server holds, newest first, and its pipelines."""
    pipelines = ("release", "nightly_backup", "docs", "deploy")
    held = [
        prunner_job(
            tasks,
            seed=seed * 1_000_003 + n,
            outcome=_OUTCOMES[n % len(_OUTCOMES)],
            pipeline=pipelines[n % len(pipelines)],
        )
        for n in range(jobs)
    ]
    held.sort(key=lambda job: job["created"], reverse=True)
    return {
        "pipelines": [
            {"pipeline": name, "schedulable": True, "running": name == "release"}
            for name in pipelines
        ],
        "jobs": held,
    }
