"""The events domain: what each SES event does to the message, the suppression list and the
app (DESIGN §2).

For every event, in this order:
  1. Find the message: by the `mailroom_id` tag the sender sets, else by SES message id. None
     found means the mail was sent by someone else through the same configuration set: it
     still updates the suppression list, but has no timeline and no outcome notification.
     A bounce whose DSN names another address (a forwarding alias's Final-Recipient) is
     about the address the message was sent to: that one is suppressed, the Final-Recipient
     kept in the timeline.
  2. A duplicate (its key is already in the message's timeline) does nothing at all.
  3. Apply the suppression policy (the table in DESIGN §2, `suppression_effect`): count a
     soft bounce, then write the entry with `SuppressionStore.strengthen`, whose condition
     never lets a concurrent event weaken what another one wrote.
  4. Publish the notifications, then write the timeline entry. Writing the timeline last
     makes the whole thing safe to retry: if anything fails the batch retries the record,
     the event is not yet "seen", and the retry publishes again with the same stable
     notification ids (subscribers deduplicate on `id`); `strengthen` answers a retry of the
     same event as it answered the first attempt. A notification is therefore published at
     least once and never lost.
  5. Count the outcome in the hourly counters (mailroom.counting) only when the timeline
     write says the event is new: that write is conditional, so a redelivered or
     concurrently processed event counts once. Counting after it means a failure in
     between loses a count, never doubles one. (The events function hands in
     `PendingCounts`, which writes a whole batch's counts together once it is applied.)
     Mail Mailroom did not send has no timeline and is not counted; neither is a likely
     automatic reply.

Cases DESIGN §2's table leaves open, decided here:
  - Permanent/UnsubscribedRecipient is SES's list-management unsubscribe: the address is
    fine, the recipient opted out of this kind of mail. It is not suppressed; the message is
    bounced with failure reason `unsubscribed`.
  - A recipient listed in a Permanent bounce whose own DSN says 4.x.x or `delayed` has not
    failed for good: it counts as a soft bounce.
  - A Transient/General bounce of a message already delivered to that recipient is almost
    always an automatic reply (out of office), which SES reports that way. It is kept in the
    timeline (marked `likely_auto_reply`) and does nothing else: no status change, no soft
    bounce counted, no notification. (One processed before its Delivery still counts as a
    soft bounce: rare, and one alone suppresses nothing.)
  - A complaint after a hard bounce replaces the reason with `complaint` (both are permanent;
    a complaint tells the app more). An operator's permanent `manual` entry always stands.

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

from .addresses import normalize
from .counting import counted_event
from .diagnosis import diagnose
from .models import (
    Failure,
    Message,
    Notification,
    NotificationType,
    Status,
    Suppression,
    SuppressionReason,
    TimelineEvent,
    utcnow,
)
from .ports import Counters, MessageStore, Publisher, SuppressionStore
from .ses_events import (
    CONTENT_BOUNCE_SUBTYPES,
    EVENT_KINDS,
    UNSUBSCRIBED_SUBTYPE,
    SesEvent,
    SesEventKind,
)
from .settings import EventsSettings

# Namespace of notification ids: uuid5(namespace, "<type>|<event key>").
NOTIFICATION_NAMESPACE = uuid.UUID("7d1f3c52-5b0e-4c47-9a53-6f0b8e4f2a11")

# Permanent entries an SES event may replace with a permanent one of its own reason: a
# complaint says more than a hard bounce; nothing replaces an operator's `manual` entry.
_OUTRANKS = {
    SuppressionReason.COMPLAINT: frozenset(
        {SuppressionReason.HARD_BOUNCE, SuppressionReason.SOFT_BOUNCE}),
    SuppressionReason.HARD_BOUNCE: frozenset({SuppressionReason.SOFT_BOUNCE}),
    SuppressionReason.SOFT_BOUNCE: frozenset(),
}


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


def suppression_effect(event: SesEvent) -> SuppressionEffect:
    """The DESIGN §2 table: what this event does to its recipient's address."""
    if event.kind is SesEventKind.COMPLAINT:
        # Many providers send no feedback type at all: that is still a complaint.
        return SuppressionEffect.NONE if event.is_not_spam else SuppressionEffect.COMPLAINT
    if event.kind is not SesEventKind.BOUNCE:
        return SuppressionEffect.NONE
    if event.bounce_subtype in CONTENT_BOUNCE_SUBTYPES | {UNSUBSCRIBED_SUBTYPE}:
        return SuppressionEffect.NONE  # the content failed, or the recipient opted out
    if event.failed_for_good:
        return SuppressionEffect.HARD_BOUNCE
    # Transient (General, MailboxFull, or a subtype SES adds later), Undetermined, and a
    # recipient still being retried inside a Permanent bounce.
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
    counters: Counters | None = None,
) -> list[Notification]:
    """Apply each event (see the module docstring); return the notifications published.
    Without `counters`, nothing is counted."""
    now = now or utcnow()
    published: list[Notification] = []
    for event in events:
        published += _record_one(event, messages, suppressions, publisher, policy, now,
                                 counters)
    return published


