"""`GET /v1/stats` on moto: the api function reads the hourly counters the events function
keeps and answers the contract's body; a bad window is refused in the contract's error
shape."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from mailroom.adapters.dynamodb import DynamoCounters
from mailroom.counting import CountedEvent, Outcome, Traffic, hour_of
from mailroom.models import utcnow
from tests.integration.lambda_events import LambdaContext, api_event


@pytest.fixture
def stats(api_env):
    from handlers import api as module

    def call(**query: str) -> tuple[int, dict]:
        response = module.handler(api_event("GET", "/v1/stats", query=query or None),
                                  LambdaContext())
        return response["statusCode"], json.loads(response["body"])

    return call


@pytest.fixture
def count(resources):
    counters = DynamoCounters(resources.counters_table)

    def add(outcome: Outcome, times: int = 1, *, reason: str | None = None,
            domain: str = "example.com", traffic: Traffic = Traffic.REAL,
            hours_ago: int = 0) -> None:
        hour = hour_of(utcnow() - timedelta(hours=hours_ago))
        for _ in range(times):
            counters.add(CountedEvent(hour=hour, traffic=traffic, outcome=outcome,
                                      reason=reason, domain=domain))

    return add


def test_the_counters_come_back_summed_with_rates_reasons_and_domains(stats, count):
    # Given 20 sends of real mail today: 17 delivered, 2 unknown mailboxes, 1 complaint
    count(Outcome.SEND, 20)
    count(Outcome.DELIVERY, 17)
    count(Outcome.HARD_BOUNCE, 2, reason="mailbox_does_not_exist", domain="gmial.example")
    count(Outcome.COMPLAINT, reason="complaint", domain="example.com")
    # and simulator mail, which real mail's figures leave out
    count(Outcome.SEND, 5, traffic=Traffic.SIMULATOR, domain="simulator.amazonses.com")

    status, body = stats(since="24h")

    assert status == 200
    assert body["totals"] == {"sent": 20, "delivered": 17, "bounced": 2, "complained": 1,
                              "suppressed": 0, "failed": 0}
    assert sum(day["sent"] for day in body["days"]) == 20
    assert body["rates"]["bounce_rate"] == pytest.approx(0.1)
    assert body["rates"]["complaint_rate"] == pytest.approx(0.05)
    assert body["thresholds"]["ses_review"] == {"bounce_rate": 0.05, "complaint_rate": 0.001,
                                                "min_sends": 0}
    assert body["thresholds"]["pause"]["bounce_rate"] == 0.04
    assert [(r["reason"], r["count"]) for r in body["reasons"]] == [
        ("mailbox_does_not_exist", 2), ("complaint", 1)]
    assert "Check the address" in body["reasons"][0]["action"]
    assert [(d["domain"], d["failures"]) for d in body["domains"]] == [
        ("gmial.example", 2), ("example.com", 1)]
    assert body["other_traffic_sent"] == {"simulator": 5, "canary": 0}


def test_a_traffic_class_can_be_asked_for(stats, count):
    count(Outcome.SEND, 3)
    count(Outcome.SEND, 5, traffic=Traffic.SIMULATOR, domain="simulator.amazonses.com")

    assert stats(since="24h", traffic="simulator")[1]["totals"]["sent"] == 5
    assert stats(since="24h", traffic="all")[1]["totals"]["sent"] == 8


def test_the_default_window_is_seven_days_one_entry_a_day(stats, count):
    count(Outcome.SEND, hours_ago=24 * 8)  # before the window

    status, body = stats()

    assert status == 200
    assert len(body["days"]) == 7
    assert body["totals"]["sent"] == 0


@pytest.mark.parametrize("since", ["32d", "0h", "745h", "abc", "2026-13-01", "7 d",
                                   (utcnow() + timedelta(days=2)).date().isoformat(),
                                   (utcnow() - timedelta(days=40)).date().isoformat()])
def test_a_bad_window_is_refused_with_the_contract_error(stats, since):
    status, body = stats(since=since)

    assert status == 422
    assert body["error"]["code"] == "validation_error"
    assert body["error"]["details"][0]["field"] == "since"
