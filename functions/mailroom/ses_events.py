"""Everything SES reports about sent mail, parsed into one normalised event per recipient.

SES speaks two shapes: configuration-set event publishing (`eventType`, what Mailroom's
configuration set uses) and the older identity notifications (`notificationType`). Either may
reach us in three envelopes: an SQS record whose body is the SNS envelope (raw message
delivery off), an SQS record whose body is the SES JSON itself (raw delivery on), or an SNS
record delivered to Lambda directly. This module hides all of that: callers get `SesEvent`s.

SES reserves the right to add fields and event types, so unknown fields are ignored and an
unknown type becomes `SesEventKind.UNKNOWN`. A record we cannot make sense of raises
`MalformedSesEvent` with the reason, so the batch retries it and it ends in the DLQ.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parseaddr
from enum import StrEnum
from typing import Annotated, Any, ParamSpec, TypeVar

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError
from pydantic.alias_generators import to_camel

from .addresses import normalize
from .models import MESSAGE_ID_TAG, SIMULATOR_DOMAIN, NotificationType, Status

# The complaint feedback type that says the recipient marked the mail as not spam.
NOT_SPAM = "not-spam"
# SES sends this once, when an identity's notifications are pointed at a topic: not an event.
_SETUP_NOTIFICATION = "AmazonSnsSubscriptionSucceeded"
_SNS_NON_EVENTS = {"SubscriptionConfirmation", "UnsubscribeConfirmation"}


class MalformedSesEvent(ValueError):
    """The record is not an SES event we can read; the message says why."""


class SesEventKind(StrEnum):
    SEND = "send"
    DELIVERY = "delivery"
    BOUNCE = "bounce"
    COMPLAINT = "complaint"
    REJECT = "reject"
    RENDERING_FAILURE = "rendering_failure"
    DELIVERY_DELAY = "delivery_delay"
    OPEN = "open"
    CLICK = "click"
    SUBSCRIPTION = "subscription"
    UNKNOWN = "unknown"


# SES spells types "Rendering Failure", "DeliveryDelay", "Bounce"; compare them squashed.
_KINDS_BY_SQUASHED_NAME = {kind.value.replace("_", ""): kind for kind in SesEventKind}
# RFC 3463 class.subject.detail, but not inside a longer dotted number such as an IP address
# ("[10.5.7.1]" quotes no 5.7.1); a full stop after the code may still end a sentence.
_ENHANCED_STATUS_CODE = re.compile(r"(?<![\d.])([245]\.\d{1,3}\.\d{1,3})(?!\.?\d)")
# Bounce subtypes where the message, not the address, failed (DESIGN §2: never suppress).
CONTENT_BOUNCE_SUBTYPES = frozenset({"MessageTooLarge", "ContentRejected", "AttachmentRejected"})
# SES's list-management unsubscribe: the recipient opted out of this kind of mail.
UNSUBSCRIBED_SUBTYPE = "UnsubscribedRecipient"


def _kind_of(event_type: str) -> SesEventKind:
    squashed = re.sub(r"[\s_-]", "", event_type).lower()
    return _KINDS_BY_SQUASHED_NAME.get(squashed, SesEventKind.UNKNOWN)


class SesEvent(BaseModel):
    """One thing SES reported about one recipient of one message."""

    model_config = ConfigDict(frozen=True)

    kind: SesEventKind
    ses_event_type: str  # as SES spelled it, e.g. "Rendering Failure"
    ses_message_id: str
    recipient: str  # normalised (mailroom.addresses.normalize)
    occurred_at: datetime
    mailroom_id: str | None = None
    source: str | None = None
    template: str | None = None
    tags: dict[str, list[str]] = Field(default_factory=dict)
    is_simulator: bool = False
    # Bounce
    bounce_type: str | None = None  # Permanent, Transient, Undetermined
    bounce_subtype: str | None = None
    diagnostic_code: str | None = None  # the receiving server's words, also for delays
    enhanced_status_code: str | None = None  # RFC 3463, e.g. 5.1.1
    dsn_action: str | None = None  # the DSN's Action for this recipient: failed, delayed, ...
    # The DSN's Final-Recipient when it is not the address Mailroom sent to (a forwarding
    # alias): `recipient` stays the address sent to, the one to suppress.
    final_recipient: str | None = None
    reporting_mta: str | None = None
    # Bounce and complaint
    feedback_id: str | None = None
    # Complaint
    complaint_feedback_type: str | None = None  # abuse, not-spam, ... (absent from many ISPs)
    complaint_subtype: str | None = None
    # Rendering failure
    error_message: str | None = None
    # Reject
    reject_reason: str | None = None
    # Delivery delay
    delay_type: str | None = None
    expires_at: datetime | None = None
    # Delivery
    smtp_response: str | None = None
    # Click
    link: str | None = None

    @property
    def key(self) -> str:
        """Deduplicates repeated deliveries of this event (DESIGN §2): SES message id + event
        type + recipient + feedback id. The kind, not SES's spelling, so the same bounce
        reported through both event publishing and identity notifications counts once."""
        discriminator = self.feedback_id or ""
        if not discriminator and EVENT_KINDS[self.kind].repeatable:
            discriminator = self.occurred_at.isoformat() + (f"|{self.link}" if self.link else "")
        # Two new event types SES may add must not collide as "unknown".
        event_type = self.ses_event_type if self.kind is SesEventKind.UNKNOWN else self.kind
        return f"{self.ses_message_id}#{event_type}#{self.recipient}#{discriminator}"

    @property
    def failed_for_good(self) -> bool:
        """A Permanent bounce that this recipient's own DSN agrees with. SES can list a
        recipient whose status is 4.x.x or whose action is `delayed` in a Permanent bounce:
        the server has not given up on that one yet."""
        if self.kind is not SesEventKind.BOUNCE or self.bounce_type != "Permanent":
            return False
        still_trying = (self.dsn_action or "").lower() == "delayed"
        return not still_trying and not (self.enhanced_status_code or "").startswith("4.")

    @property
    def is_not_spam(self) -> bool:
        """A complaint that says the opposite: the recipient marked the mail as not spam."""
        return (self.kind is SesEventKind.COMPLAINT
                and (self.complaint_feedback_type or "").lower() == NOT_SPAM)

    def timeline_detail(self) -> dict[str, Any]:
        """What the message timeline keeps of this event: the SES facts, without nulls."""
        return self.model_dump(
            mode="json",
            exclude={"kind", "occurred_at", "mailroom_id", "tags", "source", "is_simulator"},
            exclude_none=True,
        )


# --- The SES JSON, as documented ("Contents of event data that Amazon SES publishes to Amazon
# SNS"). Only the fields Mailroom reads are declared; pydantic ignores the rest.


def _assume_utc(moment: datetime) -> datetime:
    """SES writes UTC with a Z; a timestamp without an offset is read as UTC too, so that
    every datetime Mailroom compares is aware."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


