"""One way to say what went wrong (`describe`), and one way for an adapter to read a body with a
pydantic model (`Adapter.validate`)."""

from __future__ import annotations

import pytest
from pydantic import BaseModel, ValidationError

from jobhub.errors import InvalidPayload
from jobhub.problems import describe
from tests.conftest import SECRET
from tests.fakes import FakeAdapter


class Item(BaseModel):
    id: str
    size: int


class Listing(BaseModel):
    items: list[Item]


def refused(data: object) -> ValidationError:
    with pytest.raises(ValidationError) as caught:
        Listing.model_validate(data)
    return caught.value


def adapter() -> FakeAdapter:
    return FakeAdapter("f", FakeAdapter.settings_from("f", {"api_key": SECRET}, {}))


def test_an_exception_is_described_by_its_type_and_message() -> None:
    assert describe(RuntimeError("cannot start")) == "RuntimeError: cannot start"


def test_a_validation_error_is_described_by_its_first_problem_and_how_many_follow() -> None:
    exc = refused({"items": [{"id": 7, "size": "big"}]})
    assert describe(exc) == "items.0.id: Input should be a valid string (and 1 more)"


def test_a_validation_error_with_one_problem_names_only_it() -> None:
    assert describe(refused({})) == "items: Field required"


def test_a_problem_of_the_whole_body_has_no_location() -> None:
    assert describe(refused([1])) == "Input should be a valid dictionary or instance of Listing"


def test_validate_gives_the_model() -> None:
    body = {"items": [{"id": "a", "size": 1}]}
    assert adapter().validate(Listing, body, what="list") == Listing(items=[Item(id="a", size=1)])


def test_validate_refuses_with_what_and_the_first_problem_keeping_the_body() -> None:
    body = {"items": [{"id": "a"}]}
    with pytest.raises(InvalidPayload) as caught:
        adapter().validate(Listing, body, what="job list does not match Fake's")
    message = str(caught.value)
    assert message.startswith(
        "fake backend 'f': job list does not match Fake's: items.0.size: Field required"
    )
    assert caught.value.raw is body and caught.value.backend == "f"
