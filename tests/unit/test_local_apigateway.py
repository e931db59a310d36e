"""The local API Gateway emulator's pure logic: which route a request reaches, when the API
key is required, the contract-shaped refusals, and the REST API proxy event it builds.
No server is started: the emulator's HTTP plumbing is covered by the e2e tests."""

from __future__ import annotations

import base64
import json
import re
from datetime import UTC, datetime

import pytest

from mailroom.shape import ROUTES
from mailroom_dev.local.apigateway import (
    FORBIDDEN,
    INTERNAL_ERROR,
    MAX_PAYLOAD_BYTES,
    NO_ROUTE,
    TOO_LARGE,
    ApiGatewayEmulator,
    Route,
    _proxy_response,
    build_event,
    match_route,
)
from mailroom_dev.local.resources import ACCOUNT_ID

KEY = "local-key-0123456789"
PROXY = "/v1/{proxy+}"


def gateway(api_key: str = KEY) -> ApiGatewayEmulator:
    """An emulator without its loopback server: only the key check is exercised."""
    emulator = object.__new__(ApiGatewayEmulator)
    emulator.api_key = api_key
    return emulator


def event_for(
    method: str = "GET",
    path: str = "/v1/emails/msg_1",
    query: str = "",
    headers: list[tuple[str, str]] | None = None,
    body: bytes = b"",
    api_key: str | None = KEY,
    host: str = "127.0.0.1:3000",
    request_id: str | None = "req-1",
) -> dict:
    route = match_route(method, path)
    assert route is not None, f"{method} {path} should have a route"
    return build_event(
        route=route, method=method, raw_path=path, query=query,
        header_pairs=headers if headers is not None else [("Host", host)],
        body=body, source_ip="127.0.0.1", api_key=api_key, host=host, request_id=request_id,
    )


# --- routes -------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/v1/health", "/v1/openapi.json"])
def test_the_public_routes_answer_get_without_a_key(path):
    route = match_route("GET", path)

    assert route == Route(path, None, api_key_required=False)


@pytest.mark.parametrize("declared", list(ROUTES), ids=lambda r: f"{r.method} {r.path}")
def test_every_declared_route_needs_the_key_unless_the_shape_says_public(declared):
    path = declared.openapi_path.replace("{message_id}", "m-1").replace(
        "{email}", "ada@example.com").replace("{name}", "welcome")

    route = match_route(declared.method, path)

    assert route is not None
    assert route.api_key_required is not declared.public


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"])
def test_a_public_routes_other_methods_reach_the_function_without_a_key(method):
    # Given the explicit /v1/health resource, whose declared method is GET
    # When another method asks for it
    # Then it reaches the function key-free (not the key-protected proxy), which answers 405
    assert match_route(method, "/v1/health") == Route("/v1/health", None,
                                                       api_key_required=False)


@pytest.mark.parametrize("method", ["TRACE", "CONNECT", "BREW"])
def test_a_method_api_gateway_does_not_route_has_no_route(method):
    assert match_route(method, "/v1/emails") is None


@pytest.mark.parametrize(
    ("method", "path", "proxy"),
    [
        ("POST", "/v1/emails", "emails"),
        ("GET", "/v1/emails/msg_1", "emails/msg_1"),
        ("GET", "/v1/suppressions", "suppressions"),
        ("PUT", "/v1/sending", "sending"),
        ("GET", "/v1/templates", "templates"),
        ("GET", "/v1/nothing/here", "nothing/here"),
    ],
)
def test_everything_else_under_v1_goes_to_the_proxy_and_needs_the_key(method, path, proxy):
    route = match_route(method, path)

    assert route == Route(PROXY, {"proxy": proxy}, api_key_required=True)


def test_the_proxy_parameter_is_percent_decoded():
    route = match_route("DELETE", "/v1/suppressions/ada%2Btest%40example.com")

    assert route is not None
    assert route.path_parameters == {"proxy": "suppressions/ada+test@example.com"}


@pytest.mark.parametrize(
    "path", ["/", "/v1", "/v1/", "/health", "/v2/emails", "/V1/health", "/v1health", "/emails"]
)
def test_paths_outside_the_v1_resources_have_no_route(path):
    assert match_route("GET", path) is None


# --- the API key --------------------------------------------------------------------------


def test_a_public_route_is_authorized_without_any_key():
    route = match_route("GET", "/v1/health")

    assert gateway().is_authorized(route, {}) is True


def test_a_protected_route_without_a_key_is_refused():
    route = match_route("GET", "/v1/templates")

    assert gateway().is_authorized(route, {"Accept": "application/json"}) is False