UtcDatetime = Annotated[datetime, AfterValidator(_assume_utc)]


class _SesModel(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="ignore")


class _Mail(_SesModel):
    timestamp: UtcDatetime
    message_id: str = Field(min_length=1)
    source: str | None = None
    destination: list[str] = Field(default_factory=list)
    tags: dict[str, list[str]] = Field(default_factory=dict)


class _BouncedRecipient(_SesModel):
    email_address: str
    action: str | None = None
    status: str | None = None
    diagnostic_code: str | None = None


class _Bounce(_SesModel):
    bounce_type: str
    bounce_sub_type: str | None = None
    bounced_recipients: list[_BouncedRecipient] = Field(min_length=1)
    timestamp: UtcDatetime
    feedback_id: str | None = None
    reporting_m_t_a: str | None = Field(default=None, alias="reportingMTA")


class _ComplainedRecipient(_SesModel):
    email_address: str


class _Complaint(_SesModel):
    complained_recipients: list[_ComplainedRecipient] = Field(min_length=1)
    timestamp: UtcDatetime
    feedback_id: str | None = None
    complaint_feedback_type: str | None = None
    complaint_sub_type: str | None = None


class _Delivery(_SesModel):
    recipients: list[str] = Field(min_length=1)
    timestamp: UtcDatetime
    smtp_response: str | None = None
    reporting_m_t_a: str | None = Field(default=None, alias="reportingMTA")


class _DelayedRecipient(_SesModel):
    email_address: str
    status: str | None = None
    diagnostic_code: str | None = None


class _DeliveryDelay(_SesModel):
    delayed_recipients: list[_DelayedRecipient] = Field(min_length=1)
    timestamp: UtcDatetime
    delay_type: str | None = None
    expiration_time: UtcDatetime | None = None
    reporting_m_t_a: str | None = Field(default=None, alias="reportingMTA")


