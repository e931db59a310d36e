"""Sending errors, classified once: what may be retried and what never will succeed."""

from __future__ import annotations

from dataclasses import dataclass

from .models import Failure, Status


class SendError(Exception):
    pass


class TransientSendError(SendError):
    """Throttling, SES 5xx, network trouble: retry later with backoff.

    throttled: SES refused for rate — slow down and retry here.
    quota: the 24-hour sending quota is used up — wait, without spending attempts.
    paused: SES has sending paused (account or configuration set) — wait for a resume,
        without spending attempts: a pause is a deferral, never a failure.
    ambiguous: the request may have reached SES (a read timeout, a dropped connection), so
        the message may be sent already; keep it claimed until SES's Send event can say so.
    fault: SES refuses every message until the account, identity or deployment is fixed;
        waits like a pause (`paused` is set), with what to fix.
    """

    def __init__(self, message: str, *, throttled: bool = False, quota: bool = False,
                 paused: bool = False, ambiguous: bool = False,
                 fault: ConfigurationFault | None = None) -> None:
        super().__init__(message)
        self.throttled = throttled
        self.quota = quota
        self.paused = paused or fault is not None
        self.ambiguous = ambiguous
        self.fault = fault


@dataclass(frozen=True)
class ConfigurationFault:
    """Why SES refuses all mail for now, in plain words: `reason` a code, `action` the fix,
    `diagnostic` what SES said."""

    reason: str
    action: str
    diagnostic: str


class MessageBusy(SendError):
    """Another worker holds the message's claim, or its record is not readable yet: not a
    failed attempt, just not this worker's turn."""


class PermanentSendError(SendError):
    """Retrying cannot help; the message ends with this status and failure."""

    def __init__(self, status: Status, failure: Failure) -> None:
        super().__init__(f"{failure.reason}: {failure.diagnostic}")
        self.status = status
        self.failure = failure


# SES v2 SendEmail error codes (service model) that a later attempt can get past.
THROTTLING_CODES = {"TooManyRequestsException", "ThrottlingException", "Throttling"}
QUOTA_CODES = {"LimitExceededException"}  # the 24-hour quota: wait for the window to move
PAUSED_CODES = {"SendingPausedException"}  # the account or configuration set is paused
SERVER_CODES = {"InternalFailure", "InternalServerError", "ServiceUnavailable",
                "ServiceUnavailableException"}

PERMANENT_FAILURES: dict[str, tuple[Status, str, str]] = {
    "MessageRejected": (
        Status.REJECTED, "rejected",
        "SES refused the message. Check the content and the sender identity, then send again.",
    ),
    "BadRequestException": (
        Status.FAILED, "bad_request",
        "SES refused the request as malformed. Check the sender, recipient and tags.",
    ),
}

# SES errors that are no one message's fault: the account, the identity or the deployment
# is wrong, and every message would fail the same way. The message waits without spending
# attempts (as in a pause) until it is fixed; `mailroom doctor` shows what to fix.
CONFIGURATION_FAULTS: dict[str, tuple[str, str]] = {
    "MailFromDomainNotVerifiedException": (
        "mail_from_not_verified",
        "SES has not verified the sender's MAIL FROM domain: publish its MX and SPF records "
        "(the stack's DnsMailFrom outputs), then run `mailroom doctor`. Mail waits meanwhile.",
    ),
    "AccountSuspendedException": (
        "account_suspended",
        "SES has suspended sending for this account: contact AWS Support. Mail waits "
        "meanwhile.",
    ),
    "NotFoundException": (
        "ses_resource_missing",
        "This stack's SES template or configuration set is missing in the region: deploy "
        "the stack again. Mail waits meanwhile.",
    ),
}
