"""The conformance kit itself: a sound adapter passes every check, and each check fails, saying
why, for an adapter that breaks the rule it guards. Also the pytest plugin's fixtures."""

from __future__ import annotations

import copy
import logging
import random
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import httpx
import pytest

from jobhub import Hub
from jobhub.backend import Adapter, Call, Capability
from jobhub.errors import BackendError, InvalidRef, JobHubError, JobNotFound, NotSupported
from jobhub.model import Job, JobState
from jobhub.testing import AdapterConformance, ErrorCase, MockBackend, Sample, checks, plugin
from jobhub.testing.fuzz import JUNK, mutations, random_json
from jobhub.testing.plugin import DEFAULT_SPEED, emulator_options
from tests.fakes import FakeAdapter

# The plugin's fixtures, for this module even where the pytest11 entry point is not installed.
jobhub_emulator = plugin.jobhub_emulator
jobhub_hub = plugin.jobhub_hub

SECRET = checks.SECRET
SETTINGS = {"api_key": SECRET}
JOB = {"id": "a1", "status": "busy"}


class SoundFakeAdapter(FakeAdapter):
    """`FakeAdapter` with the one fault the kit finds in it fixed (a non-string status)."""

    type = "soundfake"

    def normalize(self, payload: Any) -> Job:
        if isinstance(payload, dict) and not isinstance(payload.get("status"), str | None):
            raise self.invalid("status must be a string", payload)
        return super().normalize(payload)


class TestASoundAdapterPassesTheWholeSuite(AdapterConformance):
    @pytest.fixture
    def adapter_class(self) -> type[Adapter]:
        return SoundFakeAdapter

    @pytest.fixture
    def backend_settings(self, secret: str) -> dict[str, Any]:
        return {"api_key": secret}

    @pytest.fixture
    def samples(self) -> list[Sample]:
        return [
            Sample(JOB, {"state": JobState.RUNNING, "status": "busy", "ref": "conf:a1"}),
            Sample({"id": "b/2", "status": "ok"}, {"state": "succeeded"}),
        ]

    @pytest.fixture
    def status_words(self) -> dict[str, JobState]:
        return {
            "waiting": JobState.QUEUED,
            "busy": JobState.RUNNING,
            "ok": JobState.SUCCEEDED,
            "bad": JobState.FAILED,
        }

    @pytest.fixture
    def job_with_status(self) -> Callable[[str], Any]:
        return lambda word: {"id": "x", "status": word}

    @pytest.fixture
    def list_body(self) -> Callable[[list[Any]], Any]:
        return lambda payloads: {"jobs": payloads, "more": False}

    @pytest.fixture
    def cancel_body(self) -> Any:
        return True


def adapter_of(cls: type[Adapter] = SoundFakeAdapter) -> Adapter:
    return checks.make_adapter(cls, SETTINGS)


def status_of(job: Job) -> tuple[JobState, str | None]:
    return job.state, job.status


# -- normalization ---------------------------------------------------------------------------


def test_the_kit_finds_a_parser_that_crashes_on_a_wrong_type() -> None:
    with pytest.raises(AssertionError, match=r"status := 0 .*AttributeError"):
        checks.check_survives(adapter_of(FakeAdapter), mutations(JOB))


def test_a_field_that_differs_is_named() -> None:
    with pytest.raises(AssertionError, match=r"normalize\(busy job\)\.state is .*running"):
        checks.check_sample(adapter_of(), Sample(JOB, {"state": "failed"}, label="busy job"))


def test_a_dotted_path_that_does_not_exist_is_named() -> None:
    with pytest.raises(AssertionError, match=r"the job has no 'tasks.0.state'"):
        checks.check_sample(adapter_of(), Sample(JOB, {"tasks.0.state": "failed"}))


class MutatingAdapter(SoundFakeAdapter):
    def normalize(self, payload: Any) -> Job:
        job = super().normalize(copy.deepcopy(payload))
        payload.pop("status", None)
        return job


def test_a_parser_that_changes_its_input_is_caught() -> None:
    with pytest.raises(AssertionError, match="changed the payload it was given"):
        checks.check_sample(adapter_of(MutatingAdapter), Sample(dict(JOB)))


class ForgetfulAdapter(SoundFakeAdapter):
    def normalize(self, payload: Any) -> Job:
        return super().normalize(payload).model_copy(update={"raw": None})


def test_a_job_without_its_raw_payload_is_caught() -> None:
    with pytest.raises(AssertionError, match=r"job.raw is not the payload"):
        checks.check_sample(adapter_of(ForgetfulAdapter), Sample(JOB))


