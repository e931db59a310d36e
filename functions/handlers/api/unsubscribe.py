"""`/v1/unsubscribe/{token}`: one-click unsubscribe (RFC 8058). No API key: the signed token
is the authority, and it names a message and a category, never an address."""

from __future__ import annotations

import html
from typing import Annotated, Any
from urllib.parse import parse_qs

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Path
from aws_lambda_powertools.event_handler.router import APIGatewayRouter

from mailroom.errors import LinkExpired, MailroomError, NotFound, RequestValidationError
from mailroom.models import (
    Notification,
    NotificationType,
    Suppression,
    SuppressionReason,
    utcnow,
)
from mailroom.shape import ROUTES
from mailroom.unsubscribe import ONE_CLICK_BODY, ExpiredToken, InvalidToken, UnsubscribeToken

from .dependencies import Dependencies, current, logger
from .models import Unsubscribed, responses
from .routing import route

router = APIGatewayRouter()
TAG = "unsubscribe"
MAX_TOKEN_LENGTH = 300
Token = Annotated[str, Path(max_length=MAX_TOKEN_LENGTH,
                            description="The signed token of a List-Unsubscribe link.")]
PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<meta name="robots" content="noindex"><title>{title}</title>
<style>body{{font:16px/1.5 system-ui,sans-serif;max-width:32rem;margin:4rem auto;padding:0 1rem;
color:#111827}}button{{font:inherit;padding:.6rem 1.2rem;border:0;border-radius:6px;
background:#2563eb;color:#fff;cursor:pointer}}</style></head>
<body><h1>{title}</h1>{body}</body></html>
"""
CONFIRM = """<p>You will stop receiving {category} mail. Messages you asked for, such as password
resets and receipts, still reach you.</p>
<form method="post"><input type="hidden" name="List-Unsubscribe" value="One-Click">
<button type="submit">Unsubscribe</button></form>"""
DONE = """<p>You will receive no more {category} mail. Messages you asked for, such as password
resets and receipts, still reach you.</p>"""
# The page's own form posts here; nothing else on it loads or runs.
PAGE_HEADERS = {"Cache-Control": "no-store",
                "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; "
                                           "form-action 'self'"}


@route(router, ROUTES.unsubscribe_page, tag=TAG,
       summary="A confirmation page whose button makes the one-click POST",
       responses=responses(200, None, "An HTML page", 404, 410, public=True))
def unsubscribe_page(token: Token) -> Response[str]:
    """Changes nothing: a link scanner following the URL must not unsubscribe anyone. A
    person's browser gets a page for a bad link too; anything else the error body."""
    try:
        verified = _verified(current(router), token)
    except MailroomError as error:
        return _link_failed(error)
    category = html.escape(verified.category)
    return _page(200, f"Unsubscribe from {category} mail?", CONFIRM.format(category=category))


@route(router, ROUTES.unsubscribe, tag=TAG,
       summary="One-click unsubscribe: stop this category of mail to the message's recipient",
       responses=responses(200, Unsubscribed, "Unsubscribed (also when already)", 404, 410,
                           422, public=True))
def unsubscribe(token: Token) -> Response[Any]:
    """The body is the form mailbox providers send (`List-Unsubscribe=One-Click`), not JSON.
    The address's entry for the category is written once; a repeat answers the same. The
    confirmation page's button (a person's browser) gets a page back."""
    try:
        done = _unsubscribe(current(router), token)
    except MailroomError as error:
        return _link_failed(error)
    if _for_a_person():
        category = html.escape(done.category)
        return _page(200, "You are unsubscribed", DONE.format(category=category))
    return Response(status_code=200, content_type="application/json", body=done.model_dump())


def _link_failed(error: MailroomError) -> Response[str]:
    """A person's browser gets a page saying why the link failed; anything else the error
    body, raised for the resolver's error handler."""
    if not _for_a_person():
        raise error
    return _page(error.http_status, "This link does not work",
                 f"<p>{html.escape(error.message)}</p>")


def _unsubscribe(deps: Dependencies, token: str) -> Unsubscribed:
    verified = _verified(deps, token)
    form = parse_qs(router.current_event.body or "", keep_blank_values=True)
    if form.get("List-Unsubscribe") != ["One-Click"]:
        raise RequestValidationError(
            f"A one-click unsubscribe posts the form body `{ONE_CLICK_BODY}` (RFC 8058).",
            details={"field": "body", "expected": ONE_CLICK_BODY})
    message = deps.messages.get(verified.message_id)
    if message is None:
        raise NotFound("This unsubscribe link's message is no longer known.")
    now = utcnow()
    entry = Suppression(email=message.to, reason=SuppressionReason.UNSUBSCRIBED,
                        created_at=now, source="unsubscribe", category=verified.category,
                        by="recipient (one-click unsubscribe)",
                        note=f"List-Unsubscribe of message {message.id}")
    if deps.suppressions.add(entry, now):
        deps.publisher.publish([Notification(
            id=f"{message.id}:unsubscribed:{verified.category}",
            type=NotificationType.UNSUBSCRIBED, occurred_at=now, message_id=message.id,
            recipient=message.to, template=message.template, tags=message.tags,
            suppression=entry)])
        logger.info("unsubscribed from a category", category=verified.category)
    return Unsubscribed(category=verified.category)


def _for_a_person() -> bool:
    """A browser asks for HTML first; mailbox providers and scripts do not."""
    accept = router.current_event.headers.get("accept") or ""
    return accept.lstrip().startswith("text/html")


def _page(status: int, title: str, body: str) -> Response[str]:
    return Response(status_code=status, content_type="text/html; charset=utf-8",
                    body=PAGE.format(title=title, body=body), headers=PAGE_HEADERS)


def _verified(deps: Dependencies, token: str) -> UnsubscribeToken:
    """The token's contents, checked against every key still valid — again with a fresh
    read of the keys if that fails, in case the key rotated moments ago."""
    now = utcnow()
    for fresh in (False, True):
        try:
            return UnsubscribeToken.verify(token, deps.signing_keys.valid(fresh=fresh), now)
        except InvalidToken:
            continue
        except ExpiredToken:
            raise LinkExpired("This unsubscribe link has expired. Use the link in a more "
                              "recent message.") from None
    raise NotFound("This is not an unsubscribe link Mailroom made, or it was altered.")
