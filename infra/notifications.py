"""The notifications topic apps subscribe to: one normalised event per message outcome."""

from __future__ import annotations

from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from constructs import Construct


class Notifications(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, key: kms.IKey) -> None:
        super().__init__(scope, construct_id)
        self.key = key
        self.topic = sns.Topic(
            self, "Topic", display_name="Mailroom notifications", master_key=key, enforce_ssl=True
        )

    def publish_statements(self) -> list[iam.PolicyStatement]:
        """What a function needs to publish: the topic, and the key SNS encrypts with."""
        return [
            iam.PolicyStatement(actions=["sns:Publish"], resources=[self.topic.topic_arn]),
            iam.PolicyStatement(
                actions=["kms:GenerateDataKey", "kms:Decrypt"], resources=[self.key.key_arn]
            ),
        ]