class _RenderingFailure(_SesModel):
    error_message: str | None = None
    template_name: str | None = None


class _Reject(_SesModel):
    reason: str | None = None


class _Engagement(_SesModel):
    """Open, Click and Subscription: SES reports them per message, with their own time."""

    timestamp: UtcDatetime | None = None
    link: str | None = None


# --- Envelopes

_P = ParamSpec("_P")
_R = TypeVar("_R")


def _shape_errors_are_malformed(parse: Callable[_P, _R]) -> Callable[_P, _R]:
    """JSON of the wrong shape (a list where an object belongs, a missing key) surfaces as
    TypeError, KeyError or AttributeError somewhere below; report it as `MalformedSesEvent`
    so the record is logged as malformed and dead-lettered like any other unreadable one."""

    @functools.wraps(parse)
    def reading(*args: _P.args, **kwargs: _P.kwargs) -> _R:
        try:
            return parse(*args, **kwargs)
        except (TypeError, KeyError, AttributeError) as error:
            raise MalformedSesEvent(
                f"record of an unexpected shape ({type(error).__name__}: {error})"
            ) from error

    return reading


@_shape_errors_are_malformed
def parse_sqs_body(body: str) -> list[SesEvent]:
    """An SQS record's body: either an SNS envelope (raw delivery off) or the SES JSON itself
    (raw delivery on)."""
    document = _load_json(body, "SQS message body")
    if not isinstance(document, dict):
        raise MalformedSesEvent("SQS message body is JSON but not an object")
    if "eventType" in document or "notificationType" in document:
        return parse_ses_notification(document)
    if "Type" in document:
        return _parse_sns_envelope(document)
    raise MalformedSesEvent(
        "SQS message body is neither an SNS envelope nor an SES event "
        "(no Type, eventType or notificationType)"
    )


@_shape_errors_are_malformed
def parse_sns_message(message: str) -> list[SesEvent]:
    """The `Message` of an SNS notification (SNS → Lambda, or inside an SNS envelope)."""
    document = _load_json(message, "SNS Message")
    if not isinstance(document, dict):
        raise MalformedSesEvent("SNS Message is JSON but not an object")
    return parse_ses_notification(document)


def _parse_sns_envelope(envelope: dict[str, Any]) -> list[SesEvent]:
    if envelope["Type"] in _SNS_NON_EVENTS:
        return []  # SNS housekeeping, not an SES event
    message = envelope.get("Message")
    if envelope["Type"] != "Notification" or not isinstance(message, str):
        raise MalformedSesEvent(
            f"SNS envelope of type {envelope['Type']!r} without a Message string"
        )
    return parse_sns_message(message)


def _load_json(text: str, what: str) -> Any:
    try:
        return json.loads(text)
    except (TypeError, ValueError) as error:
        raise MalformedSesEvent(f"{what} is not JSON: {error}") from error


# --- The SES notification itself


@_shape_errors_are_malformed
def parse_ses_notification(document: dict[str, Any]) -> list[SesEvent]:
    """One SES notification (either shape) → one event per recipient it names."""
    event_type = document.get("eventType") or document.get("notificationType")
    if not isinstance(event_type, str) or not event_type:
        raise MalformedSesEvent("SES notification without eventType or notificationType")
    if event_type == _SETUP_NOTIFICATION:
        return []
    kind = _kind_of(event_type)
    if kind is SesEventKind.UNKNOWN and not isinstance(document.get("mail"), dict):
        return []  # a new kind of SES message about no mail: nothing to record
    try:
        mail = _Mail.model_validate(_required(document, "mail", event_type))
        return EVENT_KINDS[kind].parse(document, kind, event_type, mail)
    except ValidationError as error:
        raise MalformedSesEvent(f"SES {event_type} event: {_describe(error)}") from error


def _describe(error: ValidationError) -> str:
    problems = [
        f"{'.'.join(str(part) for part in item['loc']) or 'record'}: {item['msg']}"
        for item in error.errors()
    ]
    return "; ".join(problems)


def _required(document: dict[str, Any], name: str, event_type: str) -> dict[str, Any]:
    """The `mail` object or the type-specific one (`bounce`, `failure`, ...)."""
    section = document.get(name)
    if not isinstance(section, dict):
        raise MalformedSesEvent(f"SES {event_type} event without its {name!r} object")
    return section


