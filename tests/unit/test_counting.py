"""Which counters each SES event adds to, and the rates SES's review reads from them
(mailroom.counting)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from mailroom.counting import (
    CountedEvent,
    Outcome,
    PendingCounts,
    Traffic,
    counted_event,
    hour_of,
    hours_between,
    no_totals,
    rates,
)
from mailroom.models import CANARY_TAG
from mailroom.ses_events import SesEvent, parse_ses_notification
from tests.fakes import FakeCounters

EVENTS = Path(__file__).resolve().parents[2] / "events" / "ses"


def sample(name: str) -> dict[str, Any]:
    return json.loads((EVENTS / f"{name}.json").read_text())


def event(name: str, to: str = "ada@example.com", **changes: Any) -> SesEvent:
    """The sample's first event, as if sent to `to` (most samples mail the simulator)."""
    parsed = parse_ses_notification(sample(name))[0]
    return parsed.model_copy(update={"recipient": to, "is_simulator": False, **changes})


@pytest.mark.parametrize(
    ("name", "outcome"),
    [
        ("send", Outcome.SEND),
        ("delivery", Outcome.DELIVERY),
        ("bounce-permanent-general", Outcome.HARD_BOUNCE),
        ("bounce-permanent-noemail", Outcome.HARD_BOUNCE),
        ("bounce-transient-general", Outcome.SOFT_BOUNCE),
        ("bounce-transient-mailboxfull", Outcome.SOFT_BOUNCE),
        ("bounce-transient-messagetoolarge", Outcome.SOFT_BOUNCE),
        ("bounce-undetermined", Outcome.SOFT_BOUNCE),
        ("complaint-abuse", Outcome.COMPLAINT),
        ("complaint-no-feedback-type", Outcome.COMPLAINT),
        ("reject", Outcome.REJECT),
        ("rendering-failure", Outcome.RENDER_FAILURE),
        ("delivery-delay", None),
        ("open", None),
        ("click", None),
        ("subscription", None),
    ],
)
def test_each_ses_event_kind_adds_to_its_outcome_or_to_nothing(name, outcome):
    counted = counted_event(event(name))

    assert (counted.outcome if counted else None) == outcome


def test_a_recipient_still_retried_inside_a_permanent_bounce_counts_as_a_soft_bounce():
    retried = event("bounce-permanent-general", dsn_action="delayed")

    counted = counted_event(retried)

    assert counted is not None and counted.outcome is Outcome.SOFT_BOUNCE


def test_a_not_spam_complaint_counts_nothing():
    assert counted_event(event("complaint-not-spam")) is None


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("bounce-permanent-general", "mailbox_does_not_exist"),
        ("bounce-transient-mailboxfull", "mailbox_full"),
        ("complaint-abuse", "complaint"),
        ("reject", "rejected"),
        ("rendering-failure", "rendering_failed"),
        ("send", None),
        ("delivery", None),
    ],
)
def test_the_failure_reason_is_recorded_for_failures_only(name, reason):
    counted = counted_event(event(name))

    assert counted is not None and counted.reason == reason


def test_the_recipient_domain_and_the_hour_of_the_event_are_recorded():
    late = datetime(2026, 11, 22, 18, 59, 59, 999999, tzinfo=UTC)

    counted = counted_event(event("delivery", to="li@xn--mnchen-3ya.example", occurred_at=late))

    assert counted is not None
    assert counted.domain == "xn--mnchen-3ya.example"
    assert counted.hour == datetime(2026, 11, 22, 18, 0, tzinfo=UTC)
    assert counted.traffic is Traffic.REAL


def test_mail_to_the_mailbox_simulator_is_its_own_traffic():
    [bounce] = parse_ses_notification(sample("bounce-permanent-general"))

    counted = counted_event(bounce)

    assert counted is not None and counted.traffic is Traffic.SIMULATOR
    assert counted.domain == "simulator.amazonses.com"


@pytest.mark.parametrize("simulator", [False, True], ids=["real-address", "simulator"])
def test_canary_mail_is_its_own_traffic_whatever_its_address(simulator):
    canary = event("delivery", is_simulator=simulator, tags={CANARY_TAG: ["1"]})

    counted = counted_event(canary)

    assert counted is not None and counted.traffic is Traffic.CANARY


def test_rates_are_hard_bounces_and_complaints_over_sends():
    totals = no_totals() | {Outcome.SEND: 400, Outcome.HARD_BOUNCE: 8,
                            Outcome.SOFT_BOUNCE: 30, Outcome.COMPLAINT: 1}

    figures = rates(totals)

    assert (figures.sends, figures.bounce_rate, figures.complaint_rate) == (400, 0.02, 0.0025)


def test_rates_without_sends_are_zero():
    figures = rates(no_totals() | {Outcome.HARD_BOUNCE: 3})

    assert (figures.sends, figures.bounce_rate, figures.complaint_rate) == (0, 0.0, 0.0)


def test_hours_run_from_the_first_ones_to_the_last_ones_both_included():
    first = datetime(2026, 11, 22, 23, 30, tzinfo=UTC)
    last = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)

    assert [hour.hour for hour in hours_between(first, last)] == [23, 0, 1]
    assert list(hours_between(last, first)) == []
    assert hour_of(first) == datetime(2026, 11, 22, 23, 0, tzinfo=UTC)


class RecordingCounters(FakeCounters):
    def __init__(self) -> None:
        super().__init__()
        self.writes: list[list[CountedEvent]] = []

    def add_many(self, counted: Iterable[CountedEvent]) -> None:
        batch = list(counted)
        self.writes.append(batch)
        super().add_many(batch)


def test_a_batchs_counts_wait_and_are_written_together():
    # Given the counts of a batch's records, gathered while they are applied
    counters = RecordingCounters()
    pending = PendingCounts(counters)
    hour = datetime(2026, 11, 22, 18, tzinfo=UTC)
    for outcome in (Outcome.SEND, Outcome.SEND, Outcome.DELIVERY):
        pending.add(CountedEvent(hour=hour, traffic=Traffic.REAL, outcome=outcome,
                                 reason=None, domain="example.com"))

    # Then nothing is written until the batch ends, and reads do not see them yet
    assert counters.writes == []
    assert pending.totals(Traffic.REAL, hour, hour)[Outcome.SEND] == 0

    # When it ends, Then all of them go in one add_many, once
    assert pending.flush() == 3
    assert pending.flush() == 0
    assert [len(batch) for batch in counters.writes] == [3]
    assert counters.totals(Traffic.REAL, hour, hour) == no_totals() | {
        Outcome.SEND: 2, Outcome.DELIVERY: 1}
