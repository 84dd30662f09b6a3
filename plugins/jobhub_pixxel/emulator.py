"""A local Pixxel: the workflow and job endpoints of the v0 API in Pixxel's own JSON.

Jobs are runs of a few earth-observation workflows whose tasks run through their dependency graph
with the block runtime's status words (``created``, ``inprogress``, ``completed``, ``failed``).
A failing task stops its dependents; independent branches run on. There is no cancel endpoint.
Steer a job with the create query: ``?project_id=…&duration=<seconds>&outcome=failed``.
Writes Pixxel's JSON itself; it shares no code with the adapter.
"""

from __future__ import annotations

import json
import random
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx
from starlette.requests import Request
from starlette.responses import Response
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
from jobhub.emulator.formats import go_duration, json_bytes, rfc3339_nano

__all__ = ["PixxelEmulator"]

_FAILURES = (
    ("runtime_exception", "block raised: scene has no valid pixels after cloud masking"),
    ("bad_request", "input AOI does not intersect any available scene"),
    ("unknown", "block exited without a result"),
)


@dataclass(frozen=True, slots=True)
class Workflow:
    """A workflow jobs run: its task graph, and what every job of it shows unchanged."""

    id: str
    name: str
    description: str
    graph: Graph
    spec: list[int] = field(default_factory=list)
    blocks: dict[str, dict[str, str]] = field(default_factory=dict)

    @classmethod
    def build(cls, workflow_id: str, name: str, description: str, graph: Graph) -> Workflow:
        spec = {
            "name": name,
            "tasks": [{"name": s.name, "depends_on": list(s.depends_on)} for s in graph.steps],
        }
        blocks = {
            step.name: {
                "id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"block/{step.name}")),
                "name": step.name,
                "version": "1.4.2",
            }
            for step in graph.steps
        }
        return cls(workflow_id, name, description, graph, json_bytes(spec), blocks)


_WORKFLOWS = (
    (
        "ndvi-timeseries",
        "Vegetation index over time for an area of interest",
        (
            Step("fetch-scenes", weight=2),
            Step("cloud-mask", ("fetch-scenes",), weight=2),
            Step("reproject", ("fetch-scenes",)),
            Step("ndvi", ("cloud-mask", "reproject"), weight=2),
            Step("export", ("ndvi",)),
        ),
    ),
    (
        "ship-detection",
        "Detect vessels in a scene",
        (
            Step("fetch-scene"),
            Step("tile", ("fetch-scene",)),
            Step("detect", ("tile",), weight=3),
            Step("report", ("detect",)),
        ),
    ),
    (
        "change-detection",
        "Compare two acquisitions of the same place",
        (
            Step("fetch-before"),
            Step("fetch-after"),
            Step("coregister", ("fetch-after", "fetch-before"), weight=2),
            Step("difference", ("coregister",), weight=2),
            Step("export", ("difference",)),
        ),
    ),
)


