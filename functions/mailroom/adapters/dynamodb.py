"""DynamoDB adapters: the message store (timeline, status by rank, send leases) and the
suppression list. Every rule that protects against duplicates and races is a condition
expression, so it holds across concurrent Lambda invocations."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Collection, Sequence
from datetime import datetime, timedelta
from typing import Any

import boto3
from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError

from ..models import (
    Failure,
    Message,
    SendingState,
    Status,
    Suppression,
    SuppressionReason,
    TimelineEvent,
)
from ..ports import Claim, SoftBounces
from ..shape import MESSAGES_BY_SES_ID, SUPPRESSIONS_BY_REASON

_serializer = TypeSerializer()
_deserializer = TypeDeserializer()

SES_MESSAGE_ID_INDEX = MESSAGES_BY_SES_ID.name
DYNAMODB_BATCH_WRITE_LIMIT = 25
DYNAMODB_BATCH_GET_LIMIT = 100
REASON_INDEX = SUPPRESSIONS_BY_REASON.name


def _to_ddb(value: Any) -> dict[str, Any]:
    return _serializer.serialize(value)


def _from_item(item: dict[str, Any]) -> dict[str, Any]:
    return {key: _deserializer.deserialize(value) for key, value in item.items()}


def _plain(value: Any) -> Any:
    """Decimals (DynamoDB numbers) back to ints/floats for pydantic."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if type(value).__name__ == "Decimal":
        return int(value) if value == int(value) else float(value)
    if isinstance(value, set):
        return sorted(_plain(v) for v in value)
    return value


def _epoch(moment: datetime) -> int:
    return int(moment.timestamp())


def _is_conditional_failure(error: ClientError) -> bool:
    return error.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException"


class DynamoMessageStore:
    def __init__(self, table_name: str, client: Any = None) -> None:
        self.table_name = table_name
        self.client = client or boto3.client("dynamodb")

    # --- reads -------------------------------------------------------------------------
    def get(self, message_id: str) -> Message | None:
        item = self.client.get_item(
            TableName=self.table_name, Key={"id": {"S": message_id}}, ConsistentRead=True
        ).get("Item")
        return self._to_message(item) if item else None

    def find_by_ses_message_id(self, ses_message_id: str) -> Message | None:
        items = self.client.query(
            TableName=self.table_name,
            IndexName=SES_MESSAGE_ID_INDEX,
            KeyConditionExpression="ses_message_id = :sid",
            ExpressionAttributeValues={":sid": {"S": ses_message_id}},
            Limit=1,
        ).get("Items", [])
        return self._to_message(items[0]) if items else None

    @staticmethod
    def _to_message(item: dict[str, Any]) -> Message:
        data = _plain(_from_item(item))
        return Message.model_validate(data)

    # --- writes ------------------------------------------------------------------------
    def create(self, message: Message) -> None:
        self.client.put_item(
            TableName=self.table_name,
            Item=self._to_item(message),
            ConditionExpression="attribute_not_exists(id)",
        )

    @staticmethod
    def _to_item(message: Message) -> dict[str, Any]:
        item = message.model_dump(mode="json", exclude_none=True)
        item["status_rank"] = message.status.rank
        if message.events:
            item["event_keys"] = {event.key for event in message.events}
        return {key: _to_ddb(value) for key, value in item.items()}

    def create_many(self, messages: Sequence[Message]) -> None:
        """BatchWriteItem, 25 at a time. Ids are fresh UUIDs, so no existence condition is
        needed (BatchWriteItem has none); unprocessed items are retried with backoff."""
        requests = [{"PutRequest": {"Item": self._to_item(message)}} for message in messages]
        for start in range(0, len(requests), DYNAMODB_BATCH_WRITE_LIMIT):
            _batch_write(self.client, self.table_name,
                         requests[start:start + DYNAMODB_BATCH_WRITE_LIMIT])

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
                    ":until": {"N": str(_epoch(now + lease))},
                    ":now": {"N": str(_epoch(now))},
                    ":one": {"N": "1"},
                    ":queued": {"S": Status.QUEUED.value},
                },
            )
            return Claim.CLAIMED
        except ClientError as error:
            if not _is_conditional_failure(error):
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

    def apply_event(
        self,
        message_id: str,
        event: TimelineEvent,
        status: Status | None = None,
        failure: Failure | None = None,
        ses_message_id: str | None = None,
    ) -> bool:
        appended = self._append_event(message_id, event, ses_message_id)
        # Applied even for a duplicate event: if a crash came between the two writes, the
        # redelivered event still moves the status. The rank condition keeps it idempotent.
        if status is not None:
            self._advance_status(message_id, status, failure, event.at)
        return appended

    def _append_event(
        self, message_id: str, event: TimelineEvent, ses_message_id: str | None
    ) -> bool:
        update = (
            "SET events = list_append(if_not_exists(events, :empty), :event), updated_at = :at"
        )
        values: dict[str, Any] = {
            ":empty": {"L": []},
            ":event": {"L": [_to_ddb(event.model_dump(mode="json"))]},
            ":at": {"S": event.at.isoformat()},
            ":key": {"S": event.key},
            ":keys": {"SS": [event.key]},
        }
        if ses_message_id:
            update += ", ses_message_id = if_not_exists(ses_message_id, :sid)"
            values[":sid"] = {"S": ses_message_id}
        update += " REMOVE lease_until" if ses_message_id else ""
        update += " ADD event_keys :keys"
        try:
            self.client.update_item(
                TableName=self.table_name,
                Key={"id": {"S": message_id}},
                UpdateExpression=update,
                ConditionExpression="attribute_exists(id) AND NOT contains(event_keys, :key)",
                ExpressionAttributeValues=values,
            )
            return True
        except ClientError as error:
            if _is_conditional_failure(error):
                return False
            raise

    def _advance_status(
        self, message_id: str, status: Status, failure: Failure | None, at: datetime
    ) -> None:
        update = "SET #status = :status, status_rank = :rank, updated_at = :at"
        values: dict[str, Any] = {
            ":status": {"S": status.value},
            ":rank": {"N": str(status.rank)},
            ":at": {"S": at.isoformat()},
        }
        if failure is not None:
            update += ", failure = :failure"
            values[":failure"] = _to_ddb(failure.model_dump(mode="json"))
        try:
            self.client.update_item(
                TableName=self.table_name,
                Key={"id": {"S": message_id}},
                UpdateExpression=update,
                ConditionExpression="attribute_exists(id) AND status_rank < :rank",
                ExpressionAttributeNames={"#status": "status"},
                ExpressionAttributeValues=values,
            )
        except ClientError as error:
            if not _is_conditional_failure(error):
                raise


