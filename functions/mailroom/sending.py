"""Sending errors, classified once: what may be retried and what never will succeed."""

from __future__ import annotations

from .models import Failure, Status


class SendError(Exception):
    pass


class TransientSendError(SendError):
    """Throttling, SES 5xx, network trouble: retry later with backoff."""

    def __init__(self, message: str, *, throttled: bool = False) -> None:
        super().__init__(message)
        self.throttled = throttled


class PermanentSendError(SendError):
    """Retrying cannot help; the message ends with this status and failure."""

    def __init__(self, status: Status, failure: Failure) -> None:
        super().__init__(f"{failure.reason}: {failure.diagnostic}")
        self.status = status
        self.failure = failure


# SES v2 SendEmail error codes (service model) and what they mean for a message.
TRANSIENT_CODES = {
    "TooManyRequestsException": True,  # value: is it throttling
    "ThrottlingException": True,
    "Throttling": True,
    "LimitExceededException": True,  # daily quota: wait for the 24 h window to move on
    "InternalFailure": False,
    "InternalServerError": False,
    "ServiceUnavailable": False,
    "ServiceUnavailableException": False,
}

PERMANENT_FAILURES: dict[str, tuple[Status, str, str]] = {
    "MessageRejected": (
        Status.REJECTED, "rejected",
        "SES refused the message. Check the content and the sender identity, then send again.",
    ),
    "MailFromDomainNotVerifiedException": (
        Status.FAILED, "sender_not_verified",
        "Verify the sender domain (and its MAIL FROM domain) in SES, then send again.",
    ),
    "NotFoundException": (
        Status.RENDER_FAILED, "template_not_found",
        "The SES template does not exist in this region: deploy the stack again.",
    ),
    "AccountSuspendedException": (
        Status.FAILED, "account_suspended",
        "SES has suspended sending for this account. Contact AWS Support.",
    ),
    "SendingPausedException": (
        Status.FAILED, "sending_paused",
        "Sending is paused for the account or configuration set. Resume it in SES.",
    ),
    "BadRequestException": (
        Status.FAILED, "bad_request",
        "SES refused the request as malformed. Check the sender, recipient and tags.",
    ),
}
