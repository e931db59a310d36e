"""Sending statistics over a window (mailroom.stats), on the fake counters: the window a
`since` means, the per-day split, exclusive outcomes, rates and the top lists."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from mailroom.counting import CountedEvent, Outcome, Traffic
from mailroom.diagnosis import ACTIONS
from mailroom.errors import RequestValidationError
from mailroom.reputation import SES_REVIEW, ReputationPolicy, Thresholds
from mailroom.stats import MAX_DAYS, TOP, TrafficChoice, days_between, stats, window_start
from tests.fakes import FakeCounters

NOW = datetime(2026, 12, 1, 12, 30, tzinfo=UTC)
POLICY = ReputationPolicy(window=timedelta(hours=24),
                          warn=Thresholds(0.02, 0.0005, 100),
                          pause=Thresholds(0.04, 0.0008, 500))


def count(counters: FakeCounters, outcome: Outcome, n: int = 1, *, days_ago: int = 0,
          reason: str | None = None, domain: str = "example.com",
          traffic: Traffic = Traffic.REAL) -> None:
    hour = (NOW - timedelta(days=days_ago)).replace(minute=0, second=0, microsecond=0)
    for _ in range(n):
        counters.add(CountedEvent(hour, traffic, outcome, reason, domain))


# --- the window ----------------------------------------------------------------------------
@pytest.mark.parametrize(("since", "first"), [
    ("24h", datetime(2026, 11, 30, 13, tzinfo=UTC)),  # this hour and the 23 before it
    ("1h", datetime(2026, 12, 1, 12, tzinfo=UTC)),
    ("1d", datetime(2026, 12, 1, tzinfo=UTC)),  # today, from midnight
    ("7d", datetime(2026, 11, 25, tzinfo=UTC)),  # today and the 6 days before
    (f"{MAX_DAYS}d", datetime(2026, 11, 1, tzinfo=UTC)),
    ("2026-11-24", datetime(2026, 11, 24, tzinfo=UTC)),
    ("2026-12-01", datetime(2026, 12, 1, tzinfo=UTC)),
])
def test_since_names_the_first_hour_counted(since, first):
    assert window_start(since, NOW) == first


@pytest.mark.parametrize(("since", "problem"), [
    ("0h", "at least"), ("0d", "at least"), (f"{MAX_DAYS + 1}d", "at most"),
    (f"{MAX_DAYS * 24 + 1}h", "at most"), ("2026-12-02", "future"),
    ("2026-10-31", "within"), ("2026-02-30", "like"), ("week", "like"), ("7w", "like"),
])
def test_a_window_out_of_bounds_or_malformed_is_refused_for_the_since_field(since, problem):
    with pytest.raises(RequestValidationError) as refused:
        window_start(since, NOW)

    assert refused.value.http_status == 422
    [detail] = refused.value.details
    assert detail["field"] == "since" and problem in detail["problem"]


def test_a_window_splits_at_utc_midnight_inside_its_ends():
    first, last = datetime(2026, 11, 30, 13, tzinfo=UTC), NOW

    assert days_between(first, last) == [
        (date(2026, 11, 30), first, datetime(2026, 11, 30, 23, tzinfo=UTC)),
        (date(2026, 12, 1), datetime(2026, 12, 1, tzinfo=UTC),
         datetime(2026, 12, 1, 12, tzinfo=UTC))]


# --- the figures ---------------------------------------------------------------------------
def test_each_day_has_its_own_outcomes_and_the_totals_sum_them():
    counters = FakeCounters()
    count(counters, Outcome.SEND, 10, days_ago=2)
    count(counters, Outcome.DELIVERY, 9, days_ago=2)
    count(counters, Outcome.SEND, 4)
    count(counters, Outcome.HARD_BOUNCE, reason="mailbox_does_not_exist")
    count(counters, Outcome.SOFT_BOUNCE, reason="mailbox_full")
    count(counters, Outcome.SEND, 7, days_ago=9)  # before the window

    figures = stats(counters, POLICY, "7d", NOW)

    assert [day.day for day in figures.days] == [date(2026, 11, 25) + timedelta(days=n)
                                                 for n in range(7)]
    by_day = {day.day: day for day in figures.days}
    assert (by_day[date(2026, 11, 29)].sent, by_day[date(2026, 11, 29)].delivered) == (10, 9)
    assert (by_day[date(2026, 12, 1)].sent, by_day[date(2026, 12, 1)].bounced) == (4, 2)
    assert by_day[date(2026, 12, 1)].failures_by_reason == {"mailbox_does_not_exist": 1,
                                                            "mailbox_full": 1}
    assert (figures.totals.sent, figures.totals.delivered, figures.totals.bounced) == (14, 9, 2)


def test_suppression_list_refusals_are_suppressed_not_bounced_or_complained():
    counters = FakeCounters()
    count(counters, Outcome.SEND, 4)
    count(counters, Outcome.HARD_BOUNCE, 2, reason="recipient_suppressed")
    count(counters, Outcome.COMPLAINT, reason="recipient_suppressed")
    count(counters, Outcome.HARD_BOUNCE, reason="mailbox_does_not_exist")
    count(counters, Outcome.REJECT, reason="rejected")
    count(counters, Outcome.RENDER_FAILURE, reason="rendering_failed")

    totals = stats(counters, POLICY, "24h", NOW).totals

    assert (totals.bounced, totals.complained, totals.suppressed, totals.failed) == (1, 0, 3, 2)


def test_rates_are_ses_s_and_read_against_the_guard_s_and_ses_s_thresholds():
    counters = FakeCounters()
    count(counters, Outcome.SEND, 200)
    count(counters, Outcome.DELIVERY, 190)
    count(counters, Outcome.HARD_BOUNCE, 8, reason="mailbox_does_not_exist")
    count(counters, Outcome.HARD_BOUNCE, 2, reason="recipient_suppressed")
    count(counters, Outcome.SOFT_BOUNCE, 4, reason="mailbox_full")  # SES's rate: hard only
    count(counters, Outcome.COMPLAINT, reason="complaint")

    figures = stats(counters, POLICY, "24h", NOW)

    assert figures.rates.bounce_rate == pytest.approx(10 / 200)
    assert figures.rates.complaint_rate == pytest.approx(1 / 200)
    assert figures.rates.delivery_rate == pytest.approx(190 / 200)
    assert figures.rates.suppression_rate == pytest.approx(2 / 200)
    assert figures.thresholds["pause"].bounce_rate == POLICY.pause.bounce_rate
    assert figures.thresholds["warn"].min_sends == POLICY.warn.min_sends
    assert figures.thresholds["ses_review"].bounce_rate == SES_REVIEW.bounce_rate


def test_without_sends_every_rate_is_zero():
    figures = stats(FakeCounters(), POLICY, "24h", NOW)

    assert set(figures.rates.model_dump().values()) == {0.0}
    assert figures.reasons == [] and figures.domains == []


def test_reasons_come_commonest_first_each_with_its_recommended_action():
    counters = FakeCounters()
    count(counters, Outcome.HARD_BOUNCE, 3, reason="mailbox_does_not_exist")
    count(counters, Outcome.SOFT_BOUNCE, 5, reason="mailbox_full")
    count(counters, Outcome.COMPLAINT, 3, reason="complaint")

    reasons = stats(counters, POLICY, "24h", NOW).reasons

    assert [(r.reason, r.count) for r in reasons] == [
        ("mailbox_full", 5), ("complaint", 3), ("mailbox_does_not_exist", 3)]  # ties by name
    assert [r.action for r in reasons] == [ACTIONS[r.reason] for r in reasons]


def test_top_lists_are_bounded_and_domains_rank_by_failures_not_volume():
    counters = FakeCounters()
    count(counters, Outcome.SEND, 1000, domain="big.example")
    count(counters, Outcome.SEND, 10, domain="typo.example")
    count(counters, Outcome.HARD_BOUNCE, 5, reason="domain_does_not_exist",
          domain="typo.example")
    count(counters, Outcome.HARD_BOUNCE, 1, reason="mailbox_does_not_exist",
          domain="big.example")
    for n in range(TOP + 3):
        count(counters, Outcome.COMPLAINT, reason="complaint", domain=f"d{n:02}.example")

    domains = stats(counters, POLICY, "24h", NOW).domains

    assert len(domains) == TOP
    assert (domains[0].domain, domains[0].failures, domains[0].failure_rate) == (
        "typo.example", 5, 0.5)
    assert domains[1].domain == "big.example"
    assert all(d.failures for d in domains)


def test_a_traffic_class_is_reported_alone_and_the_others_sends_are_named():
    counters = FakeCounters()
    count(counters, Outcome.SEND, 3)
    count(counters, Outcome.SEND, 5, traffic=Traffic.SIMULATOR)
    count(counters, Outcome.SEND, 2, traffic=Traffic.CANARY)

    real = stats(counters, POLICY, "24h", NOW)
    everything = stats(counters, POLICY, "24h", NOW, TrafficChoice.ALL)

    assert (real.totals.sent, real.other_traffic_sent) == (3, {"simulator": 5, "canary": 2})
    assert (everything.totals.sent, everything.other_traffic_sent) == (10, {})
