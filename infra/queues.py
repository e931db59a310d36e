"""A work queue and its dead-letter queue, as `mailroom.shape` declares them: both encrypted
and TLS-only."""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from mailroom import shape

from .functions import Binding, FunctionFactory, resource_statement


class QueueWithDlq(Construct):
    def __init__(
        self, scope: Construct, construct_id: str, *, queue: shape.Queue, factory: FunctionFactory
    ) -> None:
        super().__init__(scope, construct_id)
        # SQS-managed SSE: encrypted at rest without KMS request costs or a key policy for SNS
        # to deliver into the events queue.
        self.dlq = sqs.Queue(
            self,
            "Dlq",
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            retention_period=Duration.seconds(queue.dlq_retention_seconds),
        )
        self.queue = sqs.Queue(
            self,
            "Queue",
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            visibility_timeout=Duration.seconds(queue.visibility_timeout_seconds),
            retention_period=Duration.seconds(queue.retention_seconds),
            dead_letter_queue=sqs.DeadLetterQueue(
                queue=self.dlq, max_receive_count=queue.max_receive_count
            ),
        )
        factory.bind(queue, Binding(
            identifier=self.queue.queue_url,
            statements=lambda access: resource_statement("sqs", access, self.queue.queue_arn),
            queue=self.queue,
        ))
        factory.bind(shape.DeadLetters(queue), Binding(
            identifier=self.dlq.queue_url,
            statements=lambda access: resource_statement("sqs", access, self.dlq.queue_arn),
        ))
