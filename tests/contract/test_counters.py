"""Counters contract (mailroom.ports): the fake and the sharded DynamoDB counters alike."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from mailroom.counting import CountedEvent, Outcome, Traffic, no_totals

HOUR = datetime(2026, 11, 22, 18, 0, tzinfo=UTC)


def counted(outcome: Outcome = Outcome.SEND, *, hour: datetime = HOUR,
            traffic: Traffic = Traffic.REAL, reason: str | None = None,
            domain: str = "example.com") -> CountedEvent:
    return CountedEvent(hour=hour, traffic=traffic, outcome=outcome, reason=reason,
                        domain=domain)


def totals_of(**counts: int) -> dict[Outcome, int]:
    return no_totals() | {Outcome(name): count for name, count in counts.items()}


@pytest.mark.parametrize("outcome", list(Outcome), ids=str)
def test_each_outcome_is_counted_under_its_own_name(counters, outcome):
    counters.add(counted(outcome))

    assert counters.totals(Traffic.REAL, HOUR, HOUR) == totals_of(**{outcome.value: 1})


def test_adds_accumulate_whichever_shard_each_one_lands_on(counters):
    # Given 40 sends in one hour (each written to a shard picked at random)
    for _ in range(40):
        counters.add(counted(Outcome.SEND))
    counters.add(counted(Outcome.HARD_BOUNCE, reason="mailbox_does_not_exist"))

    # Then reads sum them all
    assert counters.totals(Traffic.REAL, HOUR, HOUR) == totals_of(send=40, hard_bounce=1)
    breakdown = counters.breakdown(HOUR, HOUR)[Traffic.REAL]
    assert breakdown.totals == totals_of(send=40, hard_bounce=1)
    assert breakdown.by_domain == {"example.com": totals_of(send=40, hard_bounce=1)}


def test_events_added_together_count_as_if_added_one_by_one(counters):
    # Given a batch's events: outcomes sharing counters, another domain, a failure reason,
    # another hour and another traffic class
    batch = [counted(Outcome.SEND), counted(Outcome.SEND), counted(Outcome.DELIVERY),
             counted(Outcome.SEND, domain="example.org"),
             counted(Outcome.HARD_BOUNCE, reason="mailbox_does_not_exist"),
             counted(Outcome.SEND, hour=HOUR + timedelta(hours=1)),
             counted(Outcome.SEND, traffic=Traffic.SIMULATOR)]

    # When they are added together
    counters.add_many(batch)

    # Then every read sums them as separate adds would
    assert counters.totals(Traffic.REAL, HOUR, HOUR) == totals_of(send=3, delivery=1,
                                                                   hard_bounce=1)
    assert counters.totals(Traffic.REAL, HOUR + timedelta(hours=1),
                           HOUR + timedelta(hours=1)) == totals_of(send=1)
    assert counters.totals(Traffic.SIMULATOR, HOUR, HOUR) == totals_of(send=1)
    breakdown = counters.breakdown(HOUR, HOUR)[Traffic.REAL]
    assert breakdown.by_domain == {"example.com": totals_of(send=2, delivery=1, hard_bounce=1),
                                   "example.org": totals_of(send=1)}
    assert breakdown.by_reason == {"mailbox_does_not_exist": totals_of(hard_bounce=1)}


def test_adding_nothing_writes_nothing(counters):
    counters.add_many([])

    assert counters.totals(Traffic.REAL, HOUR, HOUR) == no_totals()


def test_a_range_includes_the_hours_of_both_ends(counters):
    # Given sends before, at both ends of, inside and after a range
    for at in (HOUR - timedelta(minutes=1), HOUR, HOUR + timedelta(minutes=59),
               HOUR + timedelta(hours=2), HOUR + timedelta(hours=3)):
        counters.add(counted(hour=at.replace(minute=0)))

    # When read from 18:45 to 20:05, Then the hours 18, 19 and 20 count, 17 and 21 do not
    first, last = HOUR + timedelta(minutes=45), HOUR + timedelta(hours=2, minutes=5)
    assert counters.totals(Traffic.REAL, first, last)[Outcome.SEND] == 3
    assert counters.breakdown(first, last)[Traffic.REAL].totals[Outcome.SEND] == 3


def test_a_day_long_window_crosses_midnight(counters):
    day_before = HOUR - timedelta(hours=23)
    counters.add(counted(hour=day_before))
    counters.add(counted(hour=HOUR))

    assert counters.totals(Traffic.REAL, day_before, HOUR)[Outcome.SEND] == 2
    assert counters.totals(Traffic.REAL, day_before + timedelta(hours=1), HOUR)[
        Outcome.SEND] == 1


def test_traffic_classes_are_kept_apart(counters):
    counters.add(counted(Outcome.SEND, traffic=Traffic.REAL))
    counters.add(counted(Outcome.HARD_BOUNCE, traffic=Traffic.SIMULATOR,
                         domain="simulator.amazonses.com", reason="mailbox_does_not_exist"))
    counters.add(counted(Outcome.COMPLAINT, traffic=Traffic.CANARY, reason="complaint"))
    counters.add(counted(Outcome.COMPLAINT, traffic=Traffic.CANARY, reason="complaint"))

    assert counters.totals(Traffic.REAL, HOUR, HOUR) == totals_of(send=1)
    assert counters.totals(Traffic.SIMULATOR, HOUR, HOUR) == totals_of(hard_bounce=1)
    assert counters.totals(Traffic.CANARY, HOUR, HOUR) == totals_of(complaint=2)
    breakdowns = counters.breakdown(HOUR, HOUR)
    assert breakdowns[Traffic.REAL].by_reason == {}
    assert breakdowns[Traffic.SIMULATOR].by_domain == {
        "simulator.amazonses.com": totals_of(hard_bounce=1)}
    assert breakdowns[Traffic.CANARY].by_reason == {"complaint": totals_of(complaint=2)}


def test_the_breakdown_is_by_outcome_failure_reason_and_recipient_domain(counters):
    counters.add(counted(Outcome.SEND, domain="gmail.com"))
    counters.add(counted(Outcome.SEND, domain="gmail.com"))
    counters.add(counted(Outcome.SEND, domain="example.org"))
    counters.add(counted(Outcome.DELIVERY, domain="gmail.com"))
    counters.add(counted(Outcome.HARD_BOUNCE, domain="gmail.com",
                         reason="mailbox_does_not_exist"))
    counters.add(counted(Outcome.SOFT_BOUNCE, domain="example.org", reason="mailbox_full",
                         hour=HOUR + timedelta(hours=1)))

    breakdown = counters.breakdown(HOUR, HOUR + timedelta(hours=1))[Traffic.REAL]

    assert breakdown.totals == totals_of(send=3, delivery=1, hard_bounce=1, soft_bounce=1)
    assert breakdown.by_domain == {
        "gmail.com": totals_of(send=2, delivery=1, hard_bounce=1),
        "example.org": totals_of(send=1, soft_bounce=1),
    }
    assert breakdown.by_reason == {
        "mailbox_does_not_exist": totals_of(hard_bounce=1),
        "mailbox_full": totals_of(soft_bounce=1),
    }


def test_hours_with_nothing_read_as_zero(counters):
    counters.add(counted(hour=HOUR - timedelta(days=2)))

    assert counters.totals(Traffic.REAL, HOUR - timedelta(hours=23), HOUR) == no_totals()
    breakdowns = counters.breakdown(HOUR - timedelta(hours=23), HOUR)
    assert set(breakdowns) == set(Traffic)
    for breakdown in breakdowns.values():
        assert (breakdown.totals, breakdown.by_reason, breakdown.by_domain) == (
            no_totals(), {}, {})