class DynamoSuppressionStore:
    """One item per normalised address. A suppression is an item with a `reason`; `ttl`
    (epoch seconds) mirrors `expires_at` so DynamoDB removes expired entries — and because
    TTL deletion lags (hours on AWS), every read also filters on it.

    An address's soft-bounce count lives in its own item, keyed `<address>#soft`, with no
    `reason` (so the sparse by_reason index and the listing scan never see it) and a `ttl` one
    window after its latest bounce. Keeping it apart means a count's ttl can never land on a
    permanent suppression."""

    def __init__(self, table_name: str, client: Any = None) -> None:
        self.table_name = table_name
        self.client = client or boto3.client("dynamodb")

    def get(self, email: str, now: datetime) -> Suppression | None:
        item = self._get_item(email)
        if not item or "reason" not in item:
            return None
        suppression = self._to_suppression(item)
        return suppression if suppression.is_active(now) else None

    def get_many(self, emails: Sequence[str], now: datetime) -> dict[str, Suppression]:
        found: dict[str, Suppression] = {}
        unique = sorted(set(emails))
        for start in range(0, len(unique), DYNAMODB_BATCH_GET_LIMIT):
            keys = [{"email": {"S": email}}
                    for email in unique[start:start + DYNAMODB_BATCH_GET_LIMIT]]
            for item in _batch_get(self.client, self.table_name, keys):
                if "reason" in item:
                    suppression = self._to_suppression(item)
                    if suppression.is_active(now):
                        found[suppression.email] = suppression
        return found

    def put(self, suppression: Suppression) -> None:
        self.client.update_item(**self._write_request(suppression))

    def strengthen(
        self, suppression: Suppression, outranks: Collection[SuppressionReason] = ()
    ) -> bool:
        """`put`, on the condition that it weakens nothing (see SuppressionStore.strengthen):
        decided by DynamoDB at write time, so a concurrent event cannot slip in between."""
        request = self._write_request(suppression)
        values = request["ExpressionAttributeValues"]
        if suppression.expires_at is None:
            # A permanent entry replaces an expiring one, or a permanent one it outranks.
            values.update({f":outranked{i}": {"S": reason.value}
                           for i, reason in enumerate(sorted(outranks))})
            outranked = ", ".join(f":outranked{i}" for i in range(len(outranks)))
            replaces = "attribute_exists(#ttl)" + (
                f" OR #reason IN ({outranked})" if outranks else "")
        else:
            replaces = "(attribute_exists(#ttl) AND #ttl <= :ttl)"
        request["ConditionExpression"] = (
            f"attribute_not_exists(#reason) OR {replaces} OR ({_same_entry(suppression)})"
        )
        try:
            self.client.update_item(**request)
        except ClientError as error:
            if not _is_conditional_failure(error):
                raise
            return False
        return True

    def _write_request(self, suppression: Suppression) -> dict[str, Any]:
        """The UpdateItem that makes the item exactly `suppression` (other attributes stay).
        Every attribute of the model is named `#<field>` and valued `:<field>`."""
        data = suppression.model_dump(mode="json", exclude={"email"})
        sets = [f"#{key} = :{key}" for key, value in data.items() if value is not None]
        removes = [f"#{key}" for key, value in data.items() if value is None]
        values = {f":{key}": _to_ddb(value) for key, value in data.items() if value is not None}
        names = {f"#{key}": key for key in data}
        if suppression.expires_at is not None:
            sets.append("#ttl = :ttl")
            values[":ttl"] = {"N": str(_epoch(suppression.expires_at))}
        else:
            removes.append("#ttl")
        names["#ttl"] = "ttl"
        update = "SET " + ", ".join(sets) + (" REMOVE " + ", ".join(removes) if removes else "")
        return {
            "TableName": self.table_name,
            "Key": {"email": {"S": suppression.email}},
            "UpdateExpression": update,
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": values,
        }

    def delete(self, email: str) -> bool:
        # Forget the soft-bounce count too: an operator removing an entry has confirmed the
        # address, and old bounces must not re-suppress it on the next one.
        self.client.delete_item(TableName=self.table_name, Key=_soft_bounce_key(email))
        response = self.client.delete_item(
            TableName=self.table_name,
            Key={"email": {"S": email}},
            ReturnValues="ALL_OLD",
        )
        return "reason" in response.get("Attributes", {})

    def list(
        self, now: datetime, reason: SuppressionReason | None, limit: int, cursor: str | None
    ) -> tuple[list[Suppression], str | None]:
        request: dict[str, Any] = {
            "TableName": self.table_name,
            "FilterExpression": "attribute_not_exists(#ttl) OR #ttl > :now",
            "ExpressionAttributeNames": {"#ttl": "ttl"},
            "ExpressionAttributeValues": {":now": {"N": str(_epoch(now))}},
        }
        if reason is not None:
            request.update(IndexName=REASON_INDEX, KeyConditionExpression="reason = :reason")
            request["ExpressionAttributeValues"][":reason"] = {"S": reason.value}
            call = self.client.query
            key_names = {"email", "reason", "created_at"}
        else:
            active = request["FilterExpression"]
            request["FilterExpression"] = f"attribute_exists(reason) AND ({active})"
            call = self.client.scan
            key_names = {"email"}
        start_key = _decode_cursor(cursor, key_names)
        found: list[Suppression] = []
        while len(found) < limit:
            if start_key:
                request["ExclusiveStartKey"] = start_key
            request["Limit"] = limit - len(found)
            page = call(**request)
            found.extend(self._to_suppression(item) for item in page.get("Items", []))
            start_key = page.get("LastEvaluatedKey")
            if not start_key:
                break
        return found, _encode_cursor(start_key)

    def record_soft_bounce(
        self, email: str, at: datetime, event_key: str, window: timedelta, now: datetime
    ) -> SoftBounces:
        """Read the count, prune and add in Python, write back on the condition that nobody
        wrote in between (a version number); on a race, start again from a fresh read."""
        since = max(at, now) - window
        key = _soft_bounce_key(email)
        for _attempt in range(_SOFT_BOUNCE_WRITE_ATTEMPTS):
            item = self.client.get_item(
                TableName=self.table_name, Key=key, ConsistentRead=True
            ).get("Item", {})
            recorded = _bounce_times(item)
            kept = {k: when for k, when in recorded.items() if when > since}
            if at > since:
                kept.setdefault(event_key, at)
            counted = SoftBounces(count=len(kept), latest=max(kept.values(), default=None))
            if kept == recorded:
                return counted  # a redelivery, or nothing in the window: nothing to write
            forget_at = (counted.latest or since) + window
            try:
                self._write_bounce_times(key, kept, item.get("version"), forget_at)
            except ClientError as error:
                if not _is_conditional_failure(error):
                    raise
                continue
            return counted
        raise RuntimeError(f"The soft-bounce count of {email} kept changing; retry the event")

    def _write_bounce_times(self, key: dict[str, Any], bounces: dict[str, datetime],
                            version: dict[str, str] | None, forget_at: datetime) -> None:
        """Replace the count, if its version is still the one read. `forget_at` is one window
        after the latest bounce: DynamoDB's TTL then removes a count nothing can use."""
        values: dict[str, Any] = {
            ":bounces": {"M": {k: {"S": when.isoformat()} for k, when in bounces.items()}},
            ":ttl": {"N": str(_epoch(forget_at))},
            ":next": {"N": str(int(version["N"]) + 1 if version else 1)},
        }
        if version:
            condition = "version = :seen"
            values[":seen"] = version
        else:
            condition = "attribute_not_exists(version)"
        self.client.update_item(
            TableName=self.table_name,
            Key=key,
            UpdateExpression="SET bounces = :bounces, #ttl = :ttl, version = :next",
            ConditionExpression=condition,
            ExpressionAttributeNames={"#ttl": "ttl"},
            ExpressionAttributeValues=values,
        )

    def _get_item(self, email: str) -> dict[str, Any] | None:
        return self.client.get_item(
            TableName=self.table_name, Key={"email": {"S": email}}, ConsistentRead=True
        ).get("Item")

    @staticmethod
    def _to_suppression(item: dict[str, Any]) -> Suppression:
        data = _plain(_from_item(item))
        return Suppression.model_validate(
            {key: data.get(key) for key in Suppression.model_fields if key in data}
        )


