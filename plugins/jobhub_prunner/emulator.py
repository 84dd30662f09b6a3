"""A local prunner: its pipelines and job endpoints, in prunner's own JSON and error bodies.

Jobs are runs of a few pipelines whose tasks run through their dependency graph. The first failing
task cancels the rest (fail-fast: the job ends errored and canceled, tasks that never ran stay
``waiting``). Requests need an HS256 JWT signed with the shared secret (``jwt_secret``); its
``sub`` becomes the job's user. Steer a job with ``duration`` and ``outcome`` variables; in the
``release`` pipeline a truthy ``dry_run`` variable skips ``publish``.
Writes prunner's JSON itself; it shares no code with the adapter.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

import httpx
import jwt
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import BaseRoute

from jobhub.emulator import (
    EmulatedBackend,
    Graph,
    Run,
    SteeringError,
    Step,
    TaskSpan,
    json_response,
    parse_steering,
    schedule,
)
from jobhub.emulator.formats import rfc3339_seconds

__all__ = ["PrunnerEmulator"]

PIPELINES = {
    graph.name: graph
    for graph in (
        Graph(
            "release",
            (
                Step("checkout"),
                Step("lint", ("checkout",)),
                Step("test_unit", ("checkout",), weight=2),
                Step("test_integration", ("checkout",), weight=3),
                Step("build", ("lint", "test_integration", "test_unit"), weight=2),
                Step("publish", ("build",)),
            ),
        ),
        Graph(
            "nightly",
            (
                Step("fetch_data", weight=2),
                Step("reindex", ("fetch_data",), weight=3),
                Step("cleanup", ("fetch_data",)),
                Step("report", ("cleanup", "reindex")),
            ),
        ),
        Graph(
            "deploy",
            (
                Step("build_assets", weight=2),
                Step("migrate", ("build_assets",)),
                Step("switch", ("migrate",)),
                Step("warmup", ("switch",)),
            ),
        ),
    )
}
DEFAULT_PIPELINE = "release"
# (pipeline, task) -> the variable that, when truthy, makes the task skip itself.
SKIP_WHEN = {("release", "publish"): "dry_run"}
_EXIT_CODES = (1, 2, 127)


class PrunnerEmulator(EmulatedBackend):
    """prunner's HTTP API. Credentials: ``jwt_secret``, the HS256 secret clients sign with."""

    type = "prunner"
    credential_names = ("jwt_secret",)

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.pipelines = PIPELINES
        self._order: list[str] = []  # job ids, oldest first
        # Seconds this server's wall clock runs ahead of the client's (negative: behind). Token
        # expiry is checked against it, so clients can be tried against a skewed server:
        # ``emu.backends["prunner"].clock_offset = 30``. Job times use the emulated clock.
        self.clock_offset = 0.0

    def wall_time(self) -> float:
        """This server's wall clock (Unix seconds), ``clock_offset`` included."""
        return time.time() + self.clock_offset

    # -- the contract -------------------------------------------------------------------------

    def routes(self) -> Sequence[BaseRoute]:
        return [
            self.route("/pipelines", self.list_pipelines),
            self.route("/pipelines/", self.list_pipelines),
            self.route("/pipelines/jobs", self.pipelines_jobs),
            self.route("/pipelines/schedule", self.schedule_job, methods=["POST"]),
            self.route("/job/detail", self.job_detail),
            self.route("/job/cancel", self.cancel_job, methods=["POST"]),
            self.route("/job/logs", self.job_logs),
        ]

    def authenticate(self, request: Request) -> Response | None:
        """jwtauth's checks: a token in ``Authorization: Bearer`` (or the ``jwt`` cookie),
        HS256 with the shared secret, not expired, not issued or valid only in the future."""
        token = _token(request)
        if not token:
            return _unauthorized("no token found")
        try:
            claims = jwt.decode(
                token,
                self.credentials["jwt_secret"],
                algorithms=["HS256"],
                options={"verify_exp": False, "verify_iat": False, "verify_nbf": False},
            )
        except jwt.PyJWTError:
            return _unauthorized("token is unauthorized")
        now = self.wall_time()
        try:
            if "exp" in claims and now >= float(claims["exp"]):
                return _unauthorized("token is expired")
            if "iat" in claims and float(claims["iat"]) > now:
                return _unauthorized("token iat validation failed")
            if "nbf" in claims and float(claims["nbf"]) > now:
                return _unauthorized("token nbf validation failed")
        except (TypeError, ValueError):
            return _unauthorized("token is unauthorized")
        sub = claims.get("sub")
        request.state.user = sub if isinstance(sub, str) else ""
        return None

    def error_response(self, status: int, message: str) -> Response:
        return json_response({"error": message}, status)

    def submit(
        self,
        client: httpx.Client,
        *,
        duration: float | None = None,
        outcome: str | None = None,
        workflow: str | None = None,
    ) -> str:
        variables: dict[str, Any] = {}
        if duration is not None:
            variables["duration"] = str(duration)
        if outcome is not None:
            variables["outcome"] = outcome
        response = client.post(
            "/pipelines/schedule",
            json={"pipeline": workflow or DEFAULT_PIPELINE, "variables": variables},
            headers={"Authorization": f"Bearer {self.token('jobhub-emulator')}"},
        )
        response.raise_for_status()
        job_id: str = response.json()["jobId"]
        return job_id

    def token(self, user: str, lifetime: float = 60.0) -> str:
        """A token this server accepts, for ``user``."""
        now = int(self.wall_time())
        claims = {"sub": user, "iat": now, "exp": now + int(lifetime)}
        return jwt.encode(claims, self.credentials["jwt_secret"], algorithm="HS256")

    # -- endpoints ----------------------------------------------------------------------------

    async def list_pipelines(self, request: Request) -> Response:
        return json_response({"pipelines": self.pipelines_json(self.now())})

    async def pipelines_jobs(self, request: Request) -> Response:
        now = self.now()
        jobs = [self.job_json(self.runs[job_id], now) for job_id in reversed(self._order)]
        return json_response({"pipelines": self.pipelines_json(now), "jobs": jobs})

    async def schedule_job(self, request: Request) -> Response:
        try:
            body = json.loads(await request.body())
            if not isinstance(body, dict):
                raise ValueError("expected an object")
        except ValueError as exc:
            return self.error_response(400, f"Error decoding JSON: {exc}")
        pipeline = body.get("pipeline") or ""  # Go decodes a missing string as ""
        variables = body.get("variables") or {}
        if not isinstance(pipeline, str) or not isinstance(variables, dict):
            return self.error_response(
                400, "Error decoding JSON: pipeline must be a string, variables an object"
            )
        graph = self.pipelines.get(pipeline)
        if graph is None:
            return self.error_response(
                400, f'Error scheduling pipeline: pipeline "{pipeline}" is not defined'
            )
        try:
            duration, outcome = parse_steering(variables.get("duration"), variables.get("outcome"))
        except SteeringError as exc:
            return self.error_response(400, f"Error scheduling pipeline: {exc}")
        run = self.new_run(
            graph.name,
            duration=duration,
            outcome=outcome,
            graph=graph,
            fail_fast=True,
            skipped=_skipped(graph.name, variables),
            user=getattr(request.state, "user", ""),
            inputs=variables,
        )
        self._order.append(run.id)
        return json_response({"jobId": run.id}, 202)

    async def job_detail(self, request: Request) -> Response:
        run = self._job(request)
        if isinstance(run, Response):
            return run
        return json_response(self.job_json(run, self.now()))

    async def cancel_job(self, request: Request) -> Response:
        run = self._job(request)
        if isinstance(run, Response):
            return run
        now = self.now()
        # prunner checks its `canceled` flag first: cancelling a canceled job (which includes a
        # job that failed fast) is not an error; any other ended job is "already completed".
        if run.cancelled_at is not None or run.phase(now) == "failed":
            return json_response(True)
        if not run.cancel(now):
            return self.error_response(500, "Error canceling job")
        self.notify()
        return json_response(True)

    async def job_logs(self, request: Request) -> Response:
        run = self._job(request, check_task=True)
        if isinstance(run, Response):
            return run
        task = request.query_params["task"]
        spans = {span.name: span for span in self.spans(run)}
        if task not in spans:
            return self.error_response(404, "Task not found")
        stdout, stderr = _logs(run, spans[task], self.now())
        return json_response({"stdout": stdout, "stderr": stderr})

    # -- prunner's JSON -------------------------------------------------------------------------

    def spans(self, run: Run) -> list[TaskSpan]:
        spans, _ = schedule(
            self.pipelines[run.workflow],
            started=run.started,
            duration=run.duration,
            failing=run.failing,
            fail_fast=True,
            skipped=_skipped(run.workflow, run.inputs),
            cancelled_at=run.cancelled_at,
        )
        return spans

    def pipelines_json(self, now: float) -> list[dict[str, Any]]:
        running = {
            self.runs[job_id].workflow
            for job_id in self._order
            if self.runs[job_id].phase(now) == "running"
        }
        return [
            {"pipeline": name, "schedulable": True, "running": name in running}
            for name in sorted(self.pipelines)
        ]

    def job_json(self, run: Run, now: float) -> dict[str, Any]:
        """The job as prunner's ``pipelineJobResult`` at emulated time ``now``: ``start``/``end``
        null until set, ``lastError`` and ``variables`` left out when empty."""
        graph = self.pipelines[run.workflow]
        tasks = [self.task_json(run, graph, span, now) for span in self.spans(run)]
        phase = run.phase(now)
        ended = phase in ("succeeded", "failed", "cancelled")
        before_start = run.cancelled_before_start and ended
        started = not before_start and now >= run.started
        at = self.clock.at
        job: dict[str, Any] = {
            "id": run.id,
            "pipeline": run.workflow,
            "tasks": tasks,
            "completed": ended and not before_start,
            "canceled": phase in ("cancelled", "failed"),
            "errored": any(task["errored"] for task in tasks),
            "created": rfc3339_seconds(at(run.created)),
            "start": rfc3339_seconds(at(run.started)) if started else None,
            "end": rfc3339_seconds(at(run.ends)) if ended and not before_start else None,
        }
        if phase == "failed":
            job["lastError"] = _task_error(run)
        if run.inputs:
            job["variables"] = run.inputs
        job["user"] = run.user
        return job

    def task_json(self, run: Run, graph: Graph, span: TaskSpan, now: float) -> dict[str, Any]:
        phase = span.phase(now)
        at = self.clock.at
        task: dict[str, Any] = {"name": span.name}
        depends_on = graph.step[span.name].depends_on
        if depends_on:
            task["dependsOn"] = list(depends_on)
        began = phase != "waiting"
        ended = phase not in ("waiting", "running")
        exit_code = -1
        if phase == "done":
            exit_code = -1 if run.bits % 5 == 0 else 0  # prunner may leave -1 on a done task
        elif phase == "failed":
            exit_code = _EXIT_CODES[run.bits % len(_EXIT_CODES)]
        task.update(
            {
                "status": _TASK_STATUS[phase],
                "start": rfc3339_seconds(at(span.start))
                if began and span.start is not None
                else None,
                "end": rfc3339_seconds(at(span.end)) if ended and span.end is not None else None,
                "skipped": phase == "skipped",
                "exitCode": exit_code,
                "errored": phase == "failed",
            }
        )
        if phase == "failed":
            task["error"] = _task_error(run)
        return task

    # -- helpers --------------------------------------------------------------------------------

    def _job(self, request: Request, *, check_task: bool = False) -> Run | Response:
        raw = request.query_params.get("id", "")
        try:
            job_id = str(uuid.UUID(raw))
        except ValueError:
            return self.error_response(400, "Invalid job id")
        if check_task and not request.query_params.get("task"):
            return self.error_response(400, "Invalid task name")
        run = self.runs.get(job_id)
        if run is None:
            return self.error_response(404, "Job not found")
        return run


