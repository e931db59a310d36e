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
from email.utils import parseaddr
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from . import addresses
from .errors import (
    MailroomError,
    PayloadTooLarge,
    RecipientSuppressed,
    RequestValidationError,
    SenderNotAllowed,
)
from .models import (
    MAX_QUEUE_MESSAGE_BYTES,
    MESSAGE_ID_TAG,
    Message,
    SendRequest,
    Status,
    TimelineEvent,
    utcnow,
)
from .ports import MessageStore, SendQueue, SuppressionStore
from .templates import TemplateCatalog

# SES message tags: ASCII letters, digits, underscore and dash, up to 256 characters.
_TAG_PATTERN = re.compile(r"^[A-Za-z0-9_\-]{1,256}$")
MAX_TAGS = 40  # SES allows 50; keep room for Mailroom's own and SES's auto-tags
MAX_REPLY_TO = 10


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
    idempotency_key: str | None = Field(default=None, min_length=1, max_length=256)


@dataclass
class Acceptor:
    messages: MessageStore
    suppressions: SuppressionStore
    queue: SendQueue
    catalog: TemplateCatalog
    default_from: str
    allowed_senders: Sequence[str] = ()
    check_deliverability: bool = False
    clock: Callable[[], datetime] = utcnow
    new_id: Callable[[], str] = field(default=lambda: str(uuid.uuid4()))

    def accept(self, request: EmailRequest) -> dict[str, str]:
        """Validate, record and queue one email; answer what the API returns with 202."""
        send_request = self.prepare(request)
        self.check_not_suppressed(send_request.to)
        self.enqueue(send_request)
        return {"id": send_request.id, "status": Status.QUEUED.value}

    def prepare(self, request: EmailRequest) -> SendRequest:
        """Every check that needs no AWS call, in the order a caller would fix them."""
        to = addresses.validate(request.to, "to", check_deliverability=self.check_deliverability)
        sender = self._sender(request.from_)
        reply_to = [addresses.validate(address, f"reply_to[{index}]")
                    for index, address in enumerate(request.reply_to)]
        tags = _validated_tags(request.tags)
        self.catalog.get(request.template).check(request.data)
        send_request = SendRequest(id=self.new_id(), to=to, from_address=sender,
                                   reply_to=reply_to, template=request.template,
                                   data=request.data, tags=tags)
        size = len(send_request.model_dump_json(by_alias=True).encode())
        if size > MAX_QUEUE_MESSAGE_BYTES:
            raise PayloadTooLarge(
                f"The template data makes this message {size} bytes; the limit is "
                f"{MAX_QUEUE_MESSAGE_BYTES}. Send references (URLs, ids) instead of content.",
                details={"size": size, "limit": MAX_QUEUE_MESSAGE_BYTES},
            )
        return send_request

    def check_not_suppressed(self, address: str) -> None:
        suppression = self.suppressions.get(address, self.clock())
        if suppression is not None:
            raise RecipientSuppressed(
                f"{address} is on the suppression list ({suppression.reason.value}) since "
                f"{suppression.created_at:%Y-%m-%d}. Mail to it would hurt your sender "
                "reputation; reach the user another way, or remove the entry with "
                "DELETE /v1/suppressions/{email} once the address is fixed.",
                details={"reason": suppression.reason.value,
                         "since": suppression.created_at.isoformat(),
                         "expires_at": suppression.expires_at.isoformat()
                         if suppression.expires_at else None},
            )

    def enqueue(self, send_request: SendRequest) -> None:
        now = self.clock()
        self.messages.create(Message(
            id=send_request.id, status=Status.QUEUED, to=send_request.to,
            from_address=send_request.from_address, template=send_request.template,
            reply_to=send_request.reply_to, tags=send_request.tags,
            created_at=now, updated_at=now,
            events=[TimelineEvent(type="queued", at=now, key="queued")],
        ))
        self.queue.enqueue([send_request])

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
        return f"{display_name} <{address}>" if display_name else address


def _validated_tags(tags: dict[str, str]) -> dict[str, str]:
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
        if name == MESSAGE_ID_TAG or name.lower().startswith("ses:"):
            raise RequestValidationError(f"Tag name {name!r} is reserved.",
                                         details={"field": f"tags.{name}"})
    return dict(tags)


__all__ = ["Acceptor", "EmailRequest", "MailroomError"]
