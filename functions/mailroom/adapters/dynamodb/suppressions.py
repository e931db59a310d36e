"""The suppression list, one item per entry: an address's global entry is keyed by the
normalised address, each of its category entries by `<address>#category:<name>` with the
address and category in their own attributes (the sparse by_address index finds them). An
entry is an item with a `reason`; `ttl` (epoch seconds) mirrors `expires_at` so DynamoDB
removes expired entries — and because TTL deletion lags (hours on AWS), every read also
filters on it.

An address's soft-bounce count lives in its own item, keyed `<address>#soft`, with no
`reason` (so the sparse by_reason index and the listing scan never see it) and a `ttl` one
window after its latest bounce. Keeping it apart means a count's ttl can never land on a
permanent suppression."""

from __future__ import annotations

from collections.abc import Collection, Iterator, Sequence
from datetime import datetime, timedelta
from itertools import islice
from typing import Any

import boto3
from botocore.exceptions import ClientError

from ...errors import InvalidCursor
from ...models import Suppression, SuppressionReason, utcnow
from ...ports import SoftBounces
from ...shape import SUPPRESSIONS, SUPPRESSIONS_BY_ADDRESS, SUPPRESSIONS_BY_REASON
from ..batching import DEFAULT_BACKOFF, Answer, Backoff, call_in_batches
from .codec import epoch, from_item, to_attribute
from .conditions import is_conditional_failure
from .cursor import decode_cursor, encode_cursor

# Epoch seconds; DynamoDB TTL removes expired entries (late: every read filters on it too).
assert SUPPRESSIONS.ttl_attribute is not None
TTL_ATTRIBUTE: str = SUPPRESSIONS.ttl_attribute

REASON_INDEX = SUPPRESSIONS_BY_REASON.name
ADDRESS_INDEX = SUPPRESSIONS_BY_ADDRESS.name
# An address's domain holds no `#`, so what follows it cannot be mistaken for the address.
CATEGORY_KEY = "#category:"
BATCH_GET_LIMIT = 100  # BatchGetItem's limit per call
# The attributes a listing resumes from: the table's key, and for the index its keys too.
SCAN_KEY = (SUPPRESSIONS.partition_key,)
REASON_INDEX_KEY = (*SCAN_KEY, *SUPPRESSIONS_BY_REASON.keys)
SOFT_BOUNCE_WRITE_ATTEMPTS = 5
HISTORY = "history"


def _change(suppression: Suppression) -> dict[str, Any]:
    """One history record: what was written, when, by whom."""
    data = suppression.model_dump(mode="json", exclude={"email", "created_at"},
                                  exclude_none=True)
    return {"at": suppression.created_at.isoformat(), "action": "suppressed", **data}


