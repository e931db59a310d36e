"""Hourly outcome counts (DESIGN §2 "Reputation guard"): which counters an SES event adds to,
and the rates SES's own review reads from them.

A counted event adds one to its outcome in its hour, under its traffic class, three times
over: in the class's totals, under its failure reason (if it has one) and under its recipient
domain. The guard reads the totals of real mail; reports read all three, class by class.
Mail to the SES mailbox simulator and the canary's mail are counted apart from real mail, so
they never move the rates the guard watches."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from functools import cache
from typing import TYPE_CHECKING

from .models import CANARY_TAG

if TYPE_CHECKING:
    from .ports import Counters
    from .ses_events import SesEvent

# The longest report range: counts are kept this long after their hour ends.
KEPT_FOR = timedelta(days=90)
HOUR = timedelta(hours=1)


class Outcome(StrEnum):
    SEND = "send"
    DELIVERY = "delivery"
    HARD_BOUNCE = "hard_bounce"
    SOFT_BOUNCE = "soft_bounce"
    COMPLAINT = "complaint"
    REJECT = "reject"
    RENDER_FAILURE = "render_failure"


class Traffic(StrEnum):
    REAL = "real"
    SIMULATOR = "simulator"  # to the SES mailbox simulator
    CANARY = "canary"  # the self-check's own mail, whatever its address


class Dimension(StrEnum):
    """What a count is kept under, besides its hour and traffic class."""

    TOTAL = "total"
    REASON = "reason"
    DOMAIN = "domain"


# Each outcome's count; every outcome is present, 0 when nothing happened.
Totals = dict[Outcome, int]


def no_totals() -> Totals:
    return dict.fromkeys(Outcome, 0)


@dataclass(frozen=True)
class CountedEvent:
    """One outcome to count: in `hour` (the start of a UTC hour), under each of its
    `dimensions`."""

    hour: datetime
    traffic: Traffic
    outcome: Outcome
    reason: str | None  # the failure reason code, for the outcomes that have one
    domain: str  # the recipient's, IDN in ASCII as addresses are normalised

    @property
    def dimensions(self) -> list[tuple[Dimension, str]]:
        """The (dimension, value) counters this event adds one to."""
        reason = [(Dimension.REASON, self.reason)] if self.reason else []
        return [(Dimension.TOTAL, ""), *reason, (Dimension.DOMAIN, self.domain)]


@dataclass
class Breakdown:
    """One traffic class's counts over a range of hours: in all, by reason, by domain."""

    totals: Totals = field(default_factory=no_totals)
    by_reason: dict[str, Totals] = field(default_factory=dict)
    by_domain: dict[str, Totals] = field(default_factory=dict)

    def add(self, dimension: Dimension, value: str, counts: dict[Outcome, int]) -> None:
        if dimension is Dimension.TOTAL:
            into = self.totals
        else:
            by = self.by_reason if dimension is Dimension.REASON else self.by_domain
            into = by.setdefault(value, no_totals())
        for outcome, count in counts.items():
            into[outcome] += count


def no_breakdowns() -> dict[Traffic, Breakdown]:
    return {traffic: Breakdown() for traffic in Traffic}


@dataclass(frozen=True)
class Rates:
    """As SES counts them: hard bounces ÷ sends and complaints ÷ sends (0 without sends)."""

    sends: int
    bounce_rate: float
    complaint_rate: float


def rates(totals: Totals) -> Rates:
    sends = totals[Outcome.SEND]
    if not sends:
        return Rates(sends=0, bounce_rate=0.0, complaint_rate=0.0)
    return Rates(sends=sends, bounce_rate=totals[Outcome.HARD_BOUNCE] / sends,
                 complaint_rate=totals[Outcome.COMPLAINT] / sends)


def hour_of(moment: datetime) -> datetime:
    """The UTC hour `moment` falls in, as the start of that hour."""
    return moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def hours_between(first: datetime, last: datetime) -> Iterator[datetime]:
    """Every hour from the one `first` falls in to the one `last` falls in, both included."""
    hour, end = hour_of(first), hour_of(last)
    while hour <= end:
        yield hour
        hour += HOUR


class PendingCounts:
    """What one batch of records counts, kept until the batch is applied and then written
    with one `add_many`: the events of a batch share most counters (the hour's totals, the
    big recipient domains), so each is written once, not once per event. It stands in for
    the counters while the records are applied; reads go to the counters themselves, so they
    see none of what is pending."""

    def __init__(self, counters: Counters) -> None:
        self.counters = counters
        self.pending: list[CountedEvent] = []

    def add(self, counted: CountedEvent) -> None:
        self.pending.append(counted)

    def add_many(self, counted: Iterable[CountedEvent]) -> None:
        self.pending.extend(counted)

    def totals(self, traffic: Traffic, first: datetime, last: datetime) -> Totals:
        return self.counters.totals(traffic, first, last)

    def breakdown(self, first: datetime, last: datetime) -> dict[Traffic, Breakdown]:
        return self.counters.breakdown(first, last)

    def flush(self) -> int:
        """Write what is pending; how many events that was."""
        pending, self.pending = self.pending, []
        if pending:
            self.counters.add_many(pending)
        return len(pending)


# --- SES event → counters -----------------------------------------------------------------
# Only the events function reads SES events: the ports and the counters' readers import this
# module without the SES event models.
@cache
def _outcomes() -> dict[str, Outcome]:
    from .ses_events import SesEventKind

    return {
        SesEventKind.SEND: Outcome.SEND,
        SesEventKind.DELIVERY: Outcome.DELIVERY,
        SesEventKind.COMPLAINT: Outcome.COMPLAINT,
        SesEventKind.REJECT: Outcome.REJECT,
        SesEventKind.RENDERING_FAILURE: Outcome.RENDER_FAILURE,
    }  # delays, opens, clicks and the rest are not outcomes: nothing is counted


def outcome_of(event: SesEvent) -> Outcome | None:
    from .ses_events import SesEventKind

    if event.kind is SesEventKind.BOUNCE:
        return Outcome.HARD_BOUNCE if event.failed_for_good else Outcome.SOFT_BOUNCE
    if event.is_not_spam:
        return None  # the recipient took the mail back out of spam: nobody complained
    return _outcomes().get(event.kind)


def traffic_of(event: SesEvent) -> Traffic:
    # The canary may mail the simulator: it is still the canary's.
    if event.tags.get(CANARY_TAG):
        return Traffic.CANARY
    return Traffic.SIMULATOR if event.is_simulator else Traffic.REAL


def counted_event(event: SesEvent) -> CountedEvent | None:
    """What `event` adds to the counters; None when it counts nothing."""
    from .diagnosis import diagnose
    from .ses_events import EVENT_KINDS

    outcome = outcome_of(event)
    if outcome is None:
        return None
    reason = diagnose(event).reason if EVENT_KINDS[event.kind].explains_failure else None
    return CountedEvent(
        hour=hour_of(event.occurred_at),
        traffic=traffic_of(event),
        outcome=outcome,
        reason=reason,
        domain=event.recipient.rpartition("@")[2],
    )
