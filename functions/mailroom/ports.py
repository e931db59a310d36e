"""The small interfaces the domain depends on. AWS adapters live in `mailroom.adapters`;
unit tests use the in-memory fakes in `tests/fakes.py`."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Protocol

from .models import (
    Failure,
    Message,
    Notification,
    SendingState,
    SendRequest,
    Status,
    Suppression,
    SuppressionReason,
    TimelineEvent,
)


class Claim(StrEnum):
    CLAIMED = "claimed"  # this worker may call SES now
    ALREADY_SENT = "already_sent"  # SES accepted it before: a redelivery, do nothing
    IN_FLIGHT = "in_flight"  # another worker holds an unexpired lease: retry later
    FINISHED = "finished"  # it ended without SES (suppressed, failed): do nothing
    MISSING = "missing"  # no record of this message


class MessageStore(Protocol):
    def create(self, message: Message) -> None: ...

    def create_many(self, messages: Sequence[Message]) -> None:
        """Record new messages (fresh ids) in as few calls as the store allows."""
        ...

    def get(self, message_id: str) -> Message | None: ...

    def find_by_ses_message_id(self, ses_message_id: str) -> Message | None: ...

    def claim(self, message_id: str, now: datetime, lease: timedelta) -> Claim:
        """Take the right to call SES for this message, as a lease that expires."""
        ...

    def release(self, message_id: str) -> None:
        """Give a lease back after a failed attempt so the retry need not wait for expiry."""
        ...

    def record_sent(self, message_id: str, ses_message_id: str, at: datetime) -> None: ...

    def apply_event(
        self,
        message_id: str,
        event: TimelineEvent,
        status: Status | None = None,
        failure: Failure | None = None,
        ses_message_id: str | None = None,
    ) -> bool:
        """Add `event` to the timeline once (False if its key was seen), move the status only
        forward by rank, and set `failure` together with a status it explains."""
        ...


class SuppressionStore(Protocol):
    def get(self, email: str, now: datetime) -> Suppression | None:
        """The active suppression for a normalised address; expired entries are ignored."""
        ...

    def get_many(self, emails: Sequence[str], now: datetime) -> dict[str, Suppression]:
        """The active suppressions among `emails`, in as few calls as the store allows."""
        ...

    def put(self, suppression: Suppression) -> None: ...

    def delete(self, email: str) -> bool: ...

    def list(
        self, now: datetime, reason: SuppressionReason | None, limit: int, cursor: str | None
    ) -> tuple[list[Suppression], str | None]: ...

    def count_soft_bounce(
        self, email: str, at: datetime, window: timedelta, event_key: str
    ) -> int:
        """Record one soft bounce (once per event_key) and return how many fall in the window."""
        ...


class SendQueue(Protocol):
    def enqueue(self, requests: Sequence[SendRequest], delay_seconds: int = 0) -> None: ...


class SendingSwitch(Protocol):
    def state(self) -> SendingState:
        """The current state; may be a few seconds stale (it is read on every request)."""
        ...

    def set(self, state: SendingState) -> None: ...


class Mailer(Protocol):
    def send(self, request: SendRequest) -> str:
        """Send through SES; return the SES message id or raise a `mailroom.sending` error."""
        ...


class Publisher(Protocol):
    def publish(self, notifications: Sequence[Notification]) -> None: ...
