"""API Gateway's own refusals (bad key, no route, throttled, too large), in the contract's
error shape (DESIGN §4). Plain data, no CDK import: the stack customises its gateway
responses from it and the local API Gateway emulator answers with the same bodies."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class GatewayError:
    response_type: str  # the name of the aws_apigateway.ResponseType member
    status: int | None  # None keeps API Gateway's own (502 crashed function, 504 timeout)
    code: str
    message: str

    @property
    def body(self) -> dict[str, Any]:
        return {"error": {"code": self.code, "message": self.message, "details": None}}


GATEWAY_ERRORS = (
    GatewayError("INVALID_API_KEY", 403, "forbidden", "Missing or invalid API key."),
    GatewayError("MISSING_AUTHENTICATION_TOKEN", 404, "not_found", "No such route."),
    GatewayError("THROTTLED", 429, "rate_limited", "Too many requests; slow down."),
    GatewayError("REQUEST_TOO_LARGE", 413, "payload_too_large", "Request too large."),
    GatewayError("BAD_REQUEST_PARAMETERS", 400, "bad_request", "Invalid request."),
    GatewayError("BAD_REQUEST_BODY", 400, "bad_request", "Invalid request body."),
    GatewayError("DEFAULT_4_XX", None, "bad_request", "The request was refused."),
    GatewayError("DEFAULT_5_XX", None, "internal_error", "Internal error; retry later."),
)

BY_RESPONSE_TYPE = {error.response_type: error for error in GATEWAY_ERRORS}
