"""How a message's timeline is stored. Every write costs a unit per KB of the whole item, so
the entries are kept compact and a message's item stays about 1 KB through its usual life
(queued, sent, Send, Delivery):

    t  type    a  at, in microseconds since the epoch    d  detail (absent when empty)
    k  key, with the entry's own SES message id (detail `ses_message_id`) written as \\x1f

and `event_keys`, the set that lets a condition refuse an entry seen before, holds a
16-character digest of each key rather than the key. Items written before this encoding
(entries of `type`, `at`, `key`, `detail`, whole keys in `event_keys`) read the same, and
their whole keys are still checked, so an event redelivered across the change is still
recognised."""

from __future__ import annotations

import base64
import hashlib
from datetime import UTC, datetime, timedelta
from typing import Any

from ...models import TimelineEvent

SES_MESSAGE_ID_MARK = "\x1f"  # no SES message id, address or event type holds it
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


def stored_entry(event: TimelineEvent) -> dict[str, Any]:
    detail = event.model_dump(mode="json")["detail"]
    ses_message_id = detail.get("ses_message_id")
    key = event.key
    if isinstance(ses_message_id, str) and ses_message_id and SES_MESSAGE_ID_MARK not in key:
        key = key.replace(ses_message_id, SES_MESSAGE_ID_MARK)
    at = event.at if event.at.tzinfo else event.at.replace(tzinfo=UTC)
    entry: dict[str, Any] = {"t": event.type, "a": (at - _EPOCH) // _MICROSECOND, "k": key}
    if detail:
        entry["d"] = detail
    return entry


def read_entry(stored: dict[str, Any]) -> dict[str, Any]:
    """A stored entry as TimelineEvent's fields."""
    if "t" not in stored:
        return stored  # written before the compact encoding
    detail = stored.get("d", {})
    key = stored["k"]
    if SES_MESSAGE_ID_MARK in key:
        key = key.replace(SES_MESSAGE_ID_MARK, detail["ses_message_id"])
    return {"type": stored["t"], "at": _EPOCH + stored["a"] * _MICROSECOND, "key": key,
            "detail": detail}


def key_digest(key: str) -> str:
    """What `event_keys` holds for a key: 96 bits of its SHA-256, so no two keys of one
    message's timeline ever share one."""
    return base64.urlsafe_b64encode(hashlib.sha256(key.encode()).digest()[:12]).decode()
