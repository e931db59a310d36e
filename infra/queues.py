"""A work queue and its dead-letter queue, both encrypted and TLS-only."""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_iam as iam
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from . import config


class QueueWithDlq(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, consumer_timeout: Duration) -> None:
        super().__init__(scope, construct_id)
        # SQS-managed SSE: encrypted at rest without KMS request costs or a key policy for SNS
        # to deliver into the events queue.
        self.dlq = sqs.Queue(
            self,
            "Dlq",
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            retention_period=config.DLQ_RETENTION,
        )
        self.queue = sqs.Queue(
            self,
            "Queue",
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            visibility_timeout=Duration.seconds(
                consumer_timeout.to_seconds() * config.VISIBILITY_TIMEOUT_FACTOR
            ),
            dead_letter_queue=sqs.DeadLetterQueue(
                queue=self.dlq, max_receive_count=config.MAX_RECEIVE_COUNT
            ),
        )

    def send_statement(self) -> iam.PolicyStatement:
        """Enqueue only (SendMessageBatch is authorised by sqs:SendMessage)."""
        return iam.PolicyStatement(actions=["sqs:SendMessage"], resources=[self.queue.queue_arn])
