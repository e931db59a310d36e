"""The events domain: what each SES event does to the message, the suppression list and the
app (DESIGN §2).

For every event, in this order:
  1. Find the message: by the `mailroom_id` tag the sender sets, else by SES message id. None
     found means the mail was sent by someone else through the same configuration set: it
     still updates the suppression list, but has no timeline and no outcome notification.
  2. A duplicate (its key is already in the message's timeline) does nothing at all.
  3. Apply the suppression policy (the table in DESIGN §2, `suppression_effect`).
  4. Publish the notifications, then write the suppression, then the timeline entry. Writing
     the timeline last makes the whole thing safe to retry: if anything fails the batch retries
     the record, the event is not yet "seen", and the retry publishes again with the same
     stable notification ids (subscribers deduplicate on `id`). A notification is therefore
     published at least once and never lost.

Notifications:
  - one outcome notification per new event of a message Mailroom sent: email.sent,
    email.delivered, email.delayed, email.bounced, email.complained, email.rejected,
    email.render_failed. Its `status` is the message's status after the event (by rank), so a
    Delivery that arrives after a Bounce is announced as email.delivered with status bounced.
  - email.suppressed whenever an event adds an address to the suppression list or makes its
    entry stronger (an expiring entry becoming permanent, or expiring later), whether or not
    Mailroom sent the mail. It carries the entry (`suppression`) and the diagnosis of the
    event that caused it. It is not published when the address was already suppressed at least
    as strongly. (The sender also publishes email.suppressed, with status `suppressed` and no
    `suppression`, when it refuses to send a message to an address already on the list.)
  - Open, Click, Subscription and unknown events, and `not-spam` complaints, are kept in the
    timeline only: nothing to act on.
  - `id` is a UUID derived from the notification type and the event's dedupe key.
  - The SNS message attribute `type` carries the notification type, so a subscriber that
    wants failures only sets this filter policy on its subscription:
        {"type": ["email.bounced", "email.complained", "email.rejected",
                  "email.render_failed", "email.failed", "email.suppressed"]}
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum

from .diagnosis import diagnose
from .models import (
    Failure,
    Message,
    Notification,
    Status,
    Suppression,
    SuppressionReason,
    TimelineEvent,
    utcnow,
)
from .ports import MessageStore, Publisher, SuppressionStore
from .ses_events import SesEvent, SesEventKind
from .settings import EventsSettings

# Namespace of notification ids: uuid5(namespace, "<type>|<event key>").
NOTIFICATION_NAMESPACE = uuid.UUID("7d1f3c52-5b0e-4c47-9a53-6f0b8e4f2a11")

STATUS_BY_KIND = {
    SesEventKind.SEND: Status.SENT,
    SesEventKind.DELIVERY: Status.DELIVERED,
    SesEventKind.DELIVERY_DELAY: Status.DELAYED,
    SesEventKind.BOUNCE: Status.BOUNCED,
    SesEventKind.COMPLAINT: Status.COMPLAINED,
    SesEventKind.REJECT: Status.REJECTED,
    SesEventKind.RENDERING_FAILURE: Status.RENDER_FAILED,
}

NOTIFICATION_BY_KIND = {
    SesEventKind.SEND: "email.sent",
    SesEventKind.DELIVERY: "email.delivered",
    SesEventKind.DELIVERY_DELAY: "email.delayed",
    SesEventKind.BOUNCE: "email.bounced",
    SesEventKind.COMPLAINT: "email.complained",
    SesEventKind.REJECT: "email.rejected",
    SesEventKind.RENDERING_FAILURE: "email.render_failed",
}
SUPPRESSED = "email.suppressed"

# Kinds whose diagnosis explains a failed message (and goes into `message.failure`).
_FAILURE_KINDS = {
    SesEventKind.BOUNCE,
    SesEventKind.COMPLAINT,
    SesEventKind.REJECT,
    SesEventKind.RENDERING_FAILURE,
}
# The message, not the address, failed: never suppress (DESIGN §2).
_CONTENT_SUBTYPES = {"MessageTooLarge", "ContentRejected", "AttachmentRejected"}
NOT_SPAM = "not-spam"


class SuppressionEffect(Enum):
    NONE = "none"
    HARD_BOUNCE = "hard_bounce"
    SOFT_BOUNCE = "soft_bounce"
    COMPLAINT = "complaint"


@dataclass(frozen=True)
class SuppressionPolicy:
    soft_bounce_threshold: int = 3
    soft_bounce_window: timedelta = timedelta(days=7)
    soft_bounce_suppression: timedelta = timedelta(days=14)

    @classmethod
    def from_settings(cls, settings: EventsSettings) -> SuppressionPolicy:
        return cls(
            soft_bounce_threshold=settings.soft_bounce_threshold,
            soft_bounce_window=timedelta(days=settings.soft_bounce_window_days),
            soft_bounce_suppression=timedelta(days=settings.soft_bounce_suppression_days),
        )


def is_not_spam(event: SesEvent) -> bool:
    return (
        event.kind is SesEventKind.COMPLAINT
        and (event.complaint_feedback_type or "").lower() == NOT_SPAM
    )


def suppression_effect(event: SesEvent) -> SuppressionEffect:
    """The DESIGN §2 table: what this event does to its recipient's address."""
    if event.kind is SesEventKind.COMPLAINT:
        # Many providers send no feedback type at all: that is still a complaint.
        return SuppressionEffect.NONE if is_not_spam(event) else SuppressionEffect.COMPLAINT
    if event.kind is not SesEventKind.BOUNCE or event.bounce_subtype in _CONTENT_SUBTYPES:
        return SuppressionEffect.NONE
    if event.bounce_type == "Permanent":
        return SuppressionEffect.HARD_BOUNCE
    # Transient (General, MailboxFull, or a subtype SES adds later) and Undetermined.
    return SuppressionEffect.SOFT_BOUNCE


