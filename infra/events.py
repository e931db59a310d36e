"""What SES reports back: SES → ses-events topic → events queue (+DLQ) → events function.

The queue between SNS and the function lets events arrive in batches, be retried with
partial batch failures, and dead-letter instead of being lost."""

from __future__ import annotations

from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda_event_sources as sources
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from constructs import Construct

from . import config
from .config import EventsSettings, MailroomConfig
from .functions import FunctionFactory, FunctionSpec
from .notifications import Notifications
from .queues import QueueWithDlq
from .storage import MESSAGES_BY_SES_ID, Storage


class SesEvents(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, key: kms.IKey) -> None:
        super().__init__(scope, construct_id)
        self.topic = sns.Topic(
            self, "Topic", display_name="Mailroom SES events", master_key=key, enforce_ssl=True
        )
        self.queues = QueueWithDlq(self, "Queue", consumer_timeout=config.EVENTS_TIMEOUT)
        # Raw delivery off: the function parses the SNS envelope around each SES event, the
        # same shape the local stack produces.
        self.topic.add_subscription(
            subscriptions.SqsSubscription(self.queues.queue, raw_message_delivery=False)
        )

    def add_function(
        self,
        factory: FunctionFactory,
        *,
        cfg: MailroomConfig,
        storage: Storage,
        notifications: Notifications,
    ) -> None:
        self.function = factory.create(
            self,
            FunctionSpec(
                name="events",
                handler="handlers.events.handler",
                settings=EventsSettings,
                settings_values=dict(
                    messages_table=storage.messages.table_name,
                    suppressions_table=storage.suppressions.table_name,
                    notifications_topic_arn=notifications.topic.topic_arn,
                ),
                timeout=config.EVENTS_TIMEOUT,
                description="Applies SES events: message timeline, suppressions, notifications",
                statements=[
                    # Find a message by SES message id, append to its timeline, move status.
                    Storage.statement(
                        storage.messages,
                        ["GetItem", "UpdateItem", "Query"],
                        index=MESSAGES_BY_SES_ID,
                    ),
                    # Suppress and count soft bounces: both conditional updates on the
                    # address's item.
                    Storage.statement(storage.suppressions, ["GetItem", "UpdateItem"]),
                    *notifications.publish_statements(),
                ],
            ),
        )
        self.function.add_event_source(
            sources.SqsEventSource(
                self.queues.queue,
                batch_size=config.SQS_BATCH_SIZE,
                report_batch_item_failures=True,
                max_concurrency=cfg.events_max_concurrency,
            )
        )
