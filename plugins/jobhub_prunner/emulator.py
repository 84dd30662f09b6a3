"""A local prunner: its pipelines and job endpoints, in prunner's own JSON, status codes and
error bodies, agreeing with the real server (b692da9) on everything the differential test
compares (`tests/test_prunner_differential.py`; what it leaves out is in docs/emulator.md).

Jobs are runs of pipelines: the built-in ``release``, ``nightly`` and ``deploy``, steered with
``duration`` and ``outcome`` variables, or pipelines given in prunner's own YAML shape with
`PrunnerEmulator.define` (their task scripts are read for ``sleep`` and ``exit``). When each
task runs follows prunner's rules (`jobhub_prunner.emulated_runs`). Requests need an HS256 JWT
signed with the shared secret (``jwt_secret``); its ``sub`` becomes the job's user.
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
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute

from jobhub.emulator import (
    EmulatedBackend,
    Graph,
    Run,
    SteeringError,
    Step,
    parse_steering,
)
from jobhub.errors import ConfigError
from jobhub_prunner.emulated_answers import (
    EncodedJobs,
    encoded_answer,
    go_json,
    job_answer,
    json_answer,
    plain_answer,
    task_logs,
    token_of,
)
from jobhub_prunner.emulated_runs import (
    JobPlan,
    PipelineDef,
    TaskDef,
    TaskRun,
    Timeline,
    WaitLists,
    pipelines_from_yaml,
)

__all__ = ["PrunnerEmulator"]

STEERED = tuple(
    Graph(name, steps)
    for name, steps in (
        (
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
        (
            "nightly",
            (
                Step("fetch_data", weight=2),
                Step("reindex", ("fetch_data",), weight=3),
                Step("cleanup", ("fetch_data",)),
                Step("report", ("cleanup", "reindex")),
            ),
        ),
        (
            "deploy",
            (
                Step("build_assets", weight=2),
                Step("migrate", ("build_assets",)),
                Step("switch", ("migrate",)),
                Step("warmup", ("switch",)),
            ),
        ),
    )
)
DEFAULT_PIPELINE = "release"
# The built-in pipelines run any number of jobs at once, each after a seeded wait.
STEERED_CONCURRENCY = 1_000_000
_EXIT_CODES = (1, 2, 127)
_ROUTES: dict[str, tuple[str, ...]] = {
    "/pipelines": ("GET",),
    "/pipelines/": ("GET",),
    "/pipelines/jobs": ("GET",),
    "/pipelines/schedule": ("POST",),
    "/job/detail": ("GET",),
    "/job/cancel": ("POST",),
    "/job/logs": ("GET",),
}


class PrunnerEmulator(EmulatedBackend):
    """prunner's HTTP API. Credentials: ``jwt_secret``, the HS256 secret clients sign with."""

    type = "prunner"
    credential_names = ("jwt_secret",)

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.pipelines: dict[str, PipelineDef] = {
            graph.name: PipelineDef(
                graph.name,
                tuple(TaskDef(step.name, depends_on=step.depends_on) for step in graph.steps),
                concurrency=STEERED_CONCURRENCY,
                steps=graph,
            )
            for graph in STEERED
        }
        self._plans: dict[str, JobPlan] = {}  # by id, oldest first
        self._texts = EncodedJobs()  # each job's answer, encoded again only once it moved
        self._lists: dict[str, WaitLists] = {}
        # Seconds this server's wall clock runs ahead of the client's (negative: behind). Token
        # expiry is checked against it, so clients can be tried against a skewed server:
        # ``emu.backends["prunner"].clock_offset = 30``. Job times use the emulated clock.
        self.clock_offset = 0.0

    def define(self, pipelines: Mapping[str, Any], *, replace: bool = False) -> None:
        """Add pipelines given as prunner's pipelines file holds them, parsed:
        ``{"pipelines": {"build": {"concurrency": 2, "tasks": {"test": {"script": [...]}}}}}``
        (with ``replace``, they are the only ones). Jobs already scheduled keep the
        definition they were scheduled with."""
        if replace:
            self.pipelines.clear()
        self.pipelines.update(pipelines_from_yaml(pipelines))

    def wall_time(self) -> float:
        """This server's wall clock (Unix seconds), ``clock_offset`` included."""
        return time.time() + self.clock_offset

    # -- the contract -------------------------------------------------------------------------

    def routes(self) -> Sequence[BaseRoute]:
        endpoints = {
            "/pipelines": self.list_pipelines,
            "/pipelines/": self.list_pipelines,
            "/pipelines/jobs": self.pipelines_jobs,
            "/pipelines/schedule": self.schedule_job,
            "/job/detail": self.job_detail,
            "/job/cancel": self.cancel_job,
            "/job/logs": self.job_logs,
        }
        routes = [self.route(path, endpoints[path], methods) for path, methods in _ROUTES.items()]
        for route in routes:  # starlette answers HEAD wherever GET is allowed; chi does not
            route.methods.discard("HEAD")  # type: ignore[union-attr]
        return routes

    def app(self) -> Starlette:
        """prunner's router: no redirect for a trailing slash; an unknown path is Go's plain
        `404 page not found` (before any token check); a known path with another method is
        an empty 405 naming the allowed one, once the token has passed."""

        async def not_found(request: Request, exc: Exception) -> Response:
            assert isinstance(exc, HTTPException)
            if exc.status_code == 405:
                refusal = self.authenticate(request)
                if refusal is not None:
                    return refusal
                allowed = ", ".join(_ROUTES.get(request.url.path.removeprefix(_mount(request)), ()))
                return Response(status_code=405, headers={"Allow": allowed})
            if exc.status_code == 404:
                return plain_answer(404, "404 page not found")
            return self.error_response(exc.status_code, str(exc.detail))

        app = Starlette(routes=list(self.routes()), exception_handlers={HTTPException: not_found})
        app.router.redirect_slashes = False
        return app

    def authenticate(self, request: Request) -> Response | None:
        """jwtauth's checks: a token in ``Authorization: Bearer`` (the prefix in any case,
        then one space) or else the ``jwt`` cookie, HS256 with the shared secret, not expired,
        not issued or valid only in the future (no clock skew allowed)."""
        token = token_of(request)
        if not token:
            return plain_answer(401, "no token found")
        try:
            claims = jwt.decode(
                token,
                self.credentials["jwt_secret"],
                algorithms=["HS256"],
                options={"verify_exp": False, "verify_iat": False, "verify_nbf": False},
            )
        except jwt.PyJWTError:
            return plain_answer(401, "token is unauthorized")
        now = self.wall_time()
        try:
            if "exp" in claims and now >= float(claims["exp"]):
                return plain_answer(401, "token is expired")
            if "iat" in claims and float(claims["iat"]) > now:
                return plain_answer(401, "token iat validation failed")
            if "nbf" in claims and float(claims["nbf"]) > now:
                return plain_answer(401, "token nbf validation failed")
        except (TypeError, ValueError):
            return plain_answer(401, "token is unauthorized")
        sub = claims.get("sub")
        request.state.user = sub if isinstance(sub, str) else ""
        return None

    def error_response(self, status: int, message: str) -> Response:
        return json_answer({"error": message}, status)

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

    def find(self, job_id: str) -> Run | None:
        """The job's `Run`, brought in line with its timeline: it starts and ends as the
        wait list and any cancel make it (so `Run.ends`, `phase` and `final_state` hold)."""
        plan = self._plans.get(job_id)
        if plan is None:
            return None
        line = self._timeline(plan)
        run = self.runs[job_id]
        never = line.halted if line.halted is not None else plan.eligible  # it never starts
        run.started = line.start if line.start is not None else never
        run.finished = line.end if line.end is not None else never
        errored = any(task.outcome == "error" for task in _runs(line))
        if errored or (line.start is None and line.last_error):
            run.outcome = "failed"
        else:
            run.outcome = "cancelled" if line.canceled else "succeeded"
        run.cancelled_at = None  # the outcome above says it
        return run

    def forget(self, job_id: str) -> None:
        """Remove an ended job, as prunner's retention (`retention_count`, `retention_period`)
        does: `/pipelines/jobs` no longer lists it and `/job/detail` answers 404. The jobs
        queued behind it keep their timelines."""
        run = self.find(job_id)
        if run is None or run.ends > self.now():
            raise ConfigError(f"prunner emulator: job {job_id!r} has not ended: cannot forget it")
        del self._plans[job_id]
        self._texts.forget(job_id)

    # -- endpoints ----------------------------------------------------------------------------

    async def list_pipelines(self, request: Request) -> Response:
        return json_answer({"pipelines": self.pipelines_json(self.now())})

    async def pipelines_jobs(self, request: Request) -> Response:
        now = self.now()
        # prunner sorts by creation time, newest first; jobs created in one instant keep no
        # particular order there, and here the later one comes first.
        at = self.clock.at
        jobs = ",".join(
            self._texts.text(plan, self._timeline(plan), now, at)
            for plan in reversed(self._plans.values())
        )
        pipelines = go_json(self.pipelines_json(now))
        return encoded_answer(f'{{"pipelines":{pipelines},"jobs":[{jobs}]}}')

    async def schedule_job(self, request: Request) -> Response:
        raw = await request.body()
        try:
            body = json.loads(raw) if raw.strip() else _EOF
            if body is _EOF:
                raise ValueError("EOF")
            if body is None:
                body = {}
            if not isinstance(body, dict):
                raise ValueError(f"expect {{ or n, but found {raw.strip()[:1].decode()!r}")
        except (ValueError, UnicodeDecodeError) as exc:
            return self.error_response(400, f"Error decoding JSON: {exc}")
        pipeline = body.get("pipeline")
        variables = body.get("variables")
        if pipeline is not None and not isinstance(pipeline, str):
            return self.error_response(400, "Error decoding JSON: Pipeline: expects a string")
        if variables is not None and not isinstance(variables, dict):
            return self.error_response(400, "Error decoding JSON: Variables: expects an object")
        definition = self.pipelines.get(pipeline or "")
        if definition is None:
            return self.error_response(
                400, f'Error scheduling pipeline: pipeline "{pipeline or ""}" is not defined'
            )
        now = self.now()
        lists = self._lists.setdefault(definition.name, WaitLists())
        if definition.queue_limit is not None and (
            definition.queue_limit == 0 or lists.waiting(now) >= definition.queue_limit
        ):
            return self.error_response(400, f"Error scheduling pipeline: {_queue_full(definition)}")
        try:
            plan = self._plan(definition, variables or {}, getattr(request.state, "user", ""))
        except SteeringError as exc:
            return self.error_response(400, f"Error scheduling pipeline: {exc}")
        self._plans[plan.id] = plan
        lists.add(plan)
        return json_answer({"jobId": plan.id}, 202)

    async def job_detail(self, request: Request) -> Response:
        plan = self._job(request)
        if isinstance(plan, Response):
            return plan
        return json_answer(job_answer(plan, self._timeline(plan), self.now(), self.clock.at))

    async def cancel_job(self, request: Request) -> Response:
        plan = self._job(request)
        if isinstance(plan, Response):
            return plan
        now = self.now()
        line = self._timeline(plan)
        # prunner checks its `canceled` flag first (set on a job that failed fast, one
        # cancelled before, one that could not start), then `completed`.
        if line.ended(now) and (line.canceled or line.start is None):
            return json_answer(True)
        if line.ended(now):
            return self.error_response(500, "Error canceling job")
        if plan.cancel_at is None:
            plan.cancel_at = now
            self._lists[plan.pipeline.name].changed()
            self.notify()
        return json_answer(True)

    async def job_logs(self, request: Request) -> Response:
        plan = self._job(request, check_task=True)
        if isinstance(plan, Response):
            return plan
        name = request.query_params["task"]
        runs = {run.task.name: run for run in _runs(self._timeline(plan))}
        if name not in runs:
            return self.error_response(404, "Task not found")
        stdout, stderr = task_logs(runs[name], self.now())
        return json_answer({"stdout": stdout, "stderr": stderr})

    # -- prunner's JSON -------------------------------------------------------------------------

    def pipelines_json(self, now: float) -> list[dict[str, Any]]:
        answer = []
        for name in sorted(self.pipelines):
            definition = self.pipelines[name]
            lists = self._lists.get(name)
            running = schedulable = False
            if lists is not None:
                running = any(_running(lists.timeline(plan), now) for plan in lists.plans)
            schedulable = definition.queue_limit is None or (
                definition.queue_limit > 0
                and (lists is None or lists.waiting(now) < definition.queue_limit)
            )
            answer.append({"pipeline": name, "schedulable": schedulable, "running": running})
        return answer

    # -- helpers --------------------------------------------------------------------------------

    def _plan(self, definition: PipelineDef, variables: dict[str, Any], user: str) -> JobPlan:
        now = self.now()
        graph = definition.steps
        if graph is None:
            job_id = self.planner.new_id()
            eligible = now + definition.start_delay
            self.add(Run(job_id, definition.name, now, eligible, 0.0, eligible, ""))
            return JobPlan(job_id, definition, definition.tasks, now, eligible, variables, user)
        duration, outcome = parse_steering(variables.get("duration"), variables.get("outcome"))
        run = self.new_run(
            definition.name,
            duration=duration,
            outcome=outcome,
            graph=graph,
            user=user,
            inputs=variables,
        )
        code = _EXIT_CODES[run.bits % len(_EXIT_CODES)]
        tasks = tuple(
            TaskDef(
                step.name,
                (graph.window[step.name][1] - graph.window[step.name][0]) * run.duration,
                code if step.name == run.failing else 0,
                step.depends_on,
            )
            for step in graph.steps
        )
        return JobPlan(run.id, definition, tasks, now, run.started, variables, user)

    def _timeline(self, plan: JobPlan) -> Timeline:
        return self._lists[plan.pipeline.name].timeline(plan)

    def _job(self, request: Request, *, check_task: bool = False) -> JobPlan | Response:
        raw = request.query_params.get("id", "")
        try:
            job_id = str(uuid.UUID(raw))  # upper case and {braces} too, as Go's uuid reads them
        except ValueError:
            return self.error_response(400, "Invalid job id")
        if check_task and not request.query_params.get("task"):
            return self.error_response(400, "Invalid task name")
        plan = self._plans.get(job_id)
        if plan is None:
            return self.error_response(404, "Job not found")
        return plan


_EOF = object()


def _mount(request: Request) -> str:
    return str(request.scope.get("root_path", ""))


def _queue_full(definition: PipelineDef) -> str:
    if definition.queue_limit == 0:
        return "concurrency exceeded and queueing disabled for pipeline"
    return "concurrency exceeded and queue limit reached for pipeline"


def _runs(line: Timeline) -> list[TaskRun]:
    return [*line.tasks, *([line.on_error] if line.on_error is not None else [])]


def _running(line: Timeline, now: float) -> bool:
    return line.start is not None and now >= line.start and not line.ended(now)