class DynamoSuppressionStore:
    def __init__(self, table_name: str, client: Any = None, *,
                 backoff: Backoff = DEFAULT_BACKOFF) -> None:
        self.table_name = table_name
        self.client = client or boto3.client("dynamodb")
        self.backoff = backoff

    def get(self, email: str, now: datetime, category: str | None = None
            ) -> Suppression | None:
        for place in (None, category) if category is not None else (None,):
            item = self.client.get_item(
                TableName=self.table_name, Key=_key(email, place), ConsistentRead=True
            ).get("Item")
            if item and "reason" in item:
                suppression = _to_suppression(item)
                if suppression.is_active(now):
                    return suppression
        return None

    def get_many(self, emails: Sequence[str], now: datetime, category: str | None = None
                 ) -> dict[str, Suppression]:
        addresses = sorted(set(emails))
        keys = [_key(email) for email in addresses]
        if category is not None:
            keys += [_key(email, category) for email in addresses]
        items = call_in_batches(keys, BATCH_GET_LIMIT, self._batch_get,
                                what="DynamoDB reads", backoff=self.backoff)
        found = [_to_suppression(item) for item in items if "reason" in item]
        # The global entry last, so it is the one kept: it says why all mail stops.
        found.sort(key=lambda suppression: suppression.category is None)
        return {suppression.email: suppression for suppression in found
                if suppression.is_active(now)}

    def categories(self, email: str, now: datetime) -> list[Suppression]:
        pages = self.client.get_paginator("query").paginate(
            TableName=self.table_name, IndexName=ADDRESS_INDEX,
            KeyConditionExpression="address = :address",
            FilterExpression="attribute_exists(reason)",  # not the tombstones
            ExpressionAttributeValues={":address": {"S": email}})
        found = (_to_suppression(item) for item in _items(pages))
        return [suppression for suppression in found if suppression.is_active(now)]

    def _batch_get(self, keys: list[dict[str, Any]]) -> Answer[dict[str, Any], dict[str, Any]]:
        response = self.client.batch_get_item(
            RequestItems={self.table_name: {"Keys": keys, "ConsistentRead": True}})
        return Answer(
            results=response.get("Responses", {}).get(self.table_name, []),
            retry=response.get("UnprocessedKeys", {}).get(self.table_name, {}).get("Keys", []),
        )

    def put(self, suppression: Suppression) -> None:
        self.client.update_item(**self._write_request(suppression))

    def add(self, suppression: Suppression, now: datetime) -> bool:
        request = self._write_request(suppression)
        request["ExpressionAttributeValues"][":now"] = {"N": str(epoch(now))}
        request["ConditionExpression"] = (
            "attribute_not_exists(#reason) OR (attribute_exists(#ttl) AND #ttl <= :now)")
        try:
            self.client.update_item(**request)
        except ClientError as error:
            if not is_conditional_failure(error):
                raise
            return False
        return True

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
        # The same entry is not written again (its history would repeat): a retry of the
        # event that wrote it is told True all the same, rather than mistaken for a rival.
        request["ConditionExpression"] = (
            f"(attribute_not_exists(#reason) OR {replaces}) AND NOT ({_same_entry(suppression)})"
        )
        try:
            self.client.update_item(**request)
        except ClientError as error:
            if not is_conditional_failure(error):
                raise
            item = self.client.get_item(
                TableName=self.table_name, Key=_key(suppression.email, suppression.category),
                ConsistentRead=True).get("Item")
            return bool(item and "reason" in item
                        and _is_same_entry(suppression, _to_suppression(item)))
        return True

    def _write_request(self, suppression: Suppression) -> dict[str, Any]:
        """The UpdateItem that makes the item exactly `suppression` (other attributes stay).
        Every attribute of the model is named `#<field>` and valued `:<field>`."""
        data = suppression.model_dump(mode="json", exclude={"email"})
        if suppression.category is not None:
            data["address"] = suppression.email
        sets = [f"#{key} = :{key}" for key, value in data.items() if value is not None]
        removes = [f"#{key}" for key, value in data.items() if value is None]
        values = {f":{key}": to_attribute(value)
                  for key, value in data.items() if value is not None}
        names = {f"#{key}": key for key in data}
        if suppression.expires_at is not None:
            sets.append("#ttl = :ttl")
            values[":ttl"] = {"N": str(epoch(suppression.expires_at))}
        else:
            removes.append("#ttl")
        names["#ttl"] = TTL_ATTRIBUTE
        # Each write that takes appends its change: the history outlives the entry.
        sets.append("#history = list_append(if_not_exists(#history, :empty), :change)")
        names["#history"] = HISTORY
        values[":empty"] = {"L": []}
        values[":change"] = {"L": [to_attribute(_change(suppression))]}
        update = "SET " + ", ".join(sets) + (" REMOVE " + ", ".join(removes) if removes else "")
        return {
            "TableName": self.table_name,
            "Key": _key(suppression.email, suppression.category),
            "UpdateExpression": update,
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": values,
        }

    def delete(self, email: str, by: str | None = None, at: datetime | None = None,
               category: str | None = None) -> bool:
        if category is None:
            # Forget the soft-bounce count too: an operator removing an entry has confirmed
            # the address, and old bounces must not re-suppress it on the next one.
            self.client.delete_item(TableName=self.table_name, Key=_soft_bounce_key(email))
        # A category's tombstone keeps its address and category: still found by address.
        fields = [name for name in Suppression.model_fields if name not in ("email", "category")]
        change = {"at": (at or utcnow()).isoformat(), "action": "removed",
                  **({"by": by} if by else {})}
        try:
            self.client.update_item(
                TableName=self.table_name, Key=_key(email, category),
                # A tombstone: the entry goes, its history stays.
                UpdateExpression="REMOVE " + ", ".join(f"#{name}" for name in fields)
                                 + ", #ttl SET #history = list_append(if_not_exists(#history, "
                                   ":empty), :change)",
                ConditionExpression="attribute_exists(#reason)",
                ExpressionAttributeNames={**{f"#{name}": name for name in fields},
                                          "#ttl": TTL_ATTRIBUTE, "#history": HISTORY},
                ExpressionAttributeValues={":empty": {"L": []},
                                           ":change": {"L": [to_attribute(change)]}})
        except ClientError as error:
            if is_conditional_failure(error):
                return False
            raise
        return True

    def history(self, email: str, category: str | None = None) -> list[dict[str, Any]]:
        item = self.client.get_item(
            TableName=self.table_name, Key=_key(email, category), ConsistentRead=True,
            ProjectionExpression="#history", ExpressionAttributeNames={"#history": HISTORY},
        ).get("Item", {})
        return list(from_item(item).get(HISTORY, []))

    def list(
        self, now: datetime, reason: SuppressionReason | None, limit: int, cursor: str | None,
        category: str | None = None,
    ) -> tuple[list[Suppression], str | None]:
        """Up to `limit` active entries, and the cursor of the next page: the key of the last
        entry returned, or None when no active entry follows it."""
        operation, request, key_names = self._listing(now, reason, category)
        start_key = decode_cursor(cursor, key_names,
                                  fixed={"reason": reason.value} if reason else None)
        if start_key and category is not None and not start_key["email"]["S"].endswith(
                CATEGORY_KEY + category):
            raise InvalidCursor()  # a cursor of another listing
        if start_key:
            request["ExclusiveStartKey"] = start_key
        # One entry more than asked for tells whether there is a next page.
        pages = self.client.get_paginator(operation).paginate(
            **request, PaginationConfig={"PageSize": limit + 1})
        items = list(islice(_items(pages), limit + 1))
        returned = items[:limit]
        more = len(items) > limit
        next_key = {name: returned[-1][name] for name in key_names} if more else None
        return [_to_suppression(item) for item in returned], encode_cursor(next_key)

    def _listing(
        self, now: datetime, reason: SuppressionReason | None, category: str | None
    ) -> tuple[str, dict[str, Any], tuple[str, ...]]:
        """The operation, request and resume key of one listing: with a reason, a query of
        the by_reason index; without, a scan skipping the soft-bounce counts. A category
        filters either."""
        # DynamoDB refuses redundant parentheses: the OR is wrapped only beside an AND.
        filters = ["attribute_not_exists(#ttl) OR #ttl > :now"]
        request: dict[str, Any] = {
            "TableName": self.table_name,
            "ExpressionAttributeNames": {"#ttl": TTL_ATTRIBUTE},
            "ExpressionAttributeValues": {":now": {"N": str(epoch(now))}},
        }
        if category is not None:
            filters.append("category = :category")
            request["ExpressionAttributeValues"][":category"] = {"S": category}
        if reason is None:
            filters.insert(0, "attribute_exists(reason)")
            request["FilterExpression"] = _all_of(filters)
            return "scan", request, SCAN_KEY
        request.update(IndexName=REASON_INDEX, KeyConditionExpression="reason = :reason",
                       FilterExpression=_all_of(filters))
        request["ExpressionAttributeValues"][":reason"] = {"S": reason.value}
        return "query", request, REASON_INDEX_KEY

    def record_soft_bounce(
        self, email: str, at: datetime, event_key: str, window: timedelta, now: datetime
    ) -> SoftBounces:
        """Read the count, prune and add in Python, write back on the condition that nobody
        wrote in between (a version number); on a race, start again from a fresh read."""
        since = max(at, now) - window
        key = _soft_bounce_key(email)
        for _attempt in range(SOFT_BOUNCE_WRITE_ATTEMPTS):
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
                if not is_conditional_failure(error):
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
            ":ttl": {"N": str(epoch(forget_at))},
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
            ExpressionAttributeNames={"#ttl": TTL_ATTRIBUTE},
            ExpressionAttributeValues=values,
        )


