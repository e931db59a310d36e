"""What SES reports back: SES → ses-events topic → events queue (+DLQ) → events function.

The queue between SNS and the function lets events arrive in batches, be retried with
partial batch failures, and dead-letter instead of being lost."""

from __future__ import annotations

from aws_cdk import aws_kms as kms
from constructs import Construct

from mailroom import shape

from .config import MailroomConfig
from .functions import FunctionFactory
from .notifications import encrypted_topic
from .queues import QueueWithDlq


class SesEvents(Construct):
    def __init__(
        self, scope: Construct, construct_id: str, *, key: kms.IKey, factory: FunctionFactory
    ) -> None:
        super().__init__(scope, construct_id)
        self.queues = QueueWithDlq(self, "Queue", queue=shape.EVENTS_QUEUE, factory=factory)
        encrypted = encrypted_topic(
            self, "Topic", topic=shape.SES_EVENTS_TOPIC, key=key, factory=factory,
            queues={shape.EVENTS_QUEUE: self.queues.queue},
        )
        self.topic = encrypted.topic
        # SES events SNS could not deliver to the queue (a queue policy or key gone wrong).
        self.subscription_dlq = encrypted.subscription_dlqs[shape.EVENTS_QUEUE]

    def add_function(self, factory: FunctionFactory, *, cfg: MailroomConfig) -> None:
        self.function = factory.create(
            self, shape.EVENTS, max_concurrency=cfg.events_max_concurrency
        )
