"""API Lambda: `POST /v1/emails` and friends (DESIGN §4). Thin: parse, call the domain,
map domain errors to the contract's error bodies in one place."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Annotated, Any, Literal

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.event_handler.exceptions import NotFoundError
from aws_lambda_powertools.event_handler.openapi.exceptions import (
    RequestValidationError as SchemaError,
)
from aws_lambda_powertools.event_handler.openapi.models import APIKey, APIKeyIn
from aws_lambda_powertools.event_handler.openapi.params import Body, Query
from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit
from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
)

from mailroom import shape
from mailroom.accept import Acceptor, EmailRequest
from mailroom.errors import (
    IdempotencyConflict,
    InvalidJson,
    MailroomError,
    NotFound,
    PayloadTooLarge,
    RequestValidationError,
)
from mailroom.models import (
    SendingState,
    Suppression,
    SuppressionReason,
    utcnow,
)
from mailroom.ports import MessageStore, SendingSwitch, SuppressionStore
from mailroom.settings import ApiSettings, api_settings
from mailroom.shape import MAX_BATCH_ITEMS, MAX_REQUEST_BODY_BYTES, ROUTES, Route

logger = Logger(service=shape.API.service)
tracer = Tracer(service=shape.API.service)
metrics = Metrics(namespace=shape.METRICS_NAMESPACE, service=shape.API.service)
app = APIGatewayRestResolver(enable_validation=True)
app.configure_openapi(
    title="Mailroom API",
    version="1",
    description="Transactional email on Amazon SES. Every route but "
                f"{' and '.join(route.path for route in ROUTES.public)} needs the x-api-key "
                "header.",
    security_schemes={"apiKey": APIKey(name="x-api-key", in_=APIKeyIn.header)},
    security=[{"apiKey": []}],
)


class ErrorDetail(BaseModel):
    code: str = Field(examples=["missing_template_data"])
    message: str
    details: Any = None


class ErrorBody(BaseModel):
    """Every error: a stable `code`, a plain-words `message`, and `details` to act on."""

    error: ErrorDetail


class Accepted(BaseModel):
    id: str
    status: Literal["queued"] = "queued"


def _errors(*statuses: int) -> dict[int | str, OpenAPIResponse]:
    described = {400: "invalid_json", 404: "not_found", 409: "idempotency_conflict",
                 413: "payload_too_large", 422: "a validation error (see `code`)",
                 503: "sending_paused"}
    return {status: {"description": described[status],
                     "content": {"application/json": {"model": ErrorBody}}}
            for status in statuses}


ACCEPT_RESPONSES: dict[int | str, OpenAPIResponse] = {
    202: {"description": "Queued", "content": {"application/json": {"model": Accepted}}},
    **_errors(400, 409, 413, 422, 503),
}


class BatchRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # Items are validated one by one, so one bad item is refused alone.
    emails: list[Any] = Field(min_length=1, max_length=MAX_BATCH_ITEMS)


class SuppressionUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: Literal[SuppressionReason.MANUAL] = SuppressionReason.MANUAL
    note: str | None = Field(default=None, max_length=1000)
    expires_at: AwareDatetime | None = Field(
        default=None, description="When the entry lapses (ISO 8601 with a time zone); "
                                  "omit for never.")

    @field_validator("expires_at")
    @classmethod
    def _in_the_future(cls, value: datetime | None) -> datetime | None:
        if value is not None and value <= utcnow():
            raise ValueError("must be in the future")
        return value


# --- dependencies, built once per container --------------------------------------------
@dataclass(frozen=True)
class Dependencies:
    """What the api function works with, built once per container."""

    acceptor: Acceptor
    messages: MessageStore
    suppressions: SuppressionStore
    switch: SendingSwitch
    # `acceptor.accept` behind Powertools idempotency (see _idempotent_accept).
    idempotent_accept: Any

    @classmethod
    def from_settings(cls, settings: ApiSettings) -> Dependencies:
        from mailroom.adapters.dynamodb import (
            DynamoMessageStore,
            DynamoSendingSwitch,
            DynamoSuppressionStore,
        )
        from mailroom.adapters.sqs import SqsSendQueue
        from mailroom.templates import TemplateCatalog

        messages = DynamoMessageStore(settings.messages_table)
        suppressions = DynamoSuppressionStore(settings.suppressions_table)
        switch = DynamoSendingSwitch(settings.control_table)
        acceptor = Acceptor(
            messages=messages,
            suppressions=suppressions,
            queue=SqsSendQueue(settings.send_queue_url),
            catalog=TemplateCatalog.load(),
            default_from=settings.default_from,
            allowed_senders=settings.allowed_senders,
            check_deliverability=settings.check_deliverability,
            switch=switch,
        )
        return cls(acceptor=acceptor, messages=messages, suppressions=suppressions,
                   switch=switch,
                   idempotent_accept=_idempotent_accept(settings.idempotency_table, acceptor))


@cache
def dependencies() -> Dependencies:
    return Dependencies.from_settings(api_settings())


def _deps() -> Dependencies:
    """This invocation's dependencies (the handler puts them in the resolver's context)."""
    deps: Dependencies = app.context["deps"]
    return deps


def _idempotent_accept(table_name: str, acceptor: Acceptor) -> Any:
    """`acceptor.accept` behind Powertools idempotency: same key and body → the first
    answer; same key, other body → IdempotencyValidationError. Keys live 24 h."""
    from aws_lambda_powertools.utilities.idempotency import (
        DynamoDBPersistenceLayer,
        IdempotencyConfig,
        idempotent_function,
    )

    config = IdempotencyConfig(
        event_key_jmespath="key",
        payload_validation_jmespath="body",
        expires_after_seconds=24 * 3600,
    )

    @idempotent_function(data_keyword_argument="keyed", config=config,
                         persistence_store=DynamoDBPersistenceLayer(table_name=table_name))
    def accept(keyed: dict[str, Any]) -> dict[str, str]:
        return acceptor.accept(EmailRequest.model_validate(keyed["body"]))

    accept.config = config  # type: ignore[attr-defined]
    return accept


def _accept(request: EmailRequest, header_key: str | None) -> dict[str, str]:
    from aws_lambda_powertools.utilities.idempotency.exceptions import (
        IdempotencyAlreadyInProgressError,
        IdempotencyValidationError,
    )

    key = request.idempotency_key or header_key
    deps = _deps()
    if not key:
        return deps.acceptor.accept(request)
    payload = request.model_dump(mode="json", by_alias=True, exclude={"idempotency_key"})
    try:
        return deps.idempotent_accept(keyed={"key": key, "body": payload})
    except IdempotencyValidationError:
        raise IdempotencyConflict(
            "This idempotency key was used within 24 hours with a different body. Use a new "
            "key for a different email.", details={"idempotency_key": key}) from None
    except IdempotencyAlreadyInProgressError:
        raise IdempotencyConflict(
            "A request with this idempotency key is still being processed; retry shortly.",
            details={"idempotency_key": key}) from None


# --- routes ------------------------------------------------------------------------------
def route(declared: Route, **kwargs: Any) -> Any:
    """Register a route as mailroom.shape declares it: method, path, operation id, auth."""
    if declared.public:
        kwargs["security"] = [{}]
    return app.route(declared.path, method=declared.method,
                     operation_id=declared.operation_id, **kwargs)


@route(ROUTES.send_email, summary="Send one templated email", responses=ACCEPT_RESPONSES)
def send_email(body: Annotated[EmailRequest, Body()]):
    result = _accept(body, _header("Idempotency-Key"))
    metrics.add_metric(name="EmailsAccepted", unit=MetricUnit.Count, value=1)
    logger.info("queued", message_id=result["id"])  # no address: logs stay free of them
    return Response(status_code=202, content_type="application/json", body=result)


@route(ROUTES.send_batch, summary="Send up to 100 emails; each item accepted or refused",
          responses={202: {"description": "A result per item, in request order"},
                     **_errors(400, 413, 422, 503)})
def send_batch(body: Annotated[BatchRequest, Body()]):
    results: dict[int, dict[str, Any]] = {}
    unkeyed: list[tuple[int, EmailRequest]] = []
    if _header("Idempotency-Key"):
        raise RequestValidationError(
            "A batch takes no Idempotency-Key header: give each item its own "
            "`idempotency_key`, so a retried batch sends only what was not sent.",
            details={"field": "Idempotency-Key"})
    for index, item in enumerate(body.emails):
        try:
            request = EmailRequest.model_validate(item)
            if request.idempotency_key:  # each keyed item takes the idempotent path
                results[index] = _accept(request, None)
            else:
                unkeyed.append((index, request))
        except MailroomError as error:
            results[index] = error.to_body()
        except ValidationError as error:
            results[index] = {"error": {
                "code": "validation_error", "message": "The item is not a valid email request.",
                "details": [{"field": ".".join(str(p) for p in e["loc"]), "problem": e["msg"]}
                            for e in error.errors()]}}
    accepted = _deps().acceptor.accept_many([request for _, request in unkeyed])
    for (index, _), result in zip(unkeyed, accepted, strict=True):
        results[index] = result.to_body() if isinstance(result, MailroomError) else result
    ordered = [{"index": index, **results[index]} for index in range(len(body.emails))]
    metrics.add_metric(name="EmailsAccepted", unit=MetricUnit.Count,
                       value=sum(1 for result in ordered if "id" in result))
    logger.info(f"batch: {sum(1 for result in ordered if 'id' in result)} of {len(ordered)} "
                "queued")
    return Response(status_code=202, content_type="application/json",
                    body={"results": ordered})


@route(ROUTES.get_email, summary="A message's status and timeline",
         responses={200: {"description": "The message"}, **_errors(404)})
def get_email(message_id: str) -> dict[str, Any]:
    # Ids are UUIDs; anything far longer is not one of ours (and DynamoDB keys stop at 2 KB).
    message = _deps().messages.get(message_id) if len(message_id) <= 100 else None
    if message is None:
        raise NotFound(f"No message with id {message_id}.", details={"id": message_id})
    return message.to_api()


@route(ROUTES.list_suppressions, summary="List suppressed addresses")
def list_suppressions(
    reason: Annotated[SuppressionReason | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
    cursor: Annotated[str | None, Query()] = None,
) -> dict[str, Any]:
    items, next_cursor = _deps().suppressions.list(utcnow(), reason, limit, cursor)
    return {"items": [item.to_api() for item in items], "next_cursor": next_cursor}


@route(ROUTES.get_suppression, summary="Whether an address is suppressed, and why",
         responses={200: {"description": "The entry"}, **_errors(404)})
def get_suppression(email: str) -> dict[str, Any]:
    from mailroom.addresses import normalize

    address = normalize(_unquote(email))
    suppression = _deps().suppressions.get(address, utcnow())
    if suppression is None:
        raise NotFound(f"{address} is not suppressed.", details={"email": address})
    return suppression.to_api()


@route(ROUTES.put_suppression, summary="Suppress an address by hand")
def put_suppression(email: str, body: Annotated[SuppressionUpdate, Body()]) -> dict[str, Any]:
    from mailroom.addresses import validate

    address = validate(_unquote(email), "email")
    suppression = Suppression.model_validate({
        "email": address, "reason": body.reason, "created_at": utcnow(),
        "expires_at": body.expires_at, "source": "api", "note": body.note,
    })
    _deps().suppressions.put(suppression)
    logger.info("suppressed an address by hand")
    return suppression.to_api()


@route(ROUTES.delete_suppression, summary="Remove an address from the suppression list",
            responses={204: {"description": "Removed"}, **_errors(404)})
def delete_suppression(email: str):
    from mailroom.addresses import normalize

    address = normalize(_unquote(email))
    if not _deps().suppressions.delete(address):
        raise NotFound(f"{address} is not suppressed.", details={"email": address})
    logger.info("removed an address from the suppression list")
    return Response(status_code=204, body=None)


@route(ROUTES.list_templates, summary="Templates and the variables each needs")
def list_templates() -> dict[str, Any]:
    from mailroom.templates import TemplateCatalog

    return {"items": [
        {"name": template.name, "subject": template.subject,
         "variables": list(template.variables),
         "lists": {name: list(fields) for name, fields in template.lists.items()}}
        for template in TemplateCatalog.load()
    ]}


class PreviewRequest(BaseModel):
    data: dict[str, Any] = Field(default_factory=dict)


@route(ROUTES.preview_template, summary="Render a template with data")
def preview_template(name: str, body: Annotated[PreviewRequest, Body()]) -> dict[str, str]:
    from mailroom.errors import UnknownTemplate
    from mailroom.templates import TemplateCatalog

    try:
        template = TemplateCatalog.load().get(name)
    except UnknownTemplate as error:
        raise NotFound(error.message, details=error.details) from None
    rendered = template.render(body.data)
    return {"subject": rendered.subject, "html": rendered.html, "text": rendered.text}


@route(ROUTES.health, summary="Liveness and whether sending is enabled")
def health() -> dict[str, str]:
    state = _deps().switch.state()
    return {"status": "ok", "sending": "paused" if state.paused else "enabled"}


class SendingUpdate(BaseModel):
    paused: bool
    reason: str | None = Field(default=None, max_length=500)


@route(ROUTES.get_sending, summary="Whether sending is paused, since when and why")
def get_sending() -> dict[str, Any]:
    return _deps().switch.state().to_api()


@route(ROUTES.put_sending, summary="Pause or resume sending")
def put_sending(body: Annotated[SendingUpdate, Body()]) -> dict[str, Any]:
    state = SendingState(paused=body.paused, reason=body.reason, since=utcnow(), source="api")
    _deps().switch.set(state)
    logger.warning("sending switched", paused=body.paused, reason=body.reason)
    return state.to_api()


@route(ROUTES.openapi, summary="This API's OpenAPI document")
def openapi():
    return Response(status_code=200, content_type="application/json", body=_openapi_document())


@cache
def _openapi_document() -> dict[str, Any]:
    """Powertools' document, with its default 422 body replaced by the one this API sends."""
    document = json.loads(app.get_openapi_json_schema())
    schemas = document.get("components", {}).get("schemas", {})
    for name in ("HTTPValidationError", "ValidationError", "ResponseValidationError"):
        schemas.pop(name, None)
    text = json.dumps(document).replace("#/components/schemas/HTTPValidationError",
                                        "#/components/schemas/ErrorBody")
    return json.loads(text)