def _same_entry(suppression: Suppression) -> str:
    """The item already is this entry: an earlier attempt of the same event wrote it, so a
    retry is told True again rather than mistaken for a rival."""
    note = "#note = :note" if suppression.note is not None else "attribute_not_exists(#note)"
    return f"#reason = :reason AND #created_at = :created_at AND {note}"


_SOFT_BOUNCE_WRITE_ATTEMPTS = 5


def _soft_bounce_key(email: str) -> dict[str, Any]:
    return {"email": {"S": f"{email}#soft"}}


def _bounce_times(item: dict[str, Any]) -> dict[str, datetime]:
    return {key: datetime.fromisoformat(value["S"])
            for key, value in item.get("bounces", {}).get("M", {}).items()}


def _batch_write(client: Any, table: str, requests: list[dict[str, Any]]) -> None:
    for attempt in range(8):
        unprocessed = client.batch_write_item(RequestItems={table: requests}).get(
            "UnprocessedItems", {}).get(table)
        if not unprocessed:
            return
        requests = unprocessed
        time.sleep(min(1.0, 0.05 * 2 ** attempt))
    raise RuntimeError(f"DynamoDB kept {len(requests)} writes unprocessed; try again")


def _batch_get(client: Any, table: str, keys: list[dict[str, Any]]) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    for attempt in range(8):
        response = client.batch_get_item(
            RequestItems={table: {"Keys": keys, "ConsistentRead": True}})
        items += response.get("Responses", {}).get(table, [])
        keys = response.get("UnprocessedKeys", {}).get(table, {}).get("Keys", [])
        if not keys:
            return items
        time.sleep(min(1.0, 0.05 * 2 ** attempt))
    raise RuntimeError(f"DynamoDB kept {len(keys)} reads unprocessed; try again")


