"""The message store: timeline, status by rank and send leases. Every rule that protects
against duplicates and races is a condition expression, so it holds across concurrent Lambda
invocations."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
from botocore.exceptions import ClientError

from ...models import RETRIES_EXHAUSTED, Failure, Message, Status, TimelineEvent
from ...ports import Claim
from ...shape import MESSAGES_AWAITING_OUTCOME, MESSAGES_BY_SES_ID
from ..batching import DEFAULT_BACKOFF, Answer, Backoff, call_in_batches
from .codec import epoch, from_item, to_attribute, to_item
from .conditions import is_conditional_failure
from .timeline import key_digest, read_entry, stored_entry

SES_MESSAGE_ID_INDEX = MESSAGES_BY_SES_ID.name
AWAITING_HOUR = MESSAGES_AWAITING_OUTCOME.partition_key
assert MESSAGES_AWAITING_OUTCOME.sort_key is not None
AWAITING_SINCE: str = MESSAGES_AWAITING_OUTCOME.sort_key


def awaiting_hour(at: datetime) -> str:
    """The index's partition: one per hour, so a busy hour's writes spread by the hour and
    the sweep reads only the hours it is due to look at."""
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H")
BATCH_WRITE_LIMIT = 25  # BatchWriteItem's limit per call
# An entry not in the timeline yet: neither its key's digest nor (in an item written before
# the digests) the key itself is in `event_keys`.
NOT_SEEN = "NOT contains(event_keys, :digest) AND NOT contains(event_keys, :key)"
# Written as given: the rest (events, status) each have their own encoding; empty lists and
# maps are left out, as the model's defaults give them back.
_STORED_FIELDS = set(Message.model_fields) - {"events", "status"}


class DynamoMessageStore:
    def __init__(self, table_name: str, client: Any = None, *,
                 backoff: Backoff = DEFAULT_BACKOFF) -> None:
        self.table_name = table_name
        self.client = client or boto3.client("dynamodb")
        self.backoff = backoff

    # --- reads -------------------------------------------------------------------------
    def get(self, message_id: str) -> Message | None:
        item = self.client.get_item(
            TableName=self.table_name, Key={"id": {"S": message_id}}, ConsistentRead=True
        ).get("Item")
        return _to_message(item) if item else None

    def find_by_ses_message_id(self, ses_message_id: str) -> Message | None:
        items = self.client.query(
            TableName=self.table_name,
            IndexName=SES_MESSAGE_ID_INDEX,
            KeyConditionExpression="ses_message_id = :sid",
            ExpressionAttributeValues={":sid": {"S": ses_message_id}},
            Limit=1,
        ).get("Items", [])
        # The index holds keys only: read the item itself (consistently, as `get` does).
        return self.get(items[0]["id"]["S"]) if items else None

    def awaiting_outcome(self, hour: datetime, sent_before: datetime) -> list[str]:
        paginator = self.client.get_paginator("query")
        pages = paginator.paginate(
            TableName=self.table_name,
            IndexName=MESSAGES_AWAITING_OUTCOME.name,
            KeyConditionExpression=f"{AWAITING_HOUR} = :hour AND {AWAITING_SINCE} < :before",
            ExpressionAttributeValues={":hour": {"S": awaiting_hour(hour)},
                                       ":before": {"S": sent_before.isoformat()}},
        )
        return [item["id"]["S"] for page in pages for item in page.get("Items", [])]

    # --- writes ------------------------------------------------------------------------
    def create(self, message: Message) -> None:
        self.client.put_item(
            TableName=self.table_name,
            Item=_to_item(message),
            ConditionExpression="attribute_not_exists(id)",
        )

    def create_many(self, messages: Sequence[Message]) -> None:
        """BatchWriteItem, 25 at a time. Ids are fresh UUIDs, so no existence condition is
        needed (BatchWriteItem has none); unprocessed items are retried with backoff."""
        requests = [{"PutRequest": {"Item": _to_item(message)}} for message in messages]
        call_in_batches(requests, BATCH_WRITE_LIMIT, self._batch_write,
                        what="DynamoDB writes", backoff=self.backoff)

    def _batch_write(self, requests: list[dict[str, Any]]) -> Answer[dict[str, Any], Any]:
        response = self.client.batch_write_item(RequestItems={self.table_name: requests})
        return Answer(retry=response.get("UnprocessedItems", {}).get(self.table_name, []))

    def claim(self, message_id: str, now: datetime, lease: timedelta) -> Claim:
        try:
            self.client.update_item(
                TableName=self.table_name,
                Key={"id": {"S": message_id}},
                UpdateExpression="SET lease_until = :until ADD attempts :one",
                ConditionExpression=(
                    "attribute_exists(id) AND attribute_not_exists(ses_message_id)"
                    " AND #status = :queued"
                    " AND (attribute_not_exists(lease_until) OR lease_until <= :now)"
                ),
                ExpressionAttributeNames={"#status": "status"},
                ExpressionAttributeValues={
                    ":until": {"N": str(epoch(now + lease))},
                    ":now": {"N": str(epoch(now))},
                    ":one": {"N": "1"},
                    ":queued": {"S": Status.QUEUED.value},
                },
            )
            return Claim.CLAIMED
        except ClientError as error:
            if not is_conditional_failure(error):
                raise
        # Rare path: find out why the claim was refused.
        item = self.client.get_item(
            TableName=self.table_name, Key={"id": {"S": message_id}}, ConsistentRead=True
        ).get("Item")
        if item is None:
            return Claim.MISSING
        if "ses_message_id" in item:
            return Claim.ALREADY_SENT
        if item["status"]["S"] != Status.QUEUED.value:
            return Claim.FINISHED
        return Claim.IN_FLIGHT

    def release(self, message_id: str) -> None:
        self.client.update_item(
            TableName=self.table_name,
            Key={"id": {"S": message_id}},
            UpdateExpression="REMOVE lease_until",
        )

    def record_sent(self, message_id: str, ses_message_id: str, at: datetime) -> None:
        self.apply_event(
            message_id,
            TimelineEvent(type="sent", at=at, key=f"sent#{ses_message_id}",
                          detail={"ses_message_id": ses_message_id}),
            status=Status.SENT,
            ses_message_id=ses_message_id,
        )

    def reopen(self, message_id: str, event: TimelineEvent) -> bool:
        try:
            self.client.update_item(
                TableName=self.table_name,
                Key={"id": {"S": message_id}},
                UpdateExpression=(
                    "SET #status = :queued, status_rank = :rank, updated_at = :at, "
                    "events = list_append(events, :event) REMOVE failure ADD event_keys :keys"),
                ConditionExpression=(
                    "#status = :failed AND failure.reason = :exhausted "
                    f"AND attribute_not_exists(ses_message_id) AND {NOT_SEEN}"),
                ExpressionAttributeNames={"#status": "status"},
                ExpressionAttributeValues={
                    ":queued": {"S": Status.QUEUED.value},
                    ":rank": {"N": str(Status.QUEUED.rank)},
                    ":failed": {"S": Status.FAILED.value},
                    ":exhausted": {"S": RETRIES_EXHAUSTED},
                    ":at": {"S": event.at.isoformat()},
                    ":event": {"L": [to_attribute(stored_entry(event))]},
                    ":key": {"S": event.key},
                    ":digest": {"S": key_digest(event.key)},
                    ":keys": {"SS": [key_digest(event.key)]},
                })
        except ClientError as error:
            if is_conditional_failure(error):
                return False
            raise
        return True

    def apply_event(
        self,
        message_id: str,
        event: TimelineEvent,
        status: Status | None = None,
        failure: Failure | None = None,
        ses_message_id: str | None = None,
    ) -> bool:
        if status is None:
            return self._update(message_id, _Update.appending(event, ses_message_id),
                                f"attribute_exists(id) AND {NOT_SEEN}")
        # The usual case, a new event that moves the status on: one write.
        both = _Update.appending(event, ses_message_id).merge(
            _Update.advancing(status, failure, event.at))
        if self._update(message_id, both,
                        f"attribute_exists(id) AND {NOT_SEEN} AND status_rank < :rank"):
            return True
        # Seen before, or the status is already as far: each part under its own condition.
        # The status moves even for a duplicate event (an earlier attempt may have recorded
        # the entry alone); the rank condition keeps that idempotent.
        appended = self._update(message_id, _Update.appending(event, ses_message_id),
                                f"attribute_exists(id) AND {NOT_SEEN}")
        self._update(message_id, _Update.advancing(status, failure, event.at),
                     "attribute_exists(id) AND status_rank < :rank")
        return appended

    def _update(self, message_id: str, update: _Update, condition: str) -> bool:
        """One conditional UpdateItem; False when its condition refused it."""
        try:
            self.client.update_item(
                TableName=self.table_name,
                Key={"id": {"S": message_id}},
                ConditionExpression=condition,
                **update.parameters(),
            )
            return True
        except ClientError as error:
            if is_conditional_failure(error):
                return False
            raise


@dataclass
class _Update:
    """The parts of one UpdateExpression, so a timeline entry and a status move can be
    written apart or together."""

    sets: list[str] = field(default_factory=list)
    removes: list[str] = field(default_factory=list)
    adds: list[str] = field(default_factory=list)
    names: dict[str, str] = field(default_factory=dict)
    values: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def appending(cls, event: TimelineEvent, ses_message_id: str | None) -> _Update:
        update = cls(
            sets=["events = list_append(if_not_exists(events, :empty), :event)",
                  "updated_at = :at"],
            adds=["event_keys :keys"],
            values={":empty": {"L": []},
                    ":event": {"L": [to_attribute(stored_entry(event))]},
                    ":at": {"S": event.at.isoformat()},
                    ":key": {"S": event.key},
                    ":digest": {"S": key_digest(event.key)},
                    ":keys": {"SS": [key_digest(event.key)]}})
        if ses_message_id:
            update.sets.append("ses_message_id = if_not_exists(ses_message_id, :sid)")
            update.removes.append("lease_until")
            update.values[":sid"] = {"S": ses_message_id}
        return update

    @classmethod
    def advancing(cls, status: Status, failure: Failure | None, at: datetime) -> _Update:
        update = cls(
            sets=["#status = :status", "status_rank = :rank", "updated_at = :at"],
            names={"#status": "status"},
            values={":status": {"S": status.value}, ":rank": {"N": str(status.rank)},
                    ":at": {"S": at.isoformat()}})
        if failure is not None:
            update.sets.append("failure = :failure")
            update.values[":failure"] = to_attribute(failure.model_dump(mode="json"))
        # Into the sparse index on `sent`, out of it on any outcome.
        if status is Status.SENT:
            update.sets += [f"{AWAITING_HOUR} = :hour", f"{AWAITING_SINCE} = :at"]
            update.values[":hour"] = {"S": awaiting_hour(at)}
        else:
            update.removes += [AWAITING_HOUR, AWAITING_SINCE]
        return update

    def merge(self, other: _Update) -> _Update:
        """Both updates in one; a path both set (updated_at) is set once, to the same
        value."""
        return _Update(
            sets=list(dict.fromkeys(self.sets + other.sets)),
            removes=list(dict.fromkeys(self.removes + other.removes)),
            adds=self.adds + other.adds,
            names=self.names | other.names,
            values=self.values | other.values)

    def parameters(self) -> dict[str, Any]:
        clauses = [("SET", self.sets), ("REMOVE", self.removes), ("ADD", self.adds)]
        parameters: dict[str, Any] = {
            "UpdateExpression": " ".join(f"{verb} {', '.join(parts)}"
                                         for verb, parts in clauses if parts),
            "ExpressionAttributeValues": self.values}
        if self.names:
            parameters["ExpressionAttributeNames"] = self.names
        return parameters


def _to_item(message: Message) -> dict[str, Any]:
    data = message.model_dump(mode="json", exclude_none=True,
                              exclude_defaults=True, include=_STORED_FIELDS)
    data.update(status=message.status.value, status_rank=message.status.rank)
    if message.events:
        data["events"] = [stored_entry(event) for event in message.events]
        data["event_keys"] = {key_digest(event.key) for event in message.events}
    return to_item(data)


def _to_message(item: dict[str, Any]) -> Message:
    data = from_item(item)
    data["events"] = [read_entry(entry) for entry in data.get("events", [])]
    return Message.model_validate(data)
