"""The API Lambda on moto: every route and error code of the contract (DESIGN §4)."""

from __future__ import annotations

import json

import boto3
import pytest

from tests.integration.lambda_events import LambdaContext, api_event

WELCOME = {"to": "ada@example.com", "template": "welcome",
           "data": {"name": "Ada", "action_url": "https://app.example.com/start"}}


@pytest.fixture
def api(api_env):
    from handlers import api as module

    def call(method: str, path: str, body=None, headers=None, query=None):
        response = module.handler(api_event(method, path, body, headers, query), LambdaContext())
        body = json.loads(response["body"]) if response.get("body") else None
        return response["statusCode"], body

    return call


def queued_count(api_env) -> int:
    sqs = boto3.client("sqs", region_name="us-east-1")
    attributes = sqs.get_queue_attributes(QueueUrl=api_env["MAILROOM_SEND_QUEUE_URL"],
                                          AttributeNames=["ApproximateNumberOfMessages"])
    return int(attributes["Attributes"]["ApproximateNumberOfMessages"])


def test_an_accepted_email_answers_202_and_reads_back_queued(api, api_env):
    status, body = api("POST", "/v1/emails", WELCOME)

    assert (status, body["status"]) == (202, "queued")
    status, message = api("GET", f"/v1/emails/{body['id']}")
    assert (status, message["status"], message["to"]) == (200, "queued", "ada@example.com")
    assert [event["type"] for event in message["events"]] == ["queued"]
    assert message["failure"] is None
    assert queued_count(api_env) == 1


@pytest.mark.parametrize(("body", "status", "code"), [
    ("{not json", 400, "invalid_json"),
    ({"template": "welcome"}, 422, "validation_error"),
    ({**WELCOME, "to": "ada@gmial.com"}, 422, "invalid_address"),
    ({**WELCOME, "to": "ada@example.com\r\nBcc: everyone@example.com"}, 422, "invalid_address"),
    ({**WELCOME, "template": "newsletter"}, 422, "unknown_template"),
    ({**WELCOME, "data": {"name": "Ada"}}, 422, "missing_template_data"),
    ({**WELCOME, "from": "ceo@elsewhere.example.org"}, 422, "sender_not_allowed"),
    ({**WELCOME, "surprise": True}, 422, "validation_error"),
])
def test_bad_input_gets_the_contract_error_and_nothing_is_queued(api, api_env, body, status,
                                                                 code):
    got_status, got = api("POST", "/v1/emails", body)

    assert (got_status, got["error"]["code"]) == (status, code)
    assert got["error"]["message"]
    assert queued_count(api_env) == 0


def test_a_typo_error_carries_the_field_and_a_suggestion(api):
    _, body = api("POST", "/v1/emails", {**WELCOME, "to": "ada@hotmial.com"})

    assert body["error"]["details"] == {"field": "to", "suggestion": "ada@hotmail.com"}


def test_missing_template_data_names_every_missing_variable(api):
    _, body = api("POST", "/v1/emails", {**WELCOME, "template": "order_confirmation",
                                         "data": {"name": "Ada"}})

    assert body["error"]["details"] == {"missing": ["items", "order_id", "total"]}


def test_a_body_over_the_limit_is_413_before_any_work(api, api_env):
    status, body = api("POST", "/v1/emails", json.dumps({**WELCOME, "pad": "x" * 600_000}))

    assert (status, body["error"]["code"]) == (413, "payload_too_large")
    assert queued_count(api_env) == 0


def test_a_suppressed_recipient_is_refused_with_reason_and_since(api, api_env):
    assert api("PUT", "/v1/suppressions/ada@example.com", {"reason": "manual"})[0] == 200

    status, body = api("POST", "/v1/emails", WELCOME)

    assert (status, body["error"]["code"]) == (422, "recipient_suppressed")
    assert body["error"]["details"]["reason"] == "manual"
    assert body["error"]["details"]["since"]
    assert queued_count(api_env) == 0


def test_the_same_idempotency_key_and_body_returns_the_first_answer_and_sends_nothing_new(
        api, api_env):
    first = api("POST", "/v1/emails", WELCOME, headers={"Idempotency-Key": "order-42"})
    again = api("POST", "/v1/emails", WELCOME, headers={"Idempotency-Key": "order-42"})

    assert first == again
    assert first[0] == 202
    assert queued_count(api_env) == 1


def test_the_same_idempotency_key_with_another_body_is_a_conflict(api, api_env):
    api("POST", "/v1/emails", {**WELCOME, "idempotency_key": "order-42"})

    status, body = api("POST", "/v1/emails", {**WELCOME, "idempotency_key": "order-42",
                                              "data": {"name": "Bob", "action_url": "u"}})

    assert (status, body["error"]["code"]) == (409, "idempotency_conflict")
    assert queued_count(api_env) == 1


