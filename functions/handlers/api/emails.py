"""`/v1/emails`: send one, send a batch, read one back."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Body, Header
from aws_lambda_powertools.event_handler.router import APIGatewayRouter
from aws_lambda_powertools.metrics import MetricUnit
from pydantic import ValidationError

from mailroom.accept import MAX_IDEMPOTENCY_KEY_LENGTH, EmailRequest
from mailroom.errors import (
    IdempotencyConflict,
    MailroomError,
    NotFound,
    RequestValidationError,
)
from mailroom.models import Status
from mailroom.shape import MAX_BATCH_ITEMS, ROUTES, Metric

from .dependencies import IDEMPOTENCY_HOURS, current, logger, metrics
from .models import (
    Accepted,
    BatchAccepted,
    BatchItemAccepted,
    BatchItemRefused,
    BatchItemResult,
    BatchRequest,
    EmailView,
    Waiting,
    responses,
)
from .routing import route

router = APIGatewayRouter()
TAG = "emails"
MAX_MESSAGE_ID_LENGTH = 100
IdempotencyKey = Annotated[str | None, Header(
    alias="Idempotency-Key", min_length=1, max_length=MAX_IDEMPOTENCY_KEY_LENGTH,
    description=f"Same key and body within {IDEMPOTENCY_HOURS} h: the first answer, nothing "
                "sent again. Or give `idempotency_key` in the body.")]


@route(router, ROUTES.send_email, tag=TAG, summary="Send one templated email",
       status_code=202,
       responses=responses(202, Accepted, "Queued", 409, 413, 422, 503))
def send_email(body: Annotated[EmailRequest, Body()],
               idempotency_key: IdempotencyKey = None) -> Response[Accepted]:
    if body.idempotency_key and idempotency_key and body.idempotency_key != idempotency_key:
        raise RequestValidationError(
            "The Idempotency-Key header and the body's `idempotency_key` differ: send one, "
            "or the same key in both.",
            details={"field": "idempotency_key", "header": idempotency_key,
                     "body": body.idempotency_key})
    result = accept(body, idempotency_key)
    metrics.add_metric(name=Metric.ACCEPTED, unit=MetricUnit.Count, value=1)
    logger.info("queued", message_id=result.id)  # no address: logs stay free of them
    return Response(status_code=202, content_type="application/json", body=result)


@route(router, ROUTES.send_batch, tag=TAG,
       summary=f"Send up to {MAX_BATCH_ITEMS} emails; each item accepted or refused",
       status_code=202,
       responses=responses(202, BatchAccepted, "A result per item, in request order",
                           409, 413, 422, 503))
def send_batch(body: Annotated[BatchRequest, Body()]) -> Response[BatchAccepted]:
    # Not a declared parameter (a batch takes none), but a client may still send it.
    if router.current_event.headers.get("idempotency-key"):
        raise RequestValidationError(
            "A batch takes no Idempotency-Key header: give each item its own "
            "`idempotency_key`, so a retried batch sends only what was not sent.",
            details={"field": "Idempotency-Key"})
    results: dict[int, BatchItemResult] = {}
    unkeyed: list[tuple[int, EmailRequest]] = []
    for index, item in enumerate(body.emails):
        try:
            request = EmailRequest.model_validate(item)
            if request.idempotency_key:  # each keyed item takes the idempotent path
                results[index] = _item(index, accept(request, None))
            else:
                unkeyed.append((index, request))
        except (MailroomError, ValidationError) as error:
            results[index] = BatchItemRefused.of(index, error, "a valid email request")
    accepted = current(router).acceptor.accept_many([request for _, request in unkeyed])
    for (index, _), outcome in zip(unkeyed, accepted, strict=True):
        results[index] = _item(index, outcome)
    ordered = [results[index] for index in range(len(body.emails))]
    queued = sum(1 for result in ordered if isinstance(result, BatchItemAccepted))
    metrics.add_metric(name=Metric.ACCEPTED, unit=MetricUnit.Count, value=queued)
    logger.info(f"batch: {queued} of {len(ordered)} queued")
    return Response(status_code=202, content_type="application/json",
                    body=BatchAccepted(results=ordered))


@route(router, ROUTES.get_email, tag=TAG, summary="A message's status and timeline",
       responses=responses(200, EmailView, "The message", 404))
def get_email(message_id: str) -> EmailView:
    # Ids are UUIDs; anything far longer is not one of ours (and DynamoDB keys stop at 2 KB).
    known = len(message_id) <= MAX_MESSAGE_ID_LENGTH
    message = current(router).messages.get(message_id) if known else None
    if message is None:
        raise NotFound(f"No message with id {message_id}.", details={"id": message_id})
    view = EmailView.of(message)
    if message.status is Status.QUEUED:
        state = current(router).switch.state()
        if state.paused:  # it waits in the send queue until a resume
            view.waiting = Waiting(reason="paused", since=state.since)
    return view


def accept(request: EmailRequest, header_key: str | None) -> Accepted:
    """Accept one email; with an idempotency key (body or header), at most once per key."""
    from aws_lambda_powertools.utilities.idempotency.exceptions import (
        IdempotencyAlreadyInProgressError,
        IdempotencyValidationError,
    )

    key = request.idempotency_key or header_key
    deps = current(router)
    if not key:
        return Accepted.model_validate(deps.acceptor.accept(request))
    payload = request.model_dump(mode="json", by_alias=True, exclude={"idempotency_key"})
    try:
        return Accepted.model_validate(deps.idempotent_accept(keyed={"key": key,
                                                                      "body": payload}))
    except IdempotencyValidationError:
        raise IdempotencyConflict(
            f"This idempotency key was used within {IDEMPOTENCY_HOURS} hours with a different "
            "body. Use a new key for a different email.",
            details={"idempotency_key": key}) from None
    except IdempotencyAlreadyInProgressError:
        raise IdempotencyConflict(
            "A request with this idempotency key is still being processed; retry shortly.",
            details={"idempotency_key": key}) from None


def _item(index: int, outcome: Accepted | dict[str, str] | MailroomError) -> BatchItemResult:
    if isinstance(outcome, MailroomError):
        return BatchItemRefused.of(index, outcome, "a valid email request")
    accepted = outcome if isinstance(outcome, Accepted) else Accepted.model_validate(outcome)
    return BatchItemAccepted(index=index, id=accepted.id, status=accepted.status)
