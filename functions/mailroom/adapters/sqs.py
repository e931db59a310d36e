"""SQS adapters: the send queue, and dead-letter queues a function writes to itself."""

from __future__ import annotations

from collections.abc import Sequence
from functools import cached_property
from typing import Any

import boto3

from ..models import SendRequest
from ..shape import DEAD_LETTER_DETAIL, DEAD_LETTER_REASON
from .batching import DEFAULT_BACKOFF, Answer, Backoff, call_in_batches, failed_entries

SQS_BATCH_LIMIT = 10  # SendMessageBatch's limit per call
# SQS takes at most 256 KiB per message, attributes included; the detail is a sentence.
MAX_DETAIL_LENGTH = 1000


class SqsDeadLetters:
    """Its client is made at first use: most invocations never write a dead letter."""

    def __init__(self, queue_url: str, client: Any = None) -> None:
        self.queue_url = queue_url
        self._client = client

    @cached_property
    def client(self) -> Any:
        return self._client or boto3.client("sqs")

    def put(self, body: str, reason: str, detail: str) -> None:
        self.client.send_message(QueueUrl=self.queue_url, MessageBody=body, MessageAttributes={
            DEAD_LETTER_REASON: {"DataType": "String", "StringValue": reason},
            DEAD_LETTER_DETAIL: {"DataType": "String",
                                 "StringValue": detail[:MAX_DETAIL_LENGTH] or reason},
        })


class SqsSendQueue:
    def __init__(self, queue_url: str, client: Any = None, *,
                 backoff: Backoff = DEFAULT_BACKOFF) -> None:
        self.queue_url = queue_url
        self.client = client or boto3.client("sqs")
        self.backoff = backoff

    def enqueue(self, requests: Sequence[SendRequest], delay_seconds: int = 0) -> None:
        entries = [
            {"Id": str(index), "MessageBody": request.model_dump_json(by_alias=True),
             "DelaySeconds": delay_seconds}
            for index, request in enumerate(requests)
        ]
        call_in_batches(entries, SQS_BATCH_LIMIT, self._send_batch,
                        what="SQS messages", backoff=self.backoff)

    def _send_batch(self, entries: list[dict[str, Any]]) -> Answer[dict[str, Any], Any]:
        response = self.client.send_message_batch(QueueUrl=self.queue_url, Entries=entries)
        return failed_entries(entries, response)
