"""The local console: one page on http://127.0.0.1:8025 showing the whole pipeline — the
outbox with each message rendered, its timeline and failure diagnosis, the suppression list,
the guard's state, and every template previewed with editable data — and the small JSON
routes it polls. Like the rest of the local stack it listens on loopback only; since it shows
mail contents it also answers only requests addressed to it by a loopback name (a rebound
DNS name is refused) and never a cross-site request.

    GET  /                             the page (console.html)
    GET  /api/outbox                   newest first: {"total", "items": [{id, at, from, to,
                                       subject, status}]}
    GET  /api/messages/{id}            by SES message id or Mailroom id: {"email", "record"}
    GET  /messages/{ses_id}/html       the HTML part, for a sandboxed frame
    GET  /messages/{ses_id}.eml        the raw message, as a download
    GET  /api/suppressions             {"items", "more"}
    GET  /api/guard                    {"sending", "reputation"}: /v1/sending, /v1/reputation
    GET  /api/templates                {"version", "items", "error", "stale"}
    POST /api/templates/{name}/preview body {"data"} → {"rendered": {"subject", "html",
                                       "text"}, "error": null} or {"rendered": null, "error"}
"""

from __future__ import annotations

import json
import logging
import re
import secrets
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from .console_data import (
    NEWEST,
    OLDER_STATUS_TTL_SECONDS,
    PREVIEW_DATA_MAX_BYTES,
    STATUS_LOOKUPS,
    STATUS_TTL_SECONDS,
    NotFound,
    Outbox,
    Pipeline,
    PreviewFailed,
    TemplatePreviews,
)
from .httpserver import LOOPBACK, BodyTooLarge, JsonRequestHandler, LoopbackServer, Served

log = logging.getLogger("mailroom_dev.local")