def notification_id(notification_type: str, event: SesEvent) -> str:
    return str(uuid.uuid5(NOTIFICATION_NAMESPACE, f"{notification_type}|{event.key}"))


def record_outcomes(
    events: Iterable[SesEvent],
    messages: MessageStore,
    suppressions: SuppressionStore,
    publisher: Publisher,
    policy: SuppressionPolicy,
    now: datetime | None = None,
) -> list[Notification]:
    """Apply each event (see the module docstring); return the notifications published."""
    now = now or utcnow()
    published: list[Notification] = []
    for event in events:
        published += _record_one(event, messages, suppressions, publisher, policy, now)
    return published


def _record_one(
    event: SesEvent,
    messages: MessageStore,
    suppressions: SuppressionStore,
    publisher: Publisher,
    policy: SuppressionPolicy,
    now: datetime,
) -> list[Notification]:
    message = find_message(event, messages)
    if message is not None and any(seen.key == event.key for seen in message.events):
        return []  # a redelivery: everything below already happened

    status = None if is_not_spam(event) else STATUS_BY_KIND.get(event.kind)
    failure = diagnose(event) if status is not None and event.kind in _FAILURE_KINDS else None
    suppression = _new_suppression(event, suppressions, policy, now)

    notifications = []
    if message is not None and status is not None:
        notifications.append(_outcome_notification(event, message, status, failure))
    if suppression is not None:
        notifications.append(_suppressed_notification(event, message, suppression))
    if notifications:
        publisher.publish(notifications)
    if suppression is not None:
        suppressions.put(suppression)
    if message is not None:
        messages.apply_event(
            message.id,
            TimelineEvent(
                type=event.kind.value,
                at=event.occurred_at,
                key=event.key,
                detail=event.timeline_detail(),
            ),
            status=status,
            failure=failure,
            ses_message_id=event.ses_message_id,
        )
    return notifications


def find_message(event: SesEvent, messages: MessageStore) -> Message | None:
    message = messages.get(event.mailroom_id) if event.mailroom_id else None
    return message or messages.find_by_ses_message_id(event.ses_message_id)


def _new_suppression(
    event: SesEvent, suppressions: SuppressionStore, policy: SuppressionPolicy, now: datetime
) -> Suppression | None:
    """The entry to write for this event, or None when the list stays as it is."""
    effect = suppression_effect(event)
    if effect is SuppressionEffect.NONE:
        return None
    expires_at = None
    if effect is SuppressionEffect.SOFT_BOUNCE:
        count = suppressions.count_soft_bounce(
            event.recipient, event.occurred_at, policy.soft_bounce_window, event.key
        )
        if count < policy.soft_bounce_threshold:
            return None
        # From the bounce, not from now: a retried event computes the same entry.
        expires_at = event.occurred_at + policy.soft_bounce_suppression
        if expires_at <= now:
            return None  # a very late event whose suppression would already be over
    candidate = Suppression(
        email=event.recipient,
        reason=SuppressionReason(effect.value),
        created_at=event.occurred_at,
        expires_at=expires_at,
        source="ses",
        note=_describe(event),
    )
    existing = suppressions.get(event.recipient, now)
    return candidate if existing is None or _stronger(candidate, existing) else None


def _stronger(candidate: Suppression, existing: Suppression) -> bool:
    """Never downgrade: a permanent entry stays; an expiring one only grows."""
    if existing.expires_at is None:
        return False
    return candidate.expires_at is None or candidate.expires_at > existing.expires_at


def _describe(event: SesEvent) -> str:
    if event.kind is SesEventKind.COMPLAINT:
        what = f"Complaint ({event.complaint_feedback_type or 'no feedback type'})"
    else:
        what = f"Bounce {event.bounce_type}/{event.bounce_subtype}"
        if event.diagnostic_code:
            what += f": {event.diagnostic_code}"
    ids = f"SES message {event.ses_message_id}"
    if event.feedback_id:
        ids += f", feedback {event.feedback_id}"
    return f"{what} ({ids})"


def _outcome_notification(
    event: SesEvent, message: Message, status: Status, failure: Failure | None
) -> Notification:
    notification_type = NOTIFICATION_BY_KIND[event.kind]
    if event.kind is SesEventKind.DELIVERY_DELAY:
        failure = diagnose(event)  # why it is late; the message itself has not failed
    return Notification(
        id=notification_id(notification_type, event),
        type=notification_type,
        occurred_at=event.occurred_at,
        message_id=message.id,
        recipient=event.recipient,
        template=message.template,
        tags=message.tags,
        status=status if status.rank > message.status.rank else message.status,
        failure=failure,
        ses_message_id=event.ses_message_id,
        ses_feedback_id=event.feedback_id,
    )


def _suppressed_notification(
    event: SesEvent, message: Message | None, suppression: Suppression
) -> Notification:
    return Notification(
        id=notification_id(SUPPRESSED, event),
        type=SUPPRESSED,
        occurred_at=event.occurred_at,
        message_id=message.id if message else None,
        recipient=event.recipient,
        template=message.template if message else event.template,
        tags=message.tags if message else {},
        failure=diagnose(event),
        ses_message_id=event.ses_message_id,
        ses_feedback_id=event.feedback_id,
        suppression=suppression,
    )
