"""Careless and hostile requests get a 4xx in the contract's error shape, with a message a
person can act on — never a 5xx, never a silent acceptance (DESIGN §4)."""

from __future__ import annotations

import base64
import json

import pytest

from tests.integration.lambda_events import LambdaContext, api_event
from tests.integration.test_api_contract import WELCOME, queued_count

LIBRARY_WORDS = ("Value error", "Input should be", "instance of", "pydantic")


@pytest.fixture
def call(api_env):
    from handlers import api as module

    def call(event):
        response = module.handler(event, LambdaContext())
        body = json.loads(response["body"]) if response.get("body") else None
        headers = response.get("headers") or {
            key: values[-1] for key, values in (response.get("multiValueHeaders") or {}).items()}
        return response["statusCode"], body, headers

    return call


def test_a_body_that_is_not_utf8_is_invalid_json(call, api_env):
    event = api_event("POST", "/v1/emails")
    event.update(body=base64.b64encode(b'{"to": "\xff\xfe"}').decode(), isBase64Encoded=True)

    status, body, _ = call(event)

    assert (status, body["error"]["code"]) == (400, "invalid_json")
    assert "UTF-8" in body["error"]["message"]
    assert queued_count(api_env) == 0


@pytest.mark.parametrize(("method", "path", "allowed"), [
    ("GET", "/v1/emails", "POST"),
    ("DELETE", "/v1/emails/some-id", "GET"),
    ("POST", "/v1/suppressions/ada@example.com", "DELETE, GET, PUT"),
    ("POST", "/v1/health", "GET"),
    ("PATCH", "/v1/sending", "GET, PUT"),
    ("GET", "/v1/emails/batch", "POST"),
    ("OPTIONS", "/v1/emails", "POST"),
])
def test_a_known_path_with_a_method_it_lacks_is_405_with_allow(call, method, path, allowed):
    status, body, headers = call(api_event(method, path, {} if method != "GET" else None))

    assert (status, body["error"]["code"]) == (405, "method_not_allowed")
    assert headers["Allow"] == allowed
    assert body["error"]["details"] == {"allowed": allowed.split(", ")}


def test_an_unknown_path_is_still_404(call):
    status, body, _ = call(api_event("GET", "/v1/nothing-here"))

    assert (status, body["error"]["code"]) == (404, "not_found")


@pytest.mark.parametrize("paused", ["yes", "true", 1, 0, None, [True]])
def test_pausing_takes_a_real_boolean_only(call, paused):
    status, body, _ = call(api_event("PUT", "/v1/sending", {"paused": paused}))

    assert (status, body["error"]["code"]) == (422, "validation_error")
    assert body["error"]["details"][0]["field"] == "paused"
    assert call(api_event("GET", "/v1/sending"))[1]["paused"] is False


def test_the_sending_switch_reads_back_as_the_contract_says(call):
    call(api_event("PUT", "/v1/sending", {"paused": True, "reason": "DNS change"}))

    status, body, _ = call(api_event("GET", "/v1/sending"))

    assert status == 200
    assert (body["paused"], body["reason"], body["source"]) == (True, "DNS change", "api")
    assert body["since"]
    call(api_event("PUT", "/v1/sending", {"paused": False}))


def test_a_header_and_a_body_idempotency_key_that_disagree_are_refused(call, api_env):
    event = api_event("POST", "/v1/emails", {**WELCOME, "idempotency_key": "body-key"},
                      headers={"Idempotency-Key": "header-key"})

    status, body, _ = call(event)

    assert (status, body["error"]["code"]) == (422, "validation_error")
    assert body["error"]["details"]["field"] == "idempotency_key"
    assert queued_count(api_env) == 0


def test_the_same_key_in_header_and_body_is_one_key(call, api_env):
    event = api_event("POST", "/v1/emails", {**WELCOME, "idempotency_key": "k-same"},
                      headers={"Idempotency-Key": "k-same"})

    first, second = call(event), call(event)

    assert first[0] == second[0] == 202
    assert first[1]["id"] == second[1]["id"]
    assert queued_count(api_env) == 1


@pytest.mark.parametrize(("body", "field"), [
    ({"template": "welcome", "data": {}}, "to"),
    ({**WELCOME, "data": "not an object"}, "data"),
    ({**WELCOME, "tags": {"campaign": 5}}, "tags.campaign"),
    ({**WELCOME, "reply_to": "ada@example.com"}, "reply_to"),
    ({**WELCOME, "surprise": True}, "surprise"),
])
def test_validation_errors_name_the_field_in_plain_words(call, body, field):
    status, answer, _ = call(api_event("POST", "/v1/emails", body))

    assert (status, answer["error"]["code"]) == (422, "validation_error")
    assert field in [entry["field"] for entry in answer["error"]["details"]]
    assert not any(words in answer["error"]["message"] for words in LIBRARY_WORDS)
    assert answer["error"]["message"].startswith("The request is not valid: ")


def test_a_batch_items_errors_are_in_plain_words_too(call):
    status, answer, _ = call(api_event("POST", "/v1/emails/batch",
                                       {"emails": [{"to": 5}, WELCOME]}))

    assert status == 202
    refused, accepted = answer["results"]
    assert set(refused) == {"index", "error"} and set(accepted) == {"index", "id", "status"}
    assert not any(words in refused["error"]["message"] for words in LIBRARY_WORDS)
    assert {"to", "template"} <= {entry["field"] for entry in refused["error"]["details"]}


