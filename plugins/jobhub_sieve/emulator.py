"""A local Sieve: the v2 jobs API (get, await, list, cancel, push, logs) in Sieve's own JSON.

Jobs are runs of a few built-in functions. Each queues, then processes for its run time while its
outputs appear one by one, then ends ``finished`` or ``error`` (or ``cancelled``). Steer a job
with ``duration`` (seconds) and ``outcome`` (``succeeded``/``failed``) among its push inputs.
Writes Sieve's JSON itself; it shares no code with the adapter.
"""

from __future__ import annotations

import json
import random
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute

from jobhub.emulator import EmulatedBackend, Run, SteeringError, json_response, parse_steering
from jobhub.emulator.formats import naive_utc

__all__ = ["SieveEmulator"]

DEFAULT_FUNCTION = "sieve/whisper"
_ERRORS = (
    "RuntimeError: CUDA out of memory. Tried to allocate 2.00 GiB",
    "ValueError: could not decode the input media file",
    "TimeoutError: the function did not answer within its time limit",
)


@dataclass(frozen=True, slots=True)
class Function:
    """A Sieve function jobs can be pushed to: how many outputs a job yields, of what type."""

    owner: str
    name: str
    outputs: int
    output_type: str

    @property
    def path(self) -> str:
        return f"{self.owner}/{self.name}"

    def output(self, index: int, job_id: str) -> Any:
        if self.output_type == "sieve.File":
            return {"url": f"https://storage.sieve.invalid/{job_id}/output-{index}.wav"}
        return {"segment": index, "text": f"emulated segment {index + 1}", "start": index * 5.0}


FUNCTIONS = (
    Function("sieve", "whisper", outputs=3, output_type="dict"),
    Function("sieve", "yolov8", outputs=2, output_type="dict"),
    Function("sieve", "text-to-speech", outputs=1, output_type="sieve.File"),
)