DEFAULT_CONSOLE_PORT = 8025
PAGE = Path(__file__).with_name("console.html")
LOOPBACK_NAMES = (LOOPBACK, "localhost")
# The page: its own scripts only (by nonce), requests to its own origin only, frames from
# its own origin (the message HTML route) or srcdoc (template previews, which inherit this
# policy: inline styles, no scripts, no remote images).
PAGE_POLICY = ("default-src 'none'; script-src 'nonce-{nonce}'; style-src 'unsafe-inline'; "
               "img-src 'self' data:; connect-src 'self'; frame-src 'self'; "
               "base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
# A message's HTML: a sandbox of its own (no scripts, a unique origin), nothing fetched.
MESSAGE_POLICY = ("sandbox; default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
                  "font-src data:; frame-ancestors 'self'")
COMMON_HEADERS = [("Cache-Control", "no-store"), ("X-Content-Type-Options", "nosniff"),
                  ("Referrer-Policy", "no-referrer")]
# Sec-Fetch-Site values of requests the page itself makes, or a person typing the URL.
OWN_REQUESTS = {"same-origin", "none"}
_MESSAGE_ROUTE = re.compile(r"/api/messages/([^/]+)")
_HTML_ROUTE = re.compile(r"/messages/([^/]+)/html")
_RAW_ROUTE = re.compile(r"/messages/([^/]+)\.eml")
_PREVIEW_ROUTE = re.compile(r"/api/templates/([^/]+)/preview")


class Console(Served):
    """Serves the console on 127.0.0.1:`port` (0 picks a free port)."""

    def __init__(self, outbox: Outbox, pipeline: Pipeline, templates: TemplatePreviews,
                 port: int = DEFAULT_CONSOLE_PORT) -> None:
        self.outbox = outbox
        self.pipeline = pipeline
        self.templates = templates
        self._server = LoopbackServer(_ConsoleRequestHandler, port, app=self)

    # -- what the routes answer ---------------------------------------------------------

    def outbox_listing(self) -> dict[str, Any]:
        total, summaries = self.outbox.summaries()
        items = []
        for index, summary in enumerate(summaries):
            ttl = STATUS_TTL_SECONDS if index < NEWEST else OLDER_STATUS_TTL_SECONDS
            status = self.pipeline.status(summary.id, ttl) if index < STATUS_LOOKUPS else None
            items.append({**summary.to_json(), "status": status})
        return {"total": total, "items": items}

    def message(self, key: str) -> dict[str, Any]:
        """The email as written to the outbox and the record the API keeps, by either id."""
        record = self.pipeline.record(key)
        ses_id = record.ses_message_id if record is not None else key
        email = self.outbox.message(ses_id) if ses_id and self.outbox.has(ses_id) else None
        if email is None and record is None:
            raise NotFound(f"No message with id {key}: neither the outbox nor the message "
                           "table knows it.")
        return {"email": email, "record": self.pipeline.view(record) if record else None}


def host_allowed(host: str | None, port: int) -> bool:
    """Whether a Host header names this console by a loopback name (DNS rebinding: a page
    on evil.example that re-points its name to 127.0.0.1 still sends Host: evil.example)."""
    return host is not None and host.lower() in {f"{name}:{port}" for name in LOOPBACK_NAMES}


def origin_allowed(origin: str | None, port: int) -> bool:
    """Whether an Origin header (absent: not a cross-origin browser request) is this one."""
    if origin is None:
        return True
    parts = urlsplit(origin)
    return parts.scheme == "http" and host_allowed(parts.netloc, port)


class _ConsoleRequestHandler(JsonRequestHandler):
    server_version = "mailroom-local-console"

    @property
    def console(self) -> Console:
        return self.server.app  # type: ignore[attr-defined,no-any-return]

    def do_GET(self) -> None:
        self._dispatch()

    def do_HEAD(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

    def do_PUT(self) -> None:
        self._dispatch()

    def do_DELETE(self) -> None:
        self._dispatch()

    def _dispatch(self) -> None:
        try:
            if not self._addressed_to_us():
                return
            path = urlsplit(self.path).path
            self._route(path)
        except NotFound as error:
            self._error(404, "not_found", str(error))
        except BodyTooLarge:
            self.discard_body()
            self._error(413, "payload_too_large",
                        f"Preview data is limited to {PREVIEW_DATA_MAX_BYTES} bytes.")
        except Exception:  # a console bug must not take the page down with a bare reset
            log.exception("console: %s %s failed", self.command, self.path)
            self._error(500, "internal_error", "The console failed; see the make dev output.")

    def _addressed_to_us(self) -> bool:
        port = self.console.port
        if not host_allowed(self.headers.get("Host"), port):
            self.discard_body()
            self._error(403, "forbidden_host",
                        f"The console answers only http://{LOOPBACK}:{port} and "
                        f"http://localhost:{port}.")
            return False
        site = self.headers.get("Sec-Fetch-Site")
        page_itself = urlsplit(self.path).path == "/" and self.command in ("GET", "HEAD")
        cross_site = site is not None and site not in OWN_REQUESTS
        if not origin_allowed(self.headers.get("Origin"), port) or (cross_site
                                                                   and not page_itself):
            self.discard_body()
            self._error(403, "cross_origin", "The console answers only its own page.")
            return False
        return True

    def _route(self, path: str) -> None:
        console = self.console
        if self.command == "POST":
            if match := _PREVIEW_ROUTE.fullmatch(path):
                return self._preview(unquote(match.group(1)))
            return self._not_allowed(path)
        if self.command not in ("GET", "HEAD"):
            return self._not_allowed(path)
        if path == "/":
            return self._page()
        if path == "/api/outbox":
            return self._json(200, console.outbox_listing())
        if match := _MESSAGE_ROUTE.fullmatch(path):
            return self._json(200, console.message(unquote(match.group(1))))
        if match := _HTML_ROUTE.fullmatch(path):
            html = console.outbox.html(unquote(match.group(1)))
            return self.send_body(200, html.encode(), [
                *COMMON_HEADERS, ("Content-Security-Policy", MESSAGE_POLICY)],
                content_type="text/html; charset=utf-8")
        if match := _RAW_ROUTE.fullmatch(path):
            ses_id = unquote(match.group(1))
            return self.send_body(200, console.outbox.raw(ses_id), [
                *COMMON_HEADERS, ("Content-Disposition", f'attachment; filename="{ses_id}.eml"')],
                content_type="message/rfc822")
        if path == "/api/suppressions":
            return self._json(200, console.pipeline.suppression_list())
        if path == "/api/guard":
            return self._json(200, console.pipeline.guard())
        if path == "/api/templates":
            return self._json(200, console.templates.listing())
        raise NotFound(f"Nothing at {path}.")

    def _page(self) -> None:
        nonce = secrets.token_urlsafe(16)
        page = PAGE.read_text(encoding="utf-8").replace("{{nonce}}", nonce)
        self.send_body(200, page.encode(), [
            *COMMON_HEADERS, ("Content-Security-Policy", PAGE_POLICY.format(nonce=nonce))],
            content_type="text/html; charset=utf-8")

    def _preview(self, name: str) -> None:
        if "application/json" not in self.headers.get("Content-Type", "").lower():
            # Also what keeps a plain HTML form on another site from posting here.
            self.discard_body()
            return self._error(415, "unsupported_media_type", "Send the data as JSON.")
        body = self.read_body(PREVIEW_DATA_MAX_BYTES)
        try:
            request = json.loads(body or b"{}")
        except (ValueError, UnicodeDecodeError) as error:
            return self._error(400, "invalid_json", f"The body is not valid JSON: {error}")
        if not isinstance(request, dict) or "data" not in request:
            return self._error(422, "validation_error",
                               'Send {"data": {...}}: the template data as a JSON object.')
        # Data that does not render is what the editor is for, not a failed request: the
        # answer says why (and the page's console stays free of failed-request noise).
        try:
            rendered = self.console.templates.render(name, request["data"])
        except PreviewFailed as error:
            return self._json(200, {"rendered": None, "error": {
                "code": error.code, "message": error.message, "details": error.details}})
        self._json(200, {"rendered": rendered, "error": None})

    def _not_allowed(self, path: str) -> None:
        self.discard_body()
        allow = "POST" if _PREVIEW_ROUTE.fullmatch(path) else "GET, HEAD"
        self._json(405, {"error": {"code": "method_not_allowed", "message":
                                   f"{self.command} is not allowed here; use {allow}.",
                                   "details": None}}, [("Allow", allow)])

    def _json(self, status: int, payload: Any, headers: list[tuple[str, str]] | None = None
              ) -> None:
        self.send_json(status, payload, [*COMMON_HEADERS, *(headers or [])])

    def _error(self, status: int, code: str, message: str, details: Any = None) -> None:
        self._json(status, {"error": {"code": code, "message": message, "details": details}})
