"""`mailroom templates validate`: every template in `templates/` checked the way it will be
used, as a list of named checks. Each check looks at one compiled template and names the file
and the problem; adding a rule is adding one `Check` to `CHECKS`.

The rendering checks use the catalog's own engine (`EmailTemplate.render`, pybars), which is
what the API's preview and the local SES simulator render with. SES's engine is not pybars,
so with a deployed stack `ses_render_check` asks SES itself (`TestRenderEmailTemplate`)."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from email import message_from_string, policy
from enum import StrEnum
from html.parser import HTMLParser
from pathlib import Path
from types import MappingProxyType
from typing import Any

from mailroom.templates import SUBJECT_MAX_LENGTH, URL_SCHEMES, EmailTemplate
from mailroom_dev.templates_build import (
    PARTS,
    SOURCE_DIR,
    TemplateBuildError,
    build_template,
    part_placeholders,
    template_folders,
)

# SES refuses a template whose name is longer or holds other characters (CreateEmailTemplate).
SES_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")
# SES's quota for one template: subject, HTML and text together.
SES_TEMPLATE_MAX_BYTES = 500 * 1024
# The longest prefix a stack gives its templates that the check allows for: `<stack name>-`,
# and CloudFormation stack names are at most 128 characters, so take the usual default's.
DEFAULT_PREFIX = "Mailroom-"

FILES = {"subject": "meta.json", **PARTS}


class Status(StrEnum):
    passed = "pass"
    failed = "fail"
    skipped = "skip"


@dataclass(frozen=True)
class Problem:
    file: Path
    problem: str


@dataclass(frozen=True)
class Compiled:
    """One template folder after a successful build: what the checks look at."""

    folder: Path
    entry: dict[str, Any]
    template: EmailTemplate

    def file(self, part: str) -> Path:
        return self.folder / FILES.get(part, part)


@dataclass(frozen=True)
class Check:
    name: str
    description: str
    run: Callable[[Compiled], list[Problem]]


@dataclass(frozen=True)
class Result:
    template: str
    check: str
    status: Status
    problems: tuple[Problem, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {"template": self.template, "check": self.check, "status": self.status.value,
                "problems": [{"file": str(p.file), "problem": p.problem}
                             for p in self.problems]}


# --- the checks ----------------------------------------------------------------------------


def _same_variables(compiled: Compiled) -> list[Problem]:
    """A reader of the text part must get what a reader of the HTML part gets."""
    seen = {part: part_placeholders(compiled.entry[part], f"{compiled.folder.name} ({part})")
            for part in PARTS}
    (html_names, html_lists), (text_names, text_lists) = seen["html"], seen["text"]
    problems = []
    for part, names, other in (("html", html_names, text_names),
                               ("text", text_names, html_names)):
        if missing := sorted(other - names):
            problems.append(Problem(compiled.file(part), (
                f"the {part} part never prints {_placeholders(missing)}, which the "
                f"{'text' if part == 'html' else 'HTML'} part does: both parts must carry "
                "the same data.")))
    for list_name in sorted(set(html_lists) & set(text_lists)):
        if html_lists[list_name] != text_lists[list_name]:
            problems.append(Problem(compiled.file("text"), (
                f"the items of {list_name} show {_placeholders(sorted(text_lists[list_name]))}"
                f" in the text part but {_placeholders(sorted(html_lists[list_name]))} in the "
                "HTML part.")))
    return problems


def _renders(compiled: Compiled) -> list[Problem]:
    """The example renders through the engine the local stack uses, and nothing is left
    unfilled."""
    try:
        rendered = compiled.template.render(compiled.template.example)
    except Exception as error:  # the engine's own errors, whatever their type
        return [Problem(compiled.file("body.html.j2"),
                        f"does not render with example.json: {getattr(error, 'message', error)}")]
    problems = []
    for part in ("subject", *PARTS):
        text = getattr(rendered, part)
        if not text.strip():
            problems.append(Problem(compiled.file(part), f"the {part} renders empty."))
        elif "{{" in text or "}}" in text:
            problems.append(Problem(compiled.file(part), (
                f"the rendered {part} still holds a Handlebars brace: a placeholder is "
                "malformed.")))
    return problems


def _links(compiled: Compiled) -> list[Problem]:
    """Every link the rendered email holds opens a page or a mail program."""
    rendered = compiled.template.render(compiled.template.example)
    found = _LinkCollector.collect(rendered.html)
    problems = []
    for attribute, url in found:
        scheme = url.split(":", 1)[0].lower() if ":" in url else ""
        if scheme not in URL_SCHEMES:
            problems.append(Problem(compiled.file("html"), (
                f'{attribute}="{url[:80]}": only {", ".join(URL_SCHEMES)} links work in an '
                "email (no relative, #, javascript: or data: links).")))
    return problems


def _subject(compiled: Compiled) -> list[Problem]:
    """The subject SES sends: one line within the header limit, with the example data."""
    subject = compiled.template.render(compiled.template.example).subject
    problems = []
    if "\n" in subject or "\r" in subject:
        problems.append(Problem(compiled.file("subject"), "the subject renders on several "
                                                          "lines; it must be one header line."))
    if len(subject) > SUBJECT_MAX_LENGTH:
        problems.append(Problem(compiled.file("subject"), (
            f"with example.json the subject is {len(subject)} characters; SES sends at most "
            f"{SUBJECT_MAX_LENGTH}.")))
    return problems


def _ses_limits(compiled: Compiled) -> list[Problem]:
    """SES stores it: a name SES accepts (with a stack's prefix) and a size under its quota."""
    name = compiled.template.ses_name(DEFAULT_PREFIX)
    problems = []
    if not SES_NAME.fullmatch(name):
        problems.append(Problem(compiled.folder, (
            f"as an SES template it is named {name!r}: SES takes at most 64 letters, digits, "
            "_ and -. Rename the folder.")))
    size = sum(len(compiled.entry[part].encode()) for part in ("subject", *PARTS))
    if size > SES_TEMPLATE_MAX_BYTES:
        problems.append(Problem(compiled.file("html"), (
            f"subject, HTML and text are {size} bytes together; SES stores at most "
            f"{SES_TEMPLATE_MAX_BYTES}.")))
    return problems


CHECKS: list[Check] = [
    Check("same_variables", "the HTML and text parts print the same data", _same_variables),
    Check("renders", "the example renders through the local engine", _renders),
    Check("links", "every link is https, http or mailto", _links),
    Check("subject", f"the subject is one line of at most {SUBJECT_MAX_LENGTH} characters",
          _subject),
    Check("ses_limits", "the SES name and size limits hold", _ses_limits),
]
# Checks that need another one passed first: they look at the rendered example. (The build
# itself checks that example.json holds every variable, of its declared type.)
NEEDS = {"links": "renders", "subject": "renders"}


def ses_render_check(sesv2: Any, prefix: str) -> Check:
    """SES's own rendering of the deployed template (TestRenderEmailTemplate) with the
    example: it must render, and give the subject the local engine gives."""

    def run(compiled: Compiled) -> list[Problem]:
        from botocore.exceptions import BotoCoreError, ClientError

        template = compiled.template
        name = template.ses_name(prefix)
        try:
            answer = sesv2.test_render_email_template(
                TemplateName=name, TemplateData=json.dumps(_plain(template.example)))
        except ClientError as error:
            detail = error.response.get("Error", {})
            return [Problem(compiled.folder, (
                f"SES cannot render {name}: {detail.get('Message', error)} "
                f"({detail.get('Code', 'error')}). Deployed templates follow "
                "`mailroom templates build` and `cdk deploy`."))]
        except BotoCoreError as error:
            return [Problem(compiled.folder, f"cannot reach SES: {error}")]
        message = message_from_string(answer["RenderedTemplate"], policy=policy.default)
        theirs, ours = str(message["Subject"] or ""), template.render(template.example).subject
        if theirs != ours:
            return [Problem(compiled.file("subject"), (
                f"SES renders the subject as {theirs!r}, the local engine as {ours!r}: is the "
                "deployed template out of date?"))]
        return []

    return Check("ses_render", "SES renders the deployed template (TestRenderEmailTemplate)", run)


# --- running them --------------------------------------------------------------------------


@dataclass
class Validation:
    results: list[Result] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(result.status is not Status.failed for result in self.results)

    def to_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "results": [result.to_dict() for result in self.results]}


