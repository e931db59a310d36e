"""One-click unsubscribe on the local stack, as a mailbox provider uses it: the digest's
headers read from the .eml, the RFC 8058 POST to its link, and only the digest stops."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from email import message_from_bytes, policy
from pathlib import Path
from typing import Any

import pytest

from .conftest import Api

pytestmark = pytest.mark.e2e

DIGEST = json.loads((Path(__file__).parents[2] / "templates" / "weekly_digest" /
                     "example.json").read_text())
RESET = {"name": "Ada", "reset_url": "https://app.example.com/reset/abc",
         "expires_in_minutes": 30}


def post(url: str, body: bytes | None, content_type: str = "application/x-www-form-urlencoded",
         accept: str = "*/*") -> tuple[int, str]:
    """What a mailbox provider sends: no API key, a form body."""
    request = urllib.request.Request(url, data=body, method="POST",
                                     headers={"content-type": content_type, "accept": accept})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def get(url: str, accept: str = "*/*") -> tuple[int, str, str]:
    try:
        request = urllib.request.Request(url, headers={"accept": accept})
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.headers["content-type"], response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.headers["content-type"], error.read().decode()


def delivered_eml(local_stack: dict[str, Any], api: Api, to: str, template: str,
                  data: Any) -> Any:
    status, accepted = api.send(to, template, data)
    assert status == 202, accepted
    message, _ = api.follow(accepted["id"], until={"delivered"})
    path = Path(local_stack["outbox_dir"]) / f"{message['ses_message_id']}.eml"
    raw = path.read_bytes()
    # As a mail client reads it: one plain header line, the link in angle brackets.
    if b"List-Unsubscribe:" in raw:
        assert b"List-Unsubscribe: <http" in raw, raw[:2000]
    return message_from_bytes(raw, policy=policy.default)


def test_the_digest_s_one_click_link_stops_the_digest_and_nothing_else(local_stack):
    api = Api(local_stack)
    to = "success+digest@simulator.amazonses.com"

    eml = delivered_eml(local_stack, api, to, "weekly_digest", DIGEST)

    assert eml["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    link = eml["List-Unsubscribe"].strip("<>")
    assert link.startswith(local_stack["api_url"] + "/v1/unsubscribe/")
    assert "success+digest" not in link and "%40" not in link  # no address in the token
    # A link scanner's GET changes nothing; it sees a page whose button makes the POST.
    status, content_type, page = get(link)
    assert (status, content_type.split(";")[0]) == (200, "text/html")
    assert 'method="post"' in page and "digest" in page
    assert api.call("GET", "/v1/suppressions/success%2Bdigest%40simulator.amazonses.com")[0] \
        == 404

    assert post(link, b"List-Unsubscribe=One-Click") == (200, '{"unsubscribed":true,'
                                                              '"category":"digest"}')
    assert post(link, b"List-Unsubscribe=One-Click")[0] == 200  # a repeat answers the same
    # The page's button, from a person's browser, gets a page back.
    status, page = post(link, b"List-Unsubscribe=One-Click", accept="text/html")
    assert status == 200 and "You are unsubscribed" in page

    entry = api.call("GET", "/v1/suppressions/success%2Bdigest%40simulator.amazonses.com")[1]
    assert entry["reason"] is None  # nothing stops all mail
    [digest] = entry["categories"]
    assert (digest["category"], digest["reason"], digest["source"]) == (
        "digest", "unsubscribed", "unsubscribe")
    assert len(digest["history"]) == 1
    status, refused = api.send(to, "weekly_digest", DIGEST)
    assert (status, refused["error"]["code"]) == (422, "recipient_suppressed")
    assert refused["error"]["details"]["category"] == "digest"
    # The same address still gets its password reset, which carries no unsubscribe at all.
    reset = delivered_eml(local_stack, api, to, "password_reset", RESET)
    assert reset["List-Unsubscribe"] is None


def test_forged_altered_and_malformed_unsubscribes_change_nothing(local_stack):
    api = Api(local_stack)
    to = "success+forged@simulator.amazonses.com"
    link = delivered_eml(local_stack, api, to, "weekly_digest", DIGEST)[
        "List-Unsubscribe"].strip("<>")
    base, token = link.rsplit("/", 1)
    payload, signature = token.split(".")
    altered = f"{payload}.{signature[::-1]}"

    assert post(f"{base}/{altered}", b"List-Unsubscribe=One-Click")[0] == 404
    assert post(f"{base}/not-a-token", b"List-Unsubscribe=One-Click")[0] == 404
    assert get(f"{base}/{altered}")[0] == 404
    status, content_type, page = get(f"{base}/{altered}", accept="text/html,*/*")
    assert (status, content_type.split(";")[0]) == (404, "text/html")
    assert "This link does not work" in page
    status, body = post(link, b"")  # not the one-click body
    assert (status, json.loads(body)["error"]["code"]) == (422, "validation_error")
    status, body = post(link, b'{"List-Unsubscribe": "One-Click"}', "application/json")
    assert status == 422
    assert api.call("GET", "/v1/suppressions/success%2Bforged%40simulator.amazonses.com")[0] \
        == 404
