"""Integration fixtures: the real adapters against moto, in-process (`mock_aws`)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from mailroom_dev.local.resources import Resources, create_resources

REGION = "us-east-1"


@pytest.fixture(autouse=True)
def aws_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_SESV2", "AWS_ENDPOINT_URL_LAMBDA",
                 "AWS_PROFILE"):
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
                            boto3.client("sns", region_name=REGION),
                            boto3.client("secretsmanager", region_name=REGION))


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
def function_env(monkeypatch, resources) -> Iterator[dict[str, str]]:
    """The environment of all three functions, built as the local stack builds it (the
    settings models' names, wired to these resources), with each process-wide cache of
    settings and clients cleared around the test."""
    from handlers import api, events, sender
    from mailroom import settings
    from mailroom_dev.local.stack import settings_environment

    env = settings_environment(resources) | {"MAILROOM_MAX_SEND_RATE": "1000"}
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    caches = (settings.api_settings, settings.sender_settings, settings.events_settings,
              api.dependencies, sender.dependencies, events.dependencies)
    for cached in caches:
        cached.cache_clear()
    yield env
    for cached in caches:
        cached.cache_clear()


@pytest.fixture
def aws_stand_ins(monkeypatch, resources, tmp_path) -> Iterator[dict[str, Any]]:
    """What moto lacks, on loopback as the local stack runs it: the SES simulator (the
    configuration set's sending options, SES's account suppression list) and the Lambda
    stand-in (the sender's event source mapping a pause switches off)."""
    from mailroom_dev.local import resources as local
    from mailroom_dev.local.lambda_api import EventSourceMapping, LambdaApi
    from mailroom_dev.local.ses_simulator import SesSimulator

    simulator = SesSimulator(sns=boto3.client("sns", region_name=REGION),
                             ses_events_topic_arn=resources.ses_events_topic_arn,
                             configuration_set=local.CONFIGURATION_SET,
                             outbox_dir=tmp_path / "outbox")
    lambda_api = LambdaApi([EventSourceMapping(
        uuid=mapping_id, function_name=f"mailroom-{function}",
        queue_arn=resources.send_queue.arn, batch_size=10)
        for function, mapping_id in resources.consumers.items()])
    simulator.start()
    lambda_api.start()
    monkeypatch.setenv("AWS_ENDPOINT_URL_SESV2", simulator.url)
    monkeypatch.setenv("AWS_ENDPOINT_URL_LAMBDA", lambda_api.url)
    yield {"simulator": simulator, "lambda_api": lambda_api}
    lambda_api.stop()
    simulator.stop()


@pytest.fixture
def api_env(function_env, aws_stand_ins) -> dict[str, str]:
    return function_env
