"""Any SES event published to the local stack's events topic takes the real path (SNS → SQS
→ events handler) and moves the message, the suppression list and the notifications topic
as DESIGN §2 says — for outcomes the mailbox simulator does not produce by itself."""

from __future__ import annotations

import copy
import json
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import pytest

from tests.e2e.conftest import DEADLINE, Api

pytestmark = pytest.mark.e2e

SAMPLES = Path(__file__).resolve().parents[2] / "events" / "ses"


def publish(local_stack: dict[str, Any], event: dict[str, Any]) -> None:
    sns = boto3.client("sns", endpoint_url=local_stack["aws_endpoint_url"],
                       region_name=local_stack["region"], aws_access_key_id="local",
                       aws_secret_access_key="local")
    sns.publish(TopicArn=local_stack["ses_events_topic_arn"], Message=json.dumps(event))


def about(sample: str, *, to: str, message: dict[str, Any] | None = None) -> dict[str, Any]:
    """The sample SES event, retold about `to` (and a message Mailroom sent, if given)."""
    event = copy.deepcopy(json.loads((SAMPLES / sample).read_text()))
    mail = event["mail"]
    mail["destination"] = [to]
    mail["messageId"] = message["ses_message_id"] if message else f"0100-{uuid.uuid4()}"
    mail["tags"] = {key: value for key, value in mail.get("tags", {}).items()
                    if key != "mailroom_id"}
    if message:
        mail["tags"]["mailroom_id"] = [message["id"]]
    now = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    for part in ("bounce", "complaint", "deliveryDelay"):
        if part in event:
            event[part]["timestamp"] = now
            event[part]["feedbackId"] = f"0100-{uuid.uuid4()}"
    for recipient in event.get("bounce", {}).get("bouncedRecipients", []):
        recipient["emailAddress"] = to
    for recipient in event.get("complaint", {}).get("complainedRecipients", []):
        recipient["emailAddress"] = to
    return event


def wait_for_suppression(api: Api, address: str) -> dict[str, Any]:
    deadline = time.monotonic() + DEADLINE
    while time.monotonic() < deadline:
        status, entry = api.call("GET", f"/v1/suppressions/{address}")
        if status == 200:
            return entry
        time.sleep(0.2)
    pytest.fail(f"{address} was never suppressed")


def test_a_complaint_after_delivery_ends_the_message_complained_and_suppressed(
        api: Api, local_stack: dict[str, Any]) -> None:
    address = "success+complains-later@simulator.amazonses.com"
    _, accepted = api.send(address)
    message, _ = api.follow(accepted["id"], until={"delivered"})

    publish(local_stack, about("complaint-abuse.json", to=address, message=message))

    message, _ = api.follow(accepted["id"], until={"complained"})
    assert message["failure"]["reason"] == "complaint"
    assert wait_for_suppression(api, address)["reason"] == "complaint"


def test_three_soft_bounces_suppress_an_address_for_a_while(
        api: Api, local_stack: dict[str, Any]) -> None:
    address = "mailbox-full@example.net"  # mail another system sent through the same set

    for _ in range(3):
        publish(local_stack, about("bounce-transient-mailboxfull.json", to=address))

    entry = wait_for_suppression(api, address)
    assert entry["reason"] == "soft_bounce"
    assert entry["expires_at"] is not None


def test_a_content_rejection_never_suppresses_the_address(
        api: Api, local_stack: dict[str, Any]) -> None:
    address = "success+too-big@simulator.amazonses.com"
    _, accepted = api.send(address)
    message, _ = api.follow(accepted["id"], until={"delivered"})

    publish(local_stack, about("bounce-transient-messagetoolarge.json", to=address,
                               message=message))

    deadline = time.monotonic() + DEADLINE
    while time.monotonic() < deadline:
        _, message = api.call("GET", f"/v1/emails/{accepted['id']}")
        if any(event["type"] == "bounce" for event in message["events"]):
            break
        time.sleep(0.2)
    assert any(event["type"] == "bounce" for event in message["events"])
    assert api.call("GET", f"/v1/suppressions/{address}")[0] == 404
