"""Prometheus metrics of one `jobhub serve`, in a registry of its own.

Every label takes values from a bounded set: backend names (from the config), canonical states,
request outcomes (`jobhub.serve.health.OUTCOMES`). Never a job id, ref, workflow or user.
"""

from __future__ import annotations

from collections.abc import Iterable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from jobhub.model import JobState
from jobhub.store import Counts

__all__ = ["CONTENT_TYPE_LATEST", "Metrics"]

_DURATION_BUCKETS = (1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600, 4 * 3600, 12 * 3600, 86400)
_LAG_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)


class Metrics:
    def __init__(self, backends: Iterable[str]) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.backends = tuple(backends)
        r = self.registry
        self.jobs = Gauge("jobhub_jobs", "Jobs in the store", ["backend", "state"], registry=r)
        self.transitions = Counter(
            "jobhub_job_transitions_total",
            "Job state changes recorded",
            ["backend", "state"],
            registry=r,
        )
        self.duration = Histogram(
            "jobhub_job_duration_seconds",
            "Run time of jobs that ended",
            ["backend"],
            buckets=_DURATION_BUCKETS,
            registry=r,
        )
        self.up = Gauge(
            "jobhub_backend_up", "1 when the last request succeeded", ["backend"], registry=r
        )
        self.requests = Counter(
            "jobhub_backend_requests_total",
            "Requests sent to backends, by outcome",
            ["backend", "outcome"],
            registry=r,
        )
        self.poll_seconds = Histogram(
            "jobhub_backend_poll_seconds",
            "Time until a backend answered",
            ["backend"],
            registry=r,
        )
        self.lag = Histogram(
            "jobhub_event_lag_seconds",
            "From a change being seen to its commit in the store",
            buckets=_LAG_BUCKETS,
            registry=r,
        )
        self.stream_clients = Gauge(
            "jobhub_stream_clients", "Clients connected to the event stream", registry=r
        )
        self.leases_held = Gauge(
            "jobhub_leases_held", "Backends this node follows (holds the lease of)", registry=r
        )
        self.lease_takeovers = Counter(
            "jobhub_lease_takeovers",
            "Backends this node took over from a node whose lease had expired",
            registry=r,
        )

    def request(self, backend: str, outcome: str, seconds: float) -> None:
        self.requests.labels(backend, outcome).inc()
        self.poll_seconds.labels(backend).observe(seconds)

    def render(self, counts: Counts, up: dict[str, bool]) -> bytes:
        for backend in self.backends:
            for state in JobState:
                self.jobs.labels(backend, state.value).set(counts.get((backend, state.value), 0))
            self.up.labels(backend).set(1 if up.get(backend) else 0)
        return generate_latest(self.registry)