def test_an_unmapped_status_word_is_caught() -> None:
    with pytest.raises(AssertionError, match="native status 'paused' became 'unknown'"):
        checks.check_status_word(
            adapter_of(),
            "paused",
            JobState.RUNNING,
            lambda word: {"id": "x", "status": word},
            status_of,
        )


def test_a_status_word_that_is_not_kept_is_caught() -> None:
    with pytest.raises(AssertionError, match="was not kept as status"):
        checks.check_status_word(
            adapter_of(),
            "busy",
            JobState.RUNNING,
            lambda word: {"id": "x", "status": word},
            lambda job: (job.state, None),
        )


# -- ids -------------------------------------------------------------------------------------


class PastingAdapter(SoundFakeAdapter):
    """Builds URLs by pasting the id in, the mistake `Adapter.url` exists to prevent."""

    def get_job(self, job_id: str) -> Call[Job]:
        request = httpx.Request("GET", f"{self.base_url}/jobs/{job_id}")
        return Call(request, lambda r: self.normalize(self.json(r)))

    def cancel_job(self, job_id: str) -> Call[None]:
        request = httpx.Request("POST", f"{self.base_url}/cancel?id={job_id}&force=1")
        return Call(request, lambda r: None)


def test_an_id_pasted_into_a_path_is_caught() -> None:
    adapter = adapter_of(PastingAdapter)
    with pytest.raises(AssertionError, match="broke out of its path segment"):
        checks.check_id_stays_in_place(adapter, adapter.get_job, lambda p: p, "a/b")


def test_a_dot_segment_pasted_into_a_path_is_caught() -> None:
    adapter = adapter_of(PastingAdapter)
    with pytest.raises(AssertionError, match=r"id '../../admin'"):
        checks.check_id_stays_in_place(adapter, adapter.get_job, lambda p: p, "../../admin")


def test_an_id_pasted_into_a_query_is_caught() -> None:
    adapter = adapter_of(PastingAdapter)
    with pytest.raises(AssertionError, match="broke out of its query value"):
        checks.check_id_stays_in_place(adapter, adapter.cancel_job, lambda p: p, "a&b=c")


def test_an_escaped_id_passes() -> None:
    adapter = adapter_of()
    for hostile in checks.HOSTILE_IDS:
        checks.check_id_stays_in_place(adapter, adapter.get_job, lambda p: p, hostile)


class StrictIdAdapter(PastingAdapter):
    def get_job(self, job_id: str) -> Call[Job]:
        if not job_id.isalnum():
            raise InvalidRef(f"bad id {job_id!r}", backend=self.name)
        return super().get_job(job_id)


def test_an_adapter_that_refuses_hostile_ids_passes() -> None:
    adapter = adapter_of(StrictIdAdapter)
    checks.check_id_stays_in_place(adapter, adapter.get_job, lambda p: p, "a/b")


# -- secrets ---------------------------------------------------------------------------------


class Leaky:
    def __repr__(self) -> str:
        return f"Leaky(key={SECRET})"


def test_a_repr_that_shows_the_credential_is_caught() -> None:
    with pytest.raises(AssertionError, match="the credential shows in Leaky"):
        checks.check_no_secret(SECRET, "fine", Leaky())


def test_a_log_line_that_shows_the_credential_is_caught() -> None:
    record = logging.LogRecord("jobhub", logging.DEBUG, __file__, 1, "key=%s", (SECRET,), None)
    with pytest.raises(AssertionError, match="the credential shows in a log line"):
        checks.check_no_secret(SECRET, records=[record])


# -- errors ----------------------------------------------------------------------------------


class BluntAdapter(SoundFakeAdapter):
    """Maps every error answer to a plain `BackendError` and reads no error body."""

    def error(self, response: httpx.Response) -> JobHubError:
        return BackendError("failed", backend=self.name, status_code=response.status_code)


def error_hub(cls: type[Adapter], backend: MockBackend) -> Hub:
    return checks.make_hub(cls, SETTINGS, backend)


def test_the_wrong_error_type_is_caught() -> None:
    backend = MockBackend()
    case = ErrorCase(404, {"detail": "gone"}, JobNotFound)
    with (
        error_hub(BluntAdapter, backend) as hub,
        pytest.raises(AssertionError, match=r"raised BackendError .* not JobNotFound"),
    ):
        checks.check_error_case(hub, backend, case, "a1")


def test_an_error_without_the_backends_words_is_caught() -> None:
    class Mute(SoundFakeAdapter):
        def error_detail(self, response: httpx.Response) -> str | None:
            return None

    backend = MockBackend()
    case = ErrorCase(404, {"detail": "job a1 was purged"}, JobNotFound, says="was purged")
    with (
        error_hub(Mute, backend) as hub,
        pytest.raises(AssertionError, match="does not repeat the backend's words"),
    ):
        checks.check_error_case(hub, backend, case, "a1")


