"""The gates a pause closes (mailroom.pausing): the sender's SQS event source mapping and the
configuration set's sending. Their clients are made on first use: pausing is rare, and a
client costs cold-start time on every container of the functions that may pause."""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import cached_property
from typing import Any

import boto3
from botocore.exceptions import ClientError

# Lambda's mapping states, by whether mail gets through (or is about to).
_OPENING = {"Enabled", "Enabling"}
_CLOSING = {"Disabled", "Disabling"}
# Lambda refuses an update while a mapping changes state: wait and try again.
_BUSY_CODES = {"ResourceConflictException", "ResourceInUseException"}


class ConsumerGate:
    """An SQS event source mapping: disabled, its queue's mail waits there unreceived."""

    name = "the sender's queue consumer"

    def __init__(self, mapping_id: str, client: Any = None, *, settle_seconds: float = 5.0,
                 sleep: Callable[[float], None] = time.sleep,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.mapping_id = mapping_id
        self._client = client
        self.settle_seconds = settle_seconds
        self._sleep = sleep
        self._clock = clock

    @cached_property
    def client(self) -> Any:
        return self._client or boto3.client("lambda")

    def state(self) -> str:
        """Lambda's word for it: Enabled, Disabling, Updating..."""
        return str(self.client.get_event_source_mapping(UUID=self.mapping_id)["State"])

    def is_open(self) -> bool | None:
        state = self.state()
        return True if state == "Enabled" else False if state == "Disabled" else None

    def set_open(self, is_open: bool) -> None:
        deadline = self._clock() + self.settle_seconds
        while True:
            if self.state() in (_OPENING if is_open else _CLOSING):
                return  # there, or on its way
            try:
                self.client.update_event_source_mapping(UUID=self.mapping_id, Enabled=is_open)
                return
            except ClientError as error:
                if error.response["Error"]["Code"] not in _BUSY_CODES \
                        or self._clock() >= deadline:
                    raise
            self._sleep(0.5)


class ConfigurationSetGate:
    """The configuration set's sending: disabled, SES refuses its sends with
    `SendingPausedException` (which the sender treats as a wait)."""

    name = "the SES configuration set's sending"

    def __init__(self, configuration_set: str, client: Any = None) -> None:
        self.configuration_set = configuration_set
        self._client = client

    @cached_property
    def client(self) -> Any:
        return self._client or boto3.client("sesv2")

    def is_open(self) -> bool:
        described = self.client.get_configuration_set(ConfigurationSetName=self.configuration_set)
        return bool(described.get("SendingOptions", {}).get("SendingEnabled", True))

    def set_open(self, is_open: bool) -> None:
        self.client.put_configuration_set_sending_options(
            ConfigurationSetName=self.configuration_set, SendingEnabled=is_open)