class SieveEmulator(EmulatedBackend):
    """Sieve's jobs API. Credentials: ``api_key``, sent as ``X-API-Key``."""

    type = "sieve"
    credential_names = ("api_key",)

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        catalog = random.Random(f"{self.seed}/sieve/catalog")
        self.organization_id = str(uuid.UUID(int=catalog.getrandbits(128), version=4))
        self.functions = {f.path: f for f in FUNCTIONS}
        self.function_ids = {
            f.path: str(uuid.UUID(int=catalog.getrandbits(128), version=4)) for f in FUNCTIONS
        }
        self._order: list[str] = []  # job ids, oldest first

    # -- the contract -------------------------------------------------------------------------

    def routes(self) -> Sequence[BaseRoute]:
        return [
            self.route("/v2/jobs", self.list_jobs),
            self.route("/v2/jobs/{job_id}", self.get_job),
            self.route("/v2/jobs/{job_id}", self.cancel_job, methods=["DELETE"]),
            self.route("/v2/jobs/{job_id}/await", self.await_job),
            self.route("/v2/functions/{owner}/{function}/jobs", self.list_function_jobs),
            self.route("/v2/push", self.push, methods=["POST"]),
            self.route("/v2/logs", self.logs),
        ]

    def authenticate(self, request: Request) -> Response | None:
        if request.headers.get("x-api-key") != self.credentials["api_key"]:
            return self.error_response(401, "Unauthorized - valid API Key required.")
        return None

    def error_response(self, status: int, message: str) -> Response:
        return json_response({"detail": message}, status)

    def submit(
        self,
        client: httpx.Client,
        *,
        duration: float | None = None,
        outcome: str | None = None,
        workflow: str | None = None,
    ) -> str:
        inputs: dict[str, Any] = {"media": "https://example.invalid/input.mp4"}
        if duration is not None:
            inputs["duration"] = duration
        if outcome is not None:
            inputs["outcome"] = outcome
        response = client.post(
            "/v2/push",
            json={"function": workflow or DEFAULT_FUNCTION, "inputs": inputs},
            headers={"X-API-Key": self.credentials["api_key"]},
        )
        response.raise_for_status()
        job_id: str = response.json()["id"]
        return job_id

    # -- endpoints ----------------------------------------------------------------------------

    async def get_job(self, request: Request) -> Response:
        run = self.runs.get(request.path_params["job_id"])
        if run is None:
            return self.error_response(404, "Job not found.")
        offset = _query_int(request, "offset", 0)
        if isinstance(offset, Response):
            return offset
        return json_response(self.job_json(run, self.now(), offset))

    async def await_job(self, request: Request) -> Response:
        run = self.runs.get(request.path_params["job_id"])
        if run is None:
            return self.error_response(404, "Job not found.")
        offset = _query_int(request, "offset", 0)
        if isinstance(offset, Response):
            return offset
        if not await self.hold(run, self.await_hold):
            return self.error_response(408, "Request timeout.")
        return json_response(self.job_json(run, self.now(), offset))

    async def list_jobs(self, request: Request) -> Response:
        return self._listing(request, reversed(self._order))

    async def list_function_jobs(self, request: Request) -> Response:
        path = f"{request.path_params['owner']}/{request.path_params['function']}"
        if path not in self.functions:
            return self.error_response(404, "Function not found.")
        ids = (job_id for job_id in reversed(self._order) if self.runs[job_id].workflow == path)
        return self._listing(request, ids)

    async def cancel_job(self, request: Request) -> Response:
        run = self.runs.get(request.path_params["job_id"])
        if run is None:
            return self.error_response(404, "Job not found.")
        if not run.cancel(self.now()):
            return self.error_response(400, "Job is not processing.")
        self.notify()
        return json_response({"message": f"Job {run.id} cancelled."})

    async def push(self, request: Request) -> Response:
        try:
            body = json.loads(await request.body())
        except ValueError as exc:
            return _unprocessable("json_invalid", ["body", 0], f"JSON decode error: {exc}")
        if not isinstance(body, dict):
            return _unprocessable("model_attributes_type", ["body"], "Input should be an object")
        inputs = body.get("inputs")
        if "inputs" not in body:
            return _unprocessable("missing", ["body", "inputs"], "Field required")
        if not isinstance(inputs, dict | list):
            return _unprocessable("dict_type", ["body", "inputs"], "Input should be an object")
        function = self._function(body)
        if isinstance(function, Response):
            return function
        named = inputs if isinstance(inputs, dict) else {}
        try:
            duration, outcome = parse_steering(named.get("duration"), named.get("outcome"))
        except SteeringError as exc:
            return _unprocessable("value_error", ["body", "inputs"], str(exc))
        run = self.new_run(function.path, duration=duration, outcome=outcome, inputs=inputs)
        self._order.append(run.id)
        return json_response(
            {
                "id": run.id,
                "run_id": _run_id(run.id),
                "stream_output": False,
                "status": "queued",
                "organization_id": self.organization_id,
                "model_id": self.function_ids[function.path],
                "workflow_id": None,
            }
        )

    async def logs(self, request: Request) -> Response:
        window = []
        for name in ("start_time", "end_time"):
            raw = request.query_params.get(name)
            try:
                window.append(_posix_seconds(raw))
            except ValueError:
                return self.error_response(400, "Invalid timestamps provided.")
        start, end = window
        job_id = request.query_params.get("job_id")
        if job_id is not None:
            run = self.runs.get(job_id)
            if run is None:
                return self.error_response(404, "Logs not found.")
            runs = [run]
        else:
            runs = [self.runs[i] for i in self._order[-100:]]
        now = self.now()
        groups = []
        last: float | None = None
        for run in runs:
            lines = []
            for at, message in self.log_lines(run, now):
                posix = self.clock.at(at).timestamp()
                if (start is None or posix >= start) and (end is None or posix <= end):
                    lines.append({"message": message, "timestamp": naive_utc(self.clock.at(at))})
                    last = posix if last is None else max(last, posix)
            if lines:
                groups.append({"logs": lines, "labels": self._labels(run)})
        next_start = int(last * 1e9) + 1 if last is not None else int((start or 0) * 1e9)
        last_returned = "" if last is None else naive_utc(datetime.fromtimestamp(last, UTC))
        return json_response(
            {"data": groups, "next_start_time": next_start, "last_time_returned": last_returned}
        )

    # -- Sieve's JSON ---------------------------------------------------------------------------

    def job_json(self, run: Run, now: float, offset: int = 0) -> dict[str, Any]:
        """The job exactly as Sieve's ``Job`` schema describes it, at emulated time ``now``."""
        function = self.functions[run.workflow]
        phase = run.phase(now)
        at = self.clock.at
        started = None if run.cancelled_before_start or now < run.started else run.started
        ended = run.ends if phase in ("succeeded", "failed", "cancelled") else None
        outputs = [
            {"type": function.output_type, "name": None, "data": data, "description": None}
            for data in self.outputs(run, now)
        ]
        return {
            "id": run.id,
            "function_id": self.function_ids[run.workflow],
            "organization_id": self.organization_id,
            "function": {"name": function.name, "owner_name": function.owner},
            "status": _STATUS[phase],
            "created_at": naive_utc(at(run.created)),
            "started_at": None if started is None else naive_utc(at(started)),
            "completed_at": None if ended is None else naive_utc(at(ended)),
            "inputs": _inputs(run.inputs),
            "outputs": outputs[max(offset, 0) :],
            "error": _ERRORS[run.bits % len(_ERRORS)] if phase == "failed" else "",
            "visibility": "private",
            "run_id": _run_id(run.id),
            "children": {},
            "restarts": self.restarts(run, now),
        }

    def output_times(self, run: Run) -> list[float]:
        """When each output appears: evenly over the run time, the last one at its end."""
        count = self.functions[run.workflow].outputs
        length = run.finished - run.started
        return [run.started + length * (k + 1) / count for k in range(count - 1)] + [run.finished]

    def outputs(self, run: Run, now: float) -> list[Any]:
        function = self.functions[run.workflow]
        return [
            function.output(index, run.id)
            for index, at in enumerate(self.output_times(run))
            if _produced(run, at, now)
        ]

    def restarts(self, run: Run, now: float) -> list[dict[str, Any]]:
        # One job in eight is preempted a third of the way in, and carries on.
        if run.bits % 8 != 3:
            return []
        at = run.started + (run.finished - run.started) / 3
        if at > now or at >= run.ends:
            return []
        return [
            {
                "timestamp": naive_utc(self.clock.at(at)),
                "reason": "The machine running the job was preempted.",
                "type": "preemption",
                "run_id": _run_id(run.id),
            }
        ]

    def log_lines(self, run: Run, now: float) -> list[tuple[float, str]]:
        lines: list[tuple[float, str]] = []
        if not run.cancelled_before_start and run.started <= now:
            lines.append((run.started, f"Running {run.workflow}"))
        for index, at in enumerate(self.output_times(run)):
            if _produced(run, at, now):
                lines.append((at, f"Produced output {index}"))
        if run.ended(now):
            final = {
                "succeeded": "Job finished",
                "failed": _ERRORS[run.bits % len(_ERRORS)],
                "cancelled": "Job cancelled",
            }[run.final_state]
            lines.append((run.ends, final))
        return lines

    # -- helpers --------------------------------------------------------------------------------

    def _listing(self, request: Request, ids: Any) -> Response:
        limit = _query_int(request, "limit", 500)
        if isinstance(limit, Response):
            return limit
        offset = _query_int(request, "offset", 0)
        if isinstance(offset, Response):
            return offset
        limit, offset = max(limit, 0), max(offset, 0)
        wanted = request.query_params.get("status", "")
        now = self.now()
        runs = [self.runs[i] for i in ids]
        if wanted:
            runs = [run for run in runs if _STATUS[run.phase(now)] == wanted]
        page = runs[offset : offset + limit]
        more = offset + limit < len(runs)
        return json_response(
            {
                "data": [self.job_json(run, now) for run in page],
                "next_offset": offset + limit if more else -1,
            }
        )

    def _function(self, body: dict[str, Any]) -> Function | Response:
        name, function_id = body.get("function"), body.get("id")
        if isinstance(function_id, str) and function_id:
            for path, known in self.function_ids.items():
                if known == function_id or known.startswith(function_id):
                    return self.functions[path]
            return self.error_response(404, "Function not found.")
        if not isinstance(name, str) or name.count("/") != 1:
            return self.error_response(400, "Invalid function specified.")
        path = name.split(":", 1)[0]
        function = self.functions.get(path)
        if function is None:
            return self.error_response(404, "Function not found.")
        return function

    def _labels(self, run: Run) -> dict[str, Any]:
        return {
            "run_id": _run_id(run.id),
            "job_id": run.id,
            "organization_id": self.organization_id,
            "function_id": self.function_ids[run.workflow],
            "stage": "run",
        }