class AlwaysFine(MockBackend):
    """A backend that answers 200 with a job whatever error answer it is given."""

    def answer(self, request: httpx.Request, body: Any, **kwargs: Any) -> None:
        super().answer(request, JOB)


def test_an_error_answer_that_raises_nothing_is_caught() -> None:
    backend = AlwaysFine()
    case = ErrorCase(404, {"detail": "gone"}, JobNotFound)
    with (
        error_hub(SoundFakeAdapter, backend) as hub,
        pytest.raises(AssertionError, match="a 404 answer to get raised nothing"),
    ):
        checks.check_error_case(hub, backend, case, "a1")


# -- capabilities ----------------------------------------------------------------------------


def test_an_overridden_capability_method_that_raises_is_caught() -> None:
    class Claims(SoundFakeAdapter):
        def await_job(self, job_id: str, *, offset: int = 0) -> Call[Job]:
            raise NotSupported("not today", backend=self.name)

    adapter = adapter_of(Claims)
    with pytest.raises(AssertionError, match="long_poll: await_job is overridden"):
        checks.check_capability_consistent(
            adapter, Capability.LONG_POLL, lambda: adapter.await_job("a1")
        )


def test_a_capability_taken_away_after_the_class_was_made_is_caught() -> None:
    class Modest(SoundFakeAdapter):
        pass

    Modest.capabilities = frozenset()
    adapter = adapter_of(Modest)
    with pytest.raises(AssertionError, match="cancel works but is not in capabilities"):
        checks.check_capability_consistent(
            adapter, Capability.CANCEL, lambda: adapter.cancel_job("a1")
        )


# -- the mock backend and the payload generators ---------------------------------------------


def test_the_mock_backend_names_a_request_it_has_no_answer_for() -> None:
    backend = MockBackend()
    backend.answer_url("GET", "http://x.test/a", {"id": "a"})
    with (
        httpx.Client(transport=backend.transport()) as client,
        pytest.raises(AssertionError, match=r"sent GET http://x.test/b, which .* has no answer"),
    ):
        client.get("http://x.test/b")


def test_the_mock_backend_sends_text_bodies_as_text() -> None:
    backend = MockBackend()
    backend.answer_url("GET", "http://x.test/a", "token is expired", status=401)
    with httpx.Client(transport=backend.transport()) as client:
        response = client.get("http://x.test/a")
    assert (response.status_code, response.text) == (401, "token is expired")
    assert response.headers["Content-Type"] == "text/plain"


def test_mutations_leave_the_payload_unchanged() -> None:
    payload = {"id": "a", "tasks": [{"name": "t", "status": "ok"}]}
    before = copy.deepcopy(payload)
    list(mutations(payload))
    assert payload == before


def test_mutations_reach_every_field_at_every_depth() -> None:
    payload = {"id": "a", "tasks": [{"name": "t"}]}
    descriptions = [description for description, _ in mutations(payload)]
    for where in ("id", "tasks", "tasks.0", "tasks.0.name"):
        assert f"{where} removed" in descriptions
        assert f"{where} := None" in descriptions
    assert len(descriptions) == 4 * (1 + len(JUNK))


def test_a_mutation_replaces_exactly_one_field() -> None:
    payload = {"id": "a", "tasks": [{"name": "t"}]}
    mutated = dict(mutations(payload))["tasks.0.name := 0"]
    assert mutated == {"id": "a", "tasks": [{"name": 0}]}


def test_random_json_repeats_for_the_same_seed() -> None:
    first = [random_json(random.Random(7), 3, ("status",)) for _ in range(5)]
    again = [random_json(random.Random(7), 3, ("status",)) for _ in range(5)]
    assert first == again


# -- the pytest plugin -----------------------------------------------------------------------


def test_emulator_options_default_to_a_fast_clock() -> None:
    assert emulator_options(None) == {"speed": DEFAULT_SPEED, "seed": 0}


def test_emulator_options_read_the_marker() -> None:
    marker = SimpleNamespace(args=(["sieve"],), kwargs={"speed": 50, "await_hold": 1.0})
    assert emulator_options(marker) == {  # type: ignore[arg-type]
        "types": ["sieve"],
        "speed": 50,
        "seed": 0,
        "await_hold": 1.0,
    }


def test_jobhub_hub_reads_jobs_from_the_emulator(jobhub_hub: Hub, jobhub_emulator: Any) -> None:
    job_id = jobhub_emulator.submit("sieve", duration=60.0, outcome="succeeded")
    job = jobhub_hub.get(f"sieve:{job_id}")
    assert (job.id, job.backend, job.terminal) == (job_id, "sieve", False)
