"""The careless and hostile inputs a new user runs into, sent over HTTP to the local stack
as they would send them: each gets its 4xx in the contract's error shape."""

from __future__ import annotations

import http.client
import json
from typing import Any
from urllib.parse import urlsplit

import pytest

from .conftest import WELCOME, Api

pytestmark = pytest.mark.e2e
TO = "success@simulator.amazonses.com"


def raw_request(config: dict[str, Any], method: str, path: str, body: bytes = b"",
                key: bool = True) -> tuple[int, dict[str, str], Any]:
    url = urlsplit(config["api_url"])
    connection = http.client.HTTPConnection(url.hostname, url.port, timeout=30)
    headers = {"Content-Type": "application/json", **({"x-api-key": config["api_key"]}
                                                      if key else {})}
    connection.request(method, path, body=body or None, headers=headers)
    response = connection.getresponse()
    payload = response.read()
    connection.close()
    return response.status, dict(response.getheaders()), json.loads(payload) if payload else None


def test_a_body_that_is_not_utf8_is_400_invalid_json(local_stack) -> None:
    status, _, body = raw_request(local_stack, "POST", "/v1/emails", b'{"to": "\xff"}')

    assert (status, body["error"]["code"]) == (400, "invalid_json")


@pytest.mark.parametrize(("method", "path", "allow"), [
    ("GET", "/v1/emails", "POST"),
    ("POST", "/v1/health", "GET"),
    ("DELETE", "/v1/templates", "GET"),
])
def test_a_method_a_path_lacks_is_405_with_allow(local_stack, method, path, allow) -> None:
    status, headers, body = raw_request(local_stack, method, path, b"{}")

    assert (status, body["error"]["code"], headers["Allow"]) == (405, "method_not_allowed",
                                                                  allow)


def test_a_method_api_gateway_does_not_route_gets_its_answer_not_501(local_stack) -> None:
    status, _, body = raw_request(local_stack, "TRACE", "/v1/emails")

    assert status != 501
    assert set(body) == {"error"} and 400 <= status < 500


@pytest.mark.parametrize(("data", "field"), [
    ({**WELCOME, "name": {"first": "Ada"}}, "data.name"),
    ({**WELCOME, "action_url": "javascript:alert(1)"}, "data.action_url"),
    ({**WELCOME, "name": "x" * 200_000}, "data.name"),
])
def test_template_data_of_the_wrong_type_or_size_is_refused(api: Api, data, field) -> None:
    status, body = api.send(TO, data=data)

    assert (status, body["error"]["code"]) == (422, "validation_error")
    assert body["error"]["details"]["field"] == field


def test_a_subject_longer_than_email_allows_is_refused(api: Api) -> None:
    status, body = api.send(TO, data={**WELCOME, "name": "A" * 990})

    assert (status, body["error"]["code"]) == (422, "validation_error")
    assert body["error"]["details"]["limit"] == 998


def test_pausing_needs_a_real_boolean(api: Api) -> None:
    status, body = api.call("PUT", "/v1/sending", {"paused": "yes"})

    assert (status, body["error"]["code"]) == (422, "validation_error")
    assert api.call("GET", "/v1/health")[1]["sending"] == "enabled"


def test_idempotency_keys_that_disagree_are_refused(local_stack) -> None:
    url = urlsplit(local_stack["api_url"])
    connection = http.client.HTTPConnection(url.hostname, url.port, timeout=30)
    connection.request("POST", "/v1/emails", body=json.dumps({
        "to": TO, "template": "welcome", "data": WELCOME, "idempotency_key": "in-body"}),
        headers={"x-api-key": local_stack["api_key"], "Idempotency-Key": "in-header",
                 "Content-Type": "application/json"})
    response = connection.getresponse()
    body = json.loads(response.read())

    assert (response.status, body["error"]["code"]) == (422, "validation_error")


def test_messages_are_plain_words(api: Api) -> None:
    status, body = api.call("POST", "/v1/emails", {"to": TO, "template": "welcome",
                                                   "data": "Ada"})

    assert status == 422
    assert "Input should be" not in body["error"]["message"]
    assert "Value error" not in body["error"]["message"]
