"""`/v1/suppressions`: the addresses Mailroom will not send to."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Annotated
from urllib.parse import unquote

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Body, Path, Query
from aws_lambda_powertools.event_handler.router import APIGatewayRouter
from botocore.exceptions import ClientError
from pydantic import ValidationError

from mailroom.addresses import MAX_ADDRESS_LENGTH, lookup_key, validate
from mailroom.errors import MailroomError, NotFound, SesUnavailable
from mailroom.models import CATEGORY_PATTERN, Suppression, SuppressionReason, utcnow
from mailroom.shape import ROUTES

from .dependencies import current, logger
from .models import (
    BatchItemRefused,
    SuppressionBatchItem,
    SuppressionBatchRequest,
    SuppressionBatchResult,
    SuppressionDetail,
    SuppressionEntry,
    SuppressionList,
    SuppressionUpdate,
    SuppressionView,
    responses,
)
from .routing import route, who

router = APIGatewayRouter()
TAG = "suppressions"
BATCH_WRITERS = 16
Email = Annotated[str, Path(description="The address, percent-encoded "
                                        "(`ada%2Btest%40example.com`).")]
Category = Annotated[str | None, Query(pattern=CATEGORY_PATTERN, description=(
    "One category of mail (e.g. `digest`)."))]


@route(router, ROUTES.list_suppressions, tag=TAG, summary="List suppressed addresses",
       responses=responses(200, SuppressionList, "A page of entries", 422))
def list_suppressions(
    reason: Annotated[SuppressionReason | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
    cursor: Annotated[str | None, Query(max_length=4096)] = None,
    category: Category = None,
) -> SuppressionList:
    """Global and category entries alike; with `category`, that category's only."""
    items, next_cursor = current(router).suppressions.list(utcnow(), reason, limit, cursor,
                                                           category)
    return SuppressionList(items=[SuppressionView.of(item) for item in items],
                           next_cursor=next_cursor)


@route(router, ROUTES.get_suppression, tag=TAG,
       summary="Whether an address is suppressed, and why",
       responses=responses(200, SuppressionDetail, "The entries", 404))
def get_suppression(email: Email) -> SuppressionDetail:
    """The global entry (all mail) and each category entry; 404 when there is neither."""
    address = _listed_address(email)
    store = current(router).suppressions
    now = utcnow()
    suppression = store.get(address, now)
    categories = [SuppressionView.of(entry, store.history(address, entry.category))
                  for entry in store.categories(address, now)]
    history = store.history(address)
    if suppression is None and not categories:
        raise NotFound(f"{address} is not suppressed.",
                       details={"email": address, "history": history})
    fields = ({**suppression.to_api(), "by": suppression.by} if suppression
              else {"email": address, "reason": None, "created_at": None,
                    "expires_at": None, "source": None})
    return SuppressionDetail.model_validate(
        {**fields, "categories": categories, "history": history})


@route(router, ROUTES.put_suppression, tag=TAG, summary="Suppress an address by hand",
       responses=responses(200, SuppressionView, "The entry as written", 422))
def put_suppression(email: Email,
                    body: Annotated[SuppressionUpdate, Body()]) -> SuppressionView:
    address = validate(unquote(email), "email")
    suppression = Suppression.model_validate({
        "email": address, "reason": body.reason, "created_at": utcnow(),
        "expires_at": body.expires_at, "source": "api", "note": body.note,
        "by": who(router, body.actor), "category": body.category,
    })
    current(router).suppressions.put(suppression)
    logger.info("suppressed an address by hand")
    return SuppressionView.of(suppression)


@route(router, ROUTES.suppress_batch, tag=TAG,
       summary="Suppress many addresses at once (an import)",
       responses=responses(200, SuppressionBatchResult, "A result per entry", 422))
def suppress_batch(body: Annotated[SuppressionBatchRequest, Body()]) -> SuppressionBatchResult:
    """Each entry is checked and written on its own: a bad one is refused alone, and an
    address already suppressed keeps its entry (`exists`), so a re-import adds nothing."""
    now = utcnow()
    results: dict[int, SuppressionBatchItem | BatchItemRefused] = {}
    valid: list[tuple[int, Suppression]] = []
    for index, item in enumerate(body.entries):
        try:
            entry = SuppressionEntry.model_validate(item)
            address = validate(entry.email, f"entries[{index}].email")
        except (MailroomError, ValidationError) as error:
            results[index] = BatchItemRefused.of(index, error, "a valid suppression")
            continue
        valid.append((index, Suppression.model_validate({
            "email": address, "reason": entry.reason, "created_at": now,
            "expires_at": entry.expires_at, "source": "api", "note": entry.note,
            "by": who(router, entry.actor), "category": entry.category})))
    store = current(router).suppressions
    # Conditional writes, one per address, in parallel: DynamoDB batches take no conditions.
    with ThreadPoolExecutor(max_workers=BATCH_WRITERS) as pool:
        added = list(pool.map(lambda pair: store.add(pair[1], now), valid))
    for (index, suppression), written in zip(valid, added, strict=True):
        results[index] = SuppressionBatchItem(index=index, email=suppression.email,
                                              category=suppression.category,
                                              status="added" if written else "exists")
    logger.info(f"batch: {sum(added)} added, {len(added) - sum(added)} already there, "
                f"{len(body.entries) - len(valid)} refused")
    return SuppressionBatchResult(results=[results[i] for i in range(len(body.entries))])


@route(router, ROUTES.delete_suppression, tag=TAG,
       summary="Remove an address from the suppression list", status_code=204,
       responses=responses(204, None, "Removed", 404))
def delete_suppression(
    email: Email,
    actor: Annotated[str | None, Query(max_length=200, description=(
        "Who asks, recorded with the API key id in the entry's history."))] = None,
    category: Category = None,
) -> Response[None]:
    """Off Mailroom's list and SES's account-level list both: an address unblocked on
    purpose is really unblocked. With `category`, only that category's entry goes (SES's
    list is for all mail, so it is left alone). The entry's history stays."""
    address = _listed_address(email)
    deps = current(router)
    ours = deps.suppressions.delete(address, by=who(router, actor), at=utcnow(),
                                    category=category)
    if category is not None:
        if not ours:
            raise NotFound(f"{address} is not suppressed for {category} mail.",
                           details={"email": address, "category": category})
        logger.info("removed a category entry from the suppression list", category=category)
        return Response(status_code=204, body=None)
    try:
        theirs = deps.account_suppressions.remove(address)
    except ClientError as error:
        raise SesUnavailable(
            f"{address} is off Mailroom's list, but SES's account-level list could not be "
            f"changed ({error.response.get('Error', {}).get('Code', 'error')}): send the "
            "DELETE again.", details={"email": address}) from error
    if not (ours or theirs):
        categories = sorted(str(entry.category)
                            for entry in deps.suppressions.categories(address, utcnow()))
        raise NotFound(
            f"{address} is not suppressed for all mail" + (
                f"; it is for {', '.join(categories)} mail: remove those with `category`."
                if categories else "."),
            details={"email": address, "categories": categories})
    logger.info("removed an address from the suppression lists", ours=ours, ses=theirs)
    return Response(status_code=204, body=None)


def _listed_address(email: str) -> str:
    """The key to look `email` up by; something that cannot be an address is on no list."""
    address = lookup_key(unquote(email))
    if address is None:
        raise NotFound("That is not an email address, so it is not suppressed.",
                       details={"email": unquote(email)[:MAX_ADDRESS_LENGTH]})
    return address