_TASK_STATUS = {
    "waiting": "waiting",
    "running": "running",
    "skipped": "skipped",
    "done": "done",
    "failed": "error",
    "cancelled": "canceled",
}


def _token(request: Request) -> str:
    header = request.headers.get("authorization", "")
    if len(header) > 7 and header[:6].upper() == "BEARER":
        return header[7:]
    return request.cookies.get("jwt", "")


def _unauthorized(reason: str) -> Response:
    """jwtauth's refusal: Go's ``http.Error``, plain text with a newline."""
    return PlainTextResponse(
        reason + "\n", status_code=401, headers={"X-Content-Type-Options": "nosniff"}
    )


def _skipped(pipeline: str, variables: Any) -> frozenset[str]:
    if not isinstance(variables, Mapping):
        return frozenset()
    return frozenset(
        task
        for (name, task), variable in SKIP_WHEN.items()
        if name == pipeline and _truthy(variables.get(variable))
    )


def _truthy(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() not in ("", "0", "false", "no")
    return bool(value)


def _task_error(run: Run) -> str:
    return f"exit status {_EXIT_CODES[run.bits % len(_EXIT_CODES)]}"


def _logs(run: Run, span: TaskSpan, now: float) -> tuple[str, str]:
    """What a task printed so far."""
    phase = span.phase(now)
    if phase in ("waiting", "skipped"):
        return "", ""
    stdout = f"+ make {span.name}\n{span.name}: working\n"
    stderr = ""
    if phase == "done":
        stdout += f"{span.name}: ok\n"
    elif phase == "failed":
        stderr = f"{span.name}: {_task_error(run)}\n"
    elif phase == "cancelled":
        stderr = "signal: killed\n"
    return stdout, stderr
