"""The outbox: every message the SES simulator accepts is written as a real MIME message,
`<outbox>/<SES message id>.eml`, which any mail client opens."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from email import policy
from email.message import EmailMessage
from email.utils import format_datetime, getaddresses
from pathlib import Path
from typing import Any

# SES puts its own Message-ID on every message it sends.
MESSAGE_ID_DOMAIN = "email.amazonses.com"


@dataclass(frozen=True)
class OutgoingEmail:
    message_id: str
    sent_at: datetime
    from_address: str
    to: list[str]
    cc: list[str]
    reply_to: list[str]
    subject: str
    text: str | None
    html: str | None
    configuration_set: str | None = None
    # What SES v2's Template.Headers adds, in order (List-Unsubscribe and the like).
    headers: tuple[tuple[str, str], ...] = ()


def build_mime(email: OutgoingEmail) -> EmailMessage:
    # Headers unfolded up to RFC 5322's 998 characters, as SES writes them: a long
    # List-Unsubscribe link must stay one readable <URL>, not encoded words.
    message = EmailMessage(policy=policy.default.clone(max_line_length=998))
    message["From"] = email.from_address
    if email.reply_to:
        message["Reply-To"] = ", ".join(email.reply_to)
    message["To"] = ", ".join(email.to)
    if email.cc:
        message["Cc"] = ", ".join(email.cc)
    message["Subject"] = email.subject
    message["Date"] = format_datetime(email.sent_at)
    message["Message-ID"] = f"<{email.message_id}@{MESSAGE_ID_DOMAIN}>"
    for name, value in email.headers:
        message[name] = value
    if email.configuration_set:
        message["X-SES-CONFIGURATION-SET"] = email.configuration_set
    if email.text is not None:
        message.set_content(email.text)
        if email.html is not None:
            message.add_alternative(email.html, subtype="html")
    elif email.html is not None:
        message.set_content(email.html, subtype="html")
    else:
        message.set_content("")
    if "MIME-Version" not in message:
        message["MIME-Version"] = "1.0"
    return message


def headers_for_event(message: EmailMessage) -> tuple[list[dict[str, str]], dict[str, Any]]:
    """The `headers` and `commonHeaders` SES puts in the `mail` object of its events."""
    headers = [{"name": name, "value": str(value)} for name, value in message.items()]
    common: dict[str, Any] = {
        "from": _addresses(message, "From"),
        "to": _addresses(message, "To"),
    }
    if message["Reply-To"]:
        common["replyTo"] = _addresses(message, "Reply-To")
    if message["Cc"]:
        common["cc"] = _addresses(message, "Cc")
    if message["Date"]:
        common["date"] = str(message["Date"])
    message_id = str(message["Message-ID"] or "").strip("<>").split("@", 1)[0]
    common["messageId"] = message_id
    common["subject"] = str(message["Subject"] or "")
    return headers, common


def _addresses(message: EmailMessage, header: str) -> list[str]:
    values = [str(value) for value in message.get_all(header, [])]
    return [
        f"{name} <{address}>" if name else address for name, address in getaddresses(values)
    ]


def write_eml(outbox_dir: Path, message_id: str, content: bytes) -> Path:
    outbox_dir.mkdir(parents=True, exist_ok=True)
    path = outbox_dir / f"{message_id}.eml"
    # Write then rename, so a reader polling the outbox never sees half a message.
    partial = path.with_suffix(".eml.partial")
    partial.write_bytes(content)
    partial.replace(path)
    return path
