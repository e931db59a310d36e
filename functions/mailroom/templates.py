"""The runtime template catalog: which email templates exist, what data each needs, and how
each renders. It reads `compiled_templates.json`, which `python -m mailroom_dev.templates_build`
compiles from `templates/` (never edit the JSON by hand).

The API uses it to reject bad `data` before anything is queued, the preview route and the local
SES simulator to render, the infra to create the SES templates. Rendering uses pybars3, the
Handlebars dialect SES speaks, so `{{x}}` is HTML-escaped here exactly as SES escapes it.
Importing this module stays cheap (no Jinja2, pybars only once something renders), because
every cold start of the API function pays for it.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

from mailroom.errors import MissingTemplateData, RequestValidationError, UnknownTemplate

DEFAULT_CATALOG_PATH = Path(__file__).with_name("compiled_templates.json")


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
    # Top-level names the template reads from `data`, sorted.
    variables: tuple[str, ...]
    # List variables (`{{#each items}}`) and the fields each of their items needs, sorted.
    lists: Mapping[str, tuple[str, ...]] = field(default_factory=lambda: MappingProxyType({}))
    # Data that renders the template, for previews, docs and "try it" commands.
    example: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))

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
        """Raise the API's error for `data` this template can't render; return None if fine."""
        if not isinstance(data, Mapping):
            raise RequestValidationError(
                f"Template '{self.name}' needs `data` to be a JSON object with: "
                f"{', '.join(self.variables)}.",
                details={"field": "data", "expected": "object"},
            )
        for list_name, fields in self.lists.items():
            self._check_list_shape(list_name, fields, data.get(list_name))
        absent = self.missing(data)
        if absent:
            raise MissingTemplateData(
                f"Template '{self.name}' needs data for: {', '.join(absent)}. Add them to `data`.",
                details={"missing": absent},
            )

    def _check_list_shape(self, list_name: str, fields: tuple[str, ...], value: Any) -> None:
        expected = f"a list of objects with {', '.join(fields)}" if fields else "a list"
        if value is None:
            return  # absent: `missing` reports it
        if not isinstance(value, list):
            raise RequestValidationError(
                f"`data.{list_name}` must be {expected}, not {_json_type(value)}.",
                details={"field": f"data.{list_name}", "expected": "list"},
            )
        if not fields:
            return  # items are used as plain values (`{{this}}`)
        for index, entry in enumerate(value):
            if not isinstance(entry, Mapping):
                raise RequestValidationError(
                    f"`data.{list_name}` must be {expected}; item {index} is {_json_type(entry)}.",
                    details={"field": f"data.{list_name}", "index": index, "expected": "object"},
                )

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
        """Build from the compiled JSON's shape: `{name: {subject, html, text, variables,
        lists, example}}`."""
        return cls(
            {
                name: EmailTemplate(
                    name=name,
                    subject=spec["subject"],
                    html=spec["html"],
                    text=spec["text"],
                    variables=tuple(spec["variables"]),
                    lists=MappingProxyType(
                        {key: tuple(fields) for key, fields in spec.get("lists", {}).items()}
                    ),
                    example=MappingProxyType(dict(spec.get("example", {}))),
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


@functools.cache
def _default_catalog() -> TemplateCatalog:
    return TemplateCatalog.load(DEFAULT_CATALOG_PATH)


def _render_handlebars(source: str, context: dict[str, Any]) -> str:
    return str(_compile(source)(context))


@functools.lru_cache(maxsize=64)
def _compile(source: str) -> Any:
    # pybars compiles each template to Python code, which is slow; a warm Lambda compiles each
    # part once. Imported here so that only code paths that render pay for the import.
    import pybars

    return pybars.Compiler().compile(source)


def _json_type(value: Any) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, Mapping):
        return "an object"
    return "null" if value is None else type(value).__name__
