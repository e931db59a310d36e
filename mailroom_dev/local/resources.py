"""The AWS resources of the local stack, created in moto from `mailroom.shape` — the same
declaration the CDK stack is built from, so the handlers meet the same keys, indexes, TTL
attributes, redrive, retention and subscriptions locally as in AWS. Only names differ: moto
runs one private, in-memory account per local stack, so the shape's names need no prefix.

What is local-only is named here: the stand-in subscriber to the notifications topic, the
SES names the simulator answers to, and the tunables that make retries watchable."""

from __future__ import annotations

import json
import secrets
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from mailroom import shape

REGION = "us-east-1"
ACCOUNT_ID = "123456789012"  # moto's default account; SES event records carry it too

# Stands in for an app subscribed to the notifications topic: `mailroom tail` and the e2e
# tests read what apps would receive from here.
NOTIFICATIONS_QUEUE = "notifications"

CONFIGURATION_SET = "mailroom-local"
TEMPLATE_PREFIX = "mailroom-local-"
DEFAULT_FROM = "Mailroom <no-reply@mailroom.example.com>"
ALLOWED_SENDERS = "mailroom.example.com"

# Locally one poller per queue runs one invocation at a time: a fleet of one.
LOCAL_FLEET_CONCURRENCY = 1
# Retry within seconds, not minutes: locally one watches retries happen.
LOCAL_RETRY_BASE_SECONDS = 1
# Scheduled invocations every half minute, whatever the stack's rate: quick to watch. The
# canary keeps its own rate: every half minute it would fill the outbox with its mail.
LOCAL_SCHEDULE_SECONDS = 30
AT_DECLARED_RATE = {shape.CANARY_RUN.task}


def local_schedule_seconds(schedule: shape.Schedule) -> float:
    if schedule.task in AT_DECLARED_RATE:
        return schedule.every_minutes * 60.0
    return LOCAL_SCHEDULE_SECONDS


@dataclass(frozen=True)
class QueueUrls:
    url: str
    arn: str
    dlq_url: str
    dlq_arn: str


@dataclass(frozen=True)
class Resources:
    """What was created, by the shape's names."""

    tables: Mapping[str, str]
    queues: Mapping[str, QueueUrls]
    topics: Mapping[str, str]  # ARNs
    notifications_queue_url: str
    # Each function's SQS event source mapping id, served by the local Lambda stand-in.
    consumers: Mapping[str, str]
    # Per subscribed queue, the SNS subscription's dead-letter queue URL.
    subscription_dlqs: Mapping[str, str]
    api_key_id: str = ""  # the API key's id in moto's API Gateway, once the stack made it
    # Each secret's ARN, when the resources were made with a Secrets Manager client.
    secrets: Mapping[str, str] = field(default_factory=dict)

    def identifier(self, resource: shape.Resource) -> str:
        """What a function's setting holds for `resource`, as in the deployed stack: a
        table's name, a queue's URL, a topic's ARN, an event source mapping's id, the
        configuration set's name."""
        if isinstance(resource, shape.Table):
            return self.tables[resource.name]
        if isinstance(resource, shape.Queue):
            return self.queues[resource.name].url
        if isinstance(resource, shape.DeadLetters):
            return self.queues[resource.queue.name].dlq_url
        if isinstance(resource, shape.Topic):
            return self.topics[resource.name]
        if isinstance(resource, shape.Consumer):
            return self.consumers[resource.function]
        if isinstance(resource, shape.ApiKey):
            return self.api_key_id
        if isinstance(resource, shape.Secret):
            # A name no secret has, when none was made: only a read of it fails.
            return self.secrets.get(resource.name, f"arn:aws:secretsmanager:{REGION}:"
                                                   f"{ACCOUNT_ID}:secret:{resource.name}-none")
        return CONFIGURATION_SET

    @property
    def send_queue(self) -> QueueUrls:
        return self.queues[shape.SEND_QUEUE.name]

    @property
    def events_queue(self) -> QueueUrls:
        return self.queues[shape.EVENTS_QUEUE.name]

    @property
    def ses_events_topic_arn(self) -> str:
        return self.topics[shape.SES_EVENTS_TOPIC.name]

    @property
    def notifications_topic_arn(self) -> str:
        return self.topics[shape.NOTIFICATIONS_TOPIC.name]

    @property
    def messages_table(self) -> str:
        return self.tables[shape.MESSAGES.name]

    @property
    def suppressions_table(self) -> str:
        return self.tables[shape.SUPPRESSIONS.name]

    @property
    def idempotency_table(self) -> str:
        return self.tables[shape.IDEMPOTENCY.name]

    @property
    def control_table(self) -> str:
        return self.tables[shape.CONTROL.name]

    @property
    def counters_table(self) -> str:
        return self.tables[shape.COUNTERS.name]