def test_a_batch_accepts_the_good_items_and_explains_the_bad_ones_in_order(api, api_env):
    status, body = api("POST", "/v1/emails/batch", {"emails": [
        WELCOME, {**WELCOME, "template": "nope"}, {"to": "x@example.com"},
        {**WELCOME, "to": "bob@example.com"},
    ]})

    assert status == 202
    results = body["results"]
    assert [r["index"] for r in results] == [0, 1, 2, 3]
    assert [r.get("status") or r["error"]["code"] for r in results] == [
        "queued", "unknown_template", "validation_error", "queued"]
    assert queued_count(api_env) == 2


def test_a_batch_over_100_items_is_refused(api):
    status, body = api("POST", "/v1/emails/batch", {"emails": [WELCOME] * 101})

    assert (status, body["error"]["code"]) == (422, "validation_error")


def test_an_unknown_message_is_404(api):
    status, body = api("GET", "/v1/emails/does-not-exist")

    assert (status, body["error"]["code"]) == (404, "not_found")


def test_suppressions_can_be_added_read_listed_and_removed(api):
    api("PUT", "/v1/suppressions/Ada%40Example.com", {"reason": "manual", "note": "asked"})

    status, entry = api("GET", "/v1/suppressions/ada@example.com")
    assert (status, entry["reason"], entry["source"], entry["note"]) == (
        200, "manual", "api", "asked")
    _, listing = api("GET", "/v1/suppressions", query={"reason": "manual"})
    assert [item["email"] for item in listing["items"]] == ["ada@example.com"]
    assert api("DELETE", "/v1/suppressions/ada@example.com")[0] == 204
    assert api("GET", "/v1/suppressions/ada@example.com")[0] == 404
    assert api("DELETE", "/v1/suppressions/ada@example.com")[0] == 404


def test_a_listing_cursor_the_api_did_not_make_is_a_validation_error(api):
    status, body = api("GET", "/v1/suppressions", query={"cursor": "not-a-cursor!"})

    assert (status, body["error"]["code"]) == (422, "validation_error")
    assert body["error"]["details"] == {"field": "cursor"}
    assert "next_cursor" in body["error"]["message"]


def test_templates_are_listed_with_their_variables(api):
    _, body = api("GET", "/v1/templates")

    by_name = {item["name"]: item for item in body["items"]}
    assert by_name["password_reset"]["variables"] == ["expires_in_minutes", "name", "reset_url"]


def test_a_template_preview_renders_subject_html_and_text(api):
    status, body = api("POST", "/v1/templates/welcome/preview",
                       {"data": {"name": "Ada <b>", "action_url": "https://x.example.com/a"}})

    assert status == 200
    assert "Ada &lt;b&gt;" in body["html"]
    assert "https://x.example.com/a" in body["text"]


def test_previewing_an_unknown_template_is_404_and_missing_data_is_422(api):
    assert api("POST", "/v1/templates/nope/preview", {"data": {}})[0] == 404
    status, body = api("POST", "/v1/templates/welcome/preview", {"data": {"name": "A"}})
    assert (status, body["error"]["code"]) == (422, "missing_template_data")


def test_health_and_the_openapi_document(api):
    from openapi_spec_validator import validate

    assert api("GET", "/v1/health") == (200, {"status": "ok", "sending": "enabled"})
    status, document = api("GET", "/v1/openapi.json")
    assert status == 200
    validate(document)  # a valid OpenAPI 3.1 document
    send = document["paths"]["/v1/emails"]["post"]
    assert {"202", "400", "409", "413", "422", "503"} <= set(send["responses"])
    assert document["components"]["securitySchemes"]["apiKey"]["name"] == "x-api-key"
    assert document["paths"]["/v1/health"]["get"]["security"] == [{}]  # no key needed
    assert "HTTPValidationError" not in json.dumps(document)  # errors as this API sends them


def test_paused_sending_answers_503_and_health_says_so_until_resumed(api, api_env):
    status, state = api("PUT", "/v1/sending", {"paused": True, "reason": "maintenance"})
    assert (status, state["sending"], state["reason"]) == (200, "paused", "maintenance")

    status, body = api("POST", "/v1/emails", WELCOME)
    assert (status, body["error"]["code"]) == (503, "sending_paused")
    assert api("GET", "/v1/health")[1]["sending"] == "paused"
    assert queued_count(api_env) == 0

    api("PUT", "/v1/sending", {"paused": False})
    assert api("POST", "/v1/emails", WELCOME)[0] == 202
    assert api("GET", "/v1/sending")[1]["sending"] == "enabled"


