"""The canary (DESIGN §1, self-checks): one tagged email to the SES mailbox simulator through
the public API, like an app sends it; the next run reads what became of it. Delivered is a
healthy round trip (its latency measured); anything else names the hop that broke, read from
the message's own timeline:
- still `queued`: the sender, or its event source, is not taking mail;
- `sent` with no SES Send event: the feedback path (configuration set → SNS → events queue →
  events function) is broken;
- a Send event and no Delivery: SES itself (or the simulator) did not deliver;
- ended otherwise (rejected, failed...): the reason the message records."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol

from .models import CANARY_TAG, SIMULATOR_DOMAIN, utcnow

CANARY_RECIPIENT = f"success@{SIMULATOR_DOMAIN}"


class Hop(StrEnum):
    SENDER = "sender"
    FEEDBACK = "feedback"
    SES = "ses"
    API = "api"


EXPLANATIONS = {
    Hop.SENDER: "It is still queued: the sender or its event source is not taking mail. Is "
                "sending paused (`mailroom sending status`)? Is the sender failing (its "
                "errors alarm, logs), or its event source mapping disabled?",
    Hop.FEEDBACK: "Mailroom sent it, but SES's Send event never came back: the feedback path "
                  "is broken — the configuration set's event destination, the ses-events "
                  "topic, its subscription (and its dead-letter queue), the events queue or "
                  "the events function. `mailroom doctor` checks each.",
    Hop.SES: "SES took it and reported a Send, but no Delivery yet: SES (here, its mailbox "
             "simulator) is slow or failing. Check the AWS Health dashboard for SES.",
    Hop.API: "The API refused or did not answer the canary's request: check the API's errors "
             "alarm and logs.",
}


@dataclass(frozen=True)
class Verdict:
    message_id: str | None
    healthy: bool
    status: str | None = None
    latency_seconds: float | None = None  # accepted → delivered
    hop: Hop | None = None
    explanation: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"message_id": self.message_id, "healthy": self.healthy, "status": self.status,
                "latency_seconds": self.latency_seconds,
                "hop": self.hop.value if self.hop else None, "explanation": self.explanation}


def diagnose(message: dict[str, Any]) -> Verdict:
    """What became of one canary message, from its API view (`GET /v1/emails/{id}`)."""
    status = message["status"]
    events = message.get("events") or []
    kinds = {event["type"] for event in events}
    if status == "delivered":
        delivered = next(e["at"] for e in events if e["type"] == "delivery")
        latency = (_time(delivered) - _time(message["created_at"])).total_seconds()
        return Verdict(message["id"], True, status, latency_seconds=round(latency, 3))
    if status == "queued":
        hop = Hop.SENDER
    elif "send" not in kinds and status in ("sent", "unconfirmed"):
        hop = Hop.FEEDBACK
    elif status in ("sent", "unconfirmed", "delayed"):
        hop = Hop.SES
    else:
        failure = message.get("failure") or {}
        return Verdict(message["id"], False, status, hop=Hop.SES, explanation=(
            f"It ended {status}: {failure.get('reason', 'no reason recorded')}. "
            f"{failure.get('action', '')}").strip())
    return Verdict(message["id"], False, status, hop=hop, explanation=EXPLANATIONS[hop])


def _time(value: str | datetime) -> datetime:
    return value if isinstance(value, datetime) else datetime.fromisoformat(value)


class CanaryApi(Protocol):
    """The public API, as the canary calls it (with a real key)."""

    def send(self, request: dict[str, Any]) -> str:
        """POST /v1/emails; the accepted message's id. Raises on refusal."""
        ...

    def get(self, message_id: str) -> dict[str, Any]:
        """GET /v1/emails/{id}."""
        ...


class CanaryStore(Protocol):
    def last(self) -> tuple[str, datetime] | None:
        """The previous run's message id and when it was sent, if any."""
        ...

    def remember(self, message_id: str, sent_at: datetime) -> None: ...


@dataclass(frozen=True)
class Canary:
    api: CanaryApi
    template: str
    data: dict[str, Any]
    clock: Callable[[], datetime] = utcnow

    def request(self) -> dict[str, Any]:
        return {"to": CANARY_RECIPIENT, "template": self.template, "data": dict(self.data),
                "tags": {CANARY_TAG: "1"}}

    def scheduled(self, store: CanaryStore) -> Verdict | None:
        """Check the previous run's message (None on the first run), then send the next."""
        previous = store.last()
        verdict = None
        if previous:
            try:
                verdict = diagnose(self.api.get(previous[0]))
            except Exception as error:
                verdict = Verdict(previous[0], False, hop=Hop.API,
                                  explanation=f"{EXPLANATIONS[Hop.API]} ({error})")
        try:
            message_id = self.api.send(self.request())
        except Exception as error:
            return Verdict(None, False, hop=Hop.API, explanation=f"{EXPLANATIONS[Hop.API]} "
                                                               f"({error})")
        store.remember(message_id, self.clock())
        return verdict

    def round_trip(self, timeout: float, poll_seconds: float = 0.5,
                   sleep: Callable[[float], None] = time.sleep,
                   monotonic: Callable[[], float] = time.monotonic) -> Verdict:
        """Send one and follow it until delivered, ended or `timeout` seconds passed."""
        try:
            message_id = self.api.send(self.request())
        except Exception as error:
            return Verdict(None, False, hop=Hop.API,
                           explanation=f"{EXPLANATIONS[Hop.API]} ({error})")
        deadline = monotonic() + timeout
        while True:
            message = self.api.get(message_id)
            ended = message["status"] not in ("queued", "sent", "delayed")
            if ended or monotonic() >= deadline:
                return diagnose(message)
            sleep(poll_seconds)
