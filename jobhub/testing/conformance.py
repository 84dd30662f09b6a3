"""`AdapterConformance`: the test suite every adapter runs, in the style of fsspec's abstract
tests. Subclass it in a test module and provide the required fixtures:

    from jobhub.testing import AdapterConformance, Sample

    class TestAcmeConformance(AdapterConformance):
        @pytest.fixture
        def adapter_class(self):
            return AcmeAdapter

        @pytest.fixture
        def backend_settings(self, secret):
            return {"url": "https://acme.test/api", "api_key": secret}

        ...  # samples, status_words, job_with_status, list_body

pytest then runs every `test_*` method below against the adapter. The fixtures are
`jobhub.testing.fixtures.AdapterFixtures` (docs/plugins.md describes each one), the checks
themselves are in `jobhub.testing.checks`, and the end-to-end part over a plugin's emulator is
`jobhub.testing.emulated.EmulatorConformance`.
"""

from __future__ import annotations

import asyncio
import logging
import random
import socketserver
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

import pytest

from jobhub.backend import Adapter, Call, Capability
from jobhub.errors import BackendUnavailable, JobHubError, NotSupported
from jobhub.hub import AsyncHub, Hub
from jobhub.model import Job, JobState
from jobhub.testing import checks
from jobhub.testing.checks import (
    EXPECTED_ERRORS,
    HOSTILE_IDS,
    NAME,
    ErrorCase,
    Sample,
)
from jobhub.testing.emulated import EmulatorConformance
from jobhub.testing.fixtures import AdapterFixtures
from jobhub.testing.fuzz import field_names, mutations, random_json
from jobhub.testing.mock import MockBackend

__all__ = ["AdapterConformance", "EmulatorConformance"]

_UNKNOWN_WORD = "jobhub-conformance-unknown-word"


