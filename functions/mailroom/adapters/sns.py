"""SNS adapter for the notifications topic apps subscribe to."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import boto3

from ..models import Notification

SNS_BATCH_LIMIT = 10


class SnsPublisher:
    """Publishes each notification with a `type` message attribute (email.bounced, …) so
    subscribers can filter with an SNS filter policy instead of receiving everything."""

    def __init__(self, topic_arn: str, client: Any = None) -> None:
        self.topic_arn = topic_arn
        self.client = client or boto3.client("sns")

    def publish(self, notifications: Sequence[Notification]) -> None:
        for start in range(0, len(notifications), SNS_BATCH_LIMIT):
            chunk = notifications[start:start + SNS_BATCH_LIMIT]
            response = self.client.publish_batch(
                TopicArn=self.topic_arn,
                PublishBatchRequestEntries=[
                    {
                        "Id": str(index),
                        "Message": notification.model_dump_json(),
                        "MessageAttributes": {
                            "type": {"DataType": "String", "StringValue": notification.type},
                        },
                    }
                    for index, notification in enumerate(chunk)
                ],
            )
            if response.get("Failed"):
                raise RuntimeError(f"SNS refused notifications: {response['Failed']}")
