"""Validation errors in plain words: what pydantic reports about a request, said the way a
person fixing the request needs it — the field, and what it must be — never a library's
"Value error, …" or "Input should be a valid dictionary or instance of …"."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from mailroom.models import CATEGORY_PATTERN, CATEGORY_RULE

# pydantic error type → what the value must be.
_MUST_BE = {
    "missing": "is required",
    "extra_forbidden": "is not a field of this request; remove it",
    "bool_type": "must be true or false",
    "bool_parsing": "must be true or false",
    "string_type": "must be a string",
    "int_type": "must be a whole number",
    "int_parsing": "must be a whole number",
    "int_from_float": "must be a whole number",
    "float_type": "must be a number",
    "float_parsing": "must be a number",
    "dict_type": "must be a JSON object",
    "model_type": "must be a JSON object",
    "model_attributes_type": "must be a JSON object",
    "list_type": "must be a list",
    "json_invalid": "is not valid JSON",
    "datetime_type": "must be a date and time in ISO 8601, e.g. 2026-12-31T23:59:00Z",
    "datetime_parsing": "must be a date and time in ISO 8601, e.g. 2026-12-31T23:59:00Z",
    "datetime_from_date_parsing": "must be a date and time in ISO 8601, e.g. "
                                  "2026-12-31T23:59:00Z",
    "timezone_aware": "must include a time zone, e.g. 2026-12-31T23:59:00Z",
    "string_pattern_mismatch": "has characters that are not allowed",
    "string_unicode": "must be valid Unicode text",
}


def problem(error: Mapping[str, Any]) -> str:
    """What is wrong with one value, e.g. "must be true or false"."""
    kind = error.get("type", "")
    context = error.get("ctx") or {}
    if kind == "string_pattern_mismatch" and context.get("pattern") == CATEGORY_PATTERN:
        return CATEGORY_RULE
    if kind in _MUST_BE:
        return _MUST_BE[kind]
    if kind in ("string_too_long", "too_long"):
        return f"must be at most {_count(context.get('max_length'), kind)}"
    if kind in ("string_too_short", "too_short"):
        return f"must be at least {_count(context.get('min_length'), kind)}"
    if kind in ("literal_error", "enum"):
        return f"must be one of {context.get('expected')}"
    if kind in ("greater_than_equal", "greater_than", "less_than_equal", "less_than"):
        bound = next(iter(context.values()), "")
        words = {"greater_than_equal": "at least", "greater_than": "more than",
                 "less_than_equal": "at most", "less_than": "less than"}[kind]
        return f"must be {words} {bound}"
    if kind in ("value_error", "assertion_error"):
        return str(context.get("error") or error.get("msg", "is not valid"))
    return "is not valid"


def _count(number: Any, kind: str) -> str:
    unit = "character" if kind.startswith("string") else "item"
    return f"{number} {unit}" + ("" if number == 1 else "s")


def field_name(location: Sequence[Any]) -> str:
    """`data.items[1].quantity` from pydantic's ("data", "items", 1, "quantity")."""
    name = ""
    for part in location:
        name += f"[{part}]" if isinstance(part, int) else (f".{part}" if name else str(part))
    return name


def details(errors: Iterable[Mapping[str, Any]], skip: int = 0) -> list[dict[str, Any]]:
    """One entry per problem: the field, what it must be, and pydantic's type code. `skip`
    drops leading location parts that are not the client's (Powertools' "body")."""
    return [{"field": field_name(tuple(error.get("loc", ()))[skip:]),
             "problem": problem(error), "type": error.get("type")} for error in errors]


def sentence(entries: Sequence[Mapping[str, Any]]) -> str:
    """The message: every problem, field first."""
    return "; ".join(f"{entry['field'] or 'the body'} {entry['problem']}" for entry in entries)
