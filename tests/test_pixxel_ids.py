"""Pixxel job ids are "<workflow_id>/<job_id>": each part stays inside its own URL segment, and
anything else is refused with the expected form."""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from jobhub_pixxel.adapter import PixxelAdapter

from jobhub import Hub
from jobhub.errors import InvalidRef
from tests.conftest import SECRET


@pytest.fixture
def adapter() -> PixxelAdapter:
    hub = Hub({"pixxel": {"api_key": SECRET, "url": "https://api.pixxel.space/base"}}, env={})
    pixxel = hub.backends["pixxel"]
    assert isinstance(pixxel, PixxelAdapter)
    return pixxel


def segments(request: httpx.Request) -> list[str]:
    """The request's path segments, percent-decoded one by one."""
    return [unquote(part) for part in request.url.raw_path.decode("ascii").split("/")]


HOSTILE = [
    ("..", "job"),
    ("wf", ".."),
    (".", "."),
    ("wf?x=1", "job#frag"),
    ("wf%2F..", "job%00"),
    ("a b", "c d"),
    ("wörkflow-ü", "ジョブ"),
    ("wf", "a/../../b"),
    ("wf", "job?status=failed"),
    ("wf", "/"),
]


@pytest.mark.parametrize(("workflow_id", "job_id"), HOSTILE)
def test_get_keeps_each_id_part_in_its_own_segment(
    adapter: PixxelAdapter, workflow_id: str, job_id: str
) -> None:
    request = adapter.get_job(f"{workflow_id}/{job_id}").request
    assert segments(request) == ["", "base", "v0", "workflows", workflow_id, "jobs", job_id]
    assert request.url.query == b""
    assert request.url.fragment == ""


@pytest.mark.parametrize(("workflow_id", "job_id"), HOSTILE)
def test_list_keeps_the_workflow_in_its_own_segment(
    adapter: PixxelAdapter, workflow_id: str, job_id: str
) -> None:
    request = adapter.list_jobs(workflow=workflow_id).request
    assert segments(request) == ["", "base", "v0", "workflows", workflow_id, "jobs"]
    assert request.url.query == b""


def test_hostile_ref_round_trips_through_the_hub() -> None:
    """The job's ref, built from what the server said, addresses the same job again."""
    workflow_id, job_id = "wf ?#%", "a/../b ü"

    def echo(request: httpx.Request) -> httpx.Response:
        _, _, _, wf, _, job = segments(request)
        return httpx.Response(200, json={"id": job, "workflow_id": wf, "status": "running"})

    hub = Hub({"pixxel": {"api_key": SECRET}}, env={}, transport=httpx.MockTransport(echo))
    job = hub.get(f"pixxel:{workflow_id}/{job_id}")
    assert job.ref == f"pixxel:{workflow_id}/{job_id}"
    assert hub.get(job.ref).id == job.id


@given(
    workflow_id=st.text(min_size=1).filter(lambda s: "/" not in s and s.strip()),
    job_id=st.text(min_size=1).filter(lambda s: bool(s.strip())),
)
@settings(max_examples=200, deadline=None)
def test_any_id_parts_stay_in_their_segments(workflow_id: str, job_id: str) -> None:
    adapter = Hub({"pixxel": {"api_key": SECRET}}, env={}).backends["pixxel"]
    request = adapter.get_job(f"{workflow_id}/{job_id}").request
    assert segments(request) == ["", "v0", "workflows", workflow_id, "jobs", job_id]
    assert request.url.query == b""


@pytest.mark.parametrize(
    "ref",
    [
        "pixxel:job-only",
        "pixxel:/job",
        "pixxel:wf/",
        "pixxel: /job",
        "pixxel:wf/ \t",
        "pixxel:/",
    ],
)
def test_malformed_id_is_invalid_ref_showing_the_expected_form(ref: str) -> None:
    seen: list[Any] = []
    hub = Hub(
        {"pixxel": {"api_key": SECRET}},
        env={},
        transport=httpx.MockTransport(lambda r: seen.append(r) or httpx.Response(500)),
    )
    with pytest.raises(InvalidRef, match="'<workflow_id>/<job_id>'") as caught:
        hub.get(ref)
    assert caught.value.backend == "pixxel"
    assert seen == []  # refused before any request


@pytest.mark.parametrize("method", ["get", "cancel"])
def test_malformed_id_is_refused_before_cancel_too(method: str) -> None:
    hub = Hub({"pixxel": {"api_key": SECRET}}, env={})
    with pytest.raises(InvalidRef):
        getattr(hub, method)("pixxel:no-slash")


def test_check_id_accepts_a_well_formed_id(adapter: PixxelAdapter) -> None:
    assert adapter.check_id("wf-1/job-1") == "wf-1/job-1"


def test_split_id_splits_at_the_first_slash(adapter: PixxelAdapter) -> None:
    assert adapter.split_id("wf/a/b") == ("wf", "a/b")
