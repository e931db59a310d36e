"""The AWS resources of the local stack, with their names and limits in one place.

They mirror the CDK stack (infra/): same keys, indexes, TTL attributes, redrive and
subscriptions, so the handlers meet the same shapes in moto as in AWS. Only names differ:
moto runs one private, in-memory account per local stack, so no prefixes are needed."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from mailroom.adapters.dynamodb import REASON_INDEX, SES_MESSAGE_ID_INDEX

REGION = "us-east-1"
ACCOUNT_ID = "123456789012"  # moto's default account; SES event records carry it too

MESSAGES_TABLE = "messages"
MESSAGES_BY_SES_ID_INDEX = SES_MESSAGE_ID_INDEX
SUPPRESSIONS_TABLE = "suppressions"
SUPPRESSIONS_BY_REASON_INDEX = REASON_INDEX
SUPPRESSIONS_TTL_ATTRIBUTE = "ttl"
IDEMPOTENCY_TABLE = "idempotency"
CONTROL_TABLE = "control"
IDEMPOTENCY_TTL_ATTRIBUTE = "expiration"

SES_EVENTS_TOPIC = "ses-events"
NOTIFICATIONS_TOPIC = "notifications"
SEND_QUEUE = "send"
EVENTS_QUEUE = "ses-events"
# Stands in for an app subscribed to the notifications topic: `mailroom tail` and the e2e
# tests read what apps would receive from here.
NOTIFICATIONS_QUEUE = "notifications"

CONFIGURATION_SET = "mailroom-local"
TEMPLATE_PREFIX = "mailroom-local-"
DEFAULT_FROM = "Mailroom <no-reply@mailroom.example.com>"
ALLOWED_SENDERS = "mailroom.example.com"

# Function timeouts, as in infra/config.py (the fake Lambda context counts down from them).
API_TIMEOUT_SECONDS = 15
SENDER_TIMEOUT_SECONDS = 60
EVENTS_TIMEOUT_SECONDS = 60

# SQS limits, as in infra/config.py: visibility is 6x the consumer's timeout (AWS guidance,
# and the sender's claim lease must fit between the two), 5 tries, then the DLQ keeps the
# message for 14 days. The sender shortens visibility itself to back off sooner.
VISIBILITY_TIMEOUT_FACTOR = 6
VISIBILITY_TIMEOUT_SECONDS = SENDER_TIMEOUT_SECONDS * VISIBILITY_TIMEOUT_FACTOR
MAX_RECEIVE_COUNT = 8
LOCAL_RETRY_BASE_SECONDS = 1
DLQ_RETENTION_SECONDS = 14 * 24 * 3600
# Lambda's SQS event source mapping: up to 10 records per invocation. Locally one poller
# per queue runs one invocation at a time: a fleet of one.
SQS_BATCH_SIZE = 10
LOCAL_FLEET_CONCURRENCY = 1


@dataclass(frozen=True)
class QueueUrls:
    url: str
    arn: str
    dlq_url: str
    dlq_arn: str


@dataclass(frozen=True)
class Resources:
    send_queue: QueueUrls
    events_queue: QueueUrls
    notifications_queue_url: str
    ses_events_topic_arn: str
    notifications_topic_arn: str
    messages_table: str = MESSAGES_TABLE
    suppressions_table: str = SUPPRESSIONS_TABLE
    idempotency_table: str = IDEMPOTENCY_TABLE
    control_table: str = CONTROL_TABLE


def create_resources(dynamodb: Any, sqs: Any, sns: Any) -> Resources:
    """Create every table, queue, topic and subscription; the clients point at moto."""
    _create_tables(dynamodb)
    send_queue = create_queue_with_dlq(sqs, SEND_QUEUE)
    events_queue = create_queue_with_dlq(sqs, EVENTS_QUEUE)
    notifications_queue_url = sqs.create_queue(QueueName=NOTIFICATIONS_QUEUE)["QueueUrl"]

    ses_events_topic_arn = sns.create_topic(Name=SES_EVENTS_TOPIC)["TopicArn"]
    notifications_topic_arn = sns.create_topic(Name=NOTIFICATIONS_TOPIC)["TopicArn"]
    # Raw delivery stays off, as in the stack: the events handler unwraps the SNS envelope.
    sns.subscribe(TopicArn=ses_events_topic_arn, Protocol="sqs", Endpoint=events_queue.arn)
    sns.subscribe(
        TopicArn=notifications_topic_arn,
        Protocol="sqs",
        Endpoint=_queue_arn(sqs, notifications_queue_url),
    )
    return Resources(
        send_queue=send_queue,
        events_queue=events_queue,
        notifications_queue_url=notifications_queue_url,
        ses_events_topic_arn=ses_events_topic_arn,
        notifications_topic_arn=notifications_topic_arn,
    )


def create_queue_with_dlq(
    sqs: Any,
    name: str,
    *,
    visibility_timeout: int = VISIBILITY_TIMEOUT_SECONDS,
    max_receive_count: int = MAX_RECEIVE_COUNT,
) -> QueueUrls:
    dlq_url = sqs.create_queue(
        QueueName=f"{name}-dlq",
        Attributes={"MessageRetentionPeriod": str(DLQ_RETENTION_SECONDS)},
    )["QueueUrl"]
    dlq_arn = _queue_arn(sqs, dlq_url)
    url = sqs.create_queue(
        QueueName=name,
        Attributes={
            "VisibilityTimeout": str(visibility_timeout),
            "RedrivePolicy": json.dumps(
                {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": str(max_receive_count)}
            ),
        },
    )["QueueUrl"]
    return QueueUrls(url=url, arn=_queue_arn(sqs, url), dlq_url=dlq_url, dlq_arn=dlq_arn)


def _queue_arn(sqs: Any, url: str) -> str:
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])
    return attributes["Attributes"]["QueueArn"]


def _create_tables(dynamodb: Any) -> None:
    dynamodb.create_table(
        TableName=MESSAGES_TABLE,
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[
            {"AttributeName": "id", "AttributeType": "S"},
            {"AttributeName": "ses_message_id", "AttributeType": "S"},
        ],
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        GlobalSecondaryIndexes=[
            {
                "IndexName": MESSAGES_BY_SES_ID_INDEX,
                "KeySchema": [{"AttributeName": "ses_message_id", "KeyType": "HASH"}],
                "Projection": {"ProjectionType": "ALL"},
            }
        ],
    )
    dynamodb.create_table(
        TableName=SUPPRESSIONS_TABLE,
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[
            {"AttributeName": "email", "AttributeType": "S"},
            {"AttributeName": "reason", "AttributeType": "S"},
            {"AttributeName": "created_at", "AttributeType": "S"},
        ],
        KeySchema=[{"AttributeName": "email", "KeyType": "HASH"}],
        GlobalSecondaryIndexes=[
            {
                "IndexName": SUPPRESSIONS_BY_REASON_INDEX,
                "KeySchema": [
                    {"AttributeName": "reason", "KeyType": "HASH"},
                    {"AttributeName": "created_at", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "ALL"},
            }
        ],
    )
    dynamodb.create_table(
        TableName=IDEMPOTENCY_TABLE,
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
    )
    dynamodb.create_table(
        TableName=CONTROL_TABLE,
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": "name", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "name", "KeyType": "HASH"}],
    )
    # moto records TTL settings but never expires items; the adapters ignore expired items.
    for table, attribute in (
        (SUPPRESSIONS_TABLE, SUPPRESSIONS_TTL_ATTRIBUTE),
        (IDEMPOTENCY_TABLE, IDEMPOTENCY_TTL_ATTRIBUTE),
    ):
        dynamodb.update_time_to_live(
            TableName=table,
            TimeToLiveSpecification={"Enabled": True, "AttributeName": attribute},
        )
