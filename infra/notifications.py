"""The notifications topic apps subscribe to: one normalised event per message outcome."""

from __future__ import annotations

from dataclasses import dataclass

import jsii
from aws_cdk import Duration, IStableListProducer, Lazy
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

    _publish_only_from_ours(construct, topic, factory)

    def statements(access: shape.Access) -> list[iam.PolicyStatement]:
        return [
            *resource_statement("sns", access, construct.topic_arn),
            iam.PolicyStatement(
                actions=["kms:GenerateDataKey", "kms:Decrypt"], resources=[key.key_arn]
            ),
        ]

    factory.bind(topic, Binding(identifier=construct.topic_arn, statements=statements))
    return EncryptedTopic(construct, dlqs)


@jsii.implements(IStableListProducer)
class _RoleArns:
    """The functions' role ARNs, read at synth: the topic exists before its publishers."""

    def __init__(self, factory: FunctionFactory, names: list[str]) -> None:
        self._factory, self._names = factory, names

    def produce(self) -> list[str]:
        return [self._factory.roles[name].role_arn for name in self._names]


def _publish_only_from_ours(construct: sns.Topic, topic: shape.Topic,
                            factory: FunctionFactory) -> None:
    """Without this, any principal of the account whose IAM policy allows sns:Publish
    could publish: a forged SES event or a forged notification. Only the functions that
    declare Publish on the topic may, and AWS services that the topic policy allows on its
    own terms (SES, for this configuration set in this account)."""
    publishers = [spec.name for spec in shape.FUNCTIONS for access in spec.access
                  if access.resource == topic and "Publish" in access.actions]
    conditions: dict[str, object] = {"Bool": {"aws:PrincipalIsAWSService": "false"}}
    if publishers:
        conditions["ArnNotEquals"] = {"aws:PrincipalArn": Lazy.list(
            _RoleArns(factory, publishers))}
    construct.add_to_resource_policy(iam.PolicyStatement(
        sid="PublishOnlyFromMailroom", effect=iam.Effect.DENY,
        principals=[iam.AnyPrincipal()], actions=["sns:Publish"],
        resources=[construct.topic_arn], conditions=conditions,
    ))


class Notifications(Construct):
    def __init__(
        self, scope: Construct, construct_id: str, *, key: kms.IKey, factory: FunctionFactory
    ) -> None:
        super().__init__(scope, construct_id)
        self.topic = encrypted_topic(
            self, "Topic", topic=shape.NOTIFICATIONS_TOPIC, key=key, factory=factory
        ).topic
