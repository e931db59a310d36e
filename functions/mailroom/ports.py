"""The small interfaces the domain depends on. AWS adapters live in `mailroom.adapters`;
unit tests use the in-memory fakes in `tests/fakes.py`."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Protocol

from .counting import Breakdown, CountedEvent, Totals, Traffic
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


@dataclass(frozen=True)
class SoftBounces:
    """An address's soft bounces in the rolling window, whatever order they arrived in."""

    count: int
    latest: datetime | None  # the most recent one; None when none is in the window


class MessageStore(Protocol):
    def create(self, message: Message) -> None: ...

    def create_many(self, messages: Sequence[Message]) -> None:
        """Record new messages (fresh ids) in as few calls as the store allows."""
        ...

    def get(self, message_id: str) -> Message | None: ...

    def find_by_ses_message_id(self, ses_message_id: str) -> Message | None: ...

    def awaiting_outcome(self, hour: datetime, sent_before: datetime) -> list[str]:
        """Ids of messages SES took in `hour` (before `sent_before`) whose status is still
        `sent`: no outcome has reached them. Read from an index, never a scan."""
        ...

    def claim(self, message_id: str, now: datetime, lease: timedelta) -> Claim:
        """Take the right to call SES for this message, as a lease that expires."""
        ...

    def release(self, message_id: str) -> None:
        """Give a lease back after a failed attempt so the retry need not wait for expiry."""
        ...

    def record_sent(self, message_id: str, ses_message_id: str, at: datetime) -> None: ...

    def reopen(self, message_id: str, event: TimelineEvent) -> bool:
        """The one exception to forward-only status (DESIGN §2): a message that ended
        `failed` with `retries_exhausted` and that SES never took (no SES message id) goes
        back to `queued`, with `event` (a `redriven` entry) on its timeline. False, and
        nothing changed, for any other message."""
        ...

    def apply_event(
        self,
        message_id: str,
        event: TimelineEvent,
        status: Status | None = None,
        failure: Failure | None = None,
        ses_message_id: str | None = None,
    ) -> bool:
        """Add `event` to the timeline once (False if its key was seen, or there is no such
        message), move the status only forward by rank — for an event seen before too, as
        its status change may not have been recorded — and set `failure` together with a
        status it explains."""
        ...


class SuppressionStore(Protocol):
    """The suppression list. An address has at most one global entry (all mail) and one
    entry per category of mail (`Suppression.category`), each with its own history."""

    def get(self, email: str, now: datetime, category: str | None = None
            ) -> Suppression | None:
        """The active entry that stops mail of `category` to a normalised address: the
        global entry, else (given a category) that category's; expired entries are ignored."""
        ...

    def get_many(self, emails: Sequence[str], now: datetime, category: str | None = None
                 ) -> dict[str, Suppression]:
        """`get` for each of `emails`, in as few calls as the store allows: the addresses
        that are stopped, each with the entry that stops it."""
        ...

    def categories(self, email: str, now: datetime) -> list[Suppression]:
        """The address's active category entries, by category name."""
        ...

    def put(self, suppression: Suppression) -> None:
        """Write the entry as given (the global one, or its category's), whatever is there
        (an operator's decision)."""
        ...

    def add(self, suppression: Suppression, now: datetime) -> bool:
        """Write the entry only if its place (global, or its category) holds no active one,
        atomically: True if written, False if one was there (it stands: an import never
        overwrites)."""
        ...

    def strengthen(
        self, suppression: Suppression, outranks: Collection[SuppressionReason] = ()
    ) -> bool:
        """Write an entry the policy decided on, atomically, only if it does not weaken the
        one there. It replaces: nothing or an expired entry; an expiring entry, when it is
        permanent or expires no earlier; a permanent entry, when it is permanent too and the
        entry's reason is in `outranks`. True when the list now holds it — written now, or
        already written by an earlier attempt of the same event (same reason, created_at and
        note), so a retry gets the same answer. False when a stronger entry stands."""
        ...

    def delete(self, email: str, by: str | None = None, at: datetime | None = None,
               category: str | None = None) -> bool:
        """Remove the global entry and the address's soft-bounce count (or, given a
        category, that category's entry only); True if there was one (active or not yet
        swept after expiring). Its history stays (a tombstone)."""
        ...

    def history(self, email: str, category: str | None = None) -> list[dict[str, Any]]:
        """Every change to the address's global entry (or its category's), oldest first:
        `at`, `action` (suppressed, removed), and `reason`, `source`, `by`, `note` as they
        were. Survives removal."""
        ...

    def list(
        self, now: datetime, reason: SuppressionReason | None, limit: int, cursor: str | None,
        category: str | None = None,
    ) -> tuple[list[Suppression], str | None]:
        """Up to `limit` active entries — global and category entries alike, or only those
        of `category` — of `reason`, if given, and the cursor resuming right after the last
        one, None when no entry follows. A cursor the store did not return for the same
        listing raises `InvalidCursor`."""
        ...

    def record_soft_bounce(
        self, email: str, at: datetime, event_key: str, window: timedelta, now: datetime
    ) -> SoftBounces:
        """Record one soft bounce that happened `at` (once per event_key) and return the
        address's soft bounces in the window ending at max(at, now) — every recorded one
        after its start, so bounces processed out of order still add up. Bounces older than
        the window are forgotten, and so is the whole count one window after the latest."""
        ...