@pytest.mark.parametrize("email", ["%1C", "%20", "nobody", "a" * 300 + "@example.com",
                                   "ada%0A@example.com"])
@pytest.mark.parametrize("method", ["GET", "DELETE"])
def test_a_suppression_lookup_of_something_that_is_no_address_is_404(call, method, email):
    status, body, _ = call(api_event(method, f"/v1/suppressions/{email}"))

    assert (status, body["error"]["code"]) == (404, "not_found")


def test_a_body_nested_beyond_reason_is_invalid_json(call):
    event = api_event("POST", "/v1/emails", "[" * 5000 + "]" * 5000)

    status, body, _ = call(event)

    assert (status, body["error"]["code"]) == (400, "invalid_json")


def test_a_cursor_of_nested_garbage_is_refused_as_a_cursor(call):
    cursor = base64.urlsafe_b64encode(b"[" * 3000).decode()

    status, body, _ = call(api_event("GET", "/v1/suppressions", query={"cursor": cursor}))

    assert (status, body["error"]["details"]) == (422, {"field": "cursor"})


def deeply_nested(depth: int = 400) -> object:
    nested: object = "x"
    for _ in range(depth):
        nested = [nested]
    return nested


@pytest.mark.parametrize("extra", [
    "\ud800",  # a lone surrogate: a valid JSON escape, not Unicode text
    "\ufffe",  # SQS refuses it
    deeply_nested(),  # deeper than anything serializes
], ids=["lone-surrogate", "noncharacter", "deep"])
def test_template_data_no_queue_could_carry_is_refused(call, api_env, extra):
    body = json.dumps({**WELCOME, "data": {**WELCOME["data"], "notes": extra}})

    status, answer, _ = call(api_event("POST", "/v1/emails", body))

    assert (status, answer["error"]["code"]) == (422, "validation_error")
    assert answer["error"]["details"] == {"field": "data"}
    assert queued_count(api_env) == 0


def test_a_line_break_in_a_value_the_subject_prints_is_refused_not_left_to_fail(call, api_env):
    data = {**WELCOME["data"], "name": "Ada\r\nBcc: everyone@example.com"}

    status, answer, _ = call(api_event("POST", "/v1/emails", {**WELCOME, "data": data}))

    assert (status, answer["error"]["details"]["field"]) == (422, "data.name")
    assert queued_count(api_env) == 0


def test_a_preview_refuses_what_a_send_would(call):
    data = {**WELCOME["data"], "name": "A\ud800da"}

    status, answer, _ = call(api_event("POST", "/v1/templates/welcome/preview",
                                       json.dumps({"data": data})))

    assert (status, answer["error"]["details"]["field"]) == (422, "data")


def test_the_allowed_reasons_are_named_as_the_client_writes_them(call):
    status, answer, _ = call(api_event("PUT", "/v1/suppressions/ada@example.com",
                                       {"reason": "hard_bounce"}))

    assert status == 422
    assert answer["error"]["message"] == "The request is not valid: reason must be one of " \
                                         "'manual' or 'unsubscribed'."


def test_an_empty_key_in_a_cursor_is_not_a_cursor_of_ours(call):
    cursor = base64.urlsafe_b64encode(json.dumps({"email": {"S": ""}}).encode()).decode()

    status, answer, _ = call(api_event("GET", "/v1/suppressions", query={"cursor": cursor}))

    assert (status, answer["error"]["details"]) == (422, {"field": "cursor"})


def test_pausing_a_paused_system_keeps_the_first_reason(call):
    call(api_event("PUT", "/v1/sending", {"paused": True, "reason": "bounce storm"}))

    status, body, _ = call(api_event("PUT", "/v1/sending", {"paused": True, "reason": "again"}))

    assert (status, body["reason"]) == (200, "bounce storm")
    call(api_event("PUT", "/v1/sending", {"paused": False}))


def test_a_queued_message_says_it_waits_while_sending_is_paused(call):
    accepted = call(api_event("POST", "/v1/emails", WELCOME))[1]
    call(api_event("PUT", "/v1/sending", {"paused": True, "reason": "DNS change"}))

    message = call(api_event("GET", f"/v1/emails/{accepted['id']}"))[1]

    assert message["waiting"]["reason"] == "paused"
    assert message["waiting"]["since"]
    call(api_event("PUT", "/v1/sending", {"paused": False}))
    assert call(api_event("GET", f"/v1/emails/{accepted['id']}"))[1]["waiting"] is None


def test_a_resume_records_who_and_why(call):
    event = api_event("PUT", "/v1/sending", {"paused": False, "reason": "bounces explained",
                                             "actor": "ada"})
    event["requestContext"]["identity"]["apiKeyId"] = "k3y1d"

    status, body, _ = call(event)

    assert (status, body["reason"], body["by"]) == (200, "bounces explained",
                                                    "ada (API key k3y1d)")
    assert call(api_event("GET", "/v1/sending"))[1]["by"] == "ada (API key k3y1d)"
