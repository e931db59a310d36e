"""The sharded DynamoDB counters on moto: the item layout, the spread over shards and the
calls each read makes (the port's behaviour is pinned in tests/contract/test_counters.py)."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import boto3
import pytest

from mailroom.adapters.dynamodb import DynamoCounters
from mailroom.adapters.dynamodb.counters import SHARDS
from mailroom.counting import KEPT_FOR, CountedEvent, Outcome, Traffic

from .conftest import REGION
from .lambda_events import LambdaContext

HOUR = datetime(2026, 11, 22, 18, 0, tzinfo=UTC)
BOUNCE = CountedEvent(hour=HOUR, traffic=Traffic.REAL, outcome=Outcome.HARD_BOUNCE,
                      reason="mailbox_does_not_exist", domain="example.com")


@pytest.fixture
def table(resources) -> str:
    return resources.counters_table


def items(table: str) -> list[dict]:
    return boto3.client("dynamodb", region_name=REGION).scan(TableName=table)["Items"]


def test_an_event_adds_to_its_totals_reason_and_domain_items_in_one_shard(table):
    DynamoCounters(table, shard=lambda: 3).add(BOUNCE)

    found = {(item["hour_shard"]["S"], item["counter"]["S"]): item for item in items(table)}
    assert set(found) == {("2026-11-22T18#3", "real#total"),
                          ("2026-11-22T18#3", "real#reason#mailbox_does_not_exist"),
                          ("2026-11-22T18#3", "real#domain#example.com")}
    expires = int((HOUR + timedelta(hours=1) + KEPT_FOR).timestamp())
    for item in found.values():
        assert item["hard_bounce"] == {"N": "1"}
        assert item["ttl"] == {"N": str(expires)}


def test_writes_spread_over_every_shard_and_reads_sum_them(table):
    shards = itertools.cycle(range(SHARDS))
    counters = DynamoCounters(table, shard=lambda: next(shards))
    for _ in range(SHARDS * 3):
        counters.add(BOUNCE)

    partitions = {item["hour_shard"]["S"] for item in items(table)}
    assert partitions == {f"2026-11-22T18#{shard}" for shard in range(SHARDS)}
    assert counters.totals(Traffic.REAL, HOUR, HOUR)[Outcome.HARD_BOUNCE] == SHARDS * 3


def operations(client) -> list[str]:
    called: list[str] = []
    client.meta.events.register("before-call.dynamodb.*",
                                lambda model, **_: called.append(model.name))
    return called


def test_totals_read_a_day_in_batched_gets_without_queries_or_scans(table):
    client = boto3.client("dynamodb", region_name=REGION)
    counters = DynamoCounters(table, client=client)
    counters.add(BOUNCE)
    called = operations(client)

    counters.totals(Traffic.REAL, HOUR - timedelta(hours=23), HOUR)

    assert set(called) == {"BatchGetItem"}
    assert len(called) == -(-24 * SHARDS // 100)  # 100 keys a call


def test_the_breakdown_queries_only_the_partitions_that_counted_and_never_scans(table):
    # Given one bounce: its counters (totals, reason, domain) share one hour's shard
    client = boto3.client("dynamodb", region_name=REGION)
    counters = DynamoCounters(table, client=client)
    counters.add(BOUNCE)
    called = operations(client)

    # When two hours are broken down
    breakdown = counters.breakdown(HOUR - timedelta(hours=1), HOUR)[Traffic.REAL]

    # Then every class's totals of both hours' shards are batch-read, and one query reads
    # the one partition that holds counts
    totals_keys = 2 * SHARDS * len(Traffic)
    assert called == ["BatchGetItem"] * -(-totals_keys // 100) + ["Query"]
    assert breakdown.totals[Outcome.HARD_BOUNCE] == 1
    assert set(breakdown.by_reason) == {BOUNCE.reason}


def test_the_events_function_counts_a_new_outcome_once_in_its_own_table(function_env, table):
    from handlers import events
    from tests.integration.test_events_handler import sample, sent_message

    ses_event = sample("ses/delivery.json")
    sent_message(function_env["MAILROOM_MESSAGES_TABLE"], ses_event)
    batch = sample("sqs-sns-delivery.json")

    events.handler(batch, LambdaContext())
    events.handler(batch, LambdaContext())  # SQS delivers it again

    at = datetime.fromisoformat(ses_event["delivery"]["timestamp"].replace("Z", "+00:00"))
    counted = DynamoCounters(table).totals(Traffic.SIMULATOR, at, at)
    assert counted[Outcome.DELIVERY] == 1
