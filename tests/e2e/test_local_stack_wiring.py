"""The local stack's promises to its users and to the handlers: local.json carries the
contract's keys (DESIGN §3), and the handlers get a valid value for every setting."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from mailroom import shape
from mailroom.settings import ApiSettings, EventsSettings, SenderSettings
from mailroom_dev.local import resources
from mailroom_dev.local.resources import QueueUrls, Resources
from mailroom_dev.local.stack import settings_environment

CONTRACT_KEYS = {"api_url", "api_key", "aws_endpoint_url", "region", "ses_events_topic_arn",
                 "notifications_topic_arn", "send_queue_url", "outbox_dir", "console_url"}
SETTINGS = (ApiSettings, SenderSettings, EventsSettings)


def fake_resources() -> Resources:
    arn = "arn:aws:{}:us-east-1:123456789012:{}".format
    return Resources(
        tables={table.name: table.name for table in shape.TABLES},
        queues={queue.name: QueueUrls(f"http://q/{queue.name}", arn("sqs", queue.name),
                                      f"http://q/{queue.dlq_name}", arn("sqs", queue.dlq_name))
                for queue in shape.QUEUES},
        topics={topic.name: arn("sns", topic.name) for topic in shape.TOPICS},
        notifications_queue_url="http://q/n",
        consumers={"sender": "0c5d1b3e-6a2f-4b8e-9c1d-7f3e5a9b2c40",
                   "events": "5e1f0a2b-3c4d-4e5f-8a9b-0c1d2e3f4a5b"},
        subscription_dlqs={"ses-events": "http://q/ses-events-subscription-dlq"},
    )


@pytest.mark.e2e
def test_local_json_has_the_contracts_keys(local_stack: dict[str, Any]) -> None:
    assert set(local_stack) >= CONTRACT_KEYS
    assert local_stack["api_url"].startswith("http://127.0.0.1:")
    assert local_stack["aws_endpoint_url"].startswith("http://127.0.0.1:")
    assert local_stack["console_url"].startswith("http://127.0.0.1:")
    assert Path(local_stack["outbox_dir"]).is_dir()


def test_every_settings_variable_gets_a_value() -> None:
    env = settings_environment(fake_resources())

    assert set().union(*(model.env_names() for model in SETTINGS)) <= set(env)


def test_the_values_are_valid_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in settings_environment(fake_resources()).items():
        monkeypatch.setenv(name, value)

    sender = SenderSettings()  # type: ignore[call-arg]
    api = ApiSettings()  # type: ignore[call-arg]
    EventsSettings()  # type: ignore[call-arg]

    assert sender.max_receive_count == shape.SEND_QUEUE.max_receive_count
    assert sender.template_prefix == resources.TEMPLATE_PREFIX
    # The sender's claim lease must expire before SQS shows the message again.
    assert sender.lease_seconds < shape.SEND_QUEUE.visibility_timeout_seconds
    assert api.send_queue_url == "http://q/send"