def create_resources(dynamodb: Any, sqs: Any, sns: Any, secretsmanager: Any = None
                     ) -> Resources:
    """Create every table, queue, topic and subscription (and, given its client, every
    secret with a random value, as the stack generates it); the clients point at moto."""
    tables = {table.name: create_table(dynamodb, table) for table in shape.TABLES}
    queues = {queue.name: create_declared_queue(sqs, queue) for queue in shape.QUEUES}
    topics, subscription_dlqs = {}, {}
    for topic in shape.TOPICS:
        topics[topic.name] = arn = sns.create_topic(Name=topic.name)["TopicArn"]
        for queue in topic.queues:
            # Raw delivery stays off, as in the stack: the subscriber reads the SNS envelope;
            # what SNS cannot deliver goes to the subscription's own dead-letter queue.
            dlq_url = sqs.create_queue(QueueName=f"{queue.name}-subscription-dlq", Attributes={
                "MessageRetentionPeriod": str(queue.dlq_retention_seconds)})["QueueUrl"]
            subscription_dlqs[queue.name] = dlq_url
            redrive = json.dumps({"deadLetterTargetArn": _queue_arn(sqs, dlq_url)})
            sns.subscribe(TopicArn=arn, Protocol="sqs", Endpoint=queues[queue.name].arn,
                          Attributes={"RedrivePolicy": redrive})
    notifications_queue_url = sqs.create_queue(QueueName=NOTIFICATIONS_QUEUE)["QueueUrl"]
    sns.subscribe(
        TopicArn=topics[shape.NOTIFICATIONS_TOPIC.name],
        Protocol="sqs",
        Endpoint=_queue_arn(sqs, notifications_queue_url),
    )
    consumers = {spec.name: str(uuid.uuid4()) for spec in shape.FUNCTIONS if spec.event_source}
    made = {} if secretsmanager is None else {
        secret.name: secretsmanager.create_secret(
            Name=secret.name, SecretString=secrets.token_urlsafe(48))["ARN"]
        for secret in shape.SECRETS}
    return Resources(tables=tables, queues=queues, topics=topics,
                     notifications_queue_url=notifications_queue_url, consumers=consumers,
                     subscription_dlqs=subscription_dlqs, secrets=made)


def create_declared_queue(sqs: Any, queue: shape.Queue) -> QueueUrls:
    return create_queue_with_dlq(
        sqs,
        queue.name,
        visibility_timeout=queue.visibility_timeout_seconds,
        max_receive_count=queue.max_receive_count,
        retention_seconds=queue.retention_seconds,
        dlq_retention_seconds=queue.dlq_retention_seconds,
    )


def create_queue_with_dlq(
    sqs: Any,
    name: str,
    *,
    visibility_timeout: int,
    max_receive_count: int,
    retention_seconds: int = shape.MAX_RETENTION_SECONDS,
    dlq_retention_seconds: int = shape.MAX_RETENTION_SECONDS,
) -> QueueUrls:
    dlq_url = sqs.create_queue(
        QueueName=f"{name}-dlq",
        Attributes={"MessageRetentionPeriod": str(dlq_retention_seconds)},
    )["QueueUrl"]
    dlq_arn = _queue_arn(sqs, dlq_url)
    url = sqs.create_queue(
        QueueName=name,
        Attributes={
            "VisibilityTimeout": str(visibility_timeout),
            "MessageRetentionPeriod": str(retention_seconds),
            "RedrivePolicy": json.dumps(
                {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": str(max_receive_count)}
            ),
        },
    )["QueueUrl"]
    return QueueUrls(url=url, arn=_queue_arn(sqs, url), dlq_url=dlq_url, dlq_arn=dlq_arn)


def _queue_arn(sqs: Any, url: str) -> str:
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])
    return str(attributes["Attributes"]["QueueArn"])


def create_table(dynamodb: Any, table: shape.Table) -> str:
    keys = set(table.keys) | {key for index in table.indexes for key in index.keys}
    request: dict[str, Any] = {
        "TableName": table.name,
        "BillingMode": "PAY_PER_REQUEST",
        "AttributeDefinitions": [{"AttributeName": key, "AttributeType": "S"}
                                 for key in sorted(keys)],
        "KeySchema": _key_schema(table.keys),
    }
    if table.indexes:
        request["GlobalSecondaryIndexes"] = [
            {
                "IndexName": index.name,
                "KeySchema": _key_schema(index.keys),
                "Projection": {"ProjectionType": index.projection.value},
            }
            for index in table.indexes
        ]
    dynamodb.create_table(**request)
    if table.ttl_attribute:
        # moto records TTL settings but never expires items; the adapters ignore expired ones.
        dynamodb.update_time_to_live(
            TableName=table.name,
            TimeToLiveSpecification={"Enabled": True, "AttributeName": table.ttl_attribute},
        )
    return table.name


def _key_schema(keys: tuple[str, ...]) -> list[dict[str, str]]:
    """The partition key, then the sort key if there is one."""
    return [{"AttributeName": key, "KeyType": kind}
            for key, kind in zip(keys, ("HASH", "RANGE"), strict=False)]