def _encode_cursor(key: dict[str, Any] | None) -> str | None:
    if not key:
        return None
    return base64.urlsafe_b64encode(json.dumps(key).encode()).decode()


def _decode_cursor(cursor: str | None, key_names: set[str]) -> dict[str, Any] | None:
    """The page start a `next_cursor` encodes: exactly the listing's key attributes, as
    strings. Anything else was not made by this API (or belongs to another listing)."""
    if not cursor:
        return None
    try:
        key = json.loads(base64.urlsafe_b64decode(cursor.encode()))
    except ValueError:
        key = None
    if (isinstance(key, dict) and set(key) == key_names
            and all(isinstance(v, dict) and list(v) == ["S"] and isinstance(v["S"], str)
                    for v in key.values())):
        return key
    from ..errors import RequestValidationError

    raise RequestValidationError(
        "The cursor is not one this API returned for this listing. Use `next_cursor` from "
        "the previous page, with the same `reason`.",
        details={"field": "cursor"},
    )




class DynamoSendingSwitch:
    """The sending switch: one item in the control table. Read on every API request and
    every send, so it is cached for a few seconds per container: a pause takes effect
    everywhere within `cache_seconds`, at one read per container per interval."""

    KEY = {"name": {"S": "sending"}}

    def __init__(self, table_name: str, client: Any = None, *, cache_seconds: float = 10.0,
                 clock: Any = time.monotonic) -> None:
        self.table_name = table_name
        self.client = client or boto3.client("dynamodb")
        self.cache_seconds = cache_seconds
        self._clock = clock
        self._cached: tuple[float, SendingState] | None = None

    def state(self) -> SendingState:
        now = self._clock()
        if self._cached and now - self._cached[0] < self.cache_seconds:
            return self._cached[1]
        item = self.client.get_item(TableName=self.table_name, Key=self.KEY).get("Item")
        state = SendingState.model_validate(_plain(_from_item(item))) if item else SendingState()
        self._cached = (now, state)
        return state

    def set(self, state: SendingState) -> None:
        item = {"name": "sending", **state.model_dump(mode="json", exclude_none=True)}
        self.client.put_item(TableName=self.table_name,
                             Item={key: _to_ddb(value) for key, value in item.items()})
        self._cached = (self._clock(), state)