def _address(text: str) -> str:
    """The normalised address in `text`, which may carry a display name."""
    return normalize(parseaddr(text)[1] or text)


def _base(
    kind: SesEventKind, event_type: str, mail: _Mail, recipient: str, occurred_at: datetime
) -> dict[str, Any]:
    address = _address(recipient)
    mailroom_ids = mail.tags.get(MESSAGE_ID_TAG) or []
    return {
        "kind": kind,
        "ses_event_type": event_type,
        "ses_message_id": mail.message_id,
        "recipient": address,
        "mailroom_id": mailroom_ids[0] if mailroom_ids else None,
        "source": mail.source,
        "tags": mail.tags,
        "is_simulator": address.endswith("@" + SIMULATOR_DOMAIN),
        "occurred_at": occurred_at,
    }


def _status_code(status: str | None, diagnostic: str | None) -> str | None:
    """The RFC 3463 code: the DSN's Status field, else the first one the diagnostic quotes.
    A generic X.0.0 says only "failed" or "delayed", so a specific code in the diagnostic wins
    over it; it is kept only when there is nothing more specific."""
    codes = [code for text in (status, diagnostic)
             for code in _ENHANCED_STATUS_CODE.findall(text or "")]
    specific = [code for code in codes if not code.endswith(".0.0")]
    return (specific or codes or [None])[0]


def _bounce_events(document, kind, event_type, mail) -> list[SesEvent]:
    bounce = _Bounce.model_validate(_required(document, "bounce", event_type))
    events = []
    for recipient in bounce.bounced_recipients:
        sent_to, final_recipient = _bounced_address(recipient.email_address, mail)
        events.append(SesEvent(
            **_base(kind, event_type, mail, sent_to, bounce.timestamp),
            final_recipient=final_recipient,
            bounce_type=bounce.bounce_type,
            bounce_subtype=bounce.bounce_sub_type,
            diagnostic_code=recipient.diagnostic_code,
            enhanced_status_code=_status_code(recipient.status, recipient.diagnostic_code),
            dsn_action=recipient.action,
            reporting_mta=bounce.reporting_m_t_a,
            feedback_id=bounce.feedback_id,
        ))
    return events


def _bounced_address(reported: str, mail: _Mail) -> tuple[str, str | None]:
    """(the address the mail was sent to, the DSN's Final-Recipient if it differs).

    SES takes `emailAddress` from the DSN's Final-Recipient, which a forwarding alias turns
    into an address Mailroom never sent to. With a single destination the address sent to is
    certain; with several it is left to the caller, who may know the message."""
    final_recipient = _address(reported)
    destinations = [_address(each) for each in mail.destination]
    if final_recipient in destinations:
        return reported, None
    if len(destinations) == 1:
        return destinations[0], final_recipient
    return reported, final_recipient


def _complaint_events(document, kind, event_type, mail) -> list[SesEvent]:
    complaint = _Complaint.model_validate(_required(document, "complaint", event_type))
    return [
        SesEvent(
            **_base(kind, event_type, mail, recipient.email_address, complaint.timestamp),
            feedback_id=complaint.feedback_id,
            complaint_feedback_type=complaint.complaint_feedback_type,
            complaint_subtype=complaint.complaint_sub_type,
        )
        for recipient in complaint.complained_recipients
    ]


def _delivery_events(document, kind, event_type, mail) -> list[SesEvent]:
    delivery = _Delivery.model_validate(_required(document, "delivery", event_type))
    return [
        SesEvent(
            **_base(kind, event_type, mail, recipient, delivery.timestamp),
            smtp_response=delivery.smtp_response,
            reporting_mta=delivery.reporting_m_t_a,
        )
        for recipient in delivery.recipients
    ]


def _delay_events(document, kind, event_type, mail) -> list[SesEvent]:
    delay = _DeliveryDelay.model_validate(_required(document, "deliveryDelay", event_type))
    return [
        SesEvent(
            **_base(kind, event_type, mail, recipient.email_address, delay.timestamp),
            delay_type=delay.delay_type,
            expires_at=delay.expiration_time,
            diagnostic_code=recipient.diagnostic_code,
            enhanced_status_code=_status_code(recipient.status, recipient.diagnostic_code),
            reporting_mta=delay.reporting_m_t_a,
        )
        for recipient in delay.delayed_recipients
    ]


