"""What the local console shows, read where the pipeline keeps it: the outbox's `.eml` files,
each message's record through the API's own MessageStore and views, the suppression list,
the sending switch and reputation as `/v1/reputation` computes them, and the templates in
`templates/`, compiled and rendered through the same code the SES simulator renders with."""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.message import EmailMessage
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

from mailroom.errors import MailroomError
from mailroom.models import Message, Status, utcnow
from mailroom.ports import Counters, MessageStore, SendingSwitch, SuppressionStore
from mailroom.reputation import ReputationPolicy, assess
from mailroom.templates import DEFAULT_CATALOG_PATH, TemplateCatalog

# SES message ids and Mailroom's UUIDs: letters, digits and dashes. Anything else (a path,
# a dot) names no message and never reaches the file system.
MESSAGE_KEY = re.compile(r"[A-Za-z0-9-]{1,100}")
TEMPLATE_NAME = re.compile(r"[A-Za-z0-9_-]{1,100}")
# The outbox list stops here: the console is for the mail you just sent.
OUTBOX_LIMIT = 200
# Entries whose status the list shows; older ones show it once opened.
STATUS_LOOKUPS = 40
# How long a looked-up status is reused: the page polls every second and a half; the
# newest mail changes fastest, older mail rarely (a late complaint).
STATUS_TTL_SECONDS = 1.5
OLDER_STATUS_TTL_SECONDS = 15.0
NEWEST = 10
PREVIEW_DATA_MAX_BYTES = 300_000


class NotFound(Exception):
    """Nothing by that id or name; the message says what was looked for."""


class PreviewFailed(Exception):
    """A template preview that cannot be shown: `code` and a message saying what to fix."""

    def __init__(self, code: str, message: str, details: Any = None) -> None:
        super().__init__(message)
        self.code, self.message, self.details = code, message, details


def json_ready(model: Any) -> dict[str, Any]:
    """A view model as the API would answer it."""
    result: dict[str, Any] = model.model_dump(mode="json", by_alias=True)
    return result


# --- the outbox --------------------------------------------------------------------------


@dataclass(frozen=True)
class OutboxSummary:
    id: str  # the SES message id, the file's name
    at: str
    from_: str
    to: str
    subject: str

    def to_json(self) -> dict[str, str]:
        return {"id": self.id, "at": self.at, "from": self.from_, "to": self.to,
                "subject": self.subject}


class Outbox:
    """The `.eml` files the SES simulator writes, newest first. Files never change once
    written (write, then rename), so each is parsed once."""

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)
        self._summaries: dict[tuple[str, int], OutboxSummary] = {}
        self._lock = threading.Lock()

    def path(self, ses_message_id: str) -> Path:
        if not MESSAGE_KEY.fullmatch(ses_message_id):
            raise NotFound(f"No message {ses_message_id!r} in the outbox.")
        path = self.directory / f"{ses_message_id}.eml"
        if not path.is_file():
            raise NotFound(f"No message {ses_message_id} in the outbox.")
        return path

    def has(self, ses_message_id: str) -> bool:
        try:
            self.path(ses_message_id)
        except NotFound:
            return False
        return True

    def summaries(self, limit: int = OUTBOX_LIMIT) -> tuple[int, list[OutboxSummary]]:
        """How many messages the outbox holds, and the newest `limit` of them."""
        try:
            files = [(entry.stat().st_mtime_ns, entry) for entry in self.directory.iterdir()
                     if entry.suffix == ".eml" and MESSAGE_KEY.fullmatch(entry.stem)]
        except FileNotFoundError:
            return 0, []
        files.sort(key=lambda pair: (pair[0], pair[1].name), reverse=True)
        summaries = []
        for mtime, path in files[:limit]:
            try:
                summaries.append(self._summary(path, mtime))
            except OSError:
                continue  # removed meanwhile
        return len(files), summaries

    def _summary(self, path: Path, mtime: int) -> OutboxSummary:
        key = (path.name, mtime)
        with self._lock:
            known = self._summaries.get(key)
        if known is not None:
            return known
        message = _parse(path.read_bytes())
        summary = OutboxSummary(
            id=path.stem,
            at=_sent_at(message, mtime),
            from_=str(message["From"] or ""),
            to=str(message["To"] or ""),
            subject=str(message["Subject"] or ""),
        )
        with self._lock:
            self._summaries[key] = summary
        return summary

    def message(self, ses_message_id: str) -> dict[str, Any]:
        """The message as the console shows it: summary, headers, text; `has_html` tells
        whether the HTML route has something to show."""
        path = self.path(ses_message_id)
        raw = path.read_bytes()
        message = _parse(raw)
        html = _body(message, "html")
        return {
            **self._summary(path, path.stat().st_mtime_ns).to_json(),
            "headers": [{"name": name, "value": str(value)} for name, value in message.items()],
            "text": _body(message, "plain"),
            "has_html": html is not None,
            "size": len(raw),
        }

    def html(self, ses_message_id: str) -> str:
        html = _body(_parse(self.path(ses_message_id).read_bytes()), "html")
        if html is None:
            raise NotFound(f"Message {ses_message_id} has no HTML part.")
        return html

    def raw(self, ses_message_id: str) -> bytes:
        return self.path(ses_message_id).read_bytes()


