"""The runtime template catalog: which email templates exist, what data each needs, and how
each renders. It reads `compiled_templates.json`, which `python -m mailroom_dev.templates_build`
compiles from `templates/` (never edit the JSON by hand).

The API uses it to reject bad `data` before anything is queued, the preview route and the local
SES simulator to render, the infra to create the SES templates. Rendering uses pybars3, the
Handlebars dialect SES speaks, so `{{x}}` is HTML-escaped here exactly as SES escapes it.
Importing this module stays cheap (no Jinja2, pybars only once something renders), because
every cold start of the API function pays for it.

Each variable has a declared type (`templates/README.md`): "text", "number", "url", or a list
of one of those or of records (`[{"name": "text", "quantity": "number"}]`). `check` enforces
the types, and `data_schema_for` writes the same rules as a JSON Schema; both live here so
they can't drift apart.
"""

from __future__ import annotations

import functools
import json
import math
import re
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

from mailroom.errors import MissingTemplateData, RequestValidationError, UnknownTemplate

DEFAULT_CATALOG_PATH = Path(__file__).with_name("compiled_templates.json")

# A declared type as meta.json writes it: one of SCALAR_TYPES, or a one-item list holding a
# scalar type or a record of field name to scalar type.
VariableType = str | list[Any]
SCALAR_TYPES = ("text", "number", "url")

# Names, ids, formatted prices, a sentence: nothing a template prints needs more, and the
# bound keeps one value from filling a message.
TEXT_MAX_LENGTH = 1_000
# CloudFront and common web servers refuse longer request lines; signed links can get long.
URL_MAX_LENGTH = 8_192
# SES refuses a SendEmail whose TemplateData is longer (in characters).
TEMPLATE_DATA_MAX_LENGTH = 262_144
# The longest line RFC 5322 allows in a header; the subject is one header line.
SUBJECT_MAX_LENGTH = 998

URL_SCHEMES = ("https", "http", "mailto")
# Only links that open a page or a mail program reach an href: https/http with a host, or
# mailto with an address; no spaces or control characters. Written so that it means the same
# in Python and in ECMA-262 (JSON Schema's regex dialect): explicit classes, no flags, and
# `(?![\s\S])` for "end of input", since Python's `$` also matches before a final newline.
URL_PATTERN = (
    r"^(?:[Hh][Tt][Tt][Pp][Ss]?://[^\x00-\x20\x7f/?#]|[Mm][Aa][Ii][Ll][Tt][Oo]:[^\x00-\x20\x7f])"
    r"[^\x00-\x20\x7f]*(?![\s\S])"
)
_URL = re.compile(URL_PATTERN)
_URL_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*(?=:)")
_URL_BAD_CHARACTER = re.compile(r"[\x00-\x20\x7f]")
_EXPECTED = {
    "text": "text (a JSON string)",
    "number": "a number",
    "url": "a link starting with https://, http:// or mailto:",
    "list": "a list",
    "object": "an object",
}
_PLACEHOLDER = re.compile(r"\{\{(\{?)(.*?)\}?\}\}", re.DOTALL)
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


@dataclass(frozen=True)
class RenderedEmail:
    subject: str
    html: str
    text: str


