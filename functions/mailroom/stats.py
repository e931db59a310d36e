"""Sending statistics (DESIGN §4 `GET /v1/stats`, `mailroom report`): the hourly counters
(mailroom.counting) summed per UTC day over a window, the rates SES's review and the
reputation guard read, the commonest failure reasons with what to do about each, and the
recipient domains that fail most.

Outcomes are exclusive, so a day's bars add up: `suppressed` is mail SES refused because
the address was on a suppression list (reported as a bounce or a complaint), and is left
out of `bounced` and `complained`; `failed` is mail SES rejected or could not render. The
rates are SES's own (hard bounces ÷ sends, complaints ÷ sends: mailroom.counting.rates),
suppression-list bounces included, as SES counts them."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum

from pydantic import BaseModel, Field

from .counting import (
    HOUR,
    KEPT_FOR,
    Breakdown,
    Dimension,
    Outcome,
    Totals,
    Traffic,
    hour_of,
    no_totals,
    rates,
)
from .diagnosis import ACTIONS
from .errors import RequestValidationError
from .ports import Counters
from .reputation import SES_REVIEW, ReputationPolicy, Thresholds

# The longest window: each day reads 24 hours of counters, so a month answers well within
# the API's timeout (and the counters are kept longer: KEPT_FOR).
MAX_DAYS = 31
assert timedelta(days=MAX_DAYS) <= KEPT_FOR
DEFAULT_SINCE = "7d"
# `24h`, `7d`, or a UTC date (`2026-11-24`: from its midnight).
SINCE_PATTERN = r"^(?:[0-9]{1,4}[hd]|[0-9]{4}-[0-9]{2}-[0-9]{2})$"
TOP = 10  # entries in each top list
SUPPRESSED_REASON = "recipient_suppressed"
FAILURE_OUTCOMES = (Outcome.HARD_BOUNCE, Outcome.SOFT_BOUNCE, Outcome.COMPLAINT,
                    Outcome.REJECT, Outcome.RENDER_FAILURE)
_RELATIVE = re.compile(r"([0-9]+)([hd])")


class TrafficChoice(StrEnum):
    """Which mail the figures are of: real mail (what SES and the guard judge), mail to the
    SES mailbox simulator, the canary's, or all of it."""

    REAL = "real"
    SIMULATOR = "simulator"
    CANARY = "canary"
    ALL = "all"

    @property
    def classes(self) -> tuple[Traffic, ...]:
        return tuple(Traffic) if self is TrafficChoice.ALL else (Traffic(self.value),)


# --- the window ----------------------------------------------------------------------------
def window_start(since: str, now: datetime) -> datetime:
    """The first hour a `since` counts: `24h` is the current hour and the 23 before it (as
    the guard's window); `7d` is today (UTC) and the 6 days before it, from midnight; a date
    is from its UTC midnight. Refused (422) when malformed, in the future, or reaching back
    over MAX_DAYS days."""
    today = now.astimezone(UTC).date()
    if match := _RELATIVE.fullmatch(since):
        amount, unit = int(match[1]), match[2]
        if amount < 1:
            raise _bad_since(f"must be at least 1{unit}")
        if unit == "h":
            if amount > MAX_DAYS * 24:
                raise _bad_since(f"must be at most {MAX_DAYS * 24}h")
            return hour_of(now - timedelta(hours=amount) + HOUR)
        if amount > MAX_DAYS:
            raise _bad_since(f"must be at most {MAX_DAYS}d")
        return _midnight(today - timedelta(days=amount - 1))
    try:
        day = date.fromisoformat(since)
    except ValueError:
        raise _bad_since("must be like 24h, 7d or a date (2026-11-24)") from None
    if day > today:
        raise _bad_since("is in the future")
    if (today - day).days >= MAX_DAYS:
        raise _bad_since(f"must be within the last {MAX_DAYS} days")
    return _midnight(day)


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time(), UTC)


def _bad_since(problem: str) -> RequestValidationError:
    return RequestValidationError(f"since {problem}.",
                                  details=[{"field": "since", "problem": problem}])


def days_between(first: datetime, last: datetime) -> list[tuple[date, datetime, datetime]]:
    """Each UTC day from `first` to `last`, with the first and last hour of it inside them."""
    days = []
    day = first.astimezone(UTC).date()
    while (start := _midnight(day)) <= last:
        days.append((day, max(start, hour_of(first)),
                     min(start + timedelta(hours=23), hour_of(last))))
        day += timedelta(days=1)
    return days


# --- the figures ---------------------------------------------------------------------------
class Outcomes(BaseModel):
    sent: int = Field(description="Mail SES accepted.")
    delivered: int
    bounced: int = Field(description="Hard and soft bounces (suppression lists apart).")
    complained: int = Field(description="Spam complaints (suppression lists apart).")
    suppressed: int = Field(description="Refused by SES: the address is on a suppression "
                                        "list.")
    failed: int = Field(description="Rejected by SES, or not rendered.")


class Rates(BaseModel):
    """Fractions of `sent` (0 without sends); bounce and complaint rates as SES counts them."""

    delivery_rate: float
    bounce_rate: float
    complaint_rate: float
    suppression_rate: float


class Day(Outcomes, Rates):
    day: date
    failures_by_reason: dict[str, int]


class ThresholdView(BaseModel):
    bounce_rate: float
    complaint_rate: float
    min_sends: int


class ReasonCount(BaseModel):
    reason: str
    count: int
    action: str = Field(description="What to do about it, in plain words.")


class DomainFailures(BaseModel):
    domain: str
    sent: int
    failures: int = Field(description="Bounces, complaints, suppressions and failures.")
    bounced: int
    complained: int
    failure_rate: float = Field(description="failures ÷ sent (0 without sends).")


