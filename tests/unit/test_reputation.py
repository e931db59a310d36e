"""The reputation guard's arithmetic and its actions (mailroom.reputation), on fakes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from mailroom.counting import CountedEvent, Outcome, Traffic
from mailroom.models import NotificationType, SendingState
from mailroom.reputation import Guard, Level, ReputationPolicy, Thresholds
from tests.fakes import FakeCounters, FakeGuardLevels, FakePublisher, FakeSendingSwitch

NOW = datetime(2026, 12, 1, 12, 30, tzinfo=UTC)
POLICY = ReputationPolicy(window=timedelta(hours=24),
                          warn=Thresholds(0.02, 0.0005, 100),
                          pause=Thresholds(0.04, 0.0008, 500))


def count(counters: FakeCounters, outcome: Outcome, n: int, *, hours_ago: int = 0,
          traffic: Traffic = Traffic.REAL) -> None:
    hour = (NOW - timedelta(hours=hours_ago)).replace(minute=0, second=0, microsecond=0)
    for _ in range(n):
        counters.add(CountedEvent(hour, traffic, outcome, None, "example.com"))


@pytest.fixture
def guard() -> Guard:
    return Guard(counters=FakeCounters(), switch=FakeSendingSwitch(), levels=FakeGuardLevels(),
                 publisher=FakePublisher(), policy=POLICY, clock=lambda: NOW)


def test_below_the_minimum_volume_no_rate_counts(guard):
    count(guard.counters, Outcome.SEND, 99)
    count(guard.counters, Outcome.HARD_BOUNCE, 50)

    assert guard.check().level is Level.OK


def test_a_warning_is_told_once(guard):
    count(guard.counters, Outcome.SEND, 200)
    count(guard.counters, Outcome.HARD_BOUNCE, 5)  # 2.5%

    first, second = guard.check(), guard.check()

    assert first.level is second.level is Level.WARNING
    [warning] = guard.publisher.published
    assert warning.type is NotificationType.REPUTATION_WARNING
    assert warning.reputation["sends"] == 200 and warning.reputation["bounces"] == 5
    assert guard.switch.state().paused is False


def test_over_the_pause_level_sending_pauses_with_the_figures(guard):
    count(guard.counters, Outcome.SEND, 500)
    count(guard.counters, Outcome.HARD_BOUNCE, 20)  # 4.0%

    assert guard.check().level is Level.PAUSED

    state = guard.switch.state()
    assert (state.paused, state.source) == (True, "reputation_guard")
    assert "4.00%" in state.reason and "20 of 500" in state.reason


def test_complaints_alone_can_pause(guard):
    count(guard.counters, Outcome.SEND, 10_000)
    count(guard.counters, Outcome.COMPLAINT, 8)  # 0.08%

    assert guard.check().level is Level.PAUSED


def test_simulator_and_canary_mail_never_count(guard):
    count(guard.counters, Outcome.SEND, 1000, traffic=Traffic.SIMULATOR)
    count(guard.counters, Outcome.HARD_BOUNCE, 1000, traffic=Traffic.SIMULATOR)
    count(guard.counters, Outcome.SEND, 1000, traffic=Traffic.CANARY)
    count(guard.counters, Outcome.HARD_BOUNCE, 1000, traffic=Traffic.CANARY)

    reputation = guard.check()

    assert (reputation.sends, reputation.level) == (0, Level.OK)


def test_outcomes_older_than_the_window_are_forgotten(guard):
    count(guard.counters, Outcome.SEND, 500, hours_ago=24)
    count(guard.counters, Outcome.HARD_BOUNCE, 100, hours_ago=24)

    assert guard.check().sends == 0


def test_an_existing_pause_keeps_its_reason(guard):
    guard.switch.set(SendingState(paused=True, reason="DNS change", since=NOW, source="api"))
    count(guard.counters, Outcome.SEND, 500)
    count(guard.counters, Outcome.HARD_BOUNCE, 50)

    guard.check()

    assert guard.switch.state().reason == "DNS change"


def test_after_a_resume_only_later_outcomes_can_pause_again(guard):
    count(guard.counters, Outcome.SEND, 500, hours_ago=2)
    count(guard.counters, Outcome.HARD_BOUNCE, 50, hours_ago=2)
    guard.check()
    resumed = NOW - timedelta(hours=1)
    guard.switch.set(SendingState(paused=False, since=resumed, source="api"))

    assert guard.check().level is Level.OK  # the figures as they stood are accepted
    assert guard.switch.state().paused is False

    count(guard.counters, Outcome.SEND, 500)
    count(guard.counters, Outcome.HARD_BOUNCE, 30)
    assert guard.check().level is Level.PAUSED


def test_the_schedule_checks_the_reputation_even_when_no_event_arrives(guard):
    from handlers import events as events_handler
    from mailroom.outcomes import SuppressionPolicy
    from mailroom.shape import EVENTS
    from tests.fakes import FakeMessageStore, FakeSuppressionStore
    from tests.unit.test_events_handler import LambdaContext

    count(guard.counters, Outcome.SEND, 500)
    count(guard.counters, Outcome.HARD_BOUNCE, 25)
    deps = events_handler.Dependencies(
        messages=FakeMessageStore(), suppressions=FakeSuppressionStore(),
        publisher=guard.publisher, policy=SuppressionPolicy(), counters=guard.counters,
        guard=guard)

    assert events_handler.handler(EVENTS.schedules[0].event, LambdaContext(), deps=deps) is None

    assert guard.switch.state().source == "reputation_guard"


def test_the_guards_pause_closes_the_gates_and_the_schedule_holds_them_closed(guard):
    from dataclasses import replace

    from handlers import events as events_handler
    from mailroom.outcomes import SuppressionPolicy
    from mailroom.pausing import GatedSwitch
    from mailroom.shape import EVENTS
    from tests.fakes import FakeGate, FakeMessageStore, FakeSuppressionStore
    from tests.unit.test_events_handler import LambdaContext

    consumer, configuration_set = FakeGate("consumer"), FakeGate("configuration set")
    switch = GatedSwitch(guard.switch, (consumer, configuration_set))
    guard = replace(guard, switch=switch)
    deps = events_handler.Dependencies(
        messages=FakeMessageStore(), suppressions=FakeSuppressionStore(),
        publisher=guard.publisher, policy=SuppressionPolicy(), counters=guard.counters,
        guard=guard, switch=switch)
    count(guard.counters, Outcome.SEND, 500)
    count(guard.counters, Outcome.HARD_BOUNCE, 25)

    assert guard.check().level is Level.PAUSED
    assert (consumer.open, configuration_set.open) == (False, False)

    consumer.open = True  # a deploy or a hand turned the consumer back on
    events_handler.handler(EVENTS.schedules[0].event, LambdaContext(), deps=deps)
    assert consumer.open is False
    assert guard.switch.state().paused  # and the guard never resumed by itself


def test_a_scheduled_invoker_invokes_on_its_interval_until_stopped():
    import threading

    from mailroom_dev.local.lambda_runtime import LambdaFunction
    from mailroom_dev.local.pollers import ScheduledInvoker

    received: list[dict] = []
    twice = threading.Event()

    def handler(event, context):
        received.append(event)
        if len(received) >= 2:
            twice.set()

    invoker = ScheduledInvoker(LambdaFunction.from_callable("fn", handler),
                               {"mailroom_task": "reputation_check"}, every_seconds=0.05)
    invoker.start()
    assert twice.wait(5)
    invoker.stop()
    seen = len(received)

    assert received[0] == {"mailroom_task": "reputation_check"}
    threading.Event().wait(0.2)
    assert len(received) == seen  # stopped means stopped