class AccountSuppressionList(Protocol):
    """SES's own account-level suppression list, kept in step with Mailroom's."""

    def remove(self, email: str) -> bool:
        """Take the address off SES's list; True if it was there."""
        ...

    def entries(self) -> Iterator[tuple[str, SuppressionReason, datetime]]:
        """Every address on SES's list, with its reason and when SES added it."""
        ...


class SendQueue(Protocol):
    def enqueue(self, requests: Sequence[SendRequest], delay_seconds: int = 0) -> None:
        """Queue every request, each invisible to the sender for `delay_seconds` (at most
        900, SQS's limit)."""
        ...


class SigningKeys(Protocol):
    """The unsubscribe links' HMAC keys: the one to sign with, and every one still valid."""

    def current(self) -> bytes:
        ...

    def valid(self, *, fresh: bool = False) -> list[bytes]:
        """The current key and the one before it (a rotation keeps old links working);
        `fresh` reads them again rather than from the cache."""
        ...


class DeadLetters(Protocol):
    """A queue's dead-letter queue, written to directly: what no retry could ever apply."""

    def put(self, body: str, reason: str, detail: str) -> None:
        """Keep `body` as a dead letter with why: `reason` a short code, `detail` in words."""
        ...


class SendingSwitch(Protocol):
    def state(self, *, fresh: bool = False) -> SendingState:
        """The current state; may be a few seconds stale (it is read on every request)
        unless `fresh`."""
        ...

    def set(self, state: SendingState) -> None:
        """Set `state`. A resume that ends a pause records, atomically, when that pause
        began (`previous_pause_since`); a resume of a running system keeps the record."""
        ...

    def pause(self, state: SendingState) -> bool:
        """Set `state` (a pause) only if sending is not paused already, atomically: True if
        this call paused it, False if it was paused (its reason and time stand)."""
        ...


class SendingGate(Protocol):
    """Something besides the switch that a pause closes and a resume opens (DESIGN §1): the
    sender's queue consumer, the configuration set's sending."""

    name: str  # what it is, in plain words, for logs

    def is_open(self) -> bool | None:
        """Whether it lets mail through; None while it is changing from one to the other."""
        ...

    def set_open(self, is_open: bool) -> None:
        """Open or close it. A change under way in the other direction is waited out
        briefly; raises if it cannot be made now."""
        ...


class GuardLevels(Protocol):
    def move(self, level: str, at: datetime) -> bool:
        """Record the reputation guard's level, atomically: True only for the call that
        changed it, so concurrent handlers act on a change once."""
        ...


class Mailer(Protocol):
    def send(self, request: SendRequest) -> str:
        """Send through SES; return the SES message id or raise a `mailroom.sending` error."""
        ...


class Publisher(Protocol):
    def publish(self, notifications: Sequence[Notification]) -> None:
        """Publish each one with its `type` as a message attribute subscribers filter on."""
        ...


class Counters(Protocol):
    """Hourly outcome counts (mailroom.counting); reads sum the hours from the one `first`
    falls in to the one `last` falls in, both included, and hours with nothing count 0."""

    def add(self, counted: CountedEvent) -> None:
        """Add one to each of the event's counters in its hour, with atomic adds: calls at
        the same time never lose one another's counts."""
        ...

    def add_many(self, counted: Iterable[CountedEvent]) -> None:
        """`add` for each event, in as few writes as the store allows: events that share a
        counter (hour, traffic class, dimension and value) are added to it together."""
        ...

    def totals(self, traffic: Traffic, first: datetime, last: datetime) -> Totals:
        """Each outcome's count for one traffic class: what the reputation guard reads."""
        ...

    def breakdown(self, first: datetime, last: datetime) -> dict[Traffic, Breakdown]:
        """Every traffic class's counts in all, by failure reason and by recipient domain:
        what reports read."""
        ...