class Stats(BaseModel):
    """The hourly counters summed over a window, per UTC day and in all (DESIGN §4)."""

    since: datetime = Field(description="The first hour counted.")
    until: datetime = Field(description="When the figures were read (its hour included).")
    traffic: TrafficChoice
    days: list[Day]
    totals: Outcomes
    rates: Rates
    thresholds: dict[str, ThresholdView] = Field(
        description="`warn` and `pause`: the reputation guard's; `ses_review`: where SES "
                    "starts reviewing the account.")
    reasons: list[ReasonCount] = Field(description=f"Up to {TOP} failure reasons, commonest "
                                                   "first.")
    domains: list[DomainFailures] = Field(description=f"Up to {TOP} recipient domains by "
                                                      "failures, most first.")
    other_traffic_sent: dict[str, int] = Field(
        description="Sends of the traffic classes left out of these figures.")


def stats(counters: Counters, policy: ReputationPolicy, since: str, now: datetime,
          traffic: TrafficChoice = TrafficChoice.REAL) -> Stats:
    first = window_start(since, now)
    window = Breakdown()
    days: list[Day] = []
    left_out = dict.fromkeys((t.value for t in Traffic if t not in traffic.classes), 0)
    for day, day_first, day_last in days_between(first, now):
        by_traffic = counters.breakdown(day_first, day_last)
        counted = Breakdown()
        for klass, breakdown in by_traffic.items():
            if klass in traffic.classes:
                merge(counted, breakdown)
            else:
                left_out[klass.value] += breakdown.totals[Outcome.SEND]
        merge(window, counted)
        days.append(Day(day=day, **outcomes(counted).model_dump(),
                        **rates_of(counted).model_dump(),
                        failures_by_reason=failure_counts(counted.by_reason)))
    thresholds = {"warn": policy.warn, "pause": policy.pause, "ses_review": SES_REVIEW}
    return Stats(
        since=first, until=now, traffic=traffic, days=days, totals=outcomes(window),
        rates=rates_of(window), thresholds={name: _threshold(t) for name, t in
                                            thresholds.items()},
        reasons=top_reasons(window), domains=top_domains(window),
        other_traffic_sent=left_out)


def merge(into: Breakdown, other: Breakdown) -> None:
    into.add(Dimension.TOTAL, "", other.totals)
    for reason, totals in other.by_reason.items():
        into.add(Dimension.REASON, reason, totals)
    for domain, totals in other.by_domain.items():
        into.add(Dimension.DOMAIN, domain, totals)


def failures(totals: Totals) -> int:
    return sum(totals[outcome] for outcome in FAILURE_OUTCOMES)


def outcomes(breakdown: Breakdown) -> Outcomes:
    totals = breakdown.totals
    suppressed = breakdown.by_reason.get(SUPPRESSED_REASON, no_totals())
    return Outcomes(
        sent=totals[Outcome.SEND], delivered=totals[Outcome.DELIVERY],
        bounced=(totals[Outcome.HARD_BOUNCE] + totals[Outcome.SOFT_BOUNCE]
                 - suppressed[Outcome.HARD_BOUNCE] - suppressed[Outcome.SOFT_BOUNCE]),
        complained=totals[Outcome.COMPLAINT] - suppressed[Outcome.COMPLAINT],
        suppressed=failures(suppressed),
        failed=totals[Outcome.REJECT] + totals[Outcome.RENDER_FAILURE])


def rates_of(breakdown: Breakdown) -> Rates:
    ses = rates(breakdown.totals)
    sent = breakdown.totals[Outcome.SEND]
    suppressed = failures(breakdown.by_reason.get(SUPPRESSED_REASON, no_totals()))
    return Rates(delivery_rate=_share(breakdown.totals[Outcome.DELIVERY], sent),
                 bounce_rate=ses.bounce_rate, complaint_rate=ses.complaint_rate,
                 suppression_rate=_share(suppressed, sent))


def failure_counts(by_reason: dict[str, Totals]) -> dict[str, int]:
    """Each reason's failures, commonest first (ties by name)."""
    counted = {reason: failures(totals) for reason, totals in by_reason.items()}
    return dict(sorted(((r, c) for r, c in counted.items() if c),
                       key=lambda item: (-item[1], item[0])))


def top_reasons(breakdown: Breakdown, top: int = TOP) -> list[ReasonCount]:
    return [ReasonCount(reason=reason, count=count, action=recommended_action(reason))
            for reason, count in list(failure_counts(breakdown.by_reason).items())[:top]]


def recommended_action(reason: str) -> str:
    return ACTIONS.get(reason, "See each failed message's diagnosis (mailroom status ID).")


def top_domains(breakdown: Breakdown, top: int = TOP) -> list[DomainFailures]:
    failing = sorted(((domain, totals) for domain, totals in breakdown.by_domain.items()
                      if failures(totals)),
                     key=lambda item: (-failures(item[1]), item[0]))
    return [DomainFailures(
        domain=domain, sent=totals[Outcome.SEND], failures=failures(totals),
        bounced=totals[Outcome.HARD_BOUNCE] + totals[Outcome.SOFT_BOUNCE],
        complained=totals[Outcome.COMPLAINT],
        failure_rate=_share(failures(totals), totals[Outcome.SEND]))
        for domain, totals in failing[:top]]


def _share(part: int, whole: int) -> float:
    return part / whole if whole else 0.0


def _threshold(thresholds: Thresholds) -> ThresholdView:
    return ThresholdView(bounce_rate=thresholds.bounce_rate,
                         complaint_rate=thresholds.complaint_rate,
                         min_sends=thresholds.min_sends)
