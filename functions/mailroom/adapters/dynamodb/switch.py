"""The sending switch: one item in the control table."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

import boto3
from botocore.exceptions import ClientError

from ...models import SendingState
from .codec import from_item, to_attribute, to_item
from .conditions import is_conditional_failure


class DynamoSendingSwitch:
    """Read on every API request and every send, so it is cached for a few seconds per
    container: a pause takes effect everywhere within `cache_seconds`, at one read per
    container per interval."""

    KEY = {"name": {"S": "sending"}}

    def __init__(self, table_name: str, client: Any = None, *, cache_seconds: float = 10.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.table_name = table_name
        self.client = client or boto3.client("dynamodb")
        self.cache_seconds = cache_seconds
        self._clock = clock
        self._cached: tuple[float, SendingState] | None = None

    def state(self, *, fresh: bool = False) -> SendingState:
        now = self._clock()
        if not fresh and self._cached and now - self._cached[0] < self.cache_seconds:
            return self._cached[1]
        item = self.client.get_item(TableName=self.table_name, Key=self.KEY,
                                    ConsistentRead=fresh).get("Item")
        state = SendingState.model_validate(from_item(item)) if item else SendingState()
        self._cached = (now, state)
        return state

    def set(self, state: SendingState) -> None:
        if state.paused:
            self.client.put_item(TableName=self.table_name, Item=self._item(state))
        elif not self._resume(state, ending_pause=True):
            self._resume(state, ending_pause=False)
        self._cached = None  # a resume's record of the pause is read back, not guessed

    def _resume(self, state: SendingState, *, ending_pause: bool) -> bool:
        """Write a resume; ending a pause, copy when it began in the same update (the item's
        values before the update), so no read can race it. False if it was not paused."""
        fields = state.model_dump(mode="json", exclude={"previous_pause_since"})
        names = {f"#{name}": name for name in fields}
        values = {f":{name}": to_attribute(value) for name, value in fields.items()
                  if value is not None}
        sets = [f"#{name} = :{name}" for name, value in fields.items() if value is not None]
        removes = [f"#{name}" for name, value in fields.items() if value is None]
        condition = None
        if ending_pause:
            names["#previous"] = "previous_pause_since"
            sets.append("#previous = #since")
            values[":true"] = {"BOOL": True}
            condition = "#paused = :true"
        expression = "SET " + ", ".join(sets) + (" REMOVE " + ", ".join(removes)
                                                 if removes else "")
        try:
            self.client.update_item(
                TableName=self.table_name, Key=self.KEY, UpdateExpression=expression,
                ExpressionAttributeNames=names, ExpressionAttributeValues=values,
                **({"ConditionExpression": condition} if condition else {}))
        except ClientError as error:
            if condition and is_conditional_failure(error):
                return False
            raise
        return True

    def pause(self, state: SendingState) -> bool:
        try:
            self.client.put_item(
                TableName=self.table_name, Item=self._item(state),
                ConditionExpression="attribute_not_exists(paused) OR paused = :running",
                ExpressionAttributeValues={":running": {"BOOL": False}})
        except ClientError as error:
            if not is_conditional_failure(error):
                raise
            self._cached = None  # someone else paused: read their state next time
            return False
        self._cached = (self._clock(), state)
        return True

    @staticmethod
    def _item(state: SendingState) -> dict[str, Any]:
        return to_item({"name": "sending", **state.model_dump(mode="json", exclude_none=True)})


class DynamoGuardLevels:
    """The reputation guard's last level: one item in the control table."""

    KEY = {"name": {"S": "reputation"}}

    def __init__(self, table_name: str, client: Any = None) -> None:
        self.table_name = table_name
        self.client = client or boto3.client("dynamodb")

    def move(self, level: str, at: datetime) -> bool:
        try:
            self.client.update_item(
                TableName=self.table_name, Key=self.KEY,
                UpdateExpression="SET #level = :level, since = :at",
                ConditionExpression="attribute_not_exists(#level) OR #level <> :level",
                ExpressionAttributeNames={"#level": "level"},
                ExpressionAttributeValues={":level": {"S": level}, ":at": {"S": at.isoformat()}})
        except ClientError as error:
            if is_conditional_failure(error):
                return False
            raise
        return True
