"""Failure diagnosis: why a message failed and what to do about it, in plain words.

SES's bounce type and subtype are coarse (most real bounces arrive as Permanent/General), so the
reason is read, most specific first, from:
  1. the subtypes where SES has already decided (suppression lists, mailbox full, content,
     unsubscribed);
  2. the RFC 3463 enhanced status code the receiving server gave (5.1.1, 4.2.2, ...) — except
     that a 7.x (policy) code whose text plainly says the user is unknown is read as an
     unknown mailbox: some servers answer every refusal with 5.7.1;
  3. the remaining subtype (NoEmail);
  4. words in the diagnostic text, for servers that send no enhanced code;
  5. the bounce type (failed for good → the address was refused; otherwise temporary).

A Permanent bounce suppresses the address (DESIGN §2) even when the code says the content was
refused (5.7.1, 5.3.4), so the action then says so and how to lift it once the content is fixed.
"""

from __future__ import annotations

import re

from .models import Failure
from .ses_events import CONTENT_BOUNCE_SUBTYPES, SesEvent, SesEventKind

ACTIONS = {
    "mailbox_does_not_exist": "Check the address with the user: the mailbox does not exist.",
    "domain_does_not_exist": (
        "Check the address with the user: its domain does not exist or takes no mail "
        "(often a typo)."
    ),
    "mailbox_disabled": "Reach them on another channel: their mailbox is disabled.",
    "address_rejected": (
        "Check the address with the user: the receiving server permanently refused it."
    ),
    "mailbox_full": "Retry later, or reach them on another channel: their mailbox is full.",
    "message_too_large": (
        "Make the message smaller (fewer or smaller attachments and images) and send again; "
        "the address is fine."
    ),
    "content_rejected": (
        "Review the content the receiving server refused (links, attachments, wording) and "
        "send again; the address is fine."
    ),
    "recipient_suppressed": (
        "Check the address with the user: SES suppressed it because it bounced or complained "
        "before. Remove it from the SES suppression list only once it is confirmed."
    ),
    "temporary_failure": "Retry later: the receiving server had a temporary problem.",
    "undetermined_bounce": (
        "Retry later; if it bounces again, check the address with the user."
    ),
    "complaint": (
        "Stop emailing this address: the recipient marked your mail as spam. Reach them on "
        "another channel."
    ),
    "rejected": "Remove what SES flagged (it found a virus in the message) and send again.",
    "unsubscribed": "The recipient unsubscribed; stop sending them this kind of mail.",
    # Each message's own failure says which value SES could not render (diagnose below).
    "rendering_failed": "Fix the template data: each failed message says what SES could not "
                        "render (mailroom status ID).",
}

# The content was refused, but the bounce was Permanent, so the address was suppressed too.
_LIFT_SUPPRESSION = (
    " SES reported the bounce as permanent, so the address was suppressed: once the content "
    "is fixed, remove it with DELETE /v1/suppressions/{email} and send again."
)
SUPPRESSED_CONTENT_ACTIONS = {
    "message_too_large": (
        "Make the message smaller (fewer or smaller attachments and images)." + _LIFT_SUPPRESSION
    ),
    "content_rejected": (
        "Review the content the receiving server refused (links, attachments, wording)."
        + _LIFT_SUPPRESSION
    ),
}

# SES has already classified these; no status code overrides them.
_DECISIVE_SUBTYPES = {
    "OnAccountSuppressionList": "recipient_suppressed",
    "Suppressed": "recipient_suppressed",
    "MailboxFull": "mailbox_full",
    "MessageTooLarge": "message_too_large",
    "ContentRejected": "content_rejected",
    "AttachmentRejected": "content_rejected",
    "UnsubscribedRecipient": "unsubscribed",
}

# RFC 3463 subject.detail → reason; the class (4 or 5) only says whether it may pass later.
_STATUS_DETAILS = {
    "1.1": "mailbox_does_not_exist",  # bad destination mailbox address
    "1.6": "mailbox_does_not_exist",  # mailbox has moved, no forwarding address
    "1.2": "domain_does_not_exist",  # bad destination system address
    # RFC 7505 made 1.10 "null MX", but Microsoft 365 answers it for "recipient not found",
    # by far its commonest use; either way the address is wrong.
    "1.10": "mailbox_does_not_exist",
    "4.4": "domain_does_not_exist",  # unable to route: no MX or A record
    "2.1": "mailbox_disabled",
    "2.2": "mailbox_full",
    "2.3": "message_too_large",  # message length exceeds administrative limit
    "3.4": "message_too_large",  # message too big for system
    "7.1": "content_rejected",  # delivery not authorised, message refused (policy)
    "6.0": "content_rejected",  # media not supported
    "7.0": "content_rejected",  # other security or policy status
}

# Words that leave no doubt the mailbox is unknown, whatever code came with them. Narrower
# than the mailbox hint below: "not found" or a bare "does not exist" may be about an SPF
# record or the sender's domain.
_PLAINLY_UNKNOWN_USER = re.compile(
    r"user unknown|unknown user|no such user"
    r"|(?:user|mailbox|recipient|account)\b[^.;]{0,40}\bdoes(?: not|n't) exist", re.I)

