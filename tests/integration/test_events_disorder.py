"""SQS delivers at least once and in no particular order, and SES publishes events in no
guaranteed order either: the events function must end where a clean run ends, whatever it
is handed. Given one set of SES events for a dozen messages, a clean run (each event once,
in order) and a disordered run (each event two or three times, shuffled, in batches of
random sizes) leave the same messages, suppression list, counters and notifications."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from moto import mock_aws

from mailroom.adapters.dynamodb import DynamoMessageStore
from mailroom.models import Message, Status
from mailroom_dev.local.resources import ACCOUNT_ID, create_resources
from mailroom_dev.local.ses_events import (
    SentMail,
    bounce_event,
    complaint_event,
    delivery_event,
    send_event,
)
from mailroom_dev.local.ses_mailbox import COMPLAINT, HARD_BOUNCE, Bounce
from tests.integration.conftest import REGION
from tests.integration.lambda_events import LambdaContext

SOFT = Bounce("Transient", "General", "4.4.7", "smtp; 450 4.4.7 message delayed",
              "dsn; a8-53.smtp-out.amazonses.com")
T0 = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)


def scenario() -> tuple[list[Message], list[dict[str, Any]]]:
    """Messages as the API recorded them (queued: the Send event may be the first to carry
    the SES message id) and every SES event about them, in the order SES published them."""
    messages, events = [], []
    for index in range(12):
        kind = ("delivered", "delivered", "delivered", "hard_bounce", "complaint",
                "soft_bounce")[index % 6]
        to = f"user{index}@example.net"
        message = Message(id=f"msg-{index:02d}", status=Status.QUEUED, to=to,
                          from_address="no-reply@mail.example.com", template="welcome",
                          created_at=T0, updated_at=T0)
        sent_at = T0 + timedelta(seconds=index)
        mail = SentMail(message_id=f"0100-ses-{index:02d}", sent_at=sent_at,
                        source=message.from_address,
                        source_arn=f"arn:aws:ses:{REGION}:{ACCOUNT_ID}:identity/mail.example.com",
                        sending_account_id=ACCOUNT_ID, destination=[to],
                        tags={"mailroom_id": [message.id]})
        later = sent_at + timedelta(seconds=2)
        events.append(send_event(mail))
        if kind == "hard_bounce":
            events.append(bounce_event(mail, to, HARD_BOUNCE.bounce, later))  # type: ignore[arg-type]
        elif kind == "soft_bounce":
            events.append(bounce_event(mail, to, SOFT, later))
        else:
            events.append(delivery_event(mail, to, later))
        if kind == "complaint":
            events.append(complaint_event(mail, to, COMPLAINT.complaint_feedback_type or "",
                                          later + timedelta(seconds=5)))
        messages.append(message)
    return messages, events


def sqs_record(event: dict[str, Any], delivery: int) -> dict[str, Any]:
    """The event as the events queue hands it over: SES → SNS → SQS."""
    envelope = {"Type": "Notification", "MessageId": f"sns-{id(event)}",
                "TopicArn": f"arn:aws:sns:{REGION}:{ACCOUNT_ID}:ses-events",
                "Message": json.dumps(event), "Timestamp": event["mail"]["timestamp"]}
    return {"messageId": f"sqs-{id(event)}-{delivery}", "receiptHandle": "r",
            "body": json.dumps(envelope),
            "attributes": {"ApproximateReceiveCount": str(delivery + 1)},
            "messageAttributes": {}, "eventSource": "aws:sqs",
            "eventSourceARN": f"arn:aws:sqs:{REGION}:{ACCOUNT_ID}:ses-events",
            "awsRegion": REGION}


def final_state(messages: list[Message], batches: list[list[dict[str, Any]]],
                monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """Run the events function over `batches` on fresh AWS resources; what it left."""
    from handlers import events as module
    from mailroom import settings
    from mailroom_dev.local.stack import settings_environment

    with mock_aws():
        dynamodb = boto3.client("dynamodb", region_name=REGION)
        resources = create_resources(dynamodb, boto3.client("sqs", region_name=REGION),
                                     boto3.client("sns", region_name=REGION))
        for name, value in settings_environment(resources).items():
            monkeypatch.setenv(name, value)
        settings.events_settings.cache_clear()
        module.dependencies.cache_clear()
        store = DynamoMessageStore(resources.messages_table)
        for message in messages:
            store.create(message)

        for batch in batches:
            response = module.handler({"Records": batch}, LambdaContext())
            assert response == {"batchItemFailures": []}

        module.dependencies.cache_clear()
        stored = [store.get(message.id) for message in messages]
        return {
            "messages": [_message_state(message) for message in stored if message],
            "suppressions": _scan(dynamodb, resources.suppressions_table),
            "counters": _counts(_scan(dynamodb, resources.counters_table)),
            "notifications": _notifications(resources.notifications_queue_url),
        }


def _message_state(message: Message) -> dict[str, Any]:
    state = message.model_dump(mode="json", exclude={"updated_at"})
    # The timeline is kept in arrival order; the set of entries is what must agree.
    state["events"] = sorted(state["events"], key=lambda event: json.dumps(event,
                                                                           sort_keys=True))
    return state


def _scan(dynamodb: Any, table: str) -> list[dict[str, Any]]:
    items = dynamodb.scan(TableName=table, ConsistentRead=True)["Items"]
    return sorted(items, key=lambda item: json.dumps(item, sort_keys=True))


def _counts(items: list[dict[str, Any]]) -> dict[tuple[str, str, str], int]:
    """Counts per hour, counter and outcome, summed over the hour's shards (each write
    picks a shard at random; readers sum them)."""
    counts: dict[tuple[str, str, str], int] = {}
    for item in items:
        hour = item["hour_shard"]["S"].rpartition("#")[0]
        for name, value in item.items():
            if name not in ("hour_shard", "counter", "ttl"):
                key = (hour, item["counter"]["S"], name)
                counts[key] = counts.get(key, 0) + int(value["N"])
    return counts


def _notifications(queue_url: str) -> list[tuple[str, str]]:
    """Distinct notifications (subscribers deduplicate on `id`), as (id, type)."""
    sqs, seen = boto3.client("sqs", region_name=REGION), set()
    while received := sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10,
                                          VisibilityTimeout=600).get("Messages", []):
        for message in received:
            notification = json.loads(json.loads(message["Body"])["Message"])
            seen.add((notification["id"], notification["type"]))
    return sorted(seen)


def test_duplicated_and_reordered_events_end_where_a_clean_run_ends(monkeypatch) -> None:
    messages, events = scenario()
    dice = random.Random(8)
    clean = [[sqs_record(event, 0)] for event in events]
    copies = [sqs_record(event, n) for event in events for n in range(dice.choice((2, 3)))]
    dice.shuffle(copies)
    disordered = []
    while copies:
        size = dice.randint(1, 10)
        disordered.append(copies[:size])
        copies = copies[size:]

    expected = final_state(messages, clean, monkeypatch)
    got = final_state(messages, disordered, monkeypatch)

    statuses = {message["status"] for message in expected["messages"]}
    assert statuses == {"delivered", "bounced", "complained"}  # the scenario is varied
    assert expected["suppressions"] and expected["counters"] and expected["notifications"]
    assert got["messages"] == expected["messages"]
    assert got["suppressions"] == expected["suppressions"]
    assert got["counters"] == expected["counters"]
    assert got["notifications"] == expected["notifications"]