class PixxelEmulator(EmulatedBackend):
    """Pixxel's workflow jobs API. Credentials: ``api_key``, sent bare in ``Authorization``.
    Hub ids are ``<workflow_id>/<job_id>``."""

    type = "pixxel"
    credential_names = ("api_key",)

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        catalog = random.Random(f"{self.seed}/pixxel/catalog")

        def new_id() -> str:
            return str(uuid.UUID(int=catalog.getrandbits(128), version=4))

        self.project_id = new_id()
        self.user_id = new_id()
        self.workflows = {}
        for name, description, steps in _WORKFLOWS:
            workflow = Workflow.build(new_id(), name, description, Graph(name, steps))
            self.workflows[workflow.id] = workflow
        self._jobs: dict[str, list[str]] = {wf: [] for wf in self.workflows}  # oldest first
        self._catalog_created = -86_400.0  # the workflows were made a day before the clock starts

    # -- the contract -------------------------------------------------------------------------

    def routes(self) -> Sequence[BaseRoute]:
        return [
            self.route("/v0/workflows", self.list_workflows),
            self.route("/v0/workflows/{workflow_id}/jobs", self.list_jobs),
            self.route("/v0/workflows/{workflow_id}/jobs", self.create_job, methods=["POST"]),
            self.route("/v0/workflows/{workflow_id}/jobs/{job_id}", self.get_job),
        ]

    def authenticate(self, request: Request) -> Response | None:
        if request.headers.get("authorization") != self.credentials["api_key"]:
            return self.error_response(403, "invalid or missing API key")
        return None

    def error_response(self, status: int, message: str) -> Response:
        code = _CODES.get(status, "INTERNAL_SERVER_ERROR" if status >= 500 else "ERROR")
        return json_response({"error": {"code": code, "message": message, "details": None}}, status)

    def submit(
        self,
        client: httpx.Client,
        *,
        duration: float | None = None,
        outcome: str | None = None,
        workflow: str | None = None,
    ) -> str:
        chosen = self.workflow(workflow) if workflow else next(iter(self.workflows.values()))
        if chosen is None:
            raise LookupError(f"pixxel emulator has no workflow {workflow!r}")
        params: dict[str, str] = {"project_id": self.project_id}
        if duration is not None:
            params["duration"] = str(duration)
        if outcome is not None:
            params["outcome"] = outcome
        response = client.post(
            f"/v0/workflows/{chosen.id}/jobs",
            params=params,
            headers={"Authorization": self.credentials["api_key"]},
        )
        response.raise_for_status()
        return f"{chosen.id}/{response.json()['id']}"

    def find(self, job_id: str) -> Run | None:
        workflow_id, _, bare = job_id.rpartition("/")
        run = self.runs.get(bare)
        if run is None or (workflow_id and run.workflow != workflow_id):
            return None
        return run

    def workflow(self, name_or_id: str) -> Workflow | None:
        """A workflow by id or by name."""
        found = self.workflows.get(name_or_id)
        if found is None:
            found = next((w for w in self.workflows.values() if w.name == name_or_id), None)
        return found

    # -- endpoints ----------------------------------------------------------------------------

    async def list_workflows(self, request: Request) -> Response:
        limit = self._int(request, "limit", 50)
        offset = self._int(request, "offset", 0)
        if isinstance(limit, Response):
            return limit
        if isinstance(offset, Response):
            return offset
        query = request.query_params
        items = [
            self.workflow_item(w)
            for w in self.workflows.values()
            if query.get("id", w.id) == w.id
            and query.get("name", w.name) == w.name
            and query.get("project_id", self.project_id) == self.project_id
            and query.get("created_by", self.user_id) == self.user_id
        ]
        page = items[max(offset, 0) : max(offset, 0) + max(limit, 0)]
        return json_response(
            {
                "workflows": page,
                "pagination": {"limit": limit, "offset": offset, "total": len(items)},
            }
        )

    async def list_jobs(self, request: Request) -> Response:
        workflow = self.workflows.get(request.path_params["workflow_id"])
        if workflow is None:
            return self.error_response(404, "workflow not found")
        query = request.query_params
        status = query.get("status", "").lower()
        created_by = query.get("created_by", "")
        created_on = query.get("created_on", "")
        wanted_id = query.get("id", "")
        now = self.now()
        items = []
        for job_id in reversed(self._jobs[workflow.id]):
            run = self.runs[job_id]
            if wanted_id and job_id != wanted_id:
                continue
            if created_by and run.user != created_by:
                continue
            item = self.job_json(run, now, tasks=False)
            if status and item["status"] != status:
                continue
            if created_on and not item["created_at"].startswith(created_on):
                continue
            items.append(item)
        return json_response({"jobs": items})

    async def get_job(self, request: Request) -> Response:
        run = self.find(f"{request.path_params['workflow_id']}/{request.path_params['job_id']}")
        if run is None:
            return self.error_response(404, "job not found")
        return json_response(self.job_json(run, self.now()))

    async def create_job(self, request: Request) -> Response:
        workflow = self.workflows.get(request.path_params["workflow_id"])
        if workflow is None:
            return self.error_response(404, "workflow not found")
        query = request.query_params
        project_id = query.get("project_id")
        if not project_id:
            return self.error_response(400, "project_id is required")
        if project_id != self.project_id:
            return self.error_response(
                400, f"workflow {workflow.id} is not in project {project_id}"
            )
        try:
            duration, outcome = parse_steering(query.get("duration"), query.get("outcome"))
        except SteeringError as exc:
            return self.error_response(400, str(exc))
        raw = await request.body()
        try:
            inputs = json.loads(raw) if raw.strip() else {}
        except ValueError:
            return self.error_response(400, "request body is not valid JSON")
        run = self.new_run(
            workflow.id,
            duration=duration,
            outcome=outcome,
            graph=workflow.graph,
            fail_fast=False,
            user=self.user_id,
            inputs=inputs,
        )
        self._jobs[workflow.id].append(run.id)
        return json_response(self.job_json(run, self.now()))

    # -- Pixxel's JSON --------------------------------------------------------------------------

    def workflow_item(self, workflow: Workflow) -> dict[str, Any]:
        made = rfc3339_nano(self.clock.at(self._catalog_created))
        return {
            "id": workflow.id,
            "project_id": self.project_id,
            "legacy_project_id": "",
            "name": workflow.name,
            "created_by": self.user_id,
            "description": workflow.description,
            "created_at": made,
            "updated_at": made,
        }

    def spans(self, run: Run) -> list[TaskSpan]:
        spans, _ = schedule(
            self.workflows[run.workflow].graph,
            started=run.started,
            duration=run.duration,
            failing=run.failing,
            fail_fast=False,
        )
        return spans

    def job_json(self, run: Run, now: float, *, tasks: bool = True) -> dict[str, Any]:
        """The job as ``GetJobByIdTransformerResponse`` (or, without tasks, ``ListJobsItem``)
        at emulated time ``now``."""
        workflow = self.workflows[run.workflow]
        spans = self.spans(run)
        phases = [span.phase(now) for span in spans]
        progress = sum(
            _task_progress(run, span, phase, now) for span, phase in zip(spans, phases, strict=True)
        ) / max(len(spans), 1)
        changes = [run.created] + [
            t for span in spans for t in (span.start, span.end) if t is not None and t <= now
        ]
        phase = run.phase(now)
        started = phase != "queued"
        ended = phase in ("succeeded", "failed")
        time = self._time
        item: dict[str, Any] = {
            "created_by": run.user,
            "workflow_id": run.workflow,
            "created_at": time(run.created),
            "updated_at": time(max(changes)),
            "finished_at": time(run.ends) if ended else "",
            "estimated_duration": round(run.duration),
            "progress": _percent(progress),
            "status": _JOB_STATUS[phase],
            "time_taken": go_duration(round(run.ends - run.started, 3)) if ended else "",
            "id": run.id,
            "cost": 10 + run.bits % 90,
        }
        if not tasks:
            return item
        created = item["created_at"]
        item.update(
            {
                "exec_created_at": time(run.started) if started else "",
                "exec_updated_at": item["updated_at"] if started else "",
                "tasks": [
                    self.task_json(run, workflow, index, span, phase, now, created)
                    for index, (span, phase) in enumerate(zip(spans, phases, strict=True))
                ],
                "val_errors": [],
                "spec": workflow.spec,
            }
        )
        return item

    def task_json(
        self,
        run: Run,
        workflow: Workflow,
        index: int,
        span: TaskSpan,
        phase: str,
        now: float,
        created: str,
    ) -> dict[str, Any]:
        step = workflow.graph.step[span.name]
        lo, hi = workflow.graph.window[span.name]
        began = phase != "waiting"
        done = phase in ("done", "failed")
        failed = phase == "failed"
        started = self._time(span.start) if began and span.start is not None else ""
        finished = self._time(span.end) if done and span.end is not None else ""
        failure_type, err_msg = _FAILURES[run.bits % len(_FAILURES)]
        logs = [f"{span.name}: started"] if began else []
        if done:
            logs.append(f"{span.name}: {'failed: ' + err_msg if failed else 'completed'}")
        taken = ""
        if done and span.start is not None and span.end is not None:
            taken = go_duration(round(span.end - span.start, 3))
        return {
            # the job's id with the task's index in its last digits: unique, stable, cheap
            "id": f"{run.id[:-4]}{index:04x}",
            "depends_on": list(step.depends_on),
            "recv_time": started,
            "send_time": started,
            "block_inf_start_time": started,
            "block_inf_end_time": finished,
            "block_info": workflow.blocks[span.name],
            "err_msg": err_msg if failed else "",
            "failure_type": failure_type if failed else "",
            "info_logs": json_bytes(logs),
            "created_at": created,
            "updated_at": finished or started or created,
            "finished_at": finished,
            "estimated_time_duration": round((hi - lo) * run.duration),
            "time_taken": taken,
            "status": _TASK_STATUS[phase],
            "state_msg": _STATE_MSG[phase],
            "inputs": _TASK_INPUTS,
            "result": json_bytes({"asset": f"s3://pixxel-emulated/{run.id}/{span.name}.tif"})
            if phase == "done"
            else [],
            "name": span.name,
            "progress": _task_progress(run, span, phase, now),
            "disclaimer": [],
        }

    def _time(self, at: float) -> str:
        return rfc3339_nano(self.clock.at(at))

    def _int(self, request: Request, name: str, default: int) -> int | Response:
        raw = request.query_params.get(name)
        if raw is None or raw == "":
            return default
        try:
            return int(raw)
        except ValueError:
            return self.error_response(400, f"{name} must be an integer")