def _items(pages: Any) -> Iterator[dict[str, Any]]:
    for page in pages:
        yield from page.get("Items", [])


def _all_of(conditions: list[str]) -> str:
    if len(conditions) == 1:
        return conditions[0]
    return " AND ".join(f"({condition})" if " OR " in condition else condition
                        for condition in conditions)


def _key(email: str, category: str | None = None) -> dict[str, Any]:
    return {"email": {"S": email if category is None else f"{email}{CATEGORY_KEY}{category}"}}


def _to_suppression(item: dict[str, Any]) -> Suppression:
    data = from_item(item)
    fields = {key: data[key] for key in Suppression.model_fields if key in data}
    return Suppression.model_validate({**fields, "email": data.get("address", data["email"])})


def _same_entry(suppression: Suppression) -> str:
    """The item already is this entry: an earlier attempt of the same event wrote it, so a
    retry is told True again rather than mistaken for a rival."""
    note = "#note = :note" if suppression.note is not None else "attribute_not_exists(#note)"
    return f"#reason = :reason AND #created_at = :created_at AND {note}"


def _is_same_entry(candidate: Suppression, existing: Suppression) -> bool:
    return (candidate.reason, candidate.created_at, candidate.note) == (
        existing.reason, existing.created_at, existing.note)


def _soft_bounce_key(email: str) -> dict[str, Any]:
    return {"email": {"S": f"{email}#soft"}}


def _bounce_times(item: dict[str, Any]) -> dict[str, datetime]:
    return {key: datetime.fromisoformat(value["S"])
            for key, value in item.get("bounces", {}).get("M", {}).items()}
