"""`AdapterFixtures`: the fixtures of the adapter conformance suite, those an author provides
(marked REQUIRED where there is no default) and those the suite builds from them. docs/plugins.md
describes each one; `AdapterConformance` and `EmulatorConformance` use them."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any

import pytest

from jobhub.backend import Adapter, Capability
from jobhub.hub import Hub
from jobhub.model import Job, JobState
from jobhub.testing import checks
from jobhub.testing.checks import (
    SECRET,
    ErrorCase,
    Sample,
)
from jobhub.testing.mock import MockBackend

__all__ = ["AdapterFixtures"]


class AdapterFixtures:
    """What the conformance tests stand on. Required fixtures: `adapter_class`,
    `backend_settings`, `samples`, `status_words`, `job_with_status`, `list_body`."""

    @pytest.fixture(autouse=True)
    def _checked_models(self) -> Iterator[None]:
        """Every Job and Task the adapter builds with `trusted(...)` is validated too."""
        from jobhub.model import check_models

        was = check_models(True)
        yield
        check_models(was)

    # -- fixtures an author provides --------------------------------------------------------

    @pytest.fixture
    def adapter_class(self) -> type[Adapter]:
        """REQUIRED: the adapter class under test."""
        pytest.fail("provide an `adapter_class` fixture returning the adapter class")

    @pytest.fixture
    def backend_settings(self, secret: str) -> dict[str, Any]:
        """REQUIRED: one backend's settings (without `type`), every credential set to
        `secret`, and a `url` (any host: nothing is sent over a network)."""
        pytest.fail("provide a `backend_settings` fixture (credentials set to `secret`)")

    @pytest.fixture
    def samples(self) -> list[Sample]:
        """REQUIRED: job payloads as the backend's get answers them, with expected fields.
        The first one is the job the other checks get, list and cancel."""
        pytest.fail("provide a `samples` fixture: a list of jobhub.testing.Sample")

    @pytest.fixture
    def status_words(self) -> Mapping[str, JobState]:
        """REQUIRED: every native status word the backend documents → its canonical state."""
        pytest.fail("provide a `status_words` fixture: {native word: JobState}")

    @pytest.fixture
    def job_with_status(self) -> Callable[[str], Any]:
        """REQUIRED: a job payload carrying the given native status word."""
        pytest.fail("provide a `job_with_status` fixture: word -> job payload")

    @pytest.fixture
    def list_body(self) -> Callable[[list[Any]], Any]:
        """REQUIRED: the body of a one-page listing answer holding these job payloads."""
        pytest.fail("provide a `list_body` fixture: [payload] -> listing body")

    @pytest.fixture
    def list_options(self) -> dict[str, Any]:
        """Keyword arguments for the listing the checks make (`workflow=...` where a listing
        without one walks several endpoints). Default: none."""
        return {}

    @pytest.fixture
    def state_of(self) -> Callable[[Job], tuple[JobState, str | None]]:
        """Where `job_with_status`'s word shows in the job: `(state, status)`. Default: the
        job's own; a backend whose words are task statuses points at a task."""
        return lambda job: (job.state, job.status)

    @pytest.fixture
    def error_body(self) -> Callable[[int, str], Any]:
        """An error body in the backend's format saying `message` (JSON, or a str for text).
        Default: `{"detail": message}`."""
        return lambda status, message: {"detail": message}

    @pytest.fixture
    def error_cases(self) -> list[ErrorCase]:
        """The backend's own error answers beyond the common statuses (e.g. a 400 on cancel
        that means the job has already ended → `JobAlreadyFinished`)."""
        return []

    @pytest.fixture
    def cancel_body(self) -> Any:
        """The body of a successful cancel answer. Default: `{}`."""
        return {}

    @pytest.fixture
    def refresh_body(self, list_body: Callable[[list[Any]], Any]) -> Callable[[list[Any]], Any]:
        """The body of a batch-refresh answer (`Capability.BATCH_REFRESH`). Default: as list."""
        return list_body

    @pytest.fixture
    def id_template(self) -> Callable[[str], str]:
        """A job id built around a part the checks choose (for the id-escaping checks);
        structured ids (`workflow/job`) put the part where a user's id goes."""
        return lambda part: part

    @pytest.fixture
    def routes(self) -> Mapping[tuple[str, str], Any]:
        """More answers the mock backend gives: `{(method, url): JSON body}`."""
        return {}

    @pytest.fixture
    def plugin(self) -> object | None:
        """The plugin object (module) whose hook registers the adapter; None: the checks
        register `adapter_class` directly."""
        return None

    # -- fixtures the suite provides --------------------------------------------------------

    @pytest.fixture
    def secret(self) -> str:
        """The sentinel every credential is set to; it must never show up anywhere."""
        return SECRET

    @pytest.fixture
    def adapter(self, adapter_class: type[Adapter], backend_settings: Mapping[str, Any]) -> Adapter:
        return checks.make_adapter(adapter_class, backend_settings)

    @pytest.fixture
    def sample_jobs(self, adapter: Adapter, samples: list[Sample]) -> list[Job]:
        assert samples, "`samples` is empty: give at least one job payload"
        return [adapter.normalize(sample.payload) for sample in samples]

    @pytest.fixture
    def job_id(self, sample_jobs: list[Job]) -> str:
        """The id of the first sample: the job the checks get, list and cancel."""
        return sample_jobs[0].id

    @pytest.fixture
    def backend(
        self,
        adapter: Adapter,
        samples: list[Sample],
        job_id: str,
        list_body: Callable[[list[Any]], Any],
        list_options: dict[str, Any],
        cancel_body: Any,
        routes: Mapping[tuple[str, str], Any],
    ) -> MockBackend:
        """A mock backend answering get (the first sample), list (every sample), cancel and
        the `routes`."""
        backend = MockBackend()
        backend.answer(adapter.get_job(job_id).request, samples[0].payload)
        listing = adapter.list_jobs(**list_options).request
        backend.answer(listing, list_body([s.payload for s in samples]))
        if Capability.CANCEL in adapter.capabilities:
            backend.answer(adapter.cancel_job(job_id).request, cancel_body)
        for (method, url), body in routes.items():
            backend.answer_url(method, url, body)
        return backend

    @pytest.fixture
    def hub(
        self,
        adapter_class: type[Adapter],
        backend_settings: Mapping[str, Any],
        backend: MockBackend,
        plugin: object | None,
    ) -> Iterator[Hub]:
        with checks.make_hub(adapter_class, backend_settings, backend, plugin) as hub:
            yield hub
