"""SES event records in the exact JSON that configuration-set event publishing sends to SNS
("Contents of event data that Amazon SES publishes to Amazon SNS")."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from .ses_mailbox import Bounce, bare_address

REPORTING_MTA = "a8-53.smtp-out.amazonses.com"
OUTGOING_IP = "127.0.2.1"


def ses_id() -> str:
    """An id shaped like SES message and feedback ids: 0100<ms hex>-<uuid>-000000."""
    return f"0100{int(time.time() * 1000):012x}-{uuid.uuid4()}-000000"


def timestamp(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{at.microsecond // 1000:03d}Z"


@dataclass(frozen=True)
class SentMail:
    """What SES knows about one accepted SendEmail call; every event repeats it as `mail`."""

    message_id: str
    sent_at: datetime
    source: str
    source_arn: str
    sending_account_id: str
    destination: list[str]
    tags: dict[str, list[str]]
    headers: list[dict[str, str]] = field(default_factory=list)
    common_headers: dict[str, Any] = field(default_factory=dict)

    def mail_object(self) -> dict[str, Any]:
        mail: dict[str, Any] = {
            "timestamp": timestamp(self.sent_at),
            "source": self.source,
            "sourceArn": self.source_arn,
            "sendingAccountId": self.sending_account_id,
            "messageId": self.message_id,
            "destination": list(self.destination),
            "headersTruncated": False,
        }
        # A message that failed to render never had headers; SES leaves them out then.
        if self.headers:
            mail["headers"] = self.headers
            mail["commonHeaders"] = self.common_headers
        mail["tags"] = self.tags
        return mail


def send_event(mail: SentMail) -> dict[str, Any]:
    return {"eventType": "Send", "mail": mail.mail_object(), "send": {}}


def delivery_event(mail: SentMail, recipient: str, at: datetime) -> dict[str, Any]:
    record = mail.mail_object()
    record["tags"] = {
        **record["tags"],
        "ses:outgoing-ip": [OUTGOING_IP],
        "ses:outgoing-tls-version": ["TLSv1.3"],
    }
    return {
        "eventType": "Delivery",
        "mail": record,
        "delivery": {
            "timestamp": timestamp(at),
            "processingTimeMillis": _elapsed_ms(mail.sent_at, at),
            "recipients": [bare_address(recipient)],
            "smtpResponse": "250 2.6.0 Message received",
            "reportingMTA": REPORTING_MTA,
            "remoteMtaIp": "127.0.2.0",
        },
    }


def bounce_event(mail: SentMail, recipient: str, bounce: Bounce, at: datetime) -> dict[str, Any]:
    return {
        "eventType": "Bounce",
        "bounce": {
            "feedbackId": ses_id(),
            "bounceType": bounce.bounce_type,
            "bounceSubType": bounce.bounce_subtype,
            "bouncedRecipients": [
                {
                    "emailAddress": bare_address(recipient),
                    "action": "failed",
                    "status": bounce.status,
                    "diagnosticCode": bounce.diagnostic_code,
                }
            ],
            "timestamp": timestamp(at),
            "reportingMTA": bounce.reporting_mta,
        },
        "mail": mail.mail_object(),
    }


def complaint_event(
    mail: SentMail, recipient: str, feedback_type: str, at: datetime
) -> dict[str, Any]:
    return {
        "eventType": "Complaint",
        "complaint": {
            "feedbackId": ses_id(),
            "complaintSubType": None,
            "complainedRecipients": [{"emailAddress": bare_address(recipient)}],
            "timestamp": timestamp(at),
            "userAgent": "Amazon SES Mailbox Simulator",
            "complaintFeedbackType": feedback_type,
            "arrivalDate": timestamp(at),
        },
        "mail": mail.mail_object(),
    }


def rendering_failure_event(mail: SentMail, template_name: str, error: str) -> dict[str, Any]:
    return {
        "eventType": "Rendering Failure",
        "mail": mail.mail_object(),
        "failure": {"errorMessage": error, "templateName": template_name},
    }


def _elapsed_ms(start: datetime, end: datetime) -> int:
    return max(1, int((end - start).total_seconds() * 1000))
