"""SNS adapter for the notifications topic apps subscribe to."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

import boto3

from ..models import Notification
from .batching import DEFAULT_BACKOFF, Answer, Backoff, call_in_batches, failed_entries

SNS_BATCH_LIMIT = 10  # PublishBatch's limit per call
# boto3's default session is not safe to build clients from concurrently, and the sender
# publishes from its worker threads.
_CLIENT_LOCK = threading.Lock()


class SnsPublisher:
    """Publishes each notification with a `type` message attribute (email.bounced, …) so
    subscribers can filter with an SNS filter policy instead of receiving everything.
    Without a `client`, one is made at first use: the API and the sender publish only now
    and then (an unsubscribe, a failure), and a client costs init time."""

    def __init__(self, topic_arn: str, client: Any = None, *,
                 backoff: Backoff = DEFAULT_BACKOFF) -> None:
        self.topic_arn = topic_arn
        self._client = client
        self.backoff = backoff

    @property
    def client(self) -> Any:
        if self._client is None:
            with _CLIENT_LOCK:
                if self._client is None:
                    self._client = boto3.client("sns")
        return self._client

    def publish(self, notifications: Sequence[Notification]) -> None:
        entries = [
            {
                "Id": str(index),
                "Message": notification.model_dump_json(),
                "MessageAttributes": {
                    "type": {"DataType": "String", "StringValue": notification.type},
                },
            }
            for index, notification in enumerate(notifications)
        ]
        call_in_batches(entries, SNS_BATCH_LIMIT, self._publish_batch,
                        what="SNS notifications", backoff=self.backoff)

    def _publish_batch(self, entries: list[dict[str, Any]]) -> Answer[dict[str, Any], Any]:
        response = self.client.publish_batch(TopicArn=self.topic_arn,
                                             PublishBatchRequestEntries=entries)
        return failed_entries(entries, response)
