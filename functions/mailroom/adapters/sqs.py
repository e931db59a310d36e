"""SQS adapter for the send queue."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import boto3

from ..models import SendRequest
from .batching import DEFAULT_BACKOFF, Answer, Backoff, call_in_batches, failed_entries

SQS_BATCH_LIMIT = 10  # SendMessageBatch's limit per call


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
