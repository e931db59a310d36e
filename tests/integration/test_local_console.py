"""The local console's HTTP routes (mailroom_dev/local/console.py) on a loopback port, over
fakes and an outbox in a temporary folder: what each route answers, the 404s, and the
refusals that keep mail contents from other sites (Host, Origin, Sec-Fetch-Site)."""

from __future__ import annotations

import http.client
import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from mailroom.models import Message, Status
from mailroom.reputation import ReputationPolicy, Thresholds
from mailroom_dev.local.console import Console
from mailroom_dev.local.console_data import Outbox, Pipeline, TemplatePreviews
from mailroom_dev.local.outbox import OutgoingEmail, build_mime, write_eml
from tests.fakes import FakeCounters, FakeMessageStore, FakeSendingSwitch, FakeSuppressionStore

SES_ID = "010001a2-0000-4ab9-40ab-000000000001"
MESSAGE_ID = "6f1c1d2e-0000-4000-8000-000000000001"
WELCOME = {"name": "Ada", "action_url": "https://app.example.com/start"}


@pytest.fixture
def console(tmp_path: Path) -> Iterator[Console]:
    now = datetime.now(UTC)
    write_eml(tmp_path, SES_ID, build_mime(OutgoingEmail(
        message_id=SES_ID, sent_at=now, from_address="no-reply@mail.example.com",
        to=["ada@example.com"], cc=[], reply_to=[], subject="Welcome, Ada", text="Hi Ada",
        html="<p>Hi <b>Ada</b></p><script>alert(1)</script>")).as_bytes())
    messages = FakeMessageStore()
    messages.create(Message(id=MESSAGE_ID, status=Status.DELIVERED, to="ada@example.com",
                            from_address="no-reply@mail.example.com", template="welcome",
                            created_at=now, updated_at=now, ses_message_id=SES_ID))
    pipeline = Pipeline(messages=messages, suppressions=FakeSuppressionStore(),
                        switch=FakeSendingSwitch(), counters=FakeCounters(),
                        reputation=ReputationPolicy(timedelta(hours=24),
                                                    Thresholds(0.02, 0.0005, 100),
                                                    Thresholds(0.04, 0.0008, 500)))
    server = Console(Outbox(tmp_path), pipeline, TemplatePreviews(None), port=0)
    server.start()
    try:
        yield server
    finally:
        server.stop()