# Checked in order: "host not found" must be read as a domain before "not found" as a mailbox.
_TEXT_HINTS = [
    (re.compile(r"host (?:or domain name )?not found|domain (?:name )?not found|nxdomain"
                r"|no mx|null mx|unknown domain|host unknown", re.I), "domain_does_not_exist"),
    (re.compile(r"user unknown|no such user|unknown user|does not exist|not found"
                r"|invalid (?:mailbox|recipient)|unrouteable address", re.I),
     "mailbox_does_not_exist"),
    (re.compile(r"mailbox (?:is )?full|over ?quota|quota exceeded|insufficient storage", re.I),
     "mailbox_full"),
    (re.compile(r"too (?:large|big)|size limit|exceeds? .*size", re.I), "message_too_large"),
    (re.compile(r"spam|blocked|blacklist|blocklist|policy|content", re.I), "content_rejected"),
]


def failure(reason: str, event: SesEvent, diagnostic: str | None = None) -> Failure:
    return Failure(
        reason=reason,
        action=_action(reason, event),
        bounce_type=event.bounce_type,
        bounce_subtype=event.bounce_subtype,
        diagnostic=diagnostic if diagnostic is not None else event.diagnostic_code,
    )


def diagnose(event: SesEvent) -> Failure:
    """Why `event` means the message failed (or is late), and what the app should do."""
    if event.kind is SesEventKind.RENDERING_FAILURE:
        message = event.error_message or "SES could not render the template"
        template = f" (template {event.template})" if event.template else ""
        return Failure(
            reason="rendering_failed",
            action=f"Fix the template data{template}: {message}",
            diagnostic=event.error_message,
        )
    if event.kind is SesEventKind.COMPLAINT:
        # SES reports a send to an address on its account-level suppression list as a
        # complaint with this subtype: nobody complained about this message.
        reason = ("recipient_suppressed"
                  if event.complaint_subtype == "OnAccountSuppressionList" else "complaint")
        return failure(reason, event, diagnostic=event.complaint_feedback_type)
    if event.kind is SesEventKind.REJECT:
        return failure("rejected", event, diagnostic=event.reject_reason)
    if event.kind is SesEventKind.DELIVERY_DELAY:
        return failure(_delay_reason(event), event)
    return failure(_bounce_reason(event), event)


def _action(reason: str, event: SesEvent) -> str:
    suppressed_for_good = (event.failed_for_good
                           and event.bounce_subtype not in CONTENT_BOUNCE_SUBTYPES)
    if suppressed_for_good and reason in SUPPRESSED_CONTENT_ACTIONS:
        return SUPPRESSED_CONTENT_ACTIONS[reason]
    return ACTIONS[reason]


def _bounce_reason(event: SesEvent) -> str:
    subtype_reason = _DECISIVE_SUBTYPES.get(event.bounce_subtype or "")
    if subtype_reason:
        return subtype_reason
    if _policy_code_for_an_unknown_user(event):
        return "mailbox_does_not_exist"
    code_reason = _reason_from_status_code(event.enhanced_status_code)
    if code_reason:
        return code_reason
    if event.bounce_subtype == "NoEmail":
        return "domain_does_not_exist"
    text_reason = _reason_from_text(event.diagnostic_code)
    if text_reason:
        return text_reason
    if event.failed_for_good:
        return "address_rejected"
    if event.bounce_type in {"Transient", "Permanent"}:
        return "temporary_failure"  # Permanent here: a recipient the server still retries
    return "undetermined_bounce"


def _policy_code_for_an_unknown_user(event: SesEvent) -> bool:
    """An X.7.Y (security or policy) code whose text plainly says the user is unknown."""
    is_policy_code = (event.enhanced_status_code or "").split(".")[1:2] == ["7"]
    return is_policy_code and bool(_PLAINLY_UNKNOWN_USER.search(event.diagnostic_code or ""))


def _delay_reason(event: SesEvent) -> str:
    if event.delay_type == "MailboxFull":
        return "mailbox_full"
    reason = _reason_from_status_code(event.enhanced_status_code)
    # A delay is temporary by definition: only keep codes that say something about the mailbox.
    return reason if reason == "mailbox_full" else "temporary_failure"


def _reason_from_status_code(code: str | None) -> str | None:
    if not code:
        return None
    status_class, _, detail = code.partition(".")
    reason = _STATUS_DETAILS.get(detail)
    if status_class == "4" and reason in {"mailbox_does_not_exist", "domain_does_not_exist"}:
        # 4.x.x is transient: "not found right now" (e.g. DNS timeout) is not "does not exist".
        return "temporary_failure"
    return reason


def _reason_from_text(diagnostic: str | None) -> str | None:
    for pattern, reason in _TEXT_HINTS:
        if diagnostic and pattern.search(diagnostic):
            return reason
    return None
