"""`/v1/suppressions`: the addresses Mailroom will not send to."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import unquote

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Body, Path, Query
from aws_lambda_powertools.event_handler.router import APIGatewayRouter

from mailroom.addresses import MAX_ADDRESS_LENGTH, lookup_key, validate
from mailroom.errors import NotFound
from mailroom.models import Suppression, SuppressionReason, utcnow
from mailroom.shape import ROUTES

from .dependencies import current, logger
from .models import SuppressionList, SuppressionUpdate, SuppressionView, responses
from .routing import route

router = APIGatewayRouter()
TAG = "suppressions"
Email = Annotated[str, Path(description="The address, percent-encoded "
                                        "(`ada%2Btest%40example.com`).")]


@route(router, ROUTES.list_suppressions, tag=TAG, summary="List suppressed addresses",
       responses=responses(200, SuppressionList, "A page of entries", 422))
def list_suppressions(
    reason: Annotated[SuppressionReason | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
    cursor: Annotated[str | None, Query(max_length=4096)] = None,
) -> SuppressionList:
    items, next_cursor = current(router).suppressions.list(utcnow(), reason, limit, cursor)
    return SuppressionList(items=[SuppressionView.of(item) for item in items],
                           next_cursor=next_cursor)


@route(router, ROUTES.get_suppression, tag=TAG,
       summary="Whether an address is suppressed, and why",
       responses=responses(200, SuppressionView, "The entry", 404))
def get_suppression(email: Email) -> SuppressionView:
    address = _listed_address(email)
    suppression = current(router).suppressions.get(address, utcnow())
    if suppression is None:
        raise NotFound(f"{address} is not suppressed.", details={"email": address})
    return SuppressionView.of(suppression)


@route(router, ROUTES.put_suppression, tag=TAG, summary="Suppress an address by hand",
       responses=responses(200, SuppressionView, "The entry as written", 422))
def put_suppression(email: Email,
                    body: Annotated[SuppressionUpdate, Body()]) -> SuppressionView:
    address = validate(unquote(email), "email")
    suppression = Suppression.model_validate({
        "email": address, "reason": body.reason, "created_at": utcnow(),
        "expires_at": body.expires_at, "source": "api", "note": body.note,
    })
    current(router).suppressions.put(suppression)
    logger.info("suppressed an address by hand")
    return SuppressionView.of(suppression)


@route(router, ROUTES.delete_suppression, tag=TAG,
       summary="Remove an address from the suppression list", status_code=204,
       responses=responses(204, None, "Removed", 404))
def delete_suppression(email: Email) -> Response[None]:
    address = _listed_address(email)
    if not current(router).suppressions.delete(address):
        raise NotFound(f"{address} is not suppressed.", details={"email": address})
    logger.info("removed an address from the suppression list")
    return Response(status_code=204, body=None)


def _listed_address(email: str) -> str:
    """The key to look `email` up by; something that cannot be an address is on no list."""
    address = lookup_key(unquote(email))
    if address is None:
        raise NotFound("That is not an email address, so it is not suppressed.",
                       details={"email": unquote(email)[:MAX_ADDRESS_LENGTH]})
    return address
