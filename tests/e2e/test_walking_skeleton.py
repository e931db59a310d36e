"""Issue 2, steps 2 and 3, over HTTP against the running local stack: a message followed
from the API to SES and back through its events, for the mailbox simulator's addresses."""

from __future__ import annotations

import json
import time
from email import message_from_bytes, policy
from pathlib import Path
from typing import Any

import boto3
import pytest

from tests.e2e.conftest import DEADLINE, STATUS_RANK, WELCOME, Api

pytestmark = pytest.mark.e2e


def event_types(message: dict[str, Any]) -> list[str]:
    return [event["type"].lower() for event in message["events"]]


def test_health_answers_without_a_key(api: Api) -> None:
    status, body = api.call("GET", "/v1/health", key=None)

    assert status == 200
    assert body["status"] == "ok"


def test_openapi_document_answers_without_a_key(api: Api) -> None:
    status, body = api.call("GET", "/v1/openapi.json", key=None)

    assert status == 200
    assert "/v1/emails" in body["paths"]


@pytest.mark.parametrize("key", [None, "not-the-key"])
def test_a_missing_or_wrong_api_key_is_forbidden(api: Api, key: str | None) -> None:
    status, body = api.call("POST", "/v1/emails", {"to": "success@simulator.amazonses.com",
                                                   "template": "welcome", "data": WELCOME},
                            key=key)

    assert status == 403
    assert body["error"]["code"] == "forbidden"


def test_welcome_to_success_is_queued_sent_then_delivered(
    api: Api, local_stack: dict[str, Any]
) -> None:
    status, accepted = api.send("success@simulator.amazonses.com")
    assert status == 202, accepted
    assert accepted["status"] == "queued" and accepted["id"]

    message, seen = api.follow(accepted["id"], until={"delivered"})

    assert seen == sorted(seen, key=STATUS_RANK.__getitem__), f"status went backwards: {seen}"
    assert message["ses_message_id"]
    assert message["failure"] is None
    types = event_types(message)
    assert any("sen" in kind for kind in types), types
    assert any("deliver" in kind for kind in types), types
    eml = Path(local_stack["outbox_dir"]) / f"{message['ses_message_id']}.eml"
    rendered = message_from_bytes(eml.read_bytes(), policy=policy.default)
    assert rendered["To"] == "success@simulator.amazonses.com"
    assert rendered.get_content_type() == "multipart/alternative"
    assert "Ada" in rendered.get_body(("plain",)).get_content()
    assert WELCOME["action_url"] in rendered.get_body(("html",)).get_content()


def test_bounce_ends_bounced_suppresses_and_blocks_the_next_send(api: Api) -> None:
    status, accepted = api.send("bounce@simulator.amazonses.com")
    assert status == 202, accepted

    message, _ = api.follow(accepted["id"], until={"bounced"})

    assert message["failure"]["reason"]
    assert message["failure"]["bounce_type"] == "Permanent"
    assert any("bounce" in kind for kind in event_types(message))
    status, suppression = api.call("GET", "/v1/suppressions/bounce@simulator.amazonses.com")
    assert status == 200, suppression
    assert suppression["reason"] == "hard_bounce"
    status, refused = api.send("bounce@simulator.amazonses.com")
    assert status == 422
    assert refused["error"]["code"] == "recipient_suppressed"
    assert refused["error"]["details"]["reason"] == "hard_bounce"


def test_complaint_ends_complained_and_suppressed(api: Api) -> None:
    status, accepted = api.send("complaint@simulator.amazonses.com")
    assert status == 202, accepted

    message, _ = api.follow(accepted["id"], until={"complained"})

    assert any("complain" in kind for kind in event_types(message))
    status, suppression = api.call("GET", "/v1/suppressions/complaint@simulator.amazonses.com")
    assert status == 200, suppression
    assert suppression["reason"] == "complaint"


def test_apps_are_notified_through_the_notifications_topic(
    api: Api, local_stack: dict[str, Any]
) -> None:
    _, accepted = api.send("ooto+notify@simulator.amazonses.com")
    api.follow(accepted["id"], until={"delivered"})
    sqs = boto3.client("sqs", endpoint_url=local_stack["aws_endpoint_url"],
                       region_name=local_stack["region"],
                       aws_access_key_id="local", aws_secret_access_key="local")

    types: set[str] = set()
    deadline = time.monotonic() + DEADLINE
    while "email.delivered" not in types and time.monotonic() < deadline:
        for received in sqs.receive_message(
            QueueUrl=local_stack["notifications_queue_url"], MaxNumberOfMessages=10,
            WaitTimeSeconds=1,
        ).get("Messages", []):
            notification = json.loads(json.loads(received["Body"])["Message"])
            if notification.get("message_id") == accepted["id"]:
                types.add(notification["type"])

    assert "email.delivered" in types


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"to": "ada@example.org", "template": "nope", "data": {}}, 422, "unknown_template"),
        ({"to": "ada@example.org", "template": "welcome", "data": {"name": "Ada"}}, 422,
         "missing_template_data"),
        ({"to": "ada@example.org\r\nBcc: eve@example.org", "template": "welcome",
          "data": WELCOME}, 422, "invalid_address"),
        ({"to": "not-an-address", "template": "welcome", "data": WELCOME}, 422,
         "invalid_address"),
    ],
)
def test_bad_input_gets_the_contracts_error(
    api: Api, body: dict[str, Any], status: int, code: str
) -> None:
    answer_status, answer = api.call("POST", "/v1/emails", body)

    assert answer_status == status, answer
    assert answer["error"]["code"] == code


def test_malformed_json_is_invalid_json(api: Api) -> None:
    status, answer = api.call("POST", "/v1/emails", raw=b'{"to": ')

    assert status == 400
    assert answer["error"]["code"] == "invalid_json"


def test_a_payload_over_api_gateways_limit_is_refused_by_the_gateway(api: Api) -> None:
    status, answer = api.call("POST", "/v1/emails", raw=b"x" * (10 * 1024 * 1024 + 1))

    assert status == 413
    assert answer["error"]["code"] == "payload_too_large"


def test_a_path_outside_the_api_is_not_found_by_the_gateway(api: Api) -> None:
    status, answer = api.call("GET", "/nowhere")

    assert status == 404
    assert answer["error"]["code"] == "not_found"
