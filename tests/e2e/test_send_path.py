"""The send path over HTTP against the local stack: every contract error code, idempotency,
batches, and what SES throttling, 5xx and rejects do to a message (issue: send path)."""

from __future__ import annotations

import json
import urllib.request
from typing import Any

import pytest

from tests.e2e.conftest import WELCOME, Api

pytestmark = pytest.mark.e2e

OK = {"to": "success@simulator.amazonses.com", "template": "welcome", "data": WELCOME}


def simulator(local_stack: dict[str, Any], method: str, path: str, body: Any = None) -> Any:
    request = urllib.request.Request(
        local_stack["simulator_url"] + path, method=method,
        data=json.dumps(body).encode() if body is not None else None,
        headers={"content-type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def sends_to(local_stack: dict[str, Any], address: str) -> int:
    messages = simulator(local_stack, "GET", "/_simulator/messages")["messages"]
    return sum(1 for message in messages if address in json.dumps(message))


@pytest.mark.parametrize(("body", "status", "code"), [
    ({"template": "welcome", "data": WELCOME}, 422, "validation_error"),
    ({**OK, "to": "ada@gmial.com"}, 422, "invalid_address"),
    ({**OK, "template": "newsletter"}, 422, "unknown_template"),
    ({**OK, "data": {"name": "Ada"}}, 422, "missing_template_data"),
    ({**OK, "from": "ceo@not-ours.example.org"}, 422, "sender_not_allowed"),
    ({**OK, "tags": {"campaign": "spring sale!"}}, 422, "validation_error"),
    ({**OK, "data": {**WELCOME, "name": "x" * 600_000}}, 413, "payload_too_large"),
])
def test_each_contract_error_answers_as_specified(api: Api, body, status, code) -> None:
    got_status, answer = api.call("POST", "/v1/emails", body)

    assert (got_status, answer["error"]["code"]) == (status, code), answer
    assert answer["error"]["message"]


def test_a_typo_comes_with_a_suggestion(api: Api) -> None:
    _, answer = api.send("ada@hotmial.com")

    assert answer["error"]["details"] == {"field": "to", "suggestion": "ada@hotmail.com"}


def test_a_manually_suppressed_address_is_refused_until_removed(api: Api) -> None:
    address = "success+manual@simulator.amazonses.com"
    assert api.call("PUT", f"/v1/suppressions/{address}", {"reason": "manual"})[0] == 200

    status, answer = api.call("POST", "/v1/emails", {**OK, "to": address})
    assert (status, answer["error"]["code"]) == (422, "recipient_suppressed")
    assert answer["error"]["details"]["reason"] == "manual"

    assert api.call("DELETE", f"/v1/suppressions/{address}")[0] == 204
    assert api.call("POST", "/v1/emails", {**OK, "to": address})[0] == 202


def test_a_repeated_idempotency_key_sends_once_and_a_changed_body_conflicts(
        api: Api, local_stack: dict[str, Any]) -> None:
    address = "success+idempotent@simulator.amazonses.com"
    body = {**OK, "to": address, "idempotency_key": "signup-ada-1"}

    first = api.call("POST", "/v1/emails", body)
    again = api.call("POST", "/v1/emails", body)
    api.follow(first[1]["id"], until={"delivered"})
    changed = api.call("POST", "/v1/emails", {**body, "data": {**WELCOME, "name": "Bob"}})

    assert first == again
    assert (changed[0], changed[1]["error"]["code"]) == (409, "idempotency_conflict")
    assert sends_to(local_stack, address) == 1


def test_a_batch_answers_every_item_in_order(api: Api) -> None:
    status, answer = api.call("POST", "/v1/emails/batch", {"emails": [
        OK, {**OK, "template": "nope"}, {**OK, "to": "success+b2@simulator.amazonses.com"}]})

    assert status == 202
    results = answer["results"]
    assert [r.get("status") or r["error"]["code"] for r in results] == [
        "queued", "unknown_template", "queued"]
    api.follow(results[2]["id"], until={"delivered"})


@pytest.mark.parametrize("fault", ["throttle", "server_error"])
def test_ses_throttling_or_a_server_error_is_retried_and_the_message_still_goes_out(
        api: Api, local_stack: dict[str, Any], fault: str) -> None:
    simulator(local_stack, "POST", "/_simulator/faults", {fault: 2})

    _, accepted = api.send(f"success+{fault}@simulator.amazonses.com")
    message, _ = api.follow(accepted["id"], until={"delivered", "failed"})

    assert message["status"] == "delivered"


def test_an_ses_reject_ends_the_message_rejected_with_a_reason(
        api: Api, local_stack: dict[str, Any]) -> None:
    simulator(local_stack, "POST", "/_simulator/faults", {"reject": 1})

    _, accepted = api.send("success+reject@simulator.amazonses.com")
    message, _ = api.follow(accepted["id"], until={"rejected", "delivered"})

    assert message["status"] == "rejected"
    assert message["failure"]["reason"] == "rejected"
    assert message["failure"]["action"]


def test_paused_sending_answers_503_until_resumed(api: Api) -> None:
    assert api.call("PUT", "/v1/sending", {"paused": True, "reason": "maintenance"})[0] == 200
    try:
        status, answer = api.send("success+paused@simulator.amazonses.com")
        assert (status, answer["error"]["code"]) == (503, "sending_paused")
        assert answer["error"]["details"]["reason"] == "maintenance"
        assert api.call("GET", "/v1/health", key=None)[1]["sending"] == "paused"
    finally:
        api.call("PUT", "/v1/sending", {"paused": False})

    status, accepted = api.send("success+paused@simulator.amazonses.com")
    assert status == 202
    assert api.follow(accepted["id"], until={"delivered"})[0]["status"] == "delivered"
