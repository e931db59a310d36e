"""Unsubscribe tokens: signed, expiring, never holding the address."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta

import pytest

from mailroom.unsubscribe import (
    TOKEN_LIFETIME,
    ExpiredToken,
    InvalidToken,
    UnsubscribeLinks,
    UnsubscribeToken,
    headers,
)

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
MESSAGE = "8c2f1a8e-0d4b-4a57-9a1e-3b6f0c9d2e11"
KEY, OLD_KEY, OTHER_KEY = b"k" * 32, b"o" * 32, b"x" * 32


def token(category: str = "digest", key: bytes = KEY) -> str:
    return UnsubscribeToken.for_message(MESSAGE, category, NOW).sign(key)


def test_a_token_reads_back_what_was_signed_for_its_lifetime():
    verified = UnsubscribeToken.verify(token(), [KEY], NOW + TOKEN_LIFETIME - timedelta(hours=1))

    assert (verified.message_id, verified.category) == (MESSAGE, "digest")
    assert verified.expires_at == NOW + TOKEN_LIFETIME
    assert timedelta(days=60) <= TOKEN_LIFETIME


def test_a_token_past_its_expiry_is_refused_as_expired():
    with pytest.raises(ExpiredToken):
        UnsubscribeToken.verify(token(), [KEY], NOW + TOKEN_LIFETIME)


def test_the_previous_key_still_verifies_and_any_other_does_not():
    assert UnsubscribeToken.verify(token(key=OLD_KEY), [KEY, OLD_KEY], NOW).category == "digest"
    with pytest.raises(InvalidToken):
        UnsubscribeToken.verify(token(key=OTHER_KEY), [KEY, OLD_KEY], NOW)


def test_an_altered_token_is_refused():
    payload, signature = token().split(".")
    other_payload = token("product-news").split(".")[0]
    flipped = signature[:-2] + ("A" if signature[-2] != "A" else "B") + signature[-1]

    for altered in (f"{other_payload}.{signature}", f"{payload}.{flipped}", payload,
                    f"{payload}.", f".{signature}", f"{payload}.{signature}.x"):
        with pytest.raises(InvalidToken):
            UnsubscribeToken.verify(altered, [KEY], NOW)


@pytest.mark.parametrize("garbage", ["", ".", "not a token", "a.b", "é.é", "x" * 500,
                                     "%2e%2e.%2f", "AAAA.AAAA"])
def test_garbage_is_an_invalid_token(garbage):
    with pytest.raises(InvalidToken):
        UnsubscribeToken.verify(garbage, [KEY], NOW)


def test_a_signed_payload_of_the_wrong_shape_is_refused():
    # Even correctly signed, a payload that is not message.category.expiry is not a token.
    import hashlib
    import hmac

    payload = "ada@example.com.digest.99999999999"
    signature = hmac.new(KEY, payload.encode(), hashlib.sha256).digest()[:16]
    forged = ".".join(base64.urlsafe_b64encode(part).rstrip(b"=").decode()
                      for part in (payload.encode(), signature))

    with pytest.raises(InvalidToken):
        UnsubscribeToken.verify(forged, [KEY], NOW)


def test_the_token_holds_no_address_and_fits_a_header_line():
    class Keys:
        def current(self) -> bytes:
            return KEY

        def valid(self, *, fresh: bool = False) -> list[bytes]:
            return [KEY]

    [unsubscribe, post] = UnsubscribeLinks("https://api.example.com/prod/", Keys()
                                           ).headers_for(MESSAGE, "digest", NOW)

    assert unsubscribe["Name"] == "List-Unsubscribe"
    assert unsubscribe["Value"].startswith("<https://api.example.com/prod/v1/unsubscribe/")
    link = unsubscribe["Value"].strip("<>")
    signed = link.rsplit("/", 1)[1]
    assert UnsubscribeToken.verify(signed, [KEY], NOW).message_id == MESSAGE
    assert "@" not in base64.urlsafe_b64decode(signed.split(".")[0] + "==").decode()
    assert len(unsubscribe["Value"]) < 200 and unsubscribe["Value"].isascii()
    assert post == {"Name": "List-Unsubscribe-Post", "Value": "List-Unsubscribe=One-Click"}


def test_a_mailto_target_is_offered_only_when_named():
    assert headers("https://x/u/t")[0]["Value"] == "<https://x/u/t>"
    assert headers("https://x/u/t", "leave@example.com")[0]["Value"] == (
        "<https://x/u/t>, <mailto:leave@example.com?subject=unsubscribe>")
