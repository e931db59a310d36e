"""Pacing under the SES send rate, and retry backoff."""

from __future__ import annotations

import pytest

from mailroom.pacing import SendPacer, retry_delay


class FakeTime:
    def __init__(self) -> None:
        self.now = 100.0
        self.slept: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)


def test_calls_are_spaced_one_over_the_rate_apart():
    time = FakeTime()
    pacer = SendPacer(4, clock=time.clock, sleep=time.sleep)

    for _ in range(4):
        pacer.acquire()

    assert time.slept == pytest.approx([0.25, 0.5, 0.75])


def test_throttling_slows_by_a_quarter_and_success_recovers_it_gradually():
    pacer = SendPacer(14)

    pacer.throttled()
    assert pacer.rate == pytest.approx(10.5)
    pacer.succeeded()
    assert 10.5 < pacer.rate < 14
    for _ in range(50):
        pacer.succeeded()
    assert pacer.rate == 14


def test_repeated_throttling_never_stops_sending_altogether():
    pacer = SendPacer(16)
    for _ in range(30):
        pacer.throttled()
    assert pacer.rate == 1


def test_retry_delay_grows_exponentially_and_is_capped():
    ceilings = [retry_delay(attempt, base=30, rand=lambda: 0.999) for attempt in (1, 2, 3, 4, 20)]

    assert ceilings == [29, 59, 119, 239, 899]


def test_a_send_slot_further_away_than_the_time_left_is_not_taken():
    time = FakeTime()
    pacer = SendPacer(1, clock=time.clock, sleep=time.sleep)
    pacer.acquire()

    assert pacer.acquire(max_wait=0.5) is False
    assert pacer.acquire(max_wait=1.0) is True
    assert time.slept == [1.0]


def test_retry_delay_is_jittered_but_never_zero():
    assert retry_delay(3, rand=lambda: 0.0) == 1