_STATUS = {
    "queued": "queued",
    "running": "processing",
    "succeeded": "finished",
    "failed": "error",
    "cancelled": "cancelled",
}


def _produced(run: Run, at: float, now: float) -> bool:
    """Whether the output due at ``at`` exists by ``now``: a failing job dies before its last
    output, a cancelled one stops where it is."""
    if at > now or at > run.ends:
        return False
    return at < run.ends or run.final_state == "succeeded"


def _run_id(job_id: str) -> str:
    return f"{job_id}-{uuid.uuid5(uuid.NAMESPACE_URL, job_id)}"


def _inputs(inputs: Any) -> dict[str, Any]:
    """Push inputs as Sieve shows them: one InputOutput object per named input."""
    if not isinstance(inputs, dict):
        return {}
    return {
        name: {"type": _type_name(value), "name": name, "data": value, "description": None}
        for name, value in inputs.items()
    }


def _type_name(value: Any) -> str:
    return {bool: "bool", int: "int", float: "float", str: "str", list: "list"}.get(
        type(value), "dict"
    )


def _query_int(request: Request, name: str, default: int) -> int | Response:
    raw = request.query_params.get(name)
    if raw is None:
        return default
    try:
        return int(raw)
    except ValueError:
        return _unprocessable(
            "int_parsing",
            ["query", name],
            "Input should be a valid integer, unable to parse string as an integer",
        )


def _unprocessable(kind: str, loc: list[Any], message: str) -> Response:
    """FastAPI's 422 validation body, with the fields Sieve's description lists."""
    return json_response({"detail": [{"loc": loc, "msg": message, "type": kind}]}, 422)


def _posix_seconds(raw: str | None) -> float | None:
    """Sieve's log window bounds: float seconds or int nanoseconds since the epoch."""
    if raw is None or raw == "":
        return None
    value = float(raw)
    return value / 1e9 if value > 1e12 else value
