"""The sending switch: one item in the control table."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import boto3

from ...models import SendingState
from .codec import from_item, to_item


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

    def state(self) -> SendingState:
        now = self._clock()
        if self._cached and now - self._cached[0] < self.cache_seconds:
            return self._cached[1]
        item = self.client.get_item(TableName=self.table_name, Key=self.KEY).get("Item")
        state = SendingState.model_validate(from_item(item)) if item else SendingState()
        self._cached = (now, state)
        return state

    def set(self, state: SendingState) -> None:
        item = {"name": "sending", **state.model_dump(mode="json", exclude_none=True)}
        self.client.put_item(TableName=self.table_name, Item=to_item(item))
        self._cached = (self._clock(), state)