def _per_destination(mail: _Mail, event_type: str) -> list[str]:
    """Send, Reject, Rendering Failure, Open, Click and Subscription name no recipient: SES
    reports them per message, so they concern every destination (Mailroom sends one)."""
    if not mail.destination:
        raise MalformedSesEvent(f"SES {event_type} event: mail.destination is empty")
    return mail.destination


def _rendering_failure_events(document, kind, event_type, mail) -> list[SesEvent]:
    failure = _RenderingFailure.model_validate(_required(document, "failure", event_type))
    return [
        SesEvent(
            **_base(kind, event_type, mail, recipient, mail.timestamp),
            template=failure.template_name,
            error_message=failure.error_message,
        )
        for recipient in _per_destination(mail, event_type)
    ]


def _reject_events(document, kind, event_type, mail) -> list[SesEvent]:
    reject = _Reject.model_validate(document.get("reject") or {})
    return [
        SesEvent(
            **_base(kind, event_type, mail, recipient, mail.timestamp),
            reject_reason=reject.reason,
        )
        for recipient in _per_destination(mail, event_type)
    ]


def _send_events(document, kind, event_type, mail) -> list[SesEvent]:
    return [
        SesEvent(**_base(kind, event_type, mail, recipient, mail.timestamp))
        for recipient in _per_destination(mail, event_type)
    ]


def _engagement_events(document, kind, event_type, mail) -> list[SesEvent]:
    # Open, Click, Subscription and unknown kinds: recorded, never acted on, so be lenient.
    section = document.get(event_type[:1].lower() + event_type[1:])
    engagement = _Engagement.model_validate(section if isinstance(section, dict) else {})
    occurred_at = engagement.timestamp or mail.timestamp
    return [
        SesEvent(**_base(kind, event_type, mail, recipient, occurred_at), link=engagement.link)
        for recipient in _per_destination(mail, event_type)
    ]


# --- What each kind of event is and does: one row per kind, read everywhere -------------

Parser = Callable[[dict[str, Any], SesEventKind, str, _Mail], list[SesEvent]]


@dataclass(frozen=True)
class EventKind:
    parse: Parser
    # The status the message moves to (forward only, by rank); None: timeline only.
    status: Status | None = None
    # What apps are told; every kind that moves the status tells them.
    notification: NotificationType | None = None
    # Its diagnosis is why the message failed (kept in `message.failure`).
    explains_failure: bool = False
    # SES may report it more than once per message and recipient without a feedback id:
    # its own timestamp (and link) tells two real events apart in the dedup key, while a
    # redelivery stays one event.
    repeatable: bool = False
    # Mailroom's configuration set publishes it (opens and clicks are left out: no
    # tracking pixels or links).
    subscribed: bool = False


EVENT_KINDS: dict[SesEventKind, EventKind] = {
    SesEventKind.SEND: EventKind(
        _send_events, Status.SENT, NotificationType.SENT, subscribed=True),
    SesEventKind.DELIVERY: EventKind(
        _delivery_events, Status.DELIVERED, NotificationType.DELIVERED, subscribed=True),
    SesEventKind.BOUNCE: EventKind(
        _bounce_events, Status.BOUNCED, NotificationType.BOUNCED, explains_failure=True,
        subscribed=True),
    SesEventKind.COMPLAINT: EventKind(
        _complaint_events, Status.COMPLAINED, NotificationType.COMPLAINED,
        explains_failure=True, subscribed=True),
    SesEventKind.REJECT: EventKind(
        _reject_events, Status.REJECTED, NotificationType.REJECTED, explains_failure=True,
        subscribed=True),
    SesEventKind.RENDERING_FAILURE: EventKind(
        _rendering_failure_events, Status.RENDER_FAILED, NotificationType.RENDER_FAILED,
        explains_failure=True, subscribed=True),
    SesEventKind.DELIVERY_DELAY: EventKind(
        _delay_events, Status.DELAYED, NotificationType.DELAYED, repeatable=True,
        subscribed=True),
    SesEventKind.OPEN: EventKind(_engagement_events, repeatable=True),
    SesEventKind.CLICK: EventKind(_engagement_events, repeatable=True),
    SesEventKind.SUBSCRIPTION: EventKind(_engagement_events, repeatable=True),
    SesEventKind.UNKNOWN: EventKind(_engagement_events, repeatable=True),
}
SUBSCRIBED_KINDS = tuple(kind for kind, row in EVENT_KINDS.items() if row.subscribed)