# --- errors, in one place ------------------------------------------------------------------
@app.exception_handler(MailroomError)
def handle_domain_error(error: MailroomError) -> Response:
    if error.http_status >= 500:
        logger.warning("request refused", code=error.code, reason=error.message)
    else:
        logger.info(f"refused: {error.code}", reason=error.message)
    return Response(status_code=error.http_status, content_type="application/json",
                    body=error.to_body())


@app.exception_handler(SchemaError)
def handle_validation_error(error: SchemaError) -> Response:
    errors = error.errors()
    if any(item.get("type") == "json_invalid" for item in errors):
        return handle_domain_error(InvalidJson(
            "The body is not valid JSON. Send a JSON object with Content-Type: "
            "application/json."))
    details = [{"field": ".".join(str(part) for part in item.get("loc", ())[1:]),
                "problem": item.get("msg"), "type": item.get("type")} for item in errors]
    problems = "; ".join(f"{d['field'] or 'body'}: {d['problem']}" for d in details)
    logger.info("refused: validation_error", reason=problems)
    return Response(status_code=422, content_type="application/json", body={"error": {
        "code": "validation_error", "message": f"The request is not valid: {problems}",
        "details": details}})


@app.not_found
def handle_not_found(_: NotFoundError) -> Response:
    return handle_domain_error(NotFound(
        f"No route {app.current_event.http_method} {app.current_event.path}. "
        "See GET /v1/openapi.json."))