@pytest.mark.parametrize("given", ["wrong", "", KEY[:-1], KEY + "x", KEY.upper()])
def test_a_protected_route_with_a_wrong_key_is_refused(given):
    route = match_route("GET", "/v1/templates")

    assert gateway().is_authorized(route, {"x-api-key": given}) is False


@pytest.mark.parametrize("header", ["x-api-key", "X-API-Key", "X-Api-Key"])
def test_the_key_header_name_is_case_insensitive(header):
    route = match_route("POST", "/v1/emails")

    assert gateway().is_authorized(route, {header: KEY}) is True


# --- refusals in the contract's error shape ------------------------------------------------


@pytest.mark.parametrize(
    ("error", "status", "code", "error_type"),
    [
        (NO_ROUTE, 404, "not_found", "MissingAuthenticationTokenException"),
        (FORBIDDEN, 403, "forbidden", "ForbiddenException"),
        (TOO_LARGE, 413, "payload_too_large", "RequestTooLargeException"),
    ],
)
def test_gateway_refusals_use_the_contract_error_shape(error, status, code, error_type):
    assert error.status == status
    assert error.error_type == error_type
    assert set(error.body) == {"error"}
    assert set(error.body["error"]) == {"code", "message", "details"}
    assert error.body["error"]["code"] == code
    assert error.body["error"]["message"]
    assert error.body["error"]["details"] is None


def test_an_unknown_path_is_answered_404_not_found():
    assert match_route("GET", "/v2/emails") is None
    assert (NO_ROUTE.status, NO_ROUTE.body["error"]["code"]) == (404, "not_found")
    assert NO_ROUTE.body["error"]["message"] == "No such route."


def test_a_failed_function_is_a_502_internal_error():
    assert INTERNAL_ERROR.status == 502
    assert INTERNAL_ERROR.body["error"]["code"] == "internal_error"


def test_the_payload_limit_is_api_gateways_10_mb():
    assert MAX_PAYLOAD_BYTES == 10 * 1024 * 1024


# --- the proxy event ----------------------------------------------------------------------


def test_the_event_names_the_proxy_resource_and_keeps_the_request_path():
    event = event_for("GET", "/v1/emails/msg_1")

    assert event["resource"] == PROXY
    assert event["path"] == "/v1/emails/msg_1"
    assert event["httpMethod"] == "GET"
    assert event["pathParameters"] == {"proxy": "emails/msg_1"}
    assert event["stageVariables"] is None


def test_the_event_path_stays_encoded_while_path_parameters_are_decoded():
    event = event_for("GET", "/v1/suppressions/ada%40example.com")

    assert event["path"] == "/v1/suppressions/ada%40example.com"
    assert event["pathParameters"] == {"proxy": "suppressions/ada@example.com"}


def test_a_public_route_event_has_its_own_resource_and_no_path_parameters():
    event = event_for("GET", "/v1/health", api_key=None)

    assert event["resource"] == "/v1/health"
    assert event["pathParameters"] is None


def test_single_query_parameters_appear_in_both_maps():
    event = event_for("GET", "/v1/suppressions", query="reason=manual&limit=10")

    assert event["queryStringParameters"] == {"reason": "manual", "limit": "10"}
    assert event["multiValueQueryStringParameters"] == {"reason": ["manual"], "limit": ["10"]}


def test_a_repeated_query_parameter_keeps_the_last_value_and_lists_all():
    event = event_for("GET", "/v1/suppressions", query="reason=manual&reason=complaint")

    assert event["queryStringParameters"] == {"reason": "complaint"}
    assert event["multiValueQueryStringParameters"] == {"reason": ["manual", "complaint"]}


def test_query_values_are_decoded_and_blank_values_kept():
    event = event_for("GET", "/v1/suppressions", query="cursor=&email=ada%2Bx%40example.com")

    assert event["queryStringParameters"] == {"cursor": "", "email": "ada+x@example.com"}


def test_no_query_string_gives_null_query_maps():
    event = event_for("GET", "/v1/templates", query="")

    assert event["queryStringParameters"] is None
    assert event["multiValueQueryStringParameters"] is None


def test_headers_keep_the_last_value_and_list_repeats():
    event = event_for(headers=[("Host", "127.0.0.1:3000"), ("Accept", "text/plain"),
                               ("Accept", "application/json")])

    assert event["headers"] == {"Host": "127.0.0.1:3000", "Accept": "application/json"}
    assert event["multiValueHeaders"] == {
        "Host": ["127.0.0.1:3000"], "Accept": ["text/plain", "application/json"]}


def test_no_headers_gives_null_header_maps():
    event = event_for(headers=[])

    assert event["headers"] is None
    assert event["multiValueHeaders"] is None


