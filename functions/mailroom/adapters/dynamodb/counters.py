"""Hourly outcome counts: one small item per (hour, shard, traffic class, dimension, value),
counted with atomic ADDs, so concurrent events never lose a count.

    hour_shard  "2026-11-22T18#3"        partition key: the UTC hour and the shard
    counter     "real#domain#gmail.com"  sort key: traffic class, dimension, value
                ("real#total" for the class's totals)
    send, delivery, hard_bounce, ...     one number per outcome (mailroom.counting.Outcome)
    ttl                                  epoch seconds, KEPT_FOR after the hour ends

Every event of an hour lands in that hour's partitions, and items sharing a partition key
share one partition's ~1,000 write units a second, so each write picks one of SHARDS
partitions at random and reads sum them."""

from __future__ import annotations

import random
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import Any

import boto3

from ...counting import (
    HOUR,
    KEPT_FOR,
    Breakdown,
    CountedEvent,
    Dimension,
    Outcome,
    Totals,
    Traffic,
    hour_of,
    hours_between,
    no_breakdowns,
    no_totals,
)
from ...shape import COUNTERS
from ..batching import DEFAULT_BACKOFF, Answer, Backoff, call_in_batches
from .codec import epoch

# Target: 2,000 SES events a second. Each counted event adds to 2 items (totals, domain), 3
# for a failure (and its reason), 1 write unit each (items < 1 KB); the events of one batch
# that share an item add to it in one write, so that is the worst case. Every mail brings a
# Send (2) and one outcome (2 or 3), so at most 2.5 writes an event on average: 2,000 x 2.5
# = 5,000 writes/s on one hour. Each write picks one of 8 shards → 625 writes/s per
# partition, under the ~1,000 limit with room for uneven random picks; ~3,200 events/s
# before throttling even if every mail bounced, ~4,000 when they are delivered.
SHARDS = 8
BATCH_GET_LIMIT = 100  # BatchGetItem's limit per call
# Breakdown queries in flight at once: a busy day is 24 hours x SHARDS partitions.
QUERY_CONCURRENCY = 16
_HOUR_FORMAT = "%Y-%m-%dT%H"

assert COUNTERS.sort_key is not None and COUNTERS.ttl_attribute is not None
PARTITION_KEY: str = COUNTERS.partition_key
SORT_KEY: str = COUNTERS.sort_key
TTL_ATTRIBUTE: str = COUNTERS.ttl_attribute