# --- helpers -------------------------------------------------------------------------------
def _header(name: str) -> str | None:
    headers = app.current_event.headers or {}
    return next((value for key, value in headers.items() if key.lower() == name.lower()), None)


def _unquote(value: str) -> str:
    from urllib.parse import unquote

    return unquote(value)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: Any,
            deps: Dependencies | None = None) -> dict[str, Any]:
    """Lambda's entry point; tests pass `deps` built with fakes."""
    deps = deps or dependencies()
    body = event.get("body") or ""
    if len(body.encode() if isinstance(body, str) else body) > MAX_REQUEST_BODY_BYTES:
        error = PayloadTooLarge(
            f"The body is larger than {MAX_REQUEST_BODY_BYTES} bytes. Send references (URLs, "
            "ids) in template data instead of content.",
            details={"limit": MAX_REQUEST_BODY_BYTES})
        logger.info(f"refused: {error.code}", reason=error.message)
        return {"statusCode": 413, "headers": {"Content-Type": "application/json"},
                "body": json.dumps(error.to_body())}
    if body and event.get("httpMethod") in ("POST", "PUT"):
        refusal = _refuse_non_object_json(event, body)
        if refusal:
            return refusal
    # Lets idempotency records expire if this invocation times out mid-request.
    deps.idempotent_accept.config.register_lambda_context(context)
    app.append_context(deps=deps)  # cleared by the resolver after each invocation
    return app.resolve(event, context)


def _refuse_non_object_json(event: dict[str, Any], body: str) -> dict[str, Any] | None:
    """Every body is JSON, whatever Content-Type says (curl -d sends a form type); a body
    that is JSON but not an object is refused here, before validation could take only part
    of it."""
    headers = {k: v for k, v in (event.get("headers") or {}).items()
               if k.lower() != "content-type"}
    event["headers"] = {**headers, "Content-Type": "application/json"}
    if event.get("multiValueHeaders"):
        event["multiValueHeaders"] = {k: v for k, v in event["multiValueHeaders"].items()
                                      if k.lower() != "content-type"}
    try:
        parsed = json.loads(body)
    except ValueError:
        return None  # validation answers invalid_json
    if isinstance(parsed, dict):
        return None
    error = RequestValidationError("The body must be a JSON object.",
                                   details=[{"field": "", "problem": "not an object"}])
    logger.info(f"refused: {error.code}", reason=error.message)
    return {"statusCode": 422, "headers": {"Content-Type": "application/json"},
            "body": json.dumps(error.to_body())}
