"""Domain errors. Each carries the contract's error code and HTTP status (DESIGN §4), so the
API maps every failure to a response in one place and says what went wrong in plain words."""

from __future__ import annotations

from typing import Any, ClassVar


class MailroomError(Exception):
    code: ClassVar[str] = "internal_error"
    http_status: ClassVar[int] = 500
    # Response headers the error calls for (405's Allow).
    headers: dict[str, str] = {}  # replaced per instance, never mutated

    def __init__(self, message: str, details: Any = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details

    def to_body(self) -> dict[str, Any]:
        return {"error": {"code": self.code, "message": self.message, "details": self.details}}


class InvalidJson(MailroomError):
    code, http_status = "invalid_json", 400


class RequestValidationError(MailroomError):
    code, http_status = "validation_error", 422


class InvalidAddress(MailroomError):
    code, http_status = "invalid_address", 422


class UnknownTemplate(MailroomError):
    code, http_status = "unknown_template", 422


class MissingTemplateData(MailroomError):
    code, http_status = "missing_template_data", 422


class RecipientSuppressed(MailroomError):
    code, http_status = "recipient_suppressed", 422


class SenderNotAllowed(MailroomError):
    code, http_status = "sender_not_allowed", 422


class IdempotencyConflict(MailroomError):
    code, http_status = "idempotency_conflict", 409


class PayloadTooLarge(MailroomError):
    code, http_status = "payload_too_large", 413


class SendingPaused(MailroomError):
    code, http_status = "sending_paused", 503


class NotFound(MailroomError):
    code, http_status = "not_found", 404


class LinkExpired(MailroomError):
    code, http_status = "link_expired", 410


class SesUnavailable(MailroomError):
    """SES refused or failed a call the request needs; trying again may work."""

    code, http_status = "ses_unavailable", 503


class MethodNotAllowed(MailroomError):
    code, http_status = "method_not_allowed", 405

    def __init__(self, method: str, path: str, allowed: tuple[str, ...]) -> None:
        super().__init__(f"{path} does not take {method}; it takes {', '.join(allowed)}.",
                         details={"allowed": list(allowed)})
        self.headers = {"Allow": ", ".join(allowed)}


class QueueUnavailable(MailroomError):
    code, http_status = "queue_unavailable", 503


class InvalidCursor(RequestValidationError):
    """A listing cursor this API did not hand out, or handed out for another listing."""

    def __init__(self) -> None:
        super().__init__(
            "The cursor is not one this API returned for this listing. Use `next_cursor` "
            "from the previous page, with the same `reason`.",
            details={"field": "cursor"},
        )
