"""Integration fixtures: the real adapters against moto, in-process (`mock_aws`)."""

from __future__ import annotations

import boto3
import pytest
from moto import mock_aws

from mailroom_dev.local.resources import Resources, create_resources

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
def resources(aws) -> Resources:
    """Every table, queue and topic, created exactly as the local stack creates them."""
    return create_resources(boto3.client("dynamodb", region_name=REGION),
                            boto3.client("sqs", region_name=REGION),
                            boto3.client("sns", region_name=REGION))


@pytest.fixture
def messages_table(resources) -> str:
    return resources.messages_table


@pytest.fixture
def suppressions_table(resources) -> str:
    return resources.suppressions_table


@pytest.fixture
def idempotency_table(resources) -> str:
    return resources.idempotency_table


@pytest.fixture
def control_table(resources) -> str:
    return resources.control_table


@pytest.fixture
def send_queue(resources) -> dict[str, str]:
    return {"url": resources.send_queue.url, "dlq_url": resources.send_queue.dlq_url}


@pytest.fixture
def notifications(resources) -> dict[str, str]:
    """The notifications topic and a queue subscribed to it, to read what apps receive."""
    return {"topic_arn": resources.notifications_topic_arn,
            "queue_url": resources.notifications_queue_url}


def received_notifications(queue_url: str) -> list[dict]:
    """The notifications an app subscribed to the topic received (SNS envelopes unwrapped)."""
    import json

    sqs = boto3.client("sqs", region_name=REGION)
    messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get(
        "Messages", [])
    return [json.loads(json.loads(message["Body"])["Message"]) for message in messages]


@pytest.fixture
def api_env(monkeypatch, messages_table, suppressions_table, idempotency_table, control_table,
            send_queue):
    """Environment of the API function, as CDK sets it."""
    from mailroom import settings

    values = {
        "MAILROOM_MESSAGES_TABLE": messages_table,
        "MAILROOM_SUPPRESSIONS_TABLE": suppressions_table,
        "MAILROOM_IDEMPOTENCY_TABLE": idempotency_table,
        "MAILROOM_CONTROL_TABLE": control_table,
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