class DynamoCounters:
    def __init__(self, table_name: str, client: Any = None, *,
                 backoff: Backoff = DEFAULT_BACKOFF,
                 shard: Callable[[], int] = lambda: random.randrange(SHARDS)) -> None:
        self.table_name = table_name
        self.client = client or boto3.client("dynamodb")
        self.backoff = backoff
        self.shard = shard

    def add(self, counted: CountedEvent) -> None:
        self.add_many([counted])

    def add_many(self, counted: Iterable[CountedEvent]) -> None:
        """One UpdateItem per counter item, adding every outcome the events bring to it:
        DynamoDB has no batched update, and a transaction would cost twice the write
        units. One shard per hour per call, so a reason's or a domain's item always sits in a
        partition its class's totals item is in too (the breakdown reads only those)."""
        increments: dict[tuple[datetime, str], Counter[Outcome]] = defaultdict(Counter)
        for event in counted:
            for dimension, value in event.dimensions:
                counter = _counter(event.traffic, dimension, value)
                increments[(hour_of(event.hour), counter)][event.outcome] += 1
        shards: dict[datetime, int] = {}
        for (hour, counter), outcomes in increments.items():
            self._add(hour, shards.setdefault(hour, self.shard()), counter, outcomes)

    def _add(self, hour: datetime, shard: int, counter: str,
             outcomes: Counter[Outcome]) -> None:
        names = {f"#o{i}": outcome.value for i, outcome in enumerate(outcomes)}
        values = {f":n{i}": {"N": str(count)} for i, count in enumerate(outcomes.values())}
        self.client.update_item(
            TableName=self.table_name,
            Key=_key(_partition(hour, shard), counter),
            UpdateExpression="ADD " + ", ".join(f"{name} {value}" for name, value in
                                                zip(names, values, strict=True))
                             + " SET #ttl = :ttl",
            ExpressionAttributeNames={**names, "#ttl": TTL_ATTRIBUTE},
            ExpressionAttributeValues={**values,
                                       ":ttl": {"N": str(epoch(hour + HOUR + KEPT_FOR))}},
        )

    def totals(self, traffic: Traffic, first: datetime, last: datetime) -> Totals:
        """The totals items are known in advance: one BatchGetItem per 100 of them (a day is
        24 x SHARDS), never a query or a scan."""
        counter = _counter(traffic, Dimension.TOTAL, "")
        keys = [_key(partition, counter) for partition in _partitions(first, last)]
        items = call_in_batches(keys, BATCH_GET_LIMIT, self._batch_get,
                                what="DynamoDB reads", backoff=self.backoff)
        totals = no_totals()
        for item in items:
            for outcome, count in _counts(item).items():
                totals[outcome] += count
        return totals

    def _batch_get(self, keys: list[dict[str, Any]]) -> Answer[dict[str, Any], dict[str, Any]]:
        # Eventually consistent (half the read units): a count a second late is fine.
        response = self.client.batch_get_item(RequestItems={self.table_name: {"Keys": keys}})
        return Answer(
            results=response.get("Responses", {}).get(self.table_name, []),
            retry=response.get("UnprocessedKeys", {}).get(self.table_name, {}).get("Keys", []),
        )

    def breakdown(self, first: datetime, last: datetime) -> dict[Traffic, Breakdown]:
        """Reasons and domains are not known in advance, so their keys cannot be listed for
        BatchGetItem: one Query per (hour, shard) partition reads all of its items. Every
        counted event writes its class's totals item in the partition it lands in, so the
        totals (batched reads) say which partitions hold anything; only those are queried,
        and a quiet hour costs no query."""
        keys = [_key(partition, _counter(traffic, Dimension.TOTAL, ""))
                for partition in _partitions(first, last) for traffic in Traffic]
        chunks = [keys[start:start + BATCH_GET_LIMIT]
                  for start in range(0, len(keys), BATCH_GET_LIMIT)]
        breakdowns = no_breakdowns()
        with ThreadPoolExecutor(max_workers=QUERY_CONCURRENCY) as pool:
            totals = pool.map(lambda chunk: call_in_batches(
                chunk, BATCH_GET_LIMIT, self._batch_get, what="DynamoDB reads",
                backoff=self.backoff), chunks)
            counted = sorted({item[PARTITION_KEY]["S"] for items in totals for item in items})
            for items in pool.map(self._partition_items, counted):
                for item in items:
                    traffic, dimension, value = _parse_counter(item[SORT_KEY]["S"])
                    breakdowns[traffic].add(dimension, value, _counts(item))
        return breakdowns

    def _partition_items(self, partition: str) -> list[dict[str, Any]]:
        pages = self.client.get_paginator("query").paginate(
            TableName=self.table_name,
            KeyConditionExpression="#partition = :partition",
            ExpressionAttributeNames={"#partition": PARTITION_KEY},
            ExpressionAttributeValues={":partition": {"S": partition}},
        )
        return [item for page in pages for item in page.get("Items", [])]


def _partition(hour: datetime, shard: int) -> str:
    return f"{hour.strftime(_HOUR_FORMAT)}#{shard}"


def _partitions(first: datetime, last: datetime) -> Iterator[str]:
    for hour in hours_between(first, last):
        for shard in range(SHARDS):
            yield _partition(hour, shard)


def _counter(traffic: Traffic, dimension: Dimension, value: str) -> str:
    return f"{traffic}#{dimension}" + (f"#{value}" if value else "")


def _parse_counter(counter: str) -> tuple[Traffic, Dimension, str]:
    traffic, dimension, *value = counter.split("#", 2)
    return Traffic(traffic), Dimension(dimension), "".join(value)


def _key(partition: str, counter: str) -> dict[str, Any]:
    return {PARTITION_KEY: {"S": partition}, SORT_KEY: {"S": counter}}


def _counts(item: dict[str, Any]) -> dict[Outcome, int]:
    return {outcome: int(item[outcome.value]["N"]) for outcome in Outcome
            if outcome.value in item}
