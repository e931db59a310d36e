"""The sweep (DESIGN §2, `unconfirmed`): mail SES took that has heard nothing back — no
delivery, bounce, complaint or delay — once the settled window has passed is marked
`unconfirmed` and apps are told, because a silent feedback path (configuration set, SNS, the
events queue) otherwise leaves it looking `sent` for ever. A later SES event still moves it
on: `unconfirmed` ranks just above `sent`.

It reads a sparse index of mail awaiting an outcome, hour by hour, never a scan; each run
looks back `lookback` past the window's edge, so a missed run catches up."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from .counting import HOUR, hour_of
from .models import Notification, NotificationType, Status, TimelineEvent, utcnow
from .ports import MessageStore, Publisher


@dataclass(frozen=True)
class Sweep:
    messages: MessageStore
    publisher: Publisher
    settled: timedelta = timedelta(hours=24)
    lookback: timedelta = timedelta(hours=48)
    clock: Callable[[], datetime] = utcnow

    def run(self, settled: timedelta | None = None) -> list[str]:
        """Mark what is overdue; the ids marked. `settled` overrides the window (on demand)."""
        now = self.clock()
        cutoff = now - (self.settled if settled is None else settled)
        marked = []
        hour = hour_of(cutoff - self.lookback)
        while hour <= cutoff:
            for message_id in self.messages.awaiting_outcome(hour, cutoff):
                if self._mark(message_id, now, cutoff):
                    marked.append(message_id)
            hour += HOUR
        return marked

    def _mark(self, message_id: str, now: datetime, cutoff: datetime) -> bool:
        """Tell the app, then record (the notification id is stable, so a retry after a
        failed record tells it again, deduplicably, and nothing is lost)."""
        message = self.messages.get(message_id)
        if message is None or message.status is not Status.SENT:
            return False  # its outcome came after the index was read
        sent_at = next((e.at for e in reversed(message.events) if e.type == "sent"), None)
        waited = now - sent_at if sent_at else now - cutoff
        self.publisher.publish([Notification(
            id=f"{message.id}:{Status.UNCONFIRMED.value}",
            type=NotificationType.UNCONFIRMED,
            occurred_at=now,
            message_id=message.id,
            recipient=message.to,
            template=message.template,
            tags=message.tags,
            status=Status.UNCONFIRMED,
        )])
        hours = round(waited / HOUR, 1)
        self.messages.apply_event(
            message.id,
            TimelineEvent(type=Status.UNCONFIRMED.value, at=now,
                          key=f"{Status.UNCONFIRMED.value}#{message.id}",
                          detail={"reason": "no_outcome", "hours_since_sent": hours,
                                  "action": "SES took it and reported nothing since: check "
                                            "the feedback path (`mailroom doctor`, the "
                                            "events DLQ). A later event still updates it."}),
            status=Status.UNCONFIRMED)
        return True
