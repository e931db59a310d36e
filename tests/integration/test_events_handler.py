"""The events Lambda on moto with the real adapters: an SES event in its SQS envelope moves
the message, the suppression list and the notifications topic (DESIGN §2)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import boto3
import pytest

from mailroom.adapters.dynamodb import DynamoMessageStore, DynamoSuppressionStore
from mailroom.models import Message, Status
from tests.integration.conftest import received_notifications
from tests.integration.lambda_events import LambdaContext

EVENTS = Path(__file__).resolve().parents[2] / "events"


def sample(name: str) -> dict:
    return json.loads((EVENTS / name).read_text())


@pytest.fixture
def events(function_env):
    from handlers import events as module

    return module


def sent_message(messages_table: str, ses_event: dict) -> Message:
    """The message the sample event is about, as the sender left it."""
    mail = ses_event["mail"]
    at = datetime(2026, 1, 1, tzinfo=UTC)
    message = Message(id=mail["tags"]["mailroom_id"][0], status=Status.SENT,
                      to=mail["destination"][0], from_address=mail["source"],
                      template="welcome", created_at=at, updated_at=at,
                      ses_message_id=mail["messageId"])
    DynamoMessageStore(messages_table).create(message)
    return message


def test_a_hard_bounce_ends_the_message_suppresses_the_address_and_tells_the_app(
        events, messages_table, suppressions_table, notifications):
    ses_event = sample("ses/bounce-permanent-general.json")
    message = sent_message(messages_table, ses_event)

    response = events.handler(sample("sqs-sns-bounce-permanent-general.json"), LambdaContext())

    assert response == {"batchItemFailures": []}
    stored = DynamoMessageStore(messages_table).get(message.id)
    assert stored.status is Status.BOUNCED
    assert stored.failure.reason == "mailbox_does_not_exist"
    assert [e.type for e in stored.events] == ["bounce"]
    entry = DynamoSuppressionStore(suppressions_table).get(message.to, datetime.now(UTC))
    assert entry.reason.value == "hard_bounce"
    types = sorted(n["type"] for n in received_notifications(notifications["queue_url"]))
    assert types == ["email.bounced", "email.suppressed"]


def test_the_same_event_delivered_twice_is_recorded_and_announced_once(
        events, messages_table, notifications):
    message = sent_message(messages_table, sample("ses/delivery.json"))
    batch = sample("sqs-sns-delivery.json")

    events.handler(batch, LambdaContext())
    events.handler(batch, LambdaContext())

    stored = DynamoMessageStore(messages_table).get(message.id)
    assert [e.type for e in stored.events] == ["delivery"]
    received = received_notifications(notifications["queue_url"])
    assert [n["type"] for n in received] == ["email.delivered"]


def test_a_malformed_record_goes_to_the_dlq_at_once_with_its_reason(events, resources):
    batch = sample("sqs-batch-poison.json")
    poison = batch["Records"][1]

    response = events.handler(batch, LambdaContext())

    assert response == {"batchItemFailures": []}
    [letter] = boto3.client("sqs").receive_message(
        QueueUrl=resources.events_queue.dlq_url, MessageAttributeNames=["All"],
        WaitTimeSeconds=0)["Messages"]
    assert letter["Body"] == poison["body"]
    attributes = {name: value["StringValue"]
                  for name, value in letter["MessageAttributes"].items()}
    assert attributes["mailroom_reason"] == "malformed"
    assert "not JSON" in attributes["mailroom_detail"]


def soft_bounce_batch(address: str, at: datetime) -> dict:
    """An SQS batch of one Transient/General bounce of a separate message, `at` a time."""
    document = sample("ses/bounce-transient-general.json")
    stamp = at.isoformat().replace("+00:00", "Z")
    document["mail"].update(messageId=f"0100019a-soft-{stamp}", destination=[address], tags={})
    document["bounce"].update(timestamp=stamp, feedbackId=f"fb-{stamp}")
    document["bounce"]["bouncedRecipients"][0]["emailAddress"] = address
    record = sample("sqs-raw-bounce-transient-general.json")["Records"][0]
    return {"Records": [{**record, "messageId": f"sqs-{stamp}", "body": json.dumps(document)}]}


def test_soft_bounces_processed_out_of_order_suppress_at_the_threshold(
        events, suppressions_table, notifications):
    address = "flaky@example.net"
    now = datetime.now(UTC)
    times = [now - timedelta(hours=hours) for hours in (1, 2, 3)]  # newest first

    for at in times:
        events.handler(soft_bounce_batch(address, at), LambdaContext())

    entry = DynamoSuppressionStore(suppressions_table).get(address, now)
    assert entry is not None and entry.reason.value == "soft_bounce"
    assert entry.expires_at == times[0] + timedelta(days=14)
    types = [n["type"] for n in received_notifications(notifications["queue_url"])]
    assert types == ["email.suppressed"]


def test_soft_bounces_after_a_hard_bounce_leave_it_permanent(events, suppressions_table,
                                                             notifications):
    ses_event = sample("ses/bounce-permanent-general.json")
    address = ses_event["mail"]["destination"][0]
    now = datetime.now(UTC)
    events.handler(sample("sqs-raw-bounce-permanent-general.json"), LambdaContext())

    for hours in (3, 2, 1):
        events.handler(soft_bounce_batch(address, now - timedelta(hours=hours)),
                       LambdaContext())

    entry = DynamoSuppressionStore(suppressions_table).get(address, now + timedelta(days=30))
    assert entry is not None
    assert (entry.reason.value, entry.expires_at) == ("hard_bounce", None)
    types = [n["type"] for n in received_notifications(notifications["queue_url"])]
    assert types.count("email.suppressed") == 1