@dataclass(frozen=True)
class EmailTemplate:
    name: str
    subject: str
    html: str
    text: str
    # Each variable the template reads from `data` and its declared type.
    types: Mapping[str, VariableType]
    # Data that renders the template, for previews, docs and "try it" commands.
    example: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    # The category of mail it is (None: transactional, mail the recipient asked for): an
    # address's entry for that category stops it.
    category: str | None = None
    # Its mail carries a one-click unsubscribe from `category` (RFC 8058 headers).
    unsubscribe: bool = False
    # Top-level names the template reads, sorted (derived from `types`).
    variables: tuple[str, ...] = field(init=False)
    # List variables and the fields each of their items needs, sorted (derived from `types`).
    lists: Mapping[str, tuple[str, ...]] = field(init=False)
    # JSON Schema (draft 2020-12) of `data`: what `check` accepts, for other tools. A plain
    # dict, so that it serializes as it is; don't change it.
    data_schema: dict[str, Any] = field(init=False)

    def __post_init__(self) -> None:
        lists = {
            name: tuple(sorted(kind[0])) if isinstance(kind[0], Mapping) else ()
            for name, kind in sorted(self.types.items())
            if isinstance(kind, list)
        }
        object.__setattr__(self, "variables", tuple(sorted(self.types)))
        object.__setattr__(self, "lists", MappingProxyType(lists))
        object.__setattr__(self, "data_schema", data_schema_for(self.types))

    def missing(self, data: Mapping[str, Any]) -> list[str]:
        """Names the template needs that `data` lacks (absent or null): top-level names sorted,
        then item fields of list variables as `items[2].price`, in list order. Values of the
        wrong shape are not reported here; `check` rejects them."""
        absent = [name for name in self.variables if data.get(name) is None]
        for list_name, fields in self.lists.items():
            entries = data.get(list_name)
            if not isinstance(entries, list):
                continue
            for index, entry in enumerate(entries):
                if isinstance(entry, Mapping):
                    absent += [
                        f"{list_name}[{index}].{name}" for name in fields if entry.get(name) is None
                    ]
        return absent

    def check(self, data: Any) -> None:
        """Raise the API's error for `data` this template can't send; return None if fine.

        In order: `data` must be an object; every declared name present and not null
        (MissingTemplateData, all of them listed); each value of its declared type
        (RequestValidationError naming the first wrong field); the data short enough for
        SES; the subject it makes no longer than an email header line allows."""
        if not isinstance(data, Mapping):
            raise RequestValidationError(
                f"Template '{self.name}' needs `data` to be a JSON object with: "
                f"{', '.join(self.variables)}.",
                details={"field": "data", "expected": "object", "received": _json_name(data)},
            )
        if absent := self.missing(data):
            raise MissingTemplateData(
                f"Template '{self.name}' needs data for: {', '.join(absent)}. Add them to `data`.",
                details={"missing": absent},
            )
        for name in self.variables:
            _check_value(self.types[name], data[name], f"data.{name}")
        _check_data_size(data)
        _check_carriable(data)
        self._check_subject_line(data)
        self._check_subject_length(data)

    def render(self, data: Mapping[str, Any]) -> RenderedEmail:
        """Render all three parts the way SES does. Raises the same errors as `check`."""
        self.check(data)
        context = dict(data)
        return RenderedEmail(
            subject=_render_handlebars(self.subject, context),
            html=_render_handlebars(self.html, context),
            text=_render_handlebars(self.text, context),
        )

    def ses_name(self, prefix: str = "") -> str:
        """The name of this template in SES; a prefix lets several stacks share an account."""
        return f"{prefix}{self.name}"

    def _check_subject_line(self, data: Mapping[str, Any]) -> None:
        """The subject is one header line: a line break in a value it prints would end it
        (SES refuses such a message, after it was accepted here)."""
        for name in _subject_plan(self.subject).names:
            value = data.get(name)
            if isinstance(value, str) and _HEADER_BREAKING.search(value):
                raise RequestValidationError(
                    f"`data.{name}` goes into the subject, a single header line: it must not "
                    "hold line breaks or other control characters.",
                    details={"field": f"data.{name}", "expected": "text on one line"},
                )

    def _check_subject_length(self, data: Mapping[str, Any]) -> None:
        # Rendering needs pybars, whose import alone takes about half a second: an upper bound
        # of the length, from the values' lengths, settles nearly every send without it.
        length = _subject_plan(self.subject).length_bound(data)
        if length is None or length > SUBJECT_MAX_LENGTH:
            length = len(_render_handlebars(self.subject, dict(data)))
        if length > SUBJECT_MAX_LENGTH:
            printed = ", ".join(_subject_plan(self.subject).names) or "the values it prints"
            raise RequestValidationError(
                f"With this data the subject of '{self.name}' is {length} characters long; an "
                f"email subject can be at most {SUBJECT_MAX_LENGTH}. Shorten {printed}.",
                details={"field": "subject", "limit": SUBJECT_MAX_LENGTH, "length": length},
            )


