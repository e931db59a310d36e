"""In-memory fakes of the domain's ports (mailroom.ports). They keep the same rules as the
AWS adapters — dedup by event key, status by rank, leases, SQS's delay limit — so unit tests
pin behaviour without AWS; tests/contract runs the same tests against each fake and its
adapter, so the two cannot drift apart."""

from __future__ import annotations

import base64
import itertools
import json
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from mailroom.counting import (
    Breakdown,
    CountedEvent,
    Totals,
    Traffic,
    hour_of,
    no_breakdowns,
    no_totals,
)
from mailroom.errors import InvalidCursor
from mailroom.models import (
    RETRIES_EXHAUSTED,
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
from mailroom.ports import Claim, SoftBounces


class FakeMessageStore:
    def __init__(self) -> None:
        self.messages: dict[str, Message] = {}
        self.leases: dict[str, datetime] = {}
        self.claims = 0
        self.sent_at: dict[str, datetime] = {}  # awaiting an outcome, since

    def create(self, message: Message) -> None:
        assert message.id not in self.messages, "message ids are unique"
        self.messages[message.id] = message.model_copy(deep=True)

    def create_many(self, messages: Sequence[Message]) -> None:
        for message in messages:
            self.create(message)

    def get(self, message_id: str) -> Message | None:
        message = self.messages.get(message_id)
        return message.model_copy(deep=True) if message else None

    def find_by_ses_message_id(self, ses_message_id: str) -> Message | None:
        for message in self.messages.values():
            if message.ses_message_id == ses_message_id:
                return message.model_copy(deep=True)
        return None

    def awaiting_outcome(self, hour: datetime, sent_before: datetime) -> list[str]:
        start = hour.replace(minute=0, second=0, microsecond=0)
        return [message_id for message_id, at in self.sent_at.items()
                if start <= at < start + timedelta(hours=1) and at < sent_before]

    def claim(self, message_id: str, now: datetime, lease: timedelta) -> Claim:
        message = self.messages.get(message_id)
        if message is None:
            return Claim.MISSING
        if message.ses_message_id:
            return Claim.ALREADY_SENT
        if message.status != Status.QUEUED:
            return Claim.FINISHED
        held_until = self.leases.get(message_id)
        if held_until and held_until > now:
            return Claim.IN_FLIGHT
        self.leases[message_id] = now + lease
        self.claims += 1
        return Claim.CLAIMED

    def release(self, message_id: str) -> None:
        self.leases.pop(message_id, None)

    def record_sent(self, message_id: str, ses_message_id: str, at: datetime) -> None:
        self.apply_event(
            message_id,
            TimelineEvent(type="sent", at=at, key=f"sent#{ses_message_id}",
                          detail={"ses_message_id": ses_message_id}),
            status=Status.SENT,
            ses_message_id=ses_message_id,
        )

    def reopen(self, message_id: str, event: TimelineEvent) -> bool:
        message = self.messages.get(message_id)
        if (message is None or message.status is not Status.FAILED or message.ses_message_id
                or message.failure is None or message.failure.reason != RETRIES_EXHAUSTED
                or any(seen.key == event.key for seen in message.events)):
            return False
        message.status, message.failure, message.updated_at = Status.QUEUED, None, event.at
        message.events.append(event)
        return True

    def apply_event(
        self,
        message_id: str,
        event: TimelineEvent,
        status: Status | None = None,
        failure: Failure | None = None,
        ses_message_id: str | None = None,
    ) -> bool:
        message = self.messages.get(message_id)
        if message is None:
            return False  # an event never creates a message
        appended = all(seen.key != event.key for seen in message.events)
        if appended:
            message.events.append(event)
            message.updated_at = event.at
            if ses_message_id:
                message.ses_message_id = message.ses_message_id or ses_message_id
                self.leases.pop(message_id, None)
        # Even for a duplicate event: if a crash came between the adapter's two writes, the
        # redelivered event must still move the status.
        if status is not None and status.rank > message.status.rank:
            message.status = status
            message.updated_at = event.at
            if failure is not None:
                message.failure = failure
            if status is Status.SENT:
                self.sent_at[message_id] = event.at
            else:
                self.sent_at.pop(message_id, None)
        return appended


class FakeDeadLetters:
    def __init__(self) -> None:
        self.letters: list[tuple[str, str, str]] = []  # (body, reason, detail)

    def put(self, body: str, reason: str, detail: str) -> None:
        self.letters.append((body, reason, detail))


class FakeSuppressionStore:
    def __init__(self) -> None:
        # (address, category or None) → its entry, and its history
        self.items: dict[tuple[str, str | None], Suppression] = {}
        self.changes: dict[tuple[str, str | None], list[dict[str, Any]]] = {}
        # address → {event key → when it bounced}; pruned to the window as the adapter does
        self.soft_bounces: dict[str, dict[str, datetime]] = {}

    def get(self, email: str, now: datetime, category: str | None = None
            ) -> Suppression | None:
        for place in [None] + ([category] if category is not None else []):
            item = self.items.get((email, place))
            if item and item.is_active(now):
                return item
        return None

    def get_many(self, emails: Sequence[str], now: datetime, category: str | None = None
                 ) -> dict[str, Suppression]:
        found = {email: self.get(email, now, category) for email in emails}
        return {email: item for email, item in found.items() if item is not None}

    def categories(self, email: str, now: datetime) -> list[Suppression]:
        return sorted((item for (address, category), item in self.items.items()
                       if address == email and category is not None and item.is_active(now)),
                      key=lambda item: str(item.category))

    def put(self, suppression: Suppression) -> None:
        self.items[_place(suppression)] = suppression
        self._record(suppression)

    def add(self, suppression: Suppression, now: datetime) -> bool:
        existing = self.items.get(_place(suppression))
        if existing is not None and existing.is_active(now):
            return False
        self.put(suppression)
        return True

    def strengthen(
        self, suppression: Suppression, outranks: Collection[SuppressionReason] = ()
    ) -> bool:
        existing = self.items.get(_place(suppression))
        if existing is not None and _same_entry(suppression, existing):
            return True  # written by an earlier attempt of the same event
        if existing is None or _replaces(suppression, existing, outranks):
            self.put(suppression)
            return True
        return False

    def delete(self, email: str, by: str | None = None, at: datetime | None = None,
               category: str | None = None) -> bool:
        if category is None:
            self.soft_bounces.pop(email, None)
        removed = self.items.pop((email, category), None) is not None
        if removed:
            self.changes.setdefault((email, category), []).append(
                {"at": (at or datetime.now(UTC)).isoformat(), "action": "removed",
                 **({"by": by} if by else {})})
        return removed

    def history(self, email: str, category: str | None = None) -> list[dict[str, Any]]:
        return list(self.changes.get((email, category), []))

    def _record(self, suppression: Suppression) -> None:
        data = suppression.model_dump(mode="json", exclude={"email", "created_at"},
                                      exclude_none=True)
        self.changes.setdefault(_place(suppression), []).append(
            {"at": suppression.created_at.isoformat(), "action": "suppressed", **data})

    def list(
        self, now: datetime, reason: SuppressionReason | None, limit: int, cursor: str | None,
        category: str | None = None,
    ) -> tuple[list[Suppression], str | None]:
        listing = f"{reason.value if reason else 'all'}/{category or ''}"
        after = _cursor_position(cursor, listing)
        active = sorted(
            (s for s in self.items.values()
             if s.is_active(now) and (reason is None or s.reason == reason)
             and (category is None or s.category == category)
             and (after is None or _listing_key(s) > after)),
            key=_listing_key,
        )
        page = active[:limit]
        more = len(active) > limit
        return page, (_cursor(listing, _listing_key(page[-1])) if more else None)

    def record_soft_bounce(
        self, email: str, at: datetime, event_key: str, window: timedelta, now: datetime
    ) -> SoftBounces:
        since = max(at, now) - window
        seen = {key: when for key, when in self.soft_bounces.get(email, {}).items()
                if when > since}
        if at > since:
            seen.setdefault(event_key, at)
        self.soft_bounces[email] = seen
        return SoftBounces(count=len(seen), latest=max(seen.values(), default=None))


def _place(suppression: Suppression) -> tuple[str, str | None]:
    return (suppression.email, suppression.category)


def _listing_key(suppression: Suppression) -> str:
    return f"{suppression.email}#{suppression.category or ''}"


def _replaces(candidate: Suppression, existing: Suppression,
              outranks: Collection[SuppressionReason]) -> bool:
    """The adapter's condition expression, in Python (see SuppressionStore.strengthen)."""
    if existing.expires_at is not None:
        return candidate.expires_at is None or candidate.expires_at >= existing.expires_at
    return candidate.expires_at is None and existing.reason in outranks


def _same_entry(candidate: Suppression, existing: Suppression) -> bool:
    return (candidate.reason, candidate.created_at, candidate.note) == (
        existing.reason, existing.created_at, existing.note)


def _cursor(listing: str, after: str) -> str:
    token = json.dumps({"listing": listing, "after": after})
    return base64.urlsafe_b64encode(token.encode()).decode()


def _cursor_position(cursor: str | None, listing: str) -> str | None:
    """The address a cursor of this listing resumes after; like the adapter, any other
    cursor is refused."""
    if not cursor:
        return None
    try:
        token = json.loads(base64.urlsafe_b64decode(cursor.encode()))
    except ValueError:
        raise InvalidCursor() from None
    if (not isinstance(token, dict) or token.get("listing") != listing
            or not isinstance(token.get("after"), str)):
        raise InvalidCursor()
    return str(token["after"])


class FakeCounters:
    """Keeps every counted event (`counted`, for tests to read) and sums them on read: no
    shards, the same sums."""

    def __init__(self) -> None:
        self.counted: list[CountedEvent] = []

    def add(self, counted: CountedEvent) -> None:
        self.counted.append(counted)

    def add_many(self, counted: Iterable[CountedEvent]) -> None:
        self.counted.extend(counted)

    def totals(self, traffic: Traffic, first: datetime, last: datetime) -> Totals:
        totals = no_totals()
        for counted in self._between(first, last):
            if counted.traffic is traffic:
                totals[counted.outcome] += 1
        return totals

    def breakdown(self, first: datetime, last: datetime) -> dict[Traffic, Breakdown]:
        breakdowns = no_breakdowns()
        for counted in self._between(first, last):
            for dimension, value in counted.dimensions:
                breakdowns[counted.traffic].add(dimension, value, {counted.outcome: 1})
        return breakdowns

    def _between(self, first: datetime, last: datetime) -> list[CountedEvent]:
        return [counted for counted in self.counted
                if hour_of(first) <= hour_of(counted.hour) <= hour_of(last)]


SQS_MAX_DELAY_SECONDS = 900


class FakeSendQueue:
    def __init__(self) -> None:
        self.sent: list[SendRequest] = []
        self.delays: list[int] = []

    def enqueue(self, requests: Sequence[SendRequest], delay_seconds: int = 0) -> None:
        if not 0 <= delay_seconds <= SQS_MAX_DELAY_SECONDS:
            raise RuntimeError(f"Value {delay_seconds} for parameter DelaySeconds is invalid: "
                               f"SQS delays a message 0 to {SQS_MAX_DELAY_SECONDS} seconds.")
        self.sent.extend(requests)
        self.delays.extend([delay_seconds] * len(requests))


class FakeSendingSwitch:
    def __init__(self) -> None:
        self.current = SendingState()

    def state(self, *, fresh: bool = False) -> SendingState:
        return self.current

    def set(self, state: SendingState) -> None:
        if not state.paused:
            previous = self.current.since if self.current.paused else \
                self.current.previous_pause_since
            state = state.model_copy(update={"previous_pause_since": previous})
        self.current = state

    def pause(self, state: SendingState) -> bool:
        if self.current.paused:
            return False
        self.current = state
        return True


class FakeAccountSuppressions:
    """SES's account-level list: address → (reason, since)."""

    def __init__(self) -> None:
        self.listed: dict[str, tuple[SuppressionReason, datetime]] = {}

    def remove(self, email: str) -> bool:
        return self.listed.pop(email, None) is not None

    def entries(self) -> Iterator[tuple[str, SuppressionReason, datetime]]:
        yield from ((email, reason, at) for email, (reason, at) in sorted(self.listed.items()))


class FakeGate:
    """A gate that opens and closes when told; `failures` scripts errors, one per call."""

    def __init__(self, name: str = "fake gate", is_open: bool | None = True) -> None:
        self.name = name
        self.open: bool | None = is_open
        self.calls: list[bool] = []
        self.failures: list[Exception] = []

    def is_open(self) -> bool | None:
        return self.open

    def set_open(self, is_open: bool) -> None:
        self.calls.append(is_open)
        if self.failures:
            raise self.failures.pop(0)
        self.open = is_open


class FakeGuardLevels:
    def __init__(self) -> None:
        self.level: str | None = None
        self.moves: list[tuple[str, datetime]] = []

    def move(self, level: str, at: datetime) -> bool:
        if level == self.level:
            return False
        self.level = level
        self.moves.append((level, at))
        return True


class FakeMailer:
    """Returns SES-like message ids; `failures` maps a recipient to an exception (or a
    callable producing one per call) to script SES errors."""

    def __init__(self) -> None:
        self.sent: list[SendRequest] = []
        self.failures: dict[str, Exception | Callable[[], Exception | None]] = {}
        self._ids = itertools.count(1)

    def send(self, request: SendRequest) -> str:
        failure = self.failures.get(request.to)
        error = failure() if callable(failure) else failure
        if error is not None:
            raise error
        self.sent.append(request)
        return f"0100019a-fake-{next(self._ids):06d}"


class FakePublisher:
    def __init__(self) -> None:
        self.published: list[Notification] = []

    def publish(self, notifications: Sequence[Notification]) -> None:
        self.published.extend(notifications)
