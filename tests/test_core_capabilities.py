"""An adapter's capabilities follow from the methods it overrides: nothing to declare, nothing
to keep in step."""

from __future__ import annotations

import pytest

from jobhub.backend import Call, Capability
from jobhub.model import Job
from jobhub.plugins import get_registry
from tests.fakes import FakeAdapter


class Plain(FakeAdapter):
    """FakeAdapter offers cancel; this one adds a long-poll."""

    def await_job(self, job_id: str, *, offset: int = 0) -> Call[Job]:
        request = self.request("GET", "jobs", job_id, "await")
        return Call(request, lambda response: self.normalize(self.json(response)), retry=False)


def test_capabilities_are_the_methods_an_adapter_overrides() -> None:
    assert FakeAdapter.capabilities == {Capability.CANCEL}
    assert Plain.capabilities == {Capability.CANCEL, Capability.LONG_POLL}


def test_the_built_in_adapters_offer_what_their_apis_do() -> None:
    adapters = get_registry().adapters
    assert adapters["sieve"].capabilities == {Capability.CANCEL, Capability.LONG_POLL}
    assert adapters["prunner"].capabilities == {Capability.CANCEL, Capability.BATCH_REFRESH}
    assert adapters["wes"].capabilities == {Capability.CANCEL}
    assert adapters["pixxel"].capabilities == frozenset()  # Pixxel's API has no cancel


def test_a_declaration_that_agrees_with_the_methods_is_accepted() -> None:
    class Agreeing(Plain):
        capabilities = frozenset({Capability.CANCEL, Capability.LONG_POLL})

    assert Agreeing.capabilities == {Capability.CANCEL, Capability.LONG_POLL}


def test_a_declaration_that_disagrees_with_the_methods_is_refused() -> None:
    with pytest.raises(TypeError, match=r"declares capabilities \['batch_refresh'\]"):

        class Boasting(FakeAdapter):
            capabilities = frozenset({Capability.BATCH_REFRESH})


def test_each_capability_names_its_method() -> None:
    assert [c.method for c in Capability] == ["cancel_job", "await_job", "refresh_jobs"]
