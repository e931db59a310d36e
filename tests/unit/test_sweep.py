"""The sweep: mail SES took with no outcome after the settled window turns `unconfirmed`,
once, apps are told, and a later event still moves it on."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from mailroom.models import Message, NotificationType, Status, TimelineEvent
from mailroom.sweep import Sweep
from tests.fakes import FakeMessageStore, FakePublisher

NOW = datetime(2026, 12, 2, 9, 15, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def sweep() -> Sweep:
    return Sweep(FakeMessageStore(), FakePublisher(), clock=Clock())


def sent(sweep: Sweep, message_id: str, hours_ago: float) -> None:
    at = NOW - timedelta(hours=hours_ago)
    sweep.messages.create(Message(id=message_id, status=Status.QUEUED, to="ada@example.com",
                                  from_address="no-reply@mail.example.com", template="welcome",
                                  tags={"campaign": "onboarding"}, created_at=at,
                                  updated_at=at))
    sweep.messages.record_sent(message_id, f"ses-{message_id}", at)


def test_only_mail_past_the_settled_window_is_marked(sweep):
    sent(sweep, "old", hours_ago=25)
    sent(sweep, "recent", hours_ago=23)

    assert sweep.run() == ["old"]

    old = sweep.messages.get("old")
    assert old.status is Status.UNCONFIRMED
    assert old.events[-1].type == "unconfirmed"
    assert old.events[-1].detail["hours_since_sent"] == 25.0
    assert sweep.messages.get("recent").status is Status.SENT
    [told] = sweep.publisher.published
    assert (told.type, told.message_id, told.recipient, told.tags) == (
        NotificationType.UNCONFIRMED, "old", "ada@example.com", {"campaign": "onboarding"})


def test_a_second_run_marks_nothing_again(sweep):
    sent(sweep, "old", hours_ago=30)
    sweep.run()

    assert sweep.run() == []
    assert len(sweep.publisher.published) == 1


def test_mail_with_an_outcome_is_never_marked(sweep):
    sent(sweep, "delivered", hours_ago=30)
    sweep.messages.apply_event("delivered", TimelineEvent(
        type="delivery", at=NOW - timedelta(hours=29), key="delivery#1"),
        status=Status.DELIVERED)

    assert sweep.run() == []


def test_a_missed_run_catches_up_within_the_lookback(sweep):
    sent(sweep, "two_days_late", hours_ago=24 + 47)
    sent(sweep, "too_old_to_look_at", hours_ago=24 + 50)

    assert sweep.run() == ["two_days_late"]


def test_a_later_event_still_moves_an_unconfirmed_message_on(sweep):
    sent(sweep, "late", hours_ago=26)
    sweep.run()

    sweep.messages.apply_event("late", TimelineEvent(type="delivery", at=NOW, key="d#1"),
                               status=Status.DELIVERED)

    assert sweep.messages.get("late").status is Status.DELIVERED


def test_on_demand_the_window_can_be_shorter(sweep):
    sent(sweep, "minutes_old", hours_ago=0.1)

    assert sweep.run(settled=timedelta(0)) == ["minutes_old"]
