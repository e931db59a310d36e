"""The domain's data: what a message is, how its status moves, what a suppression is, and the
normalised event apps receive."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

# Message tag SES copies into every event it publishes, so an event finds its message.
MESSAGE_ID_TAG = "mailroom_id"
# Message tag of the self-check canary's mail, counted apart from real mail.
CANARY_TAG = "mailroom_canary"
# The failure reason of mail whose every send attempt failed (it is in the send DLQ): the
# one kind of message a redrive may reopen.
RETRIES_EXHAUSTED = "retries_exhausted"
# The SES mailbox simulator's domain: its mail never counts toward reputation.
SIMULATOR_DOMAIN = "simulator.amazonses.com"
# A category of mail (a template's, a suppression entry's): lower-case letters, digits, `-`
# and `_`, so it can sit in a key, a URL and a CSV cell as it is.
CATEGORY_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,62}$"
CATEGORY_RULE = ("must be 1 to 63 lower-case letters, digits, `-` and `_`, starting with a "
                 "letter or digit")


def utcnow() -> datetime:
    return datetime.now(UTC)


class Status(StrEnum):
    QUEUED = "queued"
    SENT = "sent"
    # SES took it, and no delivery, bounce or complaint came in the settled window: the
    # feedback path may be broken. A later event still moves it on.
    UNCONFIRMED = "unconfirmed"
    DELAYED = "delayed"
    DELIVERED = "delivered"
    BOUNCED = "bounced"
    REJECTED = "rejected"
    RENDER_FAILED = "render_failed"
    SUPPRESSED = "suppressed"
    FAILED = "failed"
    COMPLAINED = "complained"

    @property
    def rank(self) -> int:
        return _RANK[self]

    @property
    def is_final_failure(self) -> bool:
        return self.rank == _RANK[Status.BOUNCED]

    @property
    def is_final(self) -> bool:
        """Nothing more is expected: delivered, or ended (events may still move it on)."""
        return self.rank >= _RANK[Status.DELIVERED]


# DESIGN §2: status only moves forward, so a late or repeated event never undoes a worse one.
_RANK = {
    Status.QUEUED: 0,
    Status.SENT: 1,
    Status.UNCONFIRMED: 2,
    Status.DELAYED: 3,
    Status.DELIVERED: 4,
    Status.BOUNCED: 5,
    Status.REJECTED: 5,
    Status.RENDER_FAILED: 5,
    Status.SUPPRESSED: 5,
    Status.FAILED: 5,
    Status.COMPLAINED: 6,
}


class NotificationType(StrEnum):
    """What apps receive on the notifications topic (its `type`, also an SNS message
    attribute to filter on)."""

    SENT = "email.sent"
    DELIVERED = "email.delivered"
    DELAYED = "email.delayed"
    BOUNCED = "email.bounced"
    COMPLAINED = "email.complained"
    REJECTED = "email.rejected"
    RENDER_FAILED = "email.render_failed"
    SUPPRESSED = "email.suppressed"
    FAILED = "email.failed"
    UNCONFIRMED = "email.unconfirmed"
    # About the account, not one message: bounce or complaint rates near the pause level.
    REPUTATION_WARNING = "email.reputation_warning"
    # The recipient used a one-click unsubscribe: their entry for the category is written.
    UNSUBSCRIBED = "email.unsubscribed"
    # About the pipeline: the canary's round trip broke at a hop.
    CANARY_FAILED = "email.canary_failed"


class SuppressionReason(StrEnum):
    HARD_BOUNCE = "hard_bounce"
    SOFT_BOUNCE = "soft_bounce"
    COMPLAINT = "complaint"
    MANUAL = "manual"
    # The recipient left one category of mail (one-click unsubscribe): a category entry.
    UNSUBSCRIBED = "unsubscribed"


class Failure(BaseModel):
    reason: str
    action: str
    bounce_type: str | None = None
    bounce_subtype: str | None = None
    diagnostic: str | None = None


class TimelineEvent(BaseModel):
    """One entry of a message's timeline. `key` deduplicates repeated deliveries of the same
    SES event (SES message id + event type + recipient + feedback id)."""

    type: str
    at: datetime
    key: str
    detail: dict[str, Any] = Field(default_factory=dict)

    def to_api(self) -> dict[str, Any]:
        return {"type": self.type, "at": self.at.isoformat(), **self.detail}


class SendRequest(BaseModel):
    """The body of a send-queue message: everything the sender needs, nothing it must look up."""

    model_config = ConfigDict(populate_by_name=True)

    id: str
    to: str
    from_address: str = Field(alias="from")
    reply_to: list[str] = Field(default_factory=list)
    template: str
    data: dict[str, Any] = Field(default_factory=dict)
    tags: dict[str, str] = Field(default_factory=dict)
    # When it was accepted: a message accepted before a resume and sent after it waited
    # out that pause, and its timeline says so.
    queued_at: datetime | None = None
    # The template's category: the sender checks its suppressions too, right before sending.
    category: str | None = None
    # Extra headers SES adds ({"Name", "Value"}): the one-click unsubscribe of a template
    # that has one, signed at accept so the sender needs no key.
    headers: list[dict[str, str]] = Field(default_factory=list)


class Message(BaseModel):
    id: str
    status: Status
    to: str
    from_address: str
    template: str
    reply_to: list[str] = Field(default_factory=list)
    tags: dict[str, str] = Field(default_factory=dict)
    created_at: datetime
    updated_at: datetime
    ses_message_id: str | None = None
    events: list[TimelineEvent] = Field(default_factory=list)
    failure: Failure | None = None

    def to_api(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "status": self.status.value,
            "to": self.to,
            "from": self.from_address,
            "template": self.template,
            "tags": self.tags,
            "created_at": self.created_at.isoformat(),
            "updated_at": self.updated_at.isoformat(),
            "ses_message_id": self.ses_message_id,
            "events": [event.to_api() for event in sorted(self.events, key=lambda e: e.at)],
            "failure": self.failure.model_dump() if self.failure else None,
        }


class Suppression(BaseModel):
    email: str
    reason: SuppressionReason
    created_at: datetime
    expires_at: datetime | None = None
    # Where it came from: "ses" (an event), "api" (an operator), with the SES ids when known.
    source: str
    note: str | None = None
    # Who made the change: the API key id and the actor a caller named, or "ses".
    by: str | None = None
    # None: the entry stops all mail; a category: only mail of templates of that category.
    category: str | None = Field(default=None, pattern=CATEGORY_PATTERN)

    @field_validator("created_at", "expires_at")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        """Stored times are UTC; one written without a zone is read as UTC, never compared
        naive against aware (which raises)."""
        return value.replace(tzinfo=UTC) if value and value.tzinfo is None else value

    def is_active(self, now: datetime) -> bool:
        return self.expires_at is None or self.expires_at > now

    def to_api(self) -> dict[str, Any]:
        return {
            "email": self.email,
            "reason": self.reason.value,
            "created_at": self.created_at.isoformat(),
            "expires_at": self.expires_at.isoformat() if self.expires_at else None,
            "source": self.source,
            "note": self.note,
            "category": self.category,
        }


class SendingState(BaseModel):
    """Whether Mailroom sends at all. Paused, the API answers 503 `sending_paused` and queued
    mail waits in the send queue — never dropped — until sending resumes."""

    paused: bool = False
    reason: str | None = None
    since: datetime | None = None
    source: str | None = None  # "api" (an operator) or the component that paused it
    # Who, for a change made through the API: the actor the caller named and its API key.
    by: str | None = None
    # On a resume: when the pause it ended had begun (mail that waited reports from when).
    previous_pause_since: datetime | None = None

    def to_api(self) -> dict[str, Any]:
        return {"sending": "paused" if self.paused else "enabled", "reason": self.reason,
                "since": self.since.isoformat() if self.since else None, "source": self.source,
                "by": self.by}


class Notification(BaseModel):
    """The normalised event published to the notifications topic, one per outcome.
    `id` is stable for the same outcome, so subscribers can deduplicate."""

    id: str
    type: NotificationType
    occurred_at: datetime
    message_id: str | None
    recipient: str | None = None  # None only on the account's and the pipeline's news
    template: str | None = None
    tags: dict[str, str] = Field(default_factory=dict)
    status: Status | None = None
    failure: Failure | None = None
    ses_message_id: str | None = None
    ses_feedback_id: str | None = None
    # Only on email.suppressed: the entry Mailroom's suppression list now holds.
    suppression: Suppression | None = None
    # Only on email.reputation_warning: the figures and thresholds.
    reputation: dict[str, Any] | None = None
    # Only on email.canary_failed: which hop broke and what to check.
    canary: dict[str, Any] | None = None
