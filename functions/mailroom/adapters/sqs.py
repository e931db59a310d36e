"""SQS adapter for the send queue."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import boto3

from ..models import SendRequest

SQS_BATCH_LIMIT = 10


class SqsSendQueue:
    def __init__(self, queue_url: str, client: Any = None) -> None:
        self.queue_url = queue_url
        self.client = client or boto3.client("sqs")

    def enqueue(self, requests: Sequence[SendRequest], delay_seconds: int = 0) -> None:
        for start in range(0, len(requests), SQS_BATCH_LIMIT):
            chunk = requests[start:start + SQS_BATCH_LIMIT]
            response = self.client.send_message_batch(
                QueueUrl=self.queue_url,
                Entries=[
                    {"Id": str(index), "MessageBody": request.model_dump_json(by_alias=True),
                     "DelaySeconds": delay_seconds}
                    for index, request in enumerate(chunk)
                ],
            )
            if response.get("Failed"):
                failed = ", ".join(f"{f['Id']}: {f.get('Message', f['Code'])}"
                                   for f in response["Failed"])
                raise RuntimeError(f"SQS refused {len(response['Failed'])} message(s): {failed}")