def data_schema_for(types: Mapping[str, VariableType]) -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of the `data` that `check` accepts for these types.
    What a schema can't say, `check` adds: null counts as missing (its own error code), and
    the serialized data must fit SES's TemplateData limit."""
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "description": (
            f"Template data. Serialized as JSON it must stay within "
            f"{TEMPLATE_DATA_MAX_LENGTH} characters (SES's TemplateData limit)."
        ),
        **_record_schema(types),
    }


def _record_schema(fields: Mapping[str, VariableType]) -> dict[str, Any]:
    return {
        "type": "object",
        "required": sorted(fields),
        "properties": {name: _schema_of(kind) for name, kind in sorted(fields.items())},
        # Keys no template reads pass, here and in `check`: SES ignores them, an app can send
        # one object to several templates or add a field before a template starts using it,
        # and a misspelt required name is refused anyway, as missing.
        "additionalProperties": True,
    }


def _schema_of(kind: VariableType | Mapping[str, Any]) -> dict[str, Any]:
    if isinstance(kind, list):
        return {"type": "array", "items": _schema_of(kind[0])}
    if isinstance(kind, Mapping):
        return _record_schema(kind)
    if kind == "text":
        return {"type": "string", "maxLength": TEXT_MAX_LENGTH}
    if kind == "number":
        return {"type": "number"}
    return {
        "type": "string",
        "maxLength": URL_MAX_LENGTH,
        "pattern": URL_PATTERN,
        "description": "A link: https:// or http:// with a host, or mailto: with an address.",
    }


# --- checking a value against its type ---------------------------------------------------


def _check_value(kind: VariableType | Mapping[str, Any], value: Any, where: str) -> None:
    if isinstance(kind, list):
        if not isinstance(value, list):
            raise _wrong_type(where, "list", value)
        for index, item in enumerate(value):
            _check_value(kind[0], item, f"{where}[{index}]")
    elif isinstance(kind, Mapping):
        if not isinstance(value, Mapping):
            raise _wrong_type(where, "object", value)
        for name, field_kind in kind.items():
            _check_value(field_kind, value.get(name), f"{where}.{name}")
    elif kind == "number":
        if isinstance(value, bool) or not isinstance(value, int | float):
            hint = " Send it without quotes." if _is_numeric_string(value) else ""
            raise _wrong_type(where, kind, value, hint)
        if not math.isfinite(value):
            raise RequestValidationError(
                f"`{where}` must be a finite number; NaN and Infinity are not JSON numbers.",
                details={"field": where, "expected": kind},
            )
    elif kind == "text":
        if not isinstance(value, str):
            hint = " Put it in quotes." if _json_name(value) in ("number", "boolean") else ""
            raise _wrong_type(where, kind, value, hint)
        _check_length(where, kind, value, TEXT_MAX_LENGTH)
    else:
        if not isinstance(value, str):
            raise _wrong_type(where, kind, value)
        _check_length(where, kind, value, URL_MAX_LENGTH)
        if not _URL.fullmatch(value):
            raise RequestValidationError(
                f"`{where}` is not a link Mailroom sends: {_url_problem(value)}. Use an "
                "https://, http:// or mailto: link.",
                details={"field": where, "expected": kind, "allowed_schemes": list(URL_SCHEMES)},
            )


def _wrong_type(where: str, expected: str, value: Any, hint: str = "") -> RequestValidationError:
    received = _json_name(value)
    return RequestValidationError(
        f"`{where}` must be {_EXPECTED[expected]}, not {_with_article(received)}.{hint}",
        details={"field": where, "expected": expected, "received": received},
    )


def _check_length(where: str, kind: str, value: str, limit: int) -> None:
    if len(value) > limit:
        raise RequestValidationError(
            f"`{where}` is {len(value)} characters long; the limit is {limit}.",
            details={"field": where, "expected": kind, "limit": limit, "length": len(value)},
        )