def validate(source_dir: Path = SOURCE_DIR, names: Iterable[str] = (),
             extra: Iterable[Check] = ()) -> Validation:
    """Build each template (all, or those named) and run every check on it. A template that
    does not build gets the build's error and its other checks skipped."""
    folders = template_folders(source_dir)
    wanted = list(names)
    if unknown := sorted(set(wanted) - {folder.name for folder in folders}):
        raise TemplateBuildError(
            f"No template {', '.join(unknown)} in {source_dir}; there are: "
            f"{', '.join(folder.name for folder in folders) or 'none'}.")
    checks = [*CHECKS, *extra]
    validation = Validation()
    for folder in folders:
        if wanted and folder.name not in wanted:
            continue
        compiled, problem = compile_folder(folder, Path(source_dir))
        validation.results.append(Result(folder.name, "build", Status.failed, (problem,))
                                  if problem else Result(folder.name, "build", Status.passed))
        outcome: dict[str, Status] = {}
        for check in checks:
            prerequisite = NEEDS.get(check.name)
            if compiled is None or (prerequisite and outcome.get(prerequisite) is not
                                    Status.passed):
                outcome[check.name] = Status.skipped
                validation.results.append(Result(folder.name, check.name, Status.skipped))
                continue
            problems = tuple(check.run(compiled))
            outcome[check.name] = Status.failed if problems else Status.passed
            validation.results.append(Result(folder.name, check.name, outcome[check.name],
                                             problems))
    return validation


def compile_folder(folder: Path, source_dir: Path) -> tuple[Compiled | None, Problem | None]:
    try:
        entry = build_template(folder, source_dir)
    except TemplateBuildError as error:
        return None, Problem(folder, str(error))
    template = EmailTemplate(name=folder.name, subject=entry["subject"], html=entry["html"],
                             text=entry["text"], types=MappingProxyType(dict(entry["types"])),
                             example=MappingProxyType(dict(entry["example"])))
    return Compiled(folder, entry, template), None


class _LinkCollector(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.links: list[tuple[str, str]] = []

    @classmethod
    def collect(cls, html: str) -> list[tuple[str, str]]:
        collector = cls()
        collector.feed(html)
        collector.close()
        return collector.links

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for attribute, value in attrs:
            if attribute in ("href", "src") and value is not None:
                self.links.append((attribute, value.strip()))


def _plain(value: Any) -> Any:
    if isinstance(value, MappingProxyType | dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    return value


def _placeholders(names: list[str]) -> str:
    return ", ".join(f"{{{{{name}}}}}" for name in names)
