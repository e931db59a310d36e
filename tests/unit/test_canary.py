"""The canary's verdicts (mailroom.canary) and what its function reports, on fakes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from mailroom.canary import CANARY_RECIPIENT, Canary, Hop, diagnose
from mailroom.models import CANARY_TAG, NotificationType

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def view(status: str, *kinds: str, failure: dict[str, str] | None = None) -> dict[str, Any]:
    events = [{"type": "queued", "at": NOW.isoformat()}]
    events += [{"type": kind, "at": (NOW + timedelta(seconds=n + 1)).isoformat()}
               for n, kind in enumerate(kinds)]
    return {"id": "m1", "status": status, "created_at": NOW.isoformat(), "events": events,
            "failure": failure}


def test_a_delivered_canary_is_healthy_with_its_latency():
    verdict = diagnose(view("delivered", "sent", "send", "delivery"))

    assert (verdict.healthy, verdict.latency_seconds, verdict.hop) == (True, 3.0, None)


@pytest.mark.parametrize(("message", "hop"), [
    (view("queued"), Hop.SENDER),
    (view("sent", "sent"), Hop.FEEDBACK),  # no SES Send event came back
    (view("unconfirmed", "sent", "unconfirmed"), Hop.FEEDBACK),
    (view("sent", "sent", "send"), Hop.SES),  # SES said Send, never Delivery
    (view("rejected", "rejected", failure={"reason": "rejected", "action": "Check it."}),
     Hop.SES),
])
def test_anything_else_names_the_hop_that_broke(message, hop):
    verdict = diagnose(message)

    assert (verdict.healthy, verdict.hop) == (False, hop)
    assert verdict.explanation


class FakeApi:
    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []
        self.views: dict[str, list[dict[str, Any]]] = {}
        self.refuse = False

    def send(self, request: dict[str, Any]) -> str:
        if self.refuse:
            raise RuntimeError("HTTP 503")
        self.sent.append(request)
        return f"m{len(self.sent)}"

    def get(self, message_id: str) -> dict[str, Any]:
        answers = self.views[message_id]
        return answers.pop(0) if len(answers) > 1 else answers[0]


class FakeStore:
    def __init__(self) -> None:
        self.remembered: tuple[str, datetime] | None = None

    def last(self) -> tuple[str, datetime] | None:
        return self.remembered

    def remember(self, message_id: str, sent_at: datetime) -> None:
        self.remembered = (message_id, sent_at)


@pytest.fixture
def canary() -> Canary:
    return Canary(FakeApi(), template="welcome", data={"name": "Ada"}, clock=lambda: NOW)


def test_each_run_checks_the_last_message_then_sends_the_next(canary):
    store = FakeStore()

    assert canary.scheduled(store) is None  # first run: nothing to check
    [request] = canary.api.sent
    assert request["to"] == CANARY_RECIPIENT and request["tags"] == {CANARY_TAG: "1"}
    assert store.remembered == ("m1", NOW)

    canary.api.views["m1"] = [view("sent", "sent")]
    verdict = canary.scheduled(store)
    assert (verdict.message_id, verdict.hop) == ("m1", Hop.FEEDBACK)
    assert store.remembered == ("m2", NOW)


def test_an_api_that_refuses_the_canary_is_the_broken_hop(canary):
    canary.api.refuse = True

    verdict = canary.scheduled(FakeStore())

    assert (verdict.healthy, verdict.hop) == (False, Hop.API)
    assert "HTTP 503" in verdict.explanation


def test_a_round_trip_follows_the_message_until_delivered(canary):
    canary.api.views["m1"] = [view("queued"), view("sent", "sent"),
                              view("delivered", "sent", "send", "delivery")]
    clock = iter(range(100))

    verdict = canary.round_trip(timeout=30, sleep=lambda s: None,
                                monotonic=lambda: float(next(clock)))

    assert verdict.healthy


def test_a_round_trip_gives_up_at_its_timeout_and_says_where_it_stuck(canary):
    canary.api.views["m1"] = [view("sent", "sent")]
    clock = iter(range(100))

    verdict = canary.round_trip(timeout=5, sleep=lambda s: None,
                                monotonic=lambda: float(next(clock)))

    assert verdict.hop is Hop.FEEDBACK


def test_the_function_reports_a_failure_as_a_metric_and_a_notification(canary, capsys):
    import json

    from handlers import canary as canary_handler
    from tests.fakes import FakePublisher
    from tests.unit.test_events_handler import LambdaContext

    store, publisher = FakeStore(), FakePublisher()
    store.remember("m0", NOW)
    canary.api.views["m0"] = [view("queued")]
    deps = canary_handler.Dependencies(canary=canary, store=store, publisher=publisher)

    result = canary_handler.handler({"mailroom_task": "canary"}, LambdaContext(), deps=deps)

    assert result["hop"] == "sender"
    [told] = publisher.published
    assert told.type is NotificationType.CANARY_FAILED and told.canary["hop"] == "sender"
    documents = [json.loads(line) for line in capsys.readouterr().out.splitlines()
                 if '"_aws"' in line]
    assert any(doc.get("CanarySucceeded") == [0.0] or doc.get("CanarySucceeded") == 0.0
               for doc in documents)
