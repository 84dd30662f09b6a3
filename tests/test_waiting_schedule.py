"""`Backoff` and `Deadline`: when the next poll comes and how long a call may take."""

from __future__ import annotations

import random

import pytest

from jobhub.errors import InvalidArgument
from jobhub.waiting import Backoff, Deadline
from jobhub.waiting.schedule import SHARED_GROWTH


def test_the_first_pause_is_at_most_the_base() -> None:
    pauses = [Backoff(1.0, 30.0, rng=random.Random(seed)).next() for seed in range(200)]
    assert min(pauses) >= 0.5 and max(pauses) <= 1.0


def test_pauses_grow_and_stay_within_half_to_full_step() -> None:
    backoff = Backoff(1.0, 30.0, rng=random.Random(7))
    steps = [1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0, 30.0]
    for step in steps:
        pause = backoff.next()
        assert step / 2 <= pause <= step


def test_pauses_never_exceed_the_cap_however_long_nothing_changes() -> None:
    backoff = Backoff(0.5, 4.0, rng=random.Random(1))
    assert max(backoff.next() for _ in range(1000)) <= 4.0


def test_reset_starts_over_from_the_base() -> None:
    backoff = Backoff(1.0, 30.0, rng=random.Random(3))
    for _ in range(6):
        backoff.next()
    assert backoff.reset() <= 1.0


def test_pauses_are_jittered() -> None:
    rng = random.Random(11)
    assert len({round(Backoff(1.0, 30.0, rng=rng).next(), 6) for _ in range(20)}) > 10


def test_a_cap_below_the_base_is_raised_to_it() -> None:
    backoff = Backoff(2.0, 1.0, rng=random.Random(0))
    assert all(1.0 <= backoff.next() <= 2.0 for _ in range(10))


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_one_deadline_is_shared_by_everything_that_draws_on_it() -> None:
    clock = FakeClock()
    deadline = Deadline(10, clock=clock)
    clock.now += 4  # the first job took 4 s
    assert deadline.remaining() == 6
    clock.now += 4  # the second job took 4 s more: the budget is not renewed
    assert deadline.remaining() == 2
    assert deadline.cap(5.0) == 2


def test_an_expired_deadline_has_nothing_left_and_never_goes_negative() -> None:
    clock = FakeClock()
    deadline = Deadline(1, clock=clock)
    clock.now += 5
    assert (deadline.expired, deadline.remaining()) == (True, 0.0)


def test_no_timeout_never_expires() -> None:
    deadline = Deadline(None)
    assert (deadline.remaining(), deadline.expired, deadline.cap(3.0)) == (None, False, 3.0)


@pytest.mark.parametrize("timeout", [-1, float("nan"), "60", True])
def test_a_bad_timeout_is_an_invalid_argument(timeout: object) -> None:
    with pytest.raises(InvalidArgument, match="timeout"):
        Deadline(timeout)  # type: ignore[arg-type]


def test_a_shared_poll_grows_its_pause_more_slowly() -> None:
    one_job = Backoff(1.0, 30.0, rng=random.Random(5))
    shared = Backoff(1.0, 30.0, growth=SHARED_GROWTH, rng=random.Random(5))
    for _ in range(4):
        one_job.next()
        shared.next()
    assert shared.step() == pytest.approx(SHARED_GROWTH**4)
    assert shared.step() < one_job.step() == 16.0
