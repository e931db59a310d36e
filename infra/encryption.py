"""The stack's customer-managed KMS key, used by the SNS topics.

A CMK rather than the AWS-managed alias/aws/sns: SES must publish to the encrypted
ses-events topic, and only a CMK's key policy can let ses.amazonaws.com use the key."""

from __future__ import annotations

from aws_cdk import RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from constructs import Construct


class MessagingKey(Construct):
    def __init__(self, scope: Construct, construct_id: str) -> None:
        super().__init__(scope, construct_id)
        stack = Stack.of(self)
        self.key = kms.Key(
            self,
            "Key",
            description=f"{stack.stack_name}: encrypts Mailroom's SNS topics",
            enable_key_rotation=True,
            removal_policy=RemovalPolicy.DESTROY,
        )
        # The services that publish to the encrypted topics encrypt with this key: SES its
        # events to the ses-events topic, CloudWatch its alarms to the alarm topic.
        for sid, service in (("AllowSesToPublishEncryptedEvents", "ses.amazonaws.com"),
                             ("AllowCloudWatchToPublishEncryptedAlarms",
                              "cloudwatch.amazonaws.com")):
            self.key.add_to_resource_policy(
                iam.PolicyStatement(
                    sid=sid,
                    principals=[iam.ServicePrincipal(service)],
                    actions=["kms:GenerateDataKey*", "kms:Decrypt"],
                    resources=["*"],  # in a key policy "*" means this key
                    conditions={"StringEquals": {"aws:SourceAccount": stack.account}},
                )
            )