@pytest.mark.parametrize("body", [
    {"reason": "manual", "expires_at": "2030-01-01T00:00:00"},  # no time zone
    {"reason": "manual", "expires_at": "2020-01-01T00:00:00Z"},  # already past
    {"reason": "manual", "expires_at": "soon"},
    {"reason": "hard_bounce"},  # only SES events record bounces
    {"reason": "manual", "surprise": 1},
])
def test_a_manual_suppression_with_a_bad_body_is_refused(api, body):
    status, answer = api("PUT", "/v1/suppressions/ada@example.com", body)

    assert (status, answer["error"]["code"]) == (422, "validation_error")
    assert api("GET", "/v1/suppressions/ada@example.com")[0] == 404


def test_a_manual_suppression_can_expire(api):
    status, entry = api("PUT", "/v1/suppressions/ada@example.com",
                        {"reason": "manual", "expires_at": "2099-01-01T00:00:00+01:00"})

    assert (status, entry["expires_at"]) == (200, "2099-01-01T00:00:00+01:00")


def test_json_is_read_whatever_the_content_type_says(api):
    status, _ = api("POST", "/v1/emails", WELCOME,
                    headers={"Content-Type": "application/x-www-form-urlencoded"})

    assert status == 202


def test_a_json_body_that_is_not_an_object_is_refused_whole(api, api_env):
    status, answer = api("POST", "/v1/emails", [WELCOME, WELCOME])

    assert (status, answer["error"]["code"]) == (422, "validation_error")
    assert queued_count(api_env) == 0


def test_a_batch_item_that_is_not_an_object_is_refused_alone(api):
    status, answer = api("POST", "/v1/emails/batch", {"emails": [5, WELCOME]})

    assert status == 202
    assert [r.get("status") or r["error"]["code"] for r in answer["results"]] == [
        "validation_error", "queued"]


def test_a_batch_refuses_an_idempotency_key_header_it_could_not_honour(api, api_env):
    status, answer = api("POST", "/v1/emails/batch", {"emails": [WELCOME]},
                         headers={"Idempotency-Key": "batch-1"})

    assert (status, answer["error"]["code"]) == (422, "validation_error")
    assert queued_count(api_env) == 0


def test_an_absurdly_long_message_id_is_simply_not_found(api):
    assert api("GET", "/v1/emails/" + "x" * 3000)[0] == 404


def test_a_suppression_batch_answers_each_entry_and_a_repeat_adds_nothing(api, api_env):
    api("PUT", "/v1/suppressions/held@example.com", {"reason": "manual", "note": "by hand"})
    entries = [{"email": "Ada@Example.com", "note": "old ESP"},
               {"email": "not-an-address"},
               {"email": "held@example.com"},
               {"email": "bob@example.com", "reason": "hard_bounce"},
               {"email": "cy@example.com", "expires_at": "2099-01-01T00:00:00Z"}]

    status, body = api("POST", "/v1/suppressions/batch", {"entries": entries})

    assert status == 200
    results = body["results"]
    assert [r["index"] for r in results] == [0, 1, 2, 3, 4]
    assert (results[0]["email"], results[0]["status"]) == ("ada@example.com", "added")
    assert results[1]["error"]["code"] == "invalid_address"
    assert results[2]["status"] == "exists"
    assert results[3]["status"] == "added"  # an import carries another provider's bounces
    assert results[4]["status"] == "added"
    assert api("GET", "/v1/suppressions/held@example.com")[1]["note"] == "by hand"  # stands
    assert api("GET", "/v1/suppressions/ada@example.com")[1]["source"] == "api"

    again = api("POST", "/v1/suppressions/batch", {"entries": entries})[1]["results"]
    assert [r.get("status") for r in again] == [
        "exists", None, "exists", "exists", "exists"]


@pytest.mark.parametrize(("body", "code"), [
    ({"entries": []}, "validation_error"),
    ({"entries": [{"email": f"a{n}@example.com"} for n in range(1001)]}, "validation_error"),
    ({"emails": [{"email": "a@example.com"}]}, "validation_error"),
])
def test_a_suppression_batch_of_the_wrong_shape_is_refused_whole(api, api_env, body, code):
    status, answer = api("POST", "/v1/suppressions/batch", body)

    assert (status, answer["error"]["code"]) == (422, code)


def test_removing_a_suppression_clears_it_from_ses_s_account_list_too(api, api_env,
                                                                      aws_stand_ins):
    from datetime import UTC, datetime

    account = aws_stand_ins["simulator"].account_suppressions
    account["ada@example.com"] = ("BOUNCE", datetime.now(UTC))
    api("PUT", "/v1/suppressions/ada@example.com", {"reason": "manual"})

    assert api("DELETE", "/v1/suppressions/ada@example.com")[0] == 204

    assert "ada@example.com" not in account
    assert api("GET", "/v1/suppressions/ada@example.com")[0] == 404


