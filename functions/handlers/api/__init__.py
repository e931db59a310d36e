"""API Lambda (DESIGN §4): the entry point. It joins one router per resource, checks what
needs the raw body before routing, and maps every error to the contract's error body in one
place. The routes live in emails, suppressions, templates, sending, reputation, stats,
unsubscribe and meta; their bodies in models."""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any, cast

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.event_handler.exceptions import NotFoundError
from aws_lambda_powertools.event_handler.openapi.exceptions import (
    RequestValidationError as SchemaError,
)
from aws_lambda_powertools.logging import correlation_paths

from mailroom.errors import (
    InvalidJson,
    MailroomError,
    MethodNotAllowed,
    NotFound,
    PayloadTooLarge,
    RequestValidationError,
)
from mailroom.shape import MAX_REQUEST_BODY_BYTES, ROUTES

from . import (
    emails,
    meta,
    problems,
    reputation,
    sending,
    stats,
    suppressions,
    templates,
    unsubscribe,
)
from .dependencies import Dependencies, dependencies, logger, metrics, tracer

__all__ = ["Dependencies", "app", "dependencies", "handler", "metrics"]

app = APIGatewayRestResolver(enable_validation=True)
app.configure_openapi(
    title="Mailroom API",
    version="1",
    description="Transactional email on Amazon SES. Every route but "
                f"{' and '.join(route.path for route in ROUTES.public)} needs the x-api-key "
                "header. Every error is {\"error\": {\"code\", \"message\", \"details\"}}.",
    # As the document's JSON, which Powertools validates when it builds the document: its
    # OpenAPI models (APIKey) cost a tenth of a second to import at every cold start.
    security_schemes=cast(Any, {"apiKey": {"type": "apiKey", "name": "x-api-key",
                                           "in": "header"}}),
    security=[{"apiKey": []}],
)
for module in (emails, suppressions, templates, sending, reputation, stats, unsubscribe,
               meta):
    app.include_router(module.router)
# Methods that carry a body worth reading; a body on anything else is ignored, as routed.
BODY_METHODS = ("POST", "PUT")


# --- errors, in one place ------------------------------------------------------------------
def error_response(error: MailroomError) -> Response:
    # The code and the field, not the message: messages may quote an address.
    field = error.details.get("field") if isinstance(error.details, dict) else None
    if error.http_status >= 500:
        logger.warning(f"request refused: {error.code}", code=error.code)
    else:
        logger.info(f"refused: {error.code}", code=error.code, field=field)
    return Response(status_code=error.http_status, content_type="application/json",
                    body=error.to_body(), headers=dict(error.headers))


@app.exception_handler(MailroomError)
def handle_domain_error(error: MailroomError) -> Response:
    return error_response(error)


@app.exception_handler(SchemaError)
def handle_validation_error(error: SchemaError) -> Response:
    errors = error.errors()
    if any(item.get("type") == "json_invalid" for item in errors):
        return error_response(InvalidJson(
            "The body is not valid JSON. Send a JSON object with Content-Type: "
            "application/json."))
    entries = problems.details(errors, skip=1)  # Powertools' location starts "body"/"query"
    return error_response(RequestValidationError(
        f"The request is not valid: {problems.sentence(entries)}.", details=entries))


@app.not_found
def handle_not_found(_: NotFoundError) -> Response:
    method, path = app.current_event.http_method, app.current_event.path
    return error_response(NotFound(f"No route {method} {path}. See GET /v1/openapi.json."))


# --- before routing ------------------------------------------------------------------------
def method_refusal(event: dict[str, Any]) -> MailroomError | None:
    """A known path asked with a method it lacks: 405 with the methods it has. Decided here,
    from the declared routes, because routing would take GET /v1/emails/batch for a message
    id."""
    method, path = event.get("httpMethod") or "", event.get("path") or ""
    allowed = ROUTES.methods_at(path)
    if allowed and method not in allowed:
        return MethodNotAllowed(method, path, allowed)
    return None


def raw_body_refusal(event: dict[str, Any]) -> MailroomError | None:
    """The checks Powertools' validation cannot make, since it runs first: the size limit,
    a body that is not UTF-8, and a body that is JSON but not an object. Every body is read
    as JSON whatever Content-Type says (curl -d sends a form type)."""
    body = event.get("body") or ""
    try:
        raw = base64.b64decode(body, validate=True) if event.get("isBase64Encoded") else \
            body.encode("utf-8", "surrogatepass")
    except (binascii.Error, ValueError):
        return InvalidJson("The body is not valid JSON.")
    if len(raw) > MAX_REQUEST_BODY_BYTES:
        return PayloadTooLarge(
            f"The body is larger than {MAX_REQUEST_BODY_BYTES} bytes. Send references (URLs, "
            "ids) in template data instead of content.",
            details={"limit": MAX_REQUEST_BODY_BYTES})
    if not raw or event.get("httpMethod") not in BODY_METHODS:
        return None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return InvalidJson("The body is not UTF-8 text. Send JSON encoded as UTF-8.")
    event.update(body=text, isBase64Encoded=False)
    if ROUTES.unsubscribe.matches(event.get("path") or ""):
        return None  # RFC 8058's form body, read by the route itself
    _read_as_json(event)
    try:
        parsed = json.loads(text)
    except RecursionError:
        return InvalidJson("The body nests too deeply to be an email request.")
    except ValueError:
        return None  # validation answers invalid_json
    if isinstance(parsed, dict):
        return None
    return RequestValidationError("The body must be a JSON object.",
                                  details=[{"field": "", "problem": "must be a JSON object"}])


def _read_as_json(event: dict[str, Any]) -> None:
    headers = {k: v for k, v in (event.get("headers") or {}).items()
               if k.lower() != "content-type"}
    event["headers"] = {**headers, "Content-Type": "application/json"}
    if event.get("multiValueHeaders"):
        event["multiValueHeaders"] = {k: v for k, v in event["multiValueHeaders"].items()
                                      if k.lower() != "content-type"}


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: Any,
            deps: Dependencies | None = None) -> dict[str, Any]:
    """Lambda's entry point; tests pass `deps` built with fakes."""
    deps = deps or dependencies()
    refusal = method_refusal(event) or raw_body_refusal(event)
    if refusal is not None:
        response = error_response(refusal)
        return {"statusCode": response.status_code,
                "headers": {**response.headers, "Content-Type": "application/json"},
                "body": json.dumps(response.body)}
    # Lets idempotency records expire if this invocation times out mid-request.
    deps.idempotent_accept.config.register_lambda_context(context)
    app.append_context(deps=deps)  # cleared by the resolver after each invocation
    return app.resolve(event, context)