def call(console: Console, method: str, path: str, body: bytes | None = None,
         headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", console.port, timeout=10)
    try:
        sent = {"Host": f"127.0.0.1:{console.port}", **(headers or {})}
        connection.request(method, path, body=body, headers=sent)
        response = connection.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        connection.close()


def call_json(console: Console, method: str, path: str, payload: Any = None,
              **headers: str) -> tuple[int, Any]:
    body = None if payload is None else json.dumps(payload).encode()
    if body is not None:
        headers.setdefault("Content-Type", "application/json")
    status, _, answer = call(console, method, path, body, headers)
    return status, json.loads(answer)


def test_the_outbox_lists_mail_with_its_status(console: Console) -> None:
    status, listing = call_json(console, "GET", "/api/outbox")

    assert status == 200
    assert listing["total"] == 1
    assert listing["items"][0] | {"at": None} == {
        "id": SES_ID, "at": None, "from": "no-reply@mail.example.com", "to": "ada@example.com",
        "subject": "Welcome, Ada", "status": "delivered"}


@pytest.mark.parametrize("key", [SES_ID, MESSAGE_ID])
def test_a_message_is_found_by_either_id(console: Console, key: str) -> None:
    status, message = call_json(console, "GET", f"/api/messages/{key}")

    assert status == 200
    assert message["email"]["id"] == SES_ID
    assert message["email"]["text"].strip() == "Hi Ada"
    assert message["record"]["id"] == MESSAGE_ID
    assert message["record"]["status"] == "delivered"


@pytest.mark.parametrize("path", [
    "/api/messages/unknown-id", "/api/messages/..%2F..%2Fetc%2Fpasswd", "/api/messages/%00",
    "/messages/unknown-id/html", "/messages/unknown-id.eml", "/messages/..%2Fx.eml",
    "/api/nothing", "/favicon.ico",
])
def test_what_does_not_exist_is_a_json_404(console: Console, path: str) -> None:
    status, answer = call_json(console, "GET", path)

    assert status == 404
    assert answer["error"]["code"] == "not_found"


def test_a_messages_html_is_served_in_a_sandbox_of_its_own(console: Console) -> None:
    status, headers, body = call(console, "GET", f"/messages/{SES_ID}/html")

    assert status == 200
    assert b"<b>Ada</b>" in body
    policy = headers["content-security-policy"]
    assert policy.startswith("sandbox;")
    assert "script-src" not in policy and "default-src 'none'" in policy
    assert headers["content-type"].startswith("text/html")


def test_the_raw_message_downloads_as_eml(console: Console) -> None:
    status, headers, body = call(console, "GET", f"/messages/{SES_ID}.eml")

    assert status == 200
    assert headers["content-type"] == "message/rfc822"
    assert f'filename="{SES_ID}.eml"' in headers["content-disposition"]
    assert b"Subject: Welcome, Ada" in body


def test_the_page_runs_only_its_own_script(console: Console) -> None:
    status, headers, body = call(console, "GET", "/")

    assert status == 200
    nonce = re.search(r"script-src 'nonce-([^']+)'", headers["content-security-policy"])
    assert nonce is not None
    assert f'<script nonce="{nonce.group(1)}">'.encode() in body
    assert b"{{nonce}}" not in body
    assert b"http://" not in body and b"https://" not in body  # nothing fetched elsewhere


def test_a_preview_renders_the_posted_data(console: Console) -> None:
    status, preview = call_json(console, "POST", "/api/templates/welcome/preview",
                                {"data": {**WELCOME, "name": "Grace"}})

    assert status == 200
    assert preview["error"] is None
    assert "Grace" in preview["rendered"]["subject"] and "Grace" in preview["rendered"]["html"]


@pytest.mark.parametrize(("data", "code"), [
    ({"name": "Ada"}, "missing_template_data"),
    ("not an object", "validation_error"),
    ({**WELCOME, "action_url": "javascript:alert(1)"}, "validation_error"),
])
def test_data_that_does_not_render_is_answered_with_why(console: Console, data: Any,
                                                        code: str) -> None:
    # The request itself succeeded: the answer is the diagnosis the editor shows.
    status, body = call_json(console, "POST", "/api/templates/welcome/preview", {"data": data})

    assert status == 200
    assert body["rendered"] is None
    assert body["error"]["code"] == code and body["error"]["message"]


@pytest.mark.parametrize("payload", [{"nodata": {}}, [1, 2], "text"])
def test_a_preview_request_without_data_is_a_422(console: Console, payload: Any) -> None:
    status, body = call_json(console, "POST", "/api/templates/welcome/preview", payload)

    assert (status, body["error"]["code"]) == (422, "validation_error")


def test_preview_bodies_that_are_not_json_are_refused(console: Console) -> None:
    status, _, body = call(console, "POST", "/api/templates/welcome/preview", b"{nope",
                           {"Content-Type": "application/json"})
    form_status, _, _ = call(console, "POST", "/api/templates/welcome/preview", b"data=1",
                             {"Content-Type": "application/x-www-form-urlencoded"})

    assert status == 400 and json.loads(body)["error"]["code"] == "invalid_json"
    assert form_status == 415  # what a form on another site could send


def test_an_unknown_template_preview_is_a_404(console: Console) -> None:
    status, body = call_json(console, "POST", "/api/templates/nope/preview", {"data": {}})

    assert status == 404 and body["error"]["code"] == "not_found"


@pytest.mark.parametrize("path", ["/", "/api/outbox", f"/api/messages/{SES_ID}",
                                  f"/messages/{SES_ID}.eml", "/api/templates"])
@pytest.mark.parametrize("host", ["evil.example", "evil.example:8025", "127.0.0.1:1", None])
def test_requests_for_another_host_are_refused(console: Console, path: str,
                                               host: str | None) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", console.port, timeout=10)
    connection.putrequest("GET", path, skip_host=True)
    if host is not None:
        connection.putheader("Host", host)
    connection.endheaders()
    response = connection.getresponse()
    body = json.loads(response.read())
    connection.close()

    assert response.status == 403
    assert body["error"]["code"] == "forbidden_host"
    assert "Ada" not in json.dumps(body)


def test_localhost_is_the_console_too(console: Console) -> None:
    status, _, _ = call(console, "GET", "/api/outbox",
                        headers={"Host": f"localhost:{console.port}"})

    assert status == 200


@pytest.mark.parametrize("headers", [
    {"Origin": "http://evil.example"},
    {"Origin": "null"},
    {"Sec-Fetch-Site": "cross-site"},
    {"Sec-Fetch-Site": "same-site"},
])
def test_cross_origin_requests_are_refused(console: Console, headers: dict[str, str]) -> None:
    status, body = call_json(console, "GET", f"/api/messages/{SES_ID}", **headers)
    post_status, _ = call_json(console, "POST", "/api/templates/welcome/preview",
                               {"data": WELCOME}, **headers)

    assert status == post_status == 403
    assert body["error"]["code"] == "cross_origin"


def test_the_pages_own_requests_are_answered(console: Console) -> None:
    status, _ = call_json(console, "POST", "/api/templates/welcome/preview", {"data": WELCOME},
                          Origin=f"http://127.0.0.1:{console.port}",
                          **{"Sec-Fetch-Site": "same-origin"})

    assert status == 200


@pytest.mark.parametrize(("method", "path"), [("PUT", "/api/outbox"), ("DELETE", "/"),
                                              ("POST", "/api/outbox"),
                                              ("PUT", "/api/templates/welcome/preview")])
def test_other_methods_are_not_allowed(console: Console, method: str, path: str) -> None:
    status, headers, _ = call(console, method, path, b"{}",
                              {"Content-Type": "application/json"})

    assert status == 405 and "allow" in headers


def test_the_json_routes_answer_their_shapes(console: Console) -> None:
    guard = call_json(console, "GET", "/api/guard")[1]
    suppressions = call_json(console, "GET", "/api/suppressions")[1]
    templates = call_json(console, "GET", "/api/templates")[1]

    assert guard["sending"]["sending"] == "enabled" and guard["reputation"]["state"] == "ok"
    assert suppressions == {"items": [], "more": False}
    assert "welcome" in [item["name"] for item in templates["items"]]


@pytest.mark.parametrize(("method", "path"), [
    ("GET", "/api/messages/%ff%fe"), ("GET", "/messages//html"), ("GET", "/messages/.eml"),
    ("GET", "/api/messages/" + "a" * 5000), ("GET", "//api/outbox"), ("GET", "/?q=<script>"),
    ("GET", "/api/messages/%2e%2e"), ("POST", "/api/templates/%2e%2e/preview"),
    ("POST", "/api/templates/" + "x" * 300 + "/preview"), ("HEAD", "/api/guard"),
])
def test_odd_requests_never_break_the_console(console: Console, method: str, path: str) -> None:
    status, _, _ = call(console, method, path, b'{"data": {}}' if method == "POST" else None,
                        {"Content-Type": "application/json"})

    assert status < 500
