"""Emulates Lambda's SQS event source mapping: long-polls a queue, hands batches of up to its
batch size to a handler in the event shape Lambda builds, deletes what succeeded and leaves the
rest to come back after the visibility timeout — so SQS itself counts receives and moves a
message to its DLQ after maxReceiveCount, as in AWS."""

from __future__ import annotations

import base64
import logging
import threading
from typing import Any

from mailroom.shape import EventSource

from .lambda_api import EventSourceMapping
from .lambda_runtime import LambdaFunction
from .logs import about

log = logging.getLogger("mailroom_dev.local")

# Short long-polls keep the local stack snappy and let stop() return quickly.
WAIT_TIME_SECONDS = 1
# How often a disabled mapping looks whether it is enabled again.
DISABLED_CHECK_SECONDS = 0.2


def sqs_event(messages: list[dict[str, Any]], queue_arn: str, region: str) -> dict[str, Any]:
    """The event Lambda passes to a function for a batch of received SQS messages."""
    return {"Records": [_record(message, queue_arn, region) for message in messages]}


def _record(message: dict[str, Any], queue_arn: str, region: str) -> dict[str, Any]:
    record = {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message.get("Body", ""),
        "attributes": dict(message.get("Attributes", {})),
        "messageAttributes": {
            name: _message_attribute(value)
            for name, value in message.get("MessageAttributes", {}).items()
        },
        "md5OfBody": message.get("MD5OfBody"),
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": region,
    }
    if "MD5OfMessageAttributes" in message:
        record["md5OfMessageAttributes"] = message["MD5OfMessageAttributes"]
    return record


def _message_attribute(value: dict[str, Any]) -> dict[str, Any]:
    # Lambda spells SQS's attribute fields in camelCase and always lists the list fields.
    attribute: dict[str, Any] = {
        "stringListValues": value.get("StringListValues", []),
        "binaryListValues": value.get("BinaryListValues", []),
        "dataType": value["DataType"],
    }
    if "StringValue" in value:
        attribute["stringValue"] = value["StringValue"]
    if "BinaryValue" in value:
        attribute["binaryValue"] = base64.b64encode(value["BinaryValue"]).decode()
    return attribute


def failed_message_ids(response: Any, batch_ids: list[str]) -> set[str]:
    """Which messages of the batch to leave for redelivery, read the way Lambda reads a
    `ReportBatchItemFailures` response: no failures listed means all succeeded; an item
    identifier that is empty or not in the batch fails the whole batch."""
    if not isinstance(response, dict) or not response.get("batchItemFailures"):
        return set()
    failures = response["batchItemFailures"]
    if not isinstance(failures, list):
        return set(batch_ids)
    identifiers = {
        failure.get("itemIdentifier") if isinstance(failure, dict) else None
        for failure in failures
    }
    if not identifiers <= set(batch_ids):
        return set(batch_ids)
    return {identifier for identifier in identifiers if identifier}  # type: ignore[misc]


class _Background:
    """A daemon thread running `_run` until asked to stop; what the local triggers share."""

    function: LambdaFunction
    kind = "background"
    join_seconds: float = 10

    def __init__(self) -> None:
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(
            target=self._run, name=f"{self.kind}-{self.function.name}", daemon=True)
        self._thread.start()

    def request_stop(self) -> None:
        """Stop after the current wait; `stop` also waits for that."""
        self._stopping.set()

    def stop(self) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout=self.join_seconds)
            self._thread = None

    def _run(self) -> None:
        raise NotImplementedError


class SqsPoller(_Background):
    """One event source mapping: one queue, one function, one batch at a time. With a
    `mapping`, it receives only while the mapping is enabled (a pause disables the sender's)."""

    kind = "poller"

    def __init__(
        self,
        sqs: Any,
        queue_url: str,
        queue_arn: str,
        function: LambdaFunction,
        region: str,
        batch_size: int = EventSource.batch_size,
        wait_time_seconds: int = WAIT_TIME_SECONDS,
        mapping: EventSourceMapping | None = None,
    ) -> None:
        self.sqs = sqs
        self.mapping = mapping
        self.queue_url = queue_url
        self.queue_arn = queue_arn
        self.function = function
        self.region = region
        self.batch_size = batch_size
        self.wait_time_seconds = wait_time_seconds
        self.join_seconds = wait_time_seconds + 10  # a long poll may be under way
        super().__init__()

    def _run(self) -> None:
        while not self._stopping.is_set():
            if self.mapping is not None and not self.mapping.settle():
                self._stopping.wait(DISABLED_CHECK_SECONDS)
                continue
            try:
                self.poll_once()
            except Exception:
                if self._stopping.is_set():
                    return  # moto may already be gone during shutdown
                log.exception("receiving from SQS failed", extra=about(self.function.name))
                self._stopping.wait(1)

    def poll_once(self) -> int:
        """Receive one batch and process it; returns how many messages were received."""
        messages = self.sqs.receive_message(
            QueueUrl=self.queue_url,
            MaxNumberOfMessages=self.batch_size,
            WaitTimeSeconds=self.wait_time_seconds,
            MessageSystemAttributeNames=["All"],
            MessageAttributeNames=["All"],
        ).get("Messages", [])
        if messages:
            self.process(messages)
        return len(messages)

    def process(self, messages: list[dict[str, Any]]) -> None:
        batch_ids = [message["MessageId"] for message in messages]
        try:
            response = self.function.invoke(sqs_event(messages, self.queue_arn, self.region))
        except Exception:
            # A function error fails the whole batch: every message comes back later.
            log.exception("the function failed a batch of %d", len(messages),
                          extra=about(self.function.name))
            return
        failed = failed_message_ids(response, batch_ids)
        if failed:
            log.info("%d of %d messages left for retry", len(failed), len(messages),
                     extra=about(self.function.name))
        done = [m for m in messages if m["MessageId"] not in failed]
        if done:
            self.sqs.delete_message_batch(
                QueueUrl=self.queue_url,
                Entries=[
                    {"Id": str(index), "ReceiptHandle": message["ReceiptHandle"]}
                    for index, message in enumerate(done)
                ],
            )


class ScheduledInvoker(_Background):
    """Stands in for an EventBridge schedule: invokes a function with its fixed event every
    `every_seconds`, until stopped."""

    kind = "schedule"

    def __init__(self, function: LambdaFunction, event: dict[str, Any],
                 every_seconds: float) -> None:
        self.function = function
        self.event = event
        self.every_seconds = every_seconds
        super().__init__()

    def _run(self) -> None:
        while not self._stopping.wait(self.every_seconds):
            try:
                self.function.invoke(dict(self.event))
            except Exception:
                if self._stopping.is_set():
                    return
                log.exception("scheduled %s failed", self.function.name)