def _parse(raw: bytes) -> EmailMessage:
    message = message_from_bytes(raw, _class=EmailMessage, policy=policy.default)
    assert isinstance(message, EmailMessage)
    return message


def _body(message: EmailMessage, subtype: str) -> str | None:
    part = message.get_body(preferencelist=(subtype,))
    if part is None or part.get_content_subtype() != subtype:
        return None
    content = part.get_content()
    return content if isinstance(content, str) else None


def _sent_at(message: EmailMessage, mtime_ns: int) -> str:
    try:
        return parsedate_to_datetime(str(message["Date"])).astimezone(UTC).isoformat()
    except (TypeError, ValueError):
        return datetime.fromtimestamp(mtime_ns / 1e9, UTC).isoformat()


# --- the pipeline's records --------------------------------------------------------------


@dataclass
class Pipeline:
    """Each message's record, the suppression list and the guard's state, read through the
    ports and views the API function uses (so the console shows what the API answers)."""

    messages: MessageStore
    suppressions: SuppressionStore
    switch: SendingSwitch
    counters: Counters
    reputation: ReputationPolicy
    clock: Callable[[], float] = time.monotonic
    # SES message id → Mailroom id, once known (it never changes).
    _ids: dict[str, str] = field(default_factory=dict)
    _statuses: dict[str, tuple[float, str]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @classmethod
    def from_environment(cls) -> Pipeline:
        """The api function's own dependencies, from the environment the local stack set."""
        from handlers.api.dependencies import Dependencies
        from mailroom.settings import api_settings

        deps = Dependencies.from_settings(api_settings())
        return cls(messages=deps.messages, suppressions=deps.suppressions, switch=deps.switch,
                   counters=deps.counters, reputation=deps.reputation)

    def record(self, key: str) -> Message | None:
        """The message by Mailroom id or by SES message id; None when neither knows it."""
        if not MESSAGE_KEY.fullmatch(key):
            return None
        with self._lock:
            known = self._ids.get(key)
        message = self.messages.get(known or key)
        if message is None:
            message = self.messages.find_by_ses_message_id(key)
            if message is not None:
                with self._lock:
                    self._ids[key] = message.id
        return message

    def view(self, message: Message) -> dict[str, Any]:
        """The message as `GET /v1/emails/{id}` answers it."""
        from handlers.api.models import EmailView, Waiting

        view = EmailView.of(message)
        if message.status is Status.QUEUED:
            state = self.switch.state()
            if state.paused:
                view.waiting = Waiting(reason="paused", since=state.since)
        return json_ready(view)

    def status(self, ses_message_id: str, ttl: float = STATUS_TTL_SECONDS) -> str | None:
        """The status of the message SES knows by this id, looked up at most every `ttl`
        seconds; None while the sender has not recorded the send yet."""
        now = self.clock()
        with self._lock:
            cached = self._statuses.get(ses_message_id)
        if cached is not None and now - cached[0] < ttl:
            return cached[1]
        message = self.record(ses_message_id)
        if message is None:
            return None
        with self._lock:
            self._statuses[ses_message_id] = (now, message.status.value)
        return message.status.value

    def suppression_list(self, limit: int = 100) -> dict[str, Any]:
        from handlers.api.models import SuppressionView

        items, next_cursor = self.suppressions.list(utcnow(), None, limit, None)
        return {"items": [json_ready(SuppressionView.of(item)) for item in items],
                "more": next_cursor is not None}

    def guard(self) -> dict[str, Any]:
        """The sending switch and the reputation figures, as `GET /v1/sending` and
        `GET /v1/reputation` answer them."""
        from handlers.api.models import ReputationView, SendingView

        figures = assess(self.counters, self.switch, self.reputation, utcnow())
        reputation = ReputationView(
            window_hours=figures.window_hours, since=figures.since, sends=figures.sends,
            bounces=figures.bounces, complaints=figures.complaints,
            bounce_rate=figures.bounce_rate, complaint_rate=figures.complaint_rate,
            state=figures.level.value,  # type: ignore[arg-type]
            thresholds=figures.thresholds())  # type: ignore[arg-type]
        return {"sending": json_ready(SendingView.of(self.switch.state())),
                "reputation": json_ready(reputation)}


# --- templates ---------------------------------------------------------------------------


@dataclass(frozen=True)
class _Compiled:
    fingerprint: str
    catalog: TemplateCatalog | None
    descriptions: Mapping[str, str]
    error: str | None
    # The sources differ from compiled_templates.json, which is what the stack sends with.
    stale: bool


class TemplatePreviews:
    """Every template, compiled from its sources when they change (so an edit shows at
    once) and rendered with EmailTemplate.render, the SES simulator's own renderer. Without
    a templates/ folder (an installed package), the compiled catalog."""

    def __init__(self, source_dir: Path | None, compiled_path: Path = DEFAULT_CATALOG_PATH
                 ) -> None:
        self.source_dir = Path(source_dir) if source_dir else None
        self.compiled_path = compiled_path
        self._compiled: _Compiled | None = None
        self._lock = threading.Lock()

    def fingerprint(self) -> str:
        """Changes whenever a source file is added, removed or written."""
        if self.source_dir is None or not self.source_dir.is_dir():
            return "compiled"
        stamps = sorted(
            f"{path.relative_to(self.source_dir)}:{stat.st_mtime_ns}:{stat.st_size}"
            for path in self.source_dir.rglob("*")
            if path.is_file() for stat in [path.stat()])
        return str(hash(tuple(stamps)) & 0xFFFFFFFFFFFF)

    def _current(self) -> _Compiled:
        fingerprint = self.fingerprint()
        with self._lock:
            if self._compiled is None or self._compiled.fingerprint != fingerprint:
                self._compiled = self._compile(fingerprint)
            return self._compiled

    def _compile(self, fingerprint: str) -> _Compiled:
        if fingerprint == "compiled" or self.source_dir is None:
            return _Compiled(fingerprint, TemplateCatalog.load(self.compiled_path), {}, None,
                             stale=False)
        from mailroom_dev.templates_build import (
            TemplateBuildError,
            build_catalog,
            render_catalog_json,
        )

        try:
            built = build_catalog(self.source_dir)
        except TemplateBuildError as error:
            return _Compiled(fingerprint, None, {}, str(error), stale=True)
        try:
            stale = self.compiled_path.read_text(encoding="utf-8") != render_catalog_json(built)
        except OSError:
            stale = True
        return _Compiled(fingerprint, TemplateCatalog.from_dict(built),
                         self._descriptions(built), None, stale)

    def _descriptions(self, built: Mapping[str, Any]) -> dict[str, str]:
        assert self.source_dir is not None
        descriptions = {}
        for name in built:
            try:
                meta = json.loads((self.source_dir / name / "meta.json").read_text("utf-8"))
                descriptions[name] = str(meta.get("description") or "")
            except (OSError, ValueError, AttributeError):
                descriptions[name] = ""
        return descriptions

    def listing(self) -> dict[str, Any]:
        compiled = self._current()
        items = [] if compiled.catalog is None else [
            {"name": template.name, "description": compiled.descriptions.get(template.name, ""),
             "subject": template.subject, "variables": list(template.variables),
             "types": dict(template.types), "example": _plain(template.example)}
            for template in compiled.catalog]
        return {"version": compiled.fingerprint, "items": items, "error": compiled.error,
                "stale": compiled.stale}

    def render(self, name: str, data: Any) -> dict[str, str]:
        compiled = self._current()
        if compiled.catalog is None:
            raise PreviewFailed("template_build_failed", compiled.error or "The build failed.")
        if not TEMPLATE_NAME.fullmatch(name) or name not in compiled.catalog:
            raise NotFound(f"There is no template named {name!r}.")
        template = compiled.catalog.get(name)
        try:
            rendered = template.render(data)
        except MailroomError as error:
            raise PreviewFailed(error.code, error.message, error.details) from None
        except Exception as error:  # pybars raises assorted types for data it can't render
            raise PreviewFailed("render_failed", f"Rendering failed: {error}") from None
        return {"subject": rendered.subject, "html": rendered.html, "text": rendered.text}


def _plain(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    return value