class AdapterConformance(AdapterFixtures):
    """The whole adapter contract as tests, over the fixtures of `AdapterFixtures`."""

    # -- registration and settings ----------------------------------------------------------

    def test_plugin_registers_the_adapter_under_its_type(
        self, adapter_class: type[Adapter], plugin: object | None
    ) -> None:
        registry = checks.make_registry(adapter_class, plugin)
        info = next(iter(registry.plugins.values()))
        assert info.error is None, f"the plugin failed: {info.error}"
        assert registry.adapters.get(adapter_class.type) is adapter_class, (
            f"the plugin registered {registry.adapters}, not {adapter_class.__name__} under "
            f"{adapter_class.type!r}"
        )

    def test_type_is_a_plain_name(self, adapter_class: type[Adapter]) -> None:
        name = adapter_class.type
        assert isinstance(name, str) and name and name == name.strip() and ":" not in name, (
            f"type {name!r} must be a non-empty name without ':' or spaces around it"
        )

    def test_settings_take_the_backend_entry(
        self, adapter: Adapter, backend_settings: Mapping[str, Any]
    ) -> None:
        assert isinstance(adapter.settings, adapter.Settings)
        assert adapter.settings.type == adapter.type

    def test_each_environment_default_fills_its_setting(
        self, adapter_class: type[Adapter], backend_settings: Mapping[str, Any], secret: str
    ) -> None:
        for key, variable in adapter_class.env_defaults.items():
            entry = {k: v for k, v in backend_settings.items() if k != key}
            wanted = "https://from-environment.test/api" if key == "url" else secret
            settings = adapter_class.settings_from(NAME, entry, {variable: wanted})
            value = getattr(settings, key)
            value = value.get_secret_value() if hasattr(value, "get_secret_value") else value
            assert value == wanted, f"${variable} did not fill setting {key!r} (got {value!r})"

    # -- normalization ----------------------------------------------------------------------

    def test_samples_normalize_to_their_expected_fields(
        self, adapter: Adapter, samples: list[Sample]
    ) -> None:
        for sample in samples:
            checks.check_sample(adapter, sample)

    def test_every_native_status_word_is_mapped(
        self,
        adapter: Adapter,
        status_words: Mapping[str, JobState],
        job_with_status: Callable[[str], Any],
        state_of: Callable[[Job], tuple[JobState, str | None]],
    ) -> None:
        assert status_words, "`status_words` is empty: list every native status word"
        for word, expected in status_words.items():
            checks.check_status_word(adapter, word, expected, job_with_status, state_of)

    def test_native_status_words_match_case_insensitively(
        self,
        adapter: Adapter,
        status_words: Mapping[str, JobState],
        job_with_status: Callable[[str], Any],
        state_of: Callable[[Job], tuple[JobState, str | None]],
    ) -> None:
        for word, expected in status_words.items():
            for variant in {word.upper(), word.lower()} - {word}:
                state, _ = state_of(adapter.normalize(job_with_status(variant)))
                assert state == expected, f"{variant!r} became {state.value!r}, not {expected!r}"

    def test_an_unknown_status_word_is_unknown_and_kept(
        self,
        adapter: Adapter,
        job_with_status: Callable[[str], Any],
        state_of: Callable[[Job], tuple[JobState, str | None]],
    ) -> None:
        checks.check_status_word(
            adapter, _UNKNOWN_WORD, JobState.UNKNOWN, job_with_status, state_of
        )

    def test_samples_bent_out_of_shape_give_a_job_or_invalid_payload(
        self, adapter: Adapter, samples: list[Sample]
    ) -> None:
        for sample in samples:
            checks.check_survives(adapter, mutations(sample.payload))

    def test_arbitrary_json_gives_a_job_or_invalid_payload(
        self, adapter: Adapter, samples: list[Sample]
    ) -> None:
        rng = random.Random(0)
        keys = field_names(*(sample.payload for sample in samples))
        payloads = ((f"random JSON #{n}", random_json(rng, 4, keys)) for n in range(1500))
        checks.check_survives(adapter, payloads)

    def test_list_reads_a_page_of_every_sample(
        self, hub: Hub, sample_jobs: list[Job], list_options: dict[str, Any]
    ) -> None:
        listed = [job.id for job in hub.list(NAME, **list_options)]
        assert listed == [job.id for job in sample_jobs], f"listed {listed}"

    # -- errors -----------------------------------------------------------------------------

    @pytest.mark.parametrize("status", sorted(EXPECTED_ERRORS))
    def test_error_statuses_map_to_typed_errors(
        self,
        hub: Hub,
        backend: MockBackend,
        job_id: str,
        error_body: Callable[[int, str], Any],
        status: int,
    ) -> None:
        words = f"conformance says {status}"
        case = ErrorCase(status, error_body(status, words), EXPECTED_ERRORS[status], says=words)
        checks.check_error_case(hub, backend, case, job_id)

    def test_rate_limits_carry_retry_after(
        self, hub: Hub, backend: MockBackend, job_id: str, error_body: Callable[[int, str], Any]
    ) -> None:
        case = ErrorCase(
            429,
            error_body(429, "slow down"),
            EXPECTED_ERRORS[429],
            headers={"Retry-After": "7"},
        )
        error = checks.check_error_case(hub, backend, case, job_id)
        assert getattr(error, "retry_after", None) == 7.0, "RateLimited.retry_after is not 7"

    def test_the_backends_own_error_answers_map_to_typed_errors(
        self, hub: Hub, backend: MockBackend, job_id: str, error_cases: list[ErrorCase]
    ) -> None:
        for case in error_cases:
            checks.check_error_case(hub, backend, case, job_id)

    # -- ids --------------------------------------------------------------------------------

    @pytest.mark.parametrize("hostile", HOSTILE_IDS)
    def test_ids_stay_inside_their_place_in_the_url(
        self, adapter: Adapter, id_template: Callable[[str], str], hostile: str
    ) -> None:
        builders: list[Callable[[str], Call[Any]]] = [adapter.get_job]
        if Capability.CANCEL in adapter.capabilities:
            builders.append(adapter.cancel_job)
        if Capability.LONG_POLL in adapter.capabilities:
            builders.append(adapter.await_job)
        for build in builders:
            checks.check_id_stays_in_place(adapter, build, id_template, hostile)

    # -- secrets ----------------------------------------------------------------------------

    def test_the_credential_is_in_no_repr(self, adapter: Adapter, secret: str, job_id: str) -> None:
        settings = adapter.settings
        things: list[object] = [adapter, settings, settings.model_dump(), adapter.auth()]
        things.append(settings.model_dump_json())
        checks.check_no_secret(secret, *things)
        for call in (adapter.get_job(job_id), adapter.list_jobs()):
            assert secret not in str(call.request.url), "the credential is in a request URL"

    def test_the_credential_is_in_no_error_or_log_line(
        self,
        hub: Hub,
        backend: MockBackend,
        job_id: str,
        list_options: dict[str, Any],
        secret: str,
        caplog: pytest.LogCaptureFixture,
    ) -> None:
        caplog.set_level(logging.DEBUG)
        errors: list[JobHubError] = []
        hub.get(f"{NAME}:{job_id}")
        list(hub.list(NAME, **list_options))
        adapter = hub.adapter(NAME)
        for status in (401, 404, 500):
            backend.answer(adapter.get_job(job_id).request, {"detail": "no"}, status=status)
            with pytest.raises(JobHubError) as caught:
                hub.get(f"{NAME}:{job_id}")
            errors.append(caught.value)
        backend.answer(adapter.get_job(job_id).request, b"<html>not json</html>")
        with pytest.raises(JobHubError) as caught:
            hub.get(f"{NAME}:{job_id}")
        errors.append(caught.value)
        checks.check_no_secret(secret, *errors, records=caplog.records)

    # -- sync / async -----------------------------------------------------------------------

    def test_sync_and_async_hubs_get_the_same_job(
        self,
        adapter_class: type[Adapter],
        backend_settings: Mapping[str, Any],
        backend: MockBackend,
        plugin: object | None,
        job_id: str,
    ) -> None:
        ref = f"{NAME}:{job_id}"

        async def get(hub: AsyncHub) -> Job:
            return await hub.get(ref)

        sync_job = checks.run_sync(
            adapter_class, backend_settings, backend, lambda hub: hub.get(ref), plugin
        )
        async_job = checks.run_async(adapter_class, backend_settings, backend, get, plugin)
        assert sync_job == async_job, "Hub.get and AsyncHub.get gave different jobs"

    def test_sync_and_async_hubs_list_the_same_jobs(
        self,
        adapter_class: type[Adapter],
        backend_settings: Mapping[str, Any],
        backend: MockBackend,
        plugin: object | None,
        list_options: dict[str, Any],
    ) -> None:
        async def listing(hub: AsyncHub) -> list[Job]:
            return [job async for job in hub.list(NAME, **list_options)]

        def sync_listing(hub: Hub) -> list[Job]:
            return list(hub.list(NAME, **list_options))

        sync_jobs = checks.run_sync(adapter_class, backend_settings, backend, sync_listing, plugin)
        async_jobs = checks.run_async(adapter_class, backend_settings, backend, listing, plugin)
        assert sync_jobs == async_jobs, "Hub.list and AsyncHub.list gave different jobs"

    def test_sync_and_async_hubs_send_the_same_requests(
        self,
        adapter_class: type[Adapter],
        backend_settings: Mapping[str, Any],
        backend: MockBackend,
        plugin: object | None,
        job_id: str,
        list_options: dict[str, Any],
    ) -> None:
        ref = f"{NAME}:{job_id}"
        cancels = Capability.CANCEL in adapter_class.capabilities

        def work(hub: Hub) -> None:
            hub.get(ref)
            list(hub.list(NAME, **list_options))
            if cancels:
                hub.cancel(ref)

        async def async_work(hub: AsyncHub) -> None:
            await hub.get(ref)
            _ = [job async for job in hub.list(NAME, **list_options)]
            if cancels:
                await hub.cancel(ref)

        checks.run_sync(adapter_class, backend_settings, backend, work, plugin)
        sync_requests = [checks.request_shape(r) for r in backend.requests]
        backend.requests.clear()
        checks.run_async(adapter_class, backend_settings, backend, async_work, plugin)
        async_requests = [checks.request_shape(r) for r in backend.requests]
        assert sync_requests == async_requests, "Hub and AsyncHub sent different requests"

    def test_sync_and_async_hubs_cut_a_trickling_answer_at_the_same_deadline(
        self,
        adapter_class: type[Adapter],
        backend_settings: Mapping[str, Any],
        plugin: object | None,
        job_id: str,
    ) -> None:
        """A loopback server sends its status line a byte at a time: both hubs give up at the
        request's `timeout` with `BackendUnavailable`, before any body."""
        timeout = 0.5
        with _TricklingServer() as url:
            settings = {**backend_settings, "url": url, "timeout": timeout, "retries": 0}
            config = checks.hub_config(adapter_class, settings)
            ref = f"{NAME}:{job_id}"

            def sync_get() -> None:
                with Hub(config, registry=checks.make_registry(adapter_class, plugin), env={}) as h:
                    h.get(ref)

            async def async_get() -> None:
                registry = checks.make_registry(adapter_class, plugin)
                async with AsyncHub(config, registry=registry, env={}) as h:
                    await h.get(ref)

            for name, get in (("Hub", sync_get), ("AsyncHub", lambda: asyncio.run(async_get()))):
                started = time.monotonic()
                with pytest.raises(BackendUnavailable):
                    get()
                took = time.monotonic() - started
                assert took < timeout + 2.0, f"{name}.get took {took:.1f} s for timeout={timeout}"

    # -- capabilities -----------------------------------------------------------------------

    def test_cancel_is_offered_exactly_when_it_works(
        self, adapter: Adapter, hub: Hub, backend: MockBackend, job_id: str
    ) -> None:
        call = checks.check_capability_consistent(
            adapter, Capability.CANCEL, lambda: adapter.cancel_job(job_id)
        )
        if call is None:
            with pytest.raises(NotSupported):
                hub.cancel(f"{NAME}:{job_id}")
            return
        assert call.request.method != "GET", "cancel_job builds a GET: a cancel changes state"
        hub.cancel(f"{NAME}:{job_id}")  # the backend's answer to a cancel is read without error
        assert any(r.method == call.request.method for r in backend.requests)

    def test_long_poll_is_offered_exactly_when_it_works(
        self, adapter: Adapter, hub: Hub, backend: MockBackend, job_id: str, samples: list[Sample]
    ) -> None:
        call = checks.check_capability_consistent(
            adapter, Capability.LONG_POLL, lambda: adapter.await_job(job_id)
        )
        if call is None:
            return
        assert call.retry is False, "a long-poll call must not be retried (retry=False)"
        assert call.timeout is not None, "a long-poll call needs its own, longer timeout"
        backend.answer(call.request, samples[0].payload)
        job = hub._run(hub.adapter(NAME), adapter.await_job(job_id))
        assert isinstance(job, Job) and job.id == job_id
        backend.answer(call.request, {"detail": "Request timeout."}, status=408)
        with pytest.raises(BackendUnavailable) as caught:
            hub._run(hub.adapter(NAME), adapter.await_job(job_id))
        assert caught.value.status_code == 408

    def test_batch_refresh_is_offered_exactly_when_it_works(
        self,
        adapter: Adapter,
        hub: Hub,
        backend: MockBackend,
        samples: list[Sample],
        sample_jobs: list[Job],
        refresh_body: Callable[[list[Any]], Any],
    ) -> None:
        call = checks.check_capability_consistent(
            adapter, Capability.BATCH_REFRESH, adapter.refresh_jobs
        )
        if call is None:
            return
        backend.answer(call.request, refresh_body([sample.payload for sample in samples]))
        jobs = hub._run(hub.adapter(NAME), adapter.refresh_jobs())
        assert [job.id for job in jobs] == [job.id for job in sample_jobs]


class _TricklingServer:
    """A loopback HTTP server that answers every request with its status line, one byte every
    0.2 s, and never gets to the body (used as `with _TricklingServer() as url`)."""

    def __enter__(self) -> str:
        class Trickle(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                self.request.recv(65536)
                for byte in b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n" * 4:
                    try:
                        self.request.sendall(bytes([byte]))
                    except OSError:
                        return  # the client gave up, as it should
                    time.sleep(0.2)

        self._server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Trickle)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
