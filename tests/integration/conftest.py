"""Integration fixtures: the real adapters against moto, in-process (`mock_aws`)."""

from __future__ import annotations

import boto3
import pytest
from moto import mock_aws

REGION = "us-east-1"


@pytest.fixture(autouse=True)
def aws_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_SESV2", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")


@pytest.fixture
def aws():
    with mock_aws():
        yield


@pytest.fixture
def dynamodb(aws):
    return boto3.client("dynamodb", region_name=REGION)


@pytest.fixture
def messages_table(dynamodb) -> str:
    dynamodb.create_table(
        TableName="messages",
        BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[
            {"AttributeName": "id", "AttributeType": "S"},
            {"AttributeName": "ses_message_id", "AttributeType": "S"},
        ],
        GlobalSecondaryIndexes=[{
            "IndexName": "by_ses_message_id",
            "KeySchema": [{"AttributeName": "ses_message_id", "KeyType": "HASH"}],
            "Projection": {"ProjectionType": "ALL"},
        }],
    )
    return "messages"


@pytest.fixture
def suppressions_table(dynamodb) -> str:
    dynamodb.create_table(
        TableName="suppressions",
        BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": "email", "KeyType": "HASH"}],
        AttributeDefinitions=[
            {"AttributeName": "email", "AttributeType": "S"},
            {"AttributeName": "reason", "AttributeType": "S"},
            {"AttributeName": "created_at", "AttributeType": "S"},
        ],
        GlobalSecondaryIndexes=[{
            "IndexName": "by_reason",
            "KeySchema": [{"AttributeName": "reason", "KeyType": "HASH"},
                          {"AttributeName": "created_at", "KeyType": "RANGE"}],
            "Projection": {"ProjectionType": "ALL"},
        }],
    )
    return "suppressions"


@pytest.fixture
def idempotency_table(dynamodb) -> str:
    dynamodb.create_table(
        TableName="idempotency",
        BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
    )
    return "idempotency"


@pytest.fixture
def send_queue(aws) -> dict[str, str]:
    sqs = boto3.client("sqs", region_name=REGION)
    dlq = sqs.create_queue(QueueName="send-dlq")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])[
        "Attributes"]["QueueArn"]
    import json

    url = sqs.create_queue(QueueName="send", Attributes={
        "VisibilityTimeout": "60",
        "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "5"}),
    })["QueueUrl"]
    return {"url": url, "dlq_url": dlq}


@pytest.fixture
def notifications(aws) -> dict[str, str]:
    """The notifications topic with a queue subscribed, to read what apps receive."""
    sns = boto3.client("sns", region_name=REGION)
    sqs = boto3.client("sqs", region_name=REGION)
    topic = sns.create_topic(Name="notifications")["TopicArn"]
    queue = sqs.create_queue(QueueName="notifications-inbox")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])[
        "Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn,
                  Attributes={"RawMessageDelivery": "true"})
    return {"topic_arn": topic, "queue_url": queue}


@pytest.fixture
def api_env(monkeypatch, messages_table, suppressions_table, idempotency_table, send_queue):
    """Environment of the API function, as CDK sets it."""
    from mailroom import settings

    values = {
        "MAILROOM_MESSAGES_TABLE": messages_table,
        "MAILROOM_SUPPRESSIONS_TABLE": suppressions_table,
        "MAILROOM_IDEMPOTENCY_TABLE": idempotency_table,
        "MAILROOM_SEND_QUEUE_URL": send_queue["url"],
        "MAILROOM_DEFAULT_FROM": "Acme <no-reply@mail.example.com>",
        "MAILROOM_ALLOWED_SENDERS": "mail.example.com",
    }
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    settings.api_settings.cache_clear()
    from handlers import api

    api._dependencies.cache_clear()
    yield values
    api._dependencies.cache_clear()
    settings.api_settings.cache_clear()
