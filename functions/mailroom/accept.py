"""The accept path: everything `POST /v1/emails` checks before a message is queued.

It turns what would otherwise fail later (a bad address, a missing template variable, a
suppressed recipient) into a synchronous error the caller can act on, then records the
message and queues it. It never calls SES."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from email.utils import formataddr, parseaddr
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from . import addresses
from .errors import (
    MailroomError,
    PayloadTooLarge,
    QueueUnavailable,
    RecipientSuppressed,
    RequestValidationError,
    SenderNotAllowed,
    SendingPaused,
)
from .models import (
    CANARY_TAG,
    MESSAGE_ID_TAG,
    SIMULATOR_DOMAIN,
    Failure,
    Message,
    SendRequest,
    Status,
    Suppression,
    TimelineEvent,
    utcnow,
)
from .ports import MessageStore, SendingSwitch, SendQueue, SuppressionStore
from .shape import MAX_QUEUE_MESSAGE_BYTES
from .templates import TemplateCatalog
from .unsubscribe import UnsubscribeLinks

# SES message tags: ASCII letters, digits, underscore and dash, up to 256 characters.
_TAG_PATTERN = re.compile(r"^[A-Za-z0-9_\-]{1,256}$")
MAX_TAGS = 40  # SES allows 50; keep room for Mailroom's own and SES's auto-tags
MAX_REPLY_TO = 10
MAX_IDEMPOTENCY_KEY_LENGTH = 256


class EmailRequest(BaseModel):
    """`POST /v1/emails` body (DESIGN §4)."""

    model_config = ConfigDict(populate_by_name=True, extra="forbid")

    to: str = Field(description="Recipient address.", examples=["success@simulator.amazonses.com"])
    template: str = Field(description="Template name, see GET /v1/templates.",
                          examples=["welcome"])
    data: dict[str, Any] = Field(default_factory=dict, description="Template variables.")
    from_: str | None = Field(default=None, alias="from",
                              description="Sender; defaults to the configured address.")
    reply_to: list[str] = Field(default_factory=list, max_length=MAX_REPLY_TO)
    tags: dict[str, str] = Field(default_factory=dict,
                                 description="SES message tags, copied into every event.")
    idempotency_key: str | None = Field(default=None, min_length=1,
                                        max_length=MAX_IDEMPOTENCY_KEY_LENGTH)


@dataclass
class Acceptor:
    messages: MessageStore
    suppressions: SuppressionStore
    queue: SendQueue
    catalog: TemplateCatalog
    default_from: str
    allowed_senders: Sequence[str] = ()
    check_deliverability: bool = False
    switch: SendingSwitch | None = None
    # Signs the one-click unsubscribe of templates that have one (None: no such headers).
    unsubscribe_links: UnsubscribeLinks | None = None
    clock: Callable[[], datetime] = utcnow
    new_id: Callable[[], str] = field(default=lambda: str(uuid.uuid4()))

    def accept(self, request: EmailRequest) -> dict[str, str]:
        """Validate, record and queue one email; answer what the API returns with 202."""
        result = self.accept_many([request])[0]
        if isinstance(result, MailroomError):
            raise result
        return result

    def accept_many(
        self, requests: Sequence[EmailRequest]
    ) -> list[dict[str, str] | MailroomError]:
        """Each request accepted or refused on its own, answered in request order. The AWS
        calls are batched: one suppression lookup, one write of the records, one queueing
        per SQS batch — so one email costs three calls and a hundred cost about fifteen.
        (The sending switch is read too, but cached: one read per container every few
        seconds.)"""
        self.check_sending_enabled()
        results: list[dict[str, str] | MailroomError] = []
        prepared: list[tuple[int, SendRequest]] = []
        for index, request in enumerate(requests):
            try:
                send_request = self.prepare(request)
            except MailroomError as error:
                results.append(error)
                continue
            results.append({"id": send_request.id, "status": Status.QUEUED.value})
            prepared.append((index, send_request))
        if not prepared:
            return results

        now = self.clock()
        # The global entry stops all mail, a category's entry its templates' mail: one
        # lookup per category among the requests (usually one).
        by_category: dict[str | None, list[str]] = {}
        for _, send_request in prepared:
            category = self.catalog.get(send_request.template).category
            by_category.setdefault(category, []).append(send_request.to)
        suppressed = {(category, email): suppression
                      for category, emails in by_category.items()
                      for email, suppression in self.suppressions.get_many(
                          emails, now, category).items()}
        accepted: list[SendRequest] = []
        for index, send_request in prepared:
            stopped = suppressed.get(
                (self.catalog.get(send_request.template).category, send_request.to))
            if stopped is not None:
                results[index] = _suppressed_error(stopped)
            else:
                accepted.append(send_request)
        if accepted:
            self.messages.create_many([_queued_message(r, now) for r in accepted])
            try:
                self.queue.enqueue(accepted)
            except Exception as error:
                self._not_queued(accepted, error)
                raise QueueUnavailable(
                    "The send queue refused the message; nothing will be sent. Retry the "
                    "request (with the same idempotency key, if you used one).") from error
        return results

    def _not_queued(self, requests: Sequence[SendRequest], error: Exception) -> None:
        """Close the records of messages that never reached the queue: the sender will then
        skip any that did get through, so a retried request cannot send twice."""
        failure = Failure(reason="not_queued", action="Send the request again.",
                          diagnostic=str(error))
        for request in requests:
            self.messages.apply_event(
                request.id,
                TimelineEvent(type="failed", at=self.clock(), key="not_queued"),
                status=Status.FAILED, failure=failure)

    def check_sending_enabled(self) -> None:
        state = self.switch.state() if self.switch else None
        if state and state.paused:
            raise SendingPaused(
                "Sending is paused"
                + (f" ({state.reason})" if state.reason else "")
                + ". Nothing was queued: retry later. Mail queued before the pause waits and "
                "goes out when sending resumes.",
                details=state.to_api(),
            )

    def prepare(self, request: EmailRequest) -> SendRequest:
        """Every check that needs no AWS call, in the order a caller would fix them."""
        to = addresses.validate(request.to, "to", check_deliverability=self.check_deliverability)
        sender = self._sender(request.from_)
        reply_to = [addresses.validate(address, f"reply_to[{index}]")
                    for index, address in enumerate(request.reply_to)]
        tags = _validated_tags(request.tags, to)
        template = self.catalog.get(request.template)
        template.check(request.data)
        message_id, now = self.new_id(), self.clock()
        headers = (self.unsubscribe_links.headers_for(message_id, template.category, now)
                   if template.unsubscribe and template.category and self.unsubscribe_links
                   else [])
        send_request = SendRequest(id=message_id, to=to, from_address=sender,
                                   reply_to=reply_to, template=request.template,
                                   data=request.data, tags=tags, queued_at=now,
                                   category=template.category, headers=headers)
        size = len(_queue_body(send_request).encode())
        if size > MAX_QUEUE_MESSAGE_BYTES:
            raise PayloadTooLarge(
                f"The template data makes this message {size} bytes; the limit is "
                f"{MAX_QUEUE_MESSAGE_BYTES}. Send references (URLs, ids) instead of content.",
                details={"size": size, "limit": MAX_QUEUE_MESSAGE_BYTES},
            )
        return send_request

    def _sender(self, requested: str | None) -> str:
        if requested is None:
            return self.default_from
        if any(char in requested for char in "\r\n\0"):
            addresses.validate(requested, "from")  # raises the header-injection error
        display_name, address = parseaddr(requested)
        address = addresses.validate(address or requested, "from")
        domain = address.rpartition("@")[2]
        allowed = {entry.lower() for entry in self.allowed_senders}
        if address not in allowed and domain not in allowed:
            raise SenderNotAllowed(
                f"`from` must be on a configured sender domain or address "
                f"({', '.join(sorted(allowed)) or 'none configured'}); {address} is not.",
                details={"field": "from", "allowed": sorted(allowed)},
            )
        # formataddr quotes a name with commas and RFC 2047-encodes a non-ASCII one, as SES
        # requires of the friendly-from name.
        return formataddr((display_name, address), charset="utf-8") if display_name \
            else address


def _queued_message(request: SendRequest, now: datetime) -> Message:
    return Message(
        id=request.id, status=Status.QUEUED, to=request.to,
        from_address=request.from_address, template=request.template,
        reply_to=request.reply_to, tags=request.tags, created_at=now, updated_at=now,
        events=[TimelineEvent(type="queued", at=now, key="queued")],
    )


def _suppressed_error(suppression: Suppression) -> RecipientSuppressed:
    if suppression.category is not None:
        return RecipientSuppressed(
            f"{suppression.email} is suppressed for {suppression.category} mail "
            f"({suppression.reason.value} since {suppression.created_at:%Y-%m-%d}), and this "
            f"template is {suppression.category} mail; other templates still reach them. "
            "Only if they ask for it again: `mailroom suppressions remove "
            f"{suppression.email} --category {suppression.category}`.",
            details={"reason": suppression.reason.value, "category": suppression.category,
                     "since": suppression.created_at.isoformat(),
                     "expires_at": suppression.expires_at.isoformat()
                     if suppression.expires_at else None})
    return RecipientSuppressed(
        f"{suppression.email} is on the suppression list ({suppression.reason.value}) since "
        f"{suppression.created_at:%Y-%m-%d}. Mail to it would hurt your sender reputation; "
        "reach the user another way, or once the address is fixed remove the entry: "
        f"`mailroom suppressions remove {suppression.email}` "
        "(DELETE /v1/suppressions/{email}).",
        details={"reason": suppression.reason.value,
                 "since": suppression.created_at.isoformat(),
                 "expires_at": suppression.expires_at.isoformat()
                 if suppression.expires_at else None},
    )


def _validated_tags(tags: dict[str, str], to: str) -> dict[str, str]:
    if len(tags) > MAX_TAGS:
        raise RequestValidationError(f"At most {MAX_TAGS} tags per message.",
                                     details={"field": "tags"})
    for name, value in tags.items():
        for part, text in (("name", name), ("value", value)):
            if not _TAG_PATTERN.match(text):
                raise RequestValidationError(
                    f"Tag {part} {text!r} is not allowed: SES tags use only ASCII letters, "
                    "digits, '_' and '-', 1 to 256 characters.",
                    details={"field": f"tags.{name}"},
                )
        # The canary's tag only on mail to the SES mailbox simulator: it takes mail out of
        # the guard's figures, which mail to real people must never leave.
        canary = name == CANARY_TAG and to.endswith(f"@{SIMULATOR_DOMAIN}")
        if (name == MESSAGE_ID_TAG or name.lower().startswith("ses:")
                or (name == CANARY_TAG and not canary)):
            raise RequestValidationError(
                f"Tag name {name!r} is reserved"
                + (" for the canary's mail to the SES mailbox simulator." if name == CANARY_TAG
                   else "."),
                details={"field": f"tags.{name}"})
    return dict(tags)


__all__ = ["Acceptor", "EmailRequest", "MailroomError"]


# What an SQS message body may hold (any other character is refused by SQS).
_NOT_FOR_SQS = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _queue_body(request: SendRequest) -> str:
    """The message as the send queue will carry it, or the API's error for data that no
    queue, SES or recipient could carry: text that is not Unicode (a lone surrogate),
    characters SQS refuses (U+FFFE, U+FFFF), or nesting too deep to serialize."""
    from pydantic_core import PydanticSerializationError

    try:
        body = request.model_dump_json(by_alias=True)
    except (PydanticSerializationError, RecursionError, ValueError):
        raise RequestValidationError(
            "`data` holds text that is not valid Unicode or nests too deeply to send.",
            details={"field": "data"}) from None
    if _NOT_FOR_SQS.search(body):
        raise RequestValidationError(
            "`data` holds characters email cannot carry (such as U+FFFE or U+FFFF).",
            details={"field": "data"})
    return body