def _url_problem(value: str) -> str:
    """Why `value` is not a link we send, in words that say what to change."""
    scheme = _URL_SCHEME.match(value)
    if scheme is None:
        return "it has no scheme: write the whole address, such as https://example.com/start"
    if scheme.group().lower() not in URL_SCHEMES:
        return f"'{scheme.group()[:20]}:' links are not allowed"
    if _URL_BAD_CHARACTER.search(value):
        return (
            "it contains a space, a line break or a control character; percent-encode them "
            "(a space is %20)"
        )
    return "it lacks the host (https://host/path) or the address (mailto:name@example.com)"


def _check_data_size(data: Mapping[str, Any]) -> None:
    try:
        size = len(_TEMPLATE_DATA_JSON.encode(data))
    except (TypeError, ValueError):
        raise RequestValidationError(
            "`data` must hold only JSON values; it holds NaN, Infinity or something JSON "
            "can't carry.",
            details={"field": "data", "expected": "object"},
        ) from None
    if size > TEMPLATE_DATA_MAX_LENGTH:
        raise RequestValidationError(
            f"`data` is {size} characters long as JSON; SES accepts at most "
            f"{TEMPLATE_DATA_MAX_LENGTH}. Send references (URLs, ids) instead of content.",
            details={"field": "data", "limit": TEMPLATE_DATA_MAX_LENGTH, "size": size},
        )


# Line breaks and the other control characters (tab aside) end or corrupt a header line.
_HEADER_BREAKING = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")
# Text no queue, SES or mailbox can carry: lone surrogates, and what SQS refuses.
_NOT_CARRIABLE = re.compile("[\ud800-\udfff\ufffe\uffff]")


def _check_carriable(data: Mapping[str, Any]) -> None:
    if _NOT_CARRIABLE.search(_TEMPLATE_DATA_TEXT.encode(data)):
        raise RequestValidationError(
            "`data` holds text email cannot carry: a lone UTF-16 surrogate, or U+FFFE/U+FFFF.",
            details={"field": "data"},
        )


def _plain_mapping(value: Any) -> dict[str, Any]:
    if isinstance(value, Mapping):
        return dict(value)  # e.g. an example, kept read-only in a MappingProxyType
    raise TypeError(type(value).__name__)


# Writes the data as the SES adapter's json.dumps does (same separators and escaping, so the
# length is what SES counts) but refuses NaN and Infinity, which SES can't parse. Built once.
_TEMPLATE_DATA_JSON = json.JSONEncoder(allow_nan=False, default=_plain_mapping)
# The same, with the characters themselves rather than escapes, to look at what it holds.
_TEMPLATE_DATA_TEXT = json.JSONEncoder(allow_nan=False, default=_plain_mapping,
                                       ensure_ascii=False)


def _is_numeric_string(value: Any) -> bool:
    try:
        return isinstance(value, str) and math.isfinite(float(value))
    except ValueError:
        return False


def _json_name(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, Mapping):
        return "object"
    if isinstance(value, list | tuple):
        return "list"
    return type(value).__name__


def _with_article(json_name: str) -> str:
    if json_name == "null":
        return "null"
    return f"an {json_name}" if json_name[0] in "aeiou" else f"a {json_name}"


# --- the subject's length without rendering ----------------------------------------------


@dataclass(frozen=True)
class _SubjectPlan:
    """The subject as fixed text plus the plain `{{name}}`s it prints; `blocks` when it uses
    #if or #each, whose output only rendering tells."""

    fixed_length: int
    placeholders: tuple[tuple[str, bool], ...]  # (name, HTML-escaped)
    blocks: bool

    @property
    def names(self) -> list[str]:
        return sorted({name for name, _ in self.placeholders})

    def length_bound(self, data: Mapping[str, Any]) -> int | None:
        """At least the rendered subject's length, or None when it can't be bounded."""
        if self.blocks:
            return None
        length = self.fixed_length
        for name, escaped in self.placeholders:
            value = data.get(name)
            if isinstance(value, bool):
                printed = 5  # "false"
            elif isinstance(value, str | int | float):
                printed = len(str(value))
            else:
                return None
            # HTML escaping turns one character into at most six (`"` into `&quot;`).
            length += printed * (6 if escaped else 1)
        return length