_CODES = {400: "BAD_REQUEST", 403: "FORBIDDEN", 404: "NOT_FOUND", 429: "TOO_MANY_REQUESTS"}
_JOB_STATUS = {
    "queued": "queued",
    "running": "running",
    "succeeded": "completed",
    "failed": "failed",
}
_TASK_STATUS = {
    "waiting": "created",
    "running": "inprogress",
    "done": "completed",
    "failed": "failed",
}
_STATE_MSG = {
    "waiting": "waiting for dependencies",
    "running": "processing",
    "done": "completed",
    "failed": "failed",
}


def _task_progress(run: Run, span: TaskSpan, phase: str, now: float) -> float:
    """A task's progress as Pixxel reports it: a number from 0 to 100."""
    if phase == "done":
        return 100.0
    if phase == "failed":
        return float(10 + run.bits % 80)  # where it was when it broke
    if phase == "running" and span.start is not None and span.end is not None:
        length = span.end - span.start
        return round(100 * (now - span.start) / length, 1) if length > 0 else 0.0
    return 0.0


_TASK_INPUTS = json_bytes({"aoi": "POLYGON((77.5 12.9, 77.7 12.9, 77.7 13.1, 77.5 12.9))"})


def _percent(value: float) -> str:
    """A job's progress as Pixxel writes it: a string, at most two decimals (``"66.67"``)."""
    return f"{round(value, 2):g}"
