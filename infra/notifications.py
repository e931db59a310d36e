"""The notifications topic apps subscribe to: one normalised event per message outcome."""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import Duration
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from mailroom import shape

from .functions import Binding, FunctionFactory, resource_statement
from .nag import acknowledge


@dataclass(frozen=True)
class EncryptedTopic:
    topic: sns.Topic
    # Per subscribed queue, where SNS puts what it could not deliver to it.
    subscription_dlqs: dict[shape.Queue, sqs.Queue]


def encrypted_topic(
    scope: Construct,
    construct_id: str,
    *,
    topic: shape.Topic,
    key: kms.IKey,
    factory: FunctionFactory,
    queues: dict[shape.Queue, sqs.IQueue] | None = None,
) -> EncryptedTopic:
    """The topic `topic` declares, encrypted with `key`, its declared queues subscribed, each
    subscription with a dead-letter queue of its own. Publishing to it takes the key too:
    SNS encrypts with it on the publisher's behalf."""
    construct = sns.Topic(
        scope, construct_id, display_name=topic.display_name, master_key=key, enforce_ssl=True
    )
    dlqs = {}
    for queue in topic.queues:
        dlqs[queue] = sqs.Queue(
            scope, f"{construct_id}SubscriptionDlq",
            encryption=sqs.QueueEncryption.SQS_MANAGED, enforce_ssl=True,
            retention_period=Duration.seconds(queue.dlq_retention_seconds))
        acknowledge(
            dlqs[queue], "SQS3",
            "This is a dead-letter queue: SNS's, for the subscription (its RedrivePolicy on the "
            "subscription, which the check does not see). A DLQ of its own would hide failures "
            "one step further; its alarm watches it instead.")
        # Raw delivery off: the subscriber parses the SNS envelope, the same shape the
        # local stack produces.
        construct.add_subscription(subscriptions.SqsSubscription(
            (queues or {})[queue], raw_message_delivery=False, dead_letter_queue=dlqs[queue]))

    def statements(access: shape.Access) -> list[iam.PolicyStatement]:
        return [
            *resource_statement("sns", access, construct.topic_arn),
            iam.PolicyStatement(
                actions=["kms:GenerateDataKey", "kms:Decrypt"], resources=[key.key_arn]
            ),
        ]

    factory.bind(topic, Binding(identifier=construct.topic_arn, statements=statements))
    return EncryptedTopic(construct, dlqs)


class Notifications(Construct):
    def __init__(
        self, scope: Construct, construct_id: str, *, key: kms.IKey, factory: FunctionFactory
    ) -> None:
        super().__init__(scope, construct_id)
        self.topic = encrypted_topic(
            self, "Topic", topic=shape.NOTIFICATIONS_TOPIC, key=key, factory=factory
        ).topic