def _record_one(
    event: SesEvent,
    messages: MessageStore,
    suppressions: SuppressionStore,
    publisher: Publisher,
    policy: SuppressionPolicy,
    now: datetime,
    counters: Counters | None,
) -> list[Notification]:
    message = find_message(event, messages)
    if message is not None:
        event = _as_sent(event, message)
        if any(seen.key == event.key for seen in message.events):
            return []  # a redelivery: everything below already happened
    auto_reply = message is not None and is_likely_auto_reply(event, message)

    kind = EVENT_KINDS[event.kind]
    status = None if event.is_not_spam or auto_reply else kind.status
    failure = diagnose(event) if status is not None and kind.explains_failure else None
    suppression = None if auto_reply else _new_suppression(event, suppressions, policy, now)

    notifications = []
    if message is not None and status is not None:
        notifications.append(_outcome_notification(event, message, status, failure))
    if suppression is not None:
        notifications.append(_suppressed_notification(event, message, suppression))
    if notifications:
        publisher.publish(notifications)
    if message is not None:
        detail = event.timeline_detail() | ({"likely_auto_reply": True} if auto_reply else {})
        # Only a status that moves on is written with the entry (a Send event after the
        # sender recorded `sent` moves nothing): one write either way.
        moves = status is not None and status.rank > message.status.rank
        appended = messages.apply_event(
            message.id,
            TimelineEvent(type=event.kind.value, at=event.occurred_at, key=event.key,
                          detail=detail),
            status=status if moves else None,
            failure=failure if moves else None,
            # Recorded from the event only when the sender could not (it stopped after SES
            # took the mail): a write that leaves the id as it is still touches its index.
            ses_message_id=event.ses_message_id if message.ses_message_id is None else None,
        )
        counted = counted_event(event) if appended and not auto_reply else None
        if counters is not None and counted is not None:
            counters.add(counted)
    return notifications


def find_message(event: SesEvent, messages: MessageStore) -> Message | None:
    message = messages.get(event.mailroom_id) if event.mailroom_id else None
    return message or messages.find_by_ses_message_id(event.ses_message_id)


def _as_sent(event: SesEvent, message: Message) -> SesEvent:
    """A bounce naming a Final-Recipient the parser could not match to one destination is
    about the address this message was sent to (Mailroom sends each message to one)."""
    sent_to = normalize(message.to)
    if event.final_recipient is None or event.recipient == sent_to:
        return event
    return event.model_copy(update={"recipient": sent_to})


def is_likely_auto_reply(event: SesEvent, message: Message) -> bool:
    """SES reports automatic replies (out of office, vacation) as Transient/General bounces;
    after a delivery to the same recipient, that is what such a bounce almost always is."""
    if event.kind is not SesEventKind.BOUNCE:
        return False
    if (event.bounce_type, event.bounce_subtype) != ("Transient", "General"):
        return False
    return any(entry.type == SesEventKind.DELIVERY.value
               and entry.detail.get("recipient") == event.recipient
               for entry in message.events)


def _new_suppression(
    event: SesEvent, suppressions: SuppressionStore, policy: SuppressionPolicy, now: datetime
) -> Suppression | None:
    """The entry this event wrote, or None when the list stays as it is (nothing to
    suppress, or a stronger entry already there)."""
    effect = suppression_effect(event)
    if effect is SuppressionEffect.NONE:
        return None
    expires_at = None
    if effect is SuppressionEffect.SOFT_BOUNCE:
        expires_at = _soft_bounce_expiry(event, suppressions, policy, now)
        if expires_at is None:
            return None
    reason = SuppressionReason(effect.value)
    candidate = Suppression(
        email=event.recipient,
        reason=reason,
        created_at=event.occurred_at,
        expires_at=expires_at,
        source="ses",
        note=_describe(event),
    )
    return candidate if suppressions.strengthen(candidate, _OUTRANKS[reason]) else None


def _soft_bounce_expiry(
    event: SesEvent, suppressions: SuppressionStore, policy: SuppressionPolicy, now: datetime
) -> datetime | None:
    """Count the soft bounce; at the threshold, when the suppression it causes ends."""
    bounces = suppressions.record_soft_bounce(
        event.recipient, event.occurred_at, event.key, policy.soft_bounce_window, now
    )
    if bounces.count < policy.soft_bounce_threshold or bounces.latest is None:
        return None
    # From the latest bounce, not from now or from this one: the same bounces give the same
    # entry whatever order they arrive in, and a retried event computes it again.
    expires_at = bounces.latest + policy.soft_bounce_suppression
    return expires_at if expires_at > now else None  # very late bounces: already over


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
    notification_type = EVENT_KINDS[event.kind].notification
    assert notification_type is not None, f"{event.kind} moves the status but tells nobody"
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
        id=notification_id(NotificationType.SUPPRESSED, event),
        type=NotificationType.SUPPRESSED,
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