def test_an_address_only_ses_suppresses_is_unblocked_by_the_same_delete(api, api_env,
                                                                       aws_stand_ins):
    from datetime import UTC, datetime

    account = aws_stand_ins["simulator"].account_suppressions
    account["bob@example.com"] = ("COMPLAINT", datetime.now(UTC))

    assert api("DELETE", "/v1/suppressions/bob@example.com")[0] == 204
    assert "bob@example.com" not in account
    assert api("DELETE", "/v1/suppressions/bob@example.com")[0] == 404  # on neither list now


def test_a_suppression_keeps_its_history_with_who_and_survives_removal(api, api_env):
    address = "/v1/suppressions/dee@example.com"
    api("PUT", address, {"reason": "manual", "note": "asked us", "actor": "ada"})

    status, entry = api("GET", address)
    assert (status, entry["by"]) == (200, "ada (API key unknown)")
    assert [(h["action"], h["by"]) for h in entry["history"]] == [
        ("suppressed", "ada (API key unknown)")]

    assert api("DELETE", address, query={"actor": "bob"})[0] == 204

    status, gone = api("GET", address)
    assert (status, gone["error"]["code"]) == (404, "not_found")
    assert [(h["action"], h["by"]) for h in gone["error"]["details"]["history"]] == [
        ("suppressed", "ada (API key unknown)"), ("removed", "bob (API key unknown)")]


def test_a_category_entry_is_shown_beside_the_global_one_and_removed_on_its_own(
        api, api_env, aws_stand_ins):
    from datetime import UTC, datetime

    address = "/v1/suppressions/eve@example.com"
    assert api("PUT", address, {"category": "digest", "note": "left", "actor": "ada"})[0] == 200

    # Only a category: 200, the global fields empty, the category with its history.
    status, entry = api("GET", address)
    assert (status, entry["reason"], entry["history"]) == (200, None, [])
    [digest] = entry["categories"]
    assert (digest["category"], digest["reason"], digest["note"]) == ("digest", "manual", "left")
    assert [h["action"] for h in digest["history"]] == ["suppressed"]

    api("PUT", address, {"reason": "manual", "note": "bounced elsewhere"})
    aws_stand_ins["simulator"].account_suppressions["eve@example.com"] = (
        "BOUNCE", datetime.now(UTC))
    _, listing = api("GET", "/v1/suppressions", query={"category": "digest"})
    assert [(i["email"], i["category"]) for i in listing["items"]] == [
        ("eve@example.com", "digest")]

    # Removing the category leaves the global entry and SES's list alone.
    assert api("DELETE", address, query={"category": "digest"})[0] == 204
    assert api("DELETE", address, query={"category": "digest"})[0] == 404
    status, entry = api("GET", address)
    assert (status, entry["reason"], entry["categories"]) == (200, "manual", [])
    assert "eve@example.com" in aws_stand_ins["simulator"].account_suppressions


@pytest.mark.parametrize("body", [
    {"reason": "unsubscribed"},  # an unsubscribe is from one category
    {"category": "Digest"},
    {"category": "digest mail"},
    {"category": ""},
    {"category": "x" * 64},
])
def test_a_category_entry_with_a_bad_body_is_refused(api, body):
    status, answer = api("PUT", "/v1/suppressions/ada@example.com", body)

    assert (status, answer["error"]["code"]) == (422, "validation_error")
    assert api("GET", "/v1/suppressions/ada@example.com")[0] == 404


@pytest.mark.parametrize("category", ["Digest", "digest mail"])
def test_a_refused_category_says_what_a_category_may_hold(api, category):
    from mailroom.models import CATEGORY_RULE

    body_status, body = api("PUT", "/v1/suppressions/ada@example.com", {"category": category})
    query_status, query = api("GET", "/v1/suppressions", query={"category": category})

    assert (body_status, query_status) == (422, 422)
    assert [d["problem"] for d in body["error"]["details"]] == [CATEGORY_RULE]
    assert [d["problem"] for d in query["error"]["details"]] == [CATEGORY_RULE]


def test_a_batch_writes_category_entries_apart_from_global_ones(api, api_env):
    entries = [{"email": "fay@example.com"},
               {"email": "fay@example.com", "category": "digest", "reason": "unsubscribed"},
               {"email": "fay@example.com", "category": "Bad Name"}]

    results = api("POST", "/v1/suppressions/batch", {"entries": entries})[1]["results"]

    assert [(r.get("category"), r.get("status")) for r in results[:2]] == [
        (None, "added"), ("digest", "added")]
    assert results[2]["error"]["code"] == "validation_error"
    entry = api("GET", "/v1/suppressions/fay@example.com")[1]
    assert (entry["reason"], [(c["category"], c["reason"]) for c in entry["categories"]]) == (
        "manual", [("digest", "unsubscribed")])
