"""One-click unsubscribe (RFC 8058): the signed token a `List-Unsubscribe` link carries, and
the headers that carry it.

A token names a message, a category and an expiry, and is signed with an HMAC key kept in
Secrets Manager; it never holds the address (the message's record has it). While the key
rotates, tokens signed with the previous key stay valid, so no link in an inbox breaks.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from .models import CATEGORY_PATTERN
from .ports import SigningKeys
from .shape import ROUTES, UNSUBSCRIBE_TOKEN_DAYS

# Mailbox providers keep the header for as long as the message sits in an inbox.
TOKEN_LIFETIME = timedelta(days=UNSUBSCRIBE_TOKEN_DAYS)
ONE_CLICK_BODY = "List-Unsubscribe=One-Click"
LIST_UNSUBSCRIBE = "List-Unsubscribe"
LIST_UNSUBSCRIBE_POST = "List-Unsubscribe-Post"
_SIGNATURE_BYTES = 16  # 128 bits of HMAC-SHA256: unforgeable, and keeps the link short
_PAYLOAD = re.compile(r"^(?P<message>[0-9a-f-]{36})\.(?P<category>[a-z0-9_-]{1,63})\."
                      r"(?P<expires>[0-9]{1,12})$")
assert CATEGORY_PATTERN == r"^[a-z0-9][a-z0-9_-]{0,62}$", "keep _PAYLOAD's category in step"


class InvalidToken(ValueError):
    """Not a token this Mailroom signed, or altered since."""


class ExpiredToken(ValueError):
    """Signed by us, but past its expiry."""


@dataclass(frozen=True)
class UnsubscribeToken:
    message_id: str
    category: str
    expires_at: datetime

    @classmethod
    def for_message(cls, message_id: str, category: str, now: datetime) -> UnsubscribeToken:
        return cls(message_id, category, (now + TOKEN_LIFETIME).replace(microsecond=0))

    def sign(self, key: bytes) -> str:
        payload = f"{self.message_id}.{self.category}.{int(self.expires_at.timestamp())}"
        return f"{_encode(payload.encode())}.{_encode(_signature(key, payload))}"

    @classmethod
    def verify(cls, token: str, keys: Sequence[bytes], now: datetime) -> UnsubscribeToken:
        """The token's contents if one of `keys` signed it and it has not expired; raises
        `InvalidToken` or `ExpiredToken`."""
        encoded, _, signature = token.partition(".")
        try:
            payload = _decode(encoded).decode("ascii")
            given = _decode(signature)
        except ValueError:
            raise InvalidToken() from None
        if not any(hmac.compare_digest(given, _signature(key, payload)) for key in keys):
            raise InvalidToken()
        match = _PAYLOAD.fullmatch(payload)
        if match is None:
            raise InvalidToken()
        expires_at = datetime.fromtimestamp(int(match["expires"]), UTC)
        if expires_at <= now:
            raise ExpiredToken()
        return cls(match["message"], match["category"], expires_at)


@dataclass(frozen=True)
class UnsubscribeLinks:
    """What the accept path adds to mail of a template with `unsubscribe`."""

    api_url: str  # the API's public base URL, ending in its stage
    keys: SigningKeys
    mailto: str | None = None  # also offered as a mailto: target, when set ("" is unset)

    def headers_for(self, message_id: str, category: str, now: datetime
                    ) -> list[dict[str, str]]:
        token = UnsubscribeToken.for_message(message_id, category, now).sign(self.keys.current())
        path = ROUTES.unsubscribe.path.replace("<token>", token)
        return headers(self.api_url.rstrip("/") + path, self.mailto or None)


def headers(url: str, mailto: str | None = None) -> list[dict[str, str]]:
    """The two headers RFC 8058 asks for, as SES v2's `Template.Headers` takes them."""
    targets = f"<{url}>" + (f", <mailto:{mailto}?subject=unsubscribe>" if mailto else "")
    return [{"Name": LIST_UNSUBSCRIBE, "Value": targets},
            {"Name": LIST_UNSUBSCRIBE_POST, "Value": ONE_CLICK_BODY}]


def _signature(key: bytes, payload: str) -> bytes:
    return hmac.new(key, payload.encode("ascii"), hashlib.sha256).digest()[:_SIGNATURE_BYTES]


def _encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _decode(text: str) -> bytes:
    if not text or not re.fullmatch(r"[A-Za-z0-9_-]+", text) or len(text) > 200:
        raise ValueError("not a token part")
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (ValueError, TypeError) as error:
        raise ValueError("not base64") from error