@functools.lru_cache(maxsize=64)
def _subject_plan(subject: str) -> _SubjectPlan:
    placeholders = []
    blocks = False
    fixed_length = len(subject)
    for match in _PLACEHOLDER.finditer(subject):
        fixed_length -= len(match.group())
        expression = match.group(2).strip("~ \t\r\n")
        if _NAME.fullmatch(expression):
            placeholders.append((expression, match.group(1) != "{"))
        elif not expression.startswith("!"):  # a comment prints nothing
            blocks = True
    return _SubjectPlan(fixed_length, tuple(placeholders), blocks)


# --- the catalog -------------------------------------------------------------------------


class TemplateCatalog:
    def __init__(self, templates: Mapping[str, EmailTemplate]) -> None:
        self._templates = dict(sorted(templates.items()))

    @classmethod
    def load(cls, path: Path | None = None) -> TemplateCatalog:
        """The catalog in `path`; by default the compiled one shipped beside this module,
        loaded once per process."""
        if path is None:
            return _default_catalog()
        return cls.from_dict(json.loads(Path(path).read_text(encoding="utf-8")))

    @classmethod
    def from_dict(cls, compiled: Mapping[str, Mapping[str, Any]]) -> TemplateCatalog:
        """Build from the compiled JSON's shape: `{name: {subject, html, text, types,
        data_schema, example}}`. A catalog written by hand may give `variables` and `lists`
        (list name to item fields) instead of `types`: each value is then text."""
        return cls(
            {
                name: EmailTemplate(
                    name=name,
                    subject=spec["subject"],
                    html=spec["html"],
                    text=spec["text"],
                    types=MappingProxyType(dict(spec.get("types") or _text_types(spec))),
                    example=MappingProxyType(dict(spec.get("example", {}))),
                    category=spec.get("category"),
                    unsubscribe=bool(spec.get("unsubscribe", False)),
                )
                for name, spec in compiled.items()
            }
        )

    def get(self, name: str) -> EmailTemplate:
        try:
            return self._templates[name]
        except (KeyError, TypeError):
            known = self.names()
            raise UnknownTemplate(
                f"There is no template named '{name}'. Use one of: {', '.join(known)}.",
                details={"template": name, "known": known},
            ) from None

    def names(self) -> list[str]:
        return list(self._templates)

    def __iter__(self) -> Iterator[EmailTemplate]:
        return iter(self._templates.values())

    def __contains__(self, name: object) -> bool:
        return name in self._templates

    def __len__(self) -> int:
        return len(self._templates)


def _text_types(spec: Mapping[str, Any]) -> dict[str, VariableType]:
    lists = spec.get("lists", {})
    types: dict[str, VariableType] = {}
    for name in spec.get("variables", []):
        if name not in lists:
            types[name] = "text"
        else:
            types[name] = [dict.fromkeys(lists[name], "text") if lists[name] else "text"]
    return types


@functools.cache
def _default_catalog() -> TemplateCatalog:
    return TemplateCatalog.load(DEFAULT_CATALOG_PATH)


def _render_handlebars(source: str, context: dict[str, Any]) -> str:
    return str(_compile(source)(context))


# pybars' compiler keeps its code builder on the class, shared by every Compiler: two
# compilations at once (the local stack renders in many threads) corrupt each other. The
# compiled templates are safe to run concurrently; only compiling is serialised.
_COMPILE_LOCK = threading.Lock()


@functools.lru_cache(maxsize=64)
def _compile(source: str) -> Any:
    # pybars compiles each template to Python code, which is slow; a warm Lambda compiles each
    # part once. Imported here so that only code paths that render pay for the import.
    import pybars

    with _COMPILE_LOCK:
        return pybars.Compiler().compile(source)
