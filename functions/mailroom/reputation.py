"""The reputation guard (DESIGN §2): bounce and complaint rates of real mail over a rolling
window, read from the hourly counters, against thresholds that stop sending before SES's own
review would (5% / 0.1%).

Warn at 2% / 0.05% from 100 sends, pause at 4% / 0.08% from 500 (settings). A warning is
told once, as an `email.reputation_warning` notification, when the level first reaches it;
a pause sets the sending switch with source `reputation_guard` and the figures in the
reason. The guard never resumes by itself. A resume accepts the figures as they stand: the
window then starts at the hour after the resume, so only outcomes counted after it can pause
again (the rest of the resume's own hour is not counted)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from .counting import HOUR, Outcome, Traffic, hour_of, rates
from .models import Notification, NotificationType, SendingState, utcnow
from .ports import Counters, GuardLevels, Publisher, SendingSwitch

SOURCE = "reputation_guard"


class Level(StrEnum):
    OK = "ok"
    WARNING = "warning"
    PAUSED = "paused"


@dataclass(frozen=True)
class Thresholds:
    bounce_rate: float
    complaint_rate: float
    min_sends: int

    def crossed(self, sends: int, bounce_rate: float, complaint_rate: float) -> bool:
        return sends >= self.min_sends and (bounce_rate >= self.bounce_rate
                                            or complaint_rate >= self.complaint_rate)


# Where SES's own review of the account starts (not a setting: SES decides it). SES reviews
# from its own volume floor, which it does not publish.
SES_REVIEW = Thresholds(bounce_rate=0.05, complaint_rate=0.001, min_sends=0)


@dataclass(frozen=True)
class ReputationPolicy:
    window: timedelta
    warn: Thresholds
    pause: Thresholds

    @classmethod
    def from_settings(cls, settings: Any) -> ReputationPolicy:
        return cls(
            window=timedelta(hours=settings.reputation_window_hours),
            warn=Thresholds(settings.reputation_warn_bounce_rate,
                            settings.reputation_warn_complaint_rate,
                            settings.reputation_warn_min_sends),
            pause=Thresholds(settings.reputation_pause_bounce_rate,
                             settings.reputation_pause_complaint_rate,
                             settings.reputation_pause_min_sends),
        )


@dataclass(frozen=True)
class Reputation:
    """The figures over the window, and the level they reach."""

    window_hours: int
    since: datetime  # the first hour counted
    sends: int
    bounces: int
    complaints: int
    bounce_rate: float
    complaint_rate: float
    level: Level
    policy: ReputationPolicy

    def describe(self) -> str:
        return (f"bounce rate {self.bounce_rate:.2%} ({self.bounces} of {self.sends} sends), "
                f"complaint rate {self.complaint_rate:.3%} ({self.complaints}) since "
                f"{self.since.isoformat()}")

    def thresholds(self) -> dict[str, dict[str, float | int]]:
        return {name: {"bounce_rate": t.bounce_rate, "complaint_rate": t.complaint_rate,
                       "min_sends": t.min_sends}
                for name, t in (("warn", self.policy.warn), ("pause", self.policy.pause))}


def assess(counters: Counters, switch: SendingSwitch, policy: ReputationPolicy,
           now: datetime) -> Reputation:
    """The figures of real mail over the window; after a resume, from the hour after it."""
    first = hour_of(now - policy.window + HOUR)
    state = switch.state()
    if not state.paused and state.since is not None and state.since >= first:
        first = hour_of(state.since) + HOUR
    totals = counters.totals(Traffic.REAL, first, now)
    figures = rates(totals)
    level = Level.OK
    if policy.pause.crossed(figures.sends, figures.bounce_rate, figures.complaint_rate):
        level = Level.PAUSED
    elif policy.warn.crossed(figures.sends, figures.bounce_rate, figures.complaint_rate):
        level = Level.WARNING
    return Reputation(
        window_hours=int(policy.window / HOUR), since=first, sends=figures.sends,
        bounces=totals[Outcome.HARD_BOUNCE], complaints=totals[Outcome.COMPLAINT],
        bounce_rate=figures.bounce_rate, complaint_rate=figures.complaint_rate,
        level=level, policy=policy)


@dataclass(frozen=True)
class Guard:
    counters: Counters
    switch: SendingSwitch
    levels: GuardLevels
    publisher: Publisher
    policy: ReputationPolicy
    clock: Callable[[], datetime] = utcnow
    # At most one check per interval (per container): each reads the window's counters.
    interval: timedelta = timedelta(0)
    _last_check: list[datetime] = field(default_factory=list, repr=False)

    def check_if_due(self) -> Reputation | None:
        now = self.clock()
        if self._last_check and now - self._last_check[-1] < self.interval:
            return None
        self._last_check[:] = [now]
        return self.check()

    def check(self) -> Reputation:
        """Assess, and act on a change of level: each change is a conditional write, so
        concurrent event handlers warn once and pause once."""
        now = self.clock()
        reputation = assess(self.counters, self.switch, self.policy, now)
        if reputation.level is Level.PAUSED:
            if self.switch.state().paused:
                return reputation  # paused already (by us or a person): nothing to change
            paused = SendingState(paused=True, since=now, source=SOURCE,
                                  reason=f"Reputation guard: {reputation.describe()}. "
                                         "Find the cause, then resume.")
            if self.switch.pause(paused):
                self.levels.move(Level.PAUSED.value, now)
        elif self.levels.move(reputation.level.value, now) and \
                reputation.level is Level.WARNING:
            self.publisher.publish([warning(reputation, now)])
        return reputation


def warning(reputation: Reputation, now: datetime) -> Notification:
    return Notification(
        id=f"reputation-warning:{now.isoformat(timespec='seconds')}",
        type=NotificationType.REPUTATION_WARNING,
        occurred_at=now,
        message_id=None,
        reputation={"sends": reputation.sends, "bounces": reputation.bounces,
                    "complaints": reputation.complaints,
                    "bounce_rate": reputation.bounce_rate,
                    "complaint_rate": reputation.complaint_rate,
                    "window_hours": reputation.window_hours,
                    "thresholds": reputation.thresholds(),
                    "summary": reputation.describe()},
    )