def test_a_utf8_body_is_passed_as_text():
    payload = json.dumps({"to": "zoë@example.com"}, ensure_ascii=False).encode()

    event = event_for("POST", "/v1/emails", body=payload)

    assert event["body"] == payload.decode()
    assert event["isBase64Encoded"] is False


def test_a_binary_body_is_base64_encoded():
    payload = b"\x89PNG\r\n\x1a\n\xff\x00"

    event = event_for("POST", "/v1/emails", body=payload)

    assert event["isBase64Encoded"] is True
    assert base64.b64decode(event["body"]) == payload


def test_an_empty_body_is_null():
    event = event_for("GET", "/v1/templates", body=b"")

    assert event["body"] is None
    assert event["isBase64Encoded"] is False


def test_the_request_context_describes_the_stage_and_request():
    event = event_for("POST", "/v1/emails", host="127.0.0.1:3000", request_id="req-42")
    context = event["requestContext"]

    assert context["stage"] == "local"
    assert context["path"] == "/local/v1/emails"
    assert context["resourcePath"] == PROXY
    assert context["httpMethod"] == "POST"
    assert context["requestId"] == "req-42"
    assert context["extendedRequestId"] == "req-42"
    assert context["accountId"] == ACCOUNT_ID
    assert context["protocol"] == "HTTP/1.1"
    assert context["domainName"] == "127.0.0.1:3000"
    assert context["domainPrefix"] == "127.0.0.1"
    assert context["identity"]["sourceIp"] == "127.0.0.1"


def test_the_request_context_times_the_request_now():
    before = int(datetime.now(UTC).timestamp() * 1000)

    context = event_for()["requestContext"]

    after = int(datetime.now(UTC).timestamp() * 1000)
    assert before <= context["requestTimeEpoch"] <= after
    assert re.fullmatch(r"\d{2}/[A-Z][a-z]{2}/\d{4}:\d{2}:\d{2}:\d{2} \+0000",
                        context["requestTime"])


def test_a_request_without_an_id_gets_a_fresh_one():
    first = event_for(request_id=None)["requestContext"]["requestId"]
    second = event_for(request_id=None)["requestContext"]["requestId"]

    assert first and second and first != second


def test_the_identity_carries_the_key_on_key_protected_methods():
    identity = event_for("POST", "/v1/emails", api_key=KEY)["requestContext"]["identity"]

    assert identity["apiKey"] == KEY
    assert identity["apiKeyId"]


def test_the_identity_has_no_key_on_public_methods():
    identity = event_for("GET", "/v1/health", api_key=None)["requestContext"]["identity"]

    assert identity["apiKey"] is None
    assert identity["apiKeyId"] is None


def test_the_identity_takes_the_user_agent_header():
    event = event_for(headers=[("Host", "h"), ("User-Agent", "mailroom-cli/1.0")])

    assert event["requestContext"]["identity"]["userAgent"] == "mailroom-cli/1.0"


def test_the_event_is_json_serialisable_like_a_lambda_payload():
    event = event_for("POST", "/v1/emails", query="a=1", body=b"\xff")

    assert json.loads(json.dumps(event)) == event


# --- the Lambda proxy response --------------------------------------------------------------


def test_a_proxy_response_gives_status_headers_and_body():
    status, headers, body = _proxy_response(
        {"statusCode": 202, "headers": {"Content-Type": "application/json", "X-Id": "1"},
         "body": '{"id": "msg_1"}'})

    assert status == 202
    assert ("X-Id", "1") in headers
    assert body == b'{"id": "msg_1"}'


def test_multi_value_headers_win_over_single_ones_of_the_same_name():
    _, headers, _ = _proxy_response({
        "statusCode": 200,
        "headers": {"Set-Cookie": "ignored", "X-One": "1"},
        "multiValueHeaders": {"set-cookie": ["a=1", "b=2"]},
        "body": "",
    })

    assert [value for name, value in headers if name.lower() == "set-cookie"] == ["a=1", "b=2"]
    assert ("X-One", "1") in headers


def test_a_base64_proxy_body_is_decoded():
    _, _, body = _proxy_response({"statusCode": 200, "isBase64Encoded": True,
                                  "body": base64.b64encode(b"\x00\xff").decode()})

    assert body == b"\x00\xff"


def test_a_proxy_response_without_content_type_defaults_to_json():
    _, headers, _ = _proxy_response({"statusCode": 204})

    assert ("Content-Type", "application/json") in headers


@pytest.mark.parametrize(
    "response", [None, "ok", {"body": "{}"}, {"statusCode": 200, "body": {"not": "a string"}}]
)
def test_a_malformed_proxy_response_is_refused(response):
    with pytest.raises(ValueError):
        _proxy_response(response)
