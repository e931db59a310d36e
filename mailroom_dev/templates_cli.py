"""`mailroom templates build|validate|list|preview`: the email templates in `templates/`,
compiled, checked and rendered on this machine with the engine the local stack uses; with
--stack, `validate` asks SES to render the deployed ones too."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated, Any

import typer

app = typer.Typer(help="Email templates: build what CDK deploys, validate, list, preview.",
                  no_args_is_help=True)

# The Jinja2 and Handlebars compilers load only in the commands that use them, so that
# every other command starts fast.
Source = Annotated[Path | None, typer.Option(
    "--source", metavar="DIR", help="The templates folder (default: the repository's "
    "templates/).", exists=True, file_okay=False, show_default=False)]
JsonFlag = Annotated[bool, typer.Option("--json", help="Print the result as JSON.")]
STATUS_STYLE = {"pass": "green", "fail": "red", "skip": "dim"}


@app.command("build")
def build(
    source: Source = None,
    check: Annotated[bool, typer.Option(
        "--check", help="Write nothing; exit 1 if the compiled file is out of date.")] = False,
    as_json: JsonFlag = False,
) -> None:
    """Compile templates/ into functions/mailroom/compiled_templates.json: what CDK deploys
    as SES templates and the local stack renders."""
    from mailroom_dev.cli import CliError, _print_json, console
    from mailroom_dev.templates_build import (
        OUTPUT_PATH,
        TemplateBuildError,
        build_catalog,
        render_catalog_json,
    )

    try:
        expected = render_catalog_json(build_catalog(_source(source)))
    except TemplateBuildError as error:
        raise CliError(f"Template build failed: {error}") from None
    current = OUTPUT_PATH.read_text(encoding="utf-8") if OUTPUT_PATH.exists() else None
    fresh = current == expected
    if not check and not fresh:
        OUTPUT_PATH.write_text(expected, encoding="utf-8")
    names = sorted(json.loads(expected))
    if as_json:
        _print_json({"output": str(OUTPUT_PATH), "templates": names,
                     "up_to_date": fresh, "written": not check and not fresh})
    elif check:
        console.print(f"{_shown(OUTPUT_PATH)} is " + ("up to date." if fresh else
                      "[red]out of date[/]: run `mailroom templates build`."))
    else:
        console.print(f"{'Wrote' if not fresh else 'Up to date:'} {len(names)} templates "
                      f"in {_shown(OUTPUT_PATH)} ({', '.join(names)}).")
    if check and not fresh:
        raise typer.Exit(1)


@app.command("validate")
def validate(
    ctx: typer.Context,
    names: Annotated[list[str] | None, typer.Argument(
        metavar="[NAME]...", help="Only these templates (default: all).", show_default=False,
    )] = None,
    source: Source = None,
    as_json: JsonFlag = False,
) -> None:
    """Check every template: it builds, renders its example through the local engine, the
    HTML and text parts print the same data, links are https/http/mailto, the subject and
    size are within SES's limits. With --stack, SES renders the deployed templates too
    (TestRenderEmailTemplate). Exit code 1 when a check fails."""
    from mailroom_dev import templates_check
    from mailroom_dev.cli import CliError, _print_json, _settings, aws_access

    settings = _settings(ctx)
    extra = []
    if settings.stack:
        access = aws_access(settings, "Rendering with SES (TestRenderEmailTemplate)")
        extra.append(templates_check.ses_render_check(
            access.client("sesv2"), access.url("template_prefix", "TemplatePrefix")))
    try:
        validation = templates_check.validate(_source(source), names or (), extra)
    except templates_check.TemplateBuildError as error:
        raise CliError(str(error)) from None
    if as_json:
        _print_json(validation.to_dict())
    else:
        _print_validation(validation)
    if not validation.ok:
        raise typer.Exit(1)


def _print_validation(validation: Any) -> None:
    from rich.markup import escape

    from mailroom_dev.cli import console

    by_template: dict[str, list[Any]] = {}
    for result in validation.results:
        by_template.setdefault(result.template, []).append(result)
    width = max((len(name) for name in by_template), default=0)
    for name, results in by_template.items():
        failed = [r for r in results if r.status.value == "fail"]
        skipped = [r for r in results if r.status.value == "skip"]
        if failed:
            summary = "[red]FAIL[/]  " + ", ".join(r.check for r in failed)
            if skipped:
                summary += f" [dim](skipped: {', '.join(r.check for r in skipped)})[/]"
        else:
            summary = f"[green]pass[/]  {len(results)} checks"
        console.print(f"{name:<{width}}  {summary}", highlight=False)
        for result in failed:
            for problem in result.problems:
                console.print(f"  {escape(_shown(problem.file))}: {result.check}: "
                              f"{escape(problem.problem)}", highlight=False)
    failures = sum(1 for r in validation.results if r.status.value == "fail")
    console.print(f"{len(by_template)} template(s), " + (
        f"[red]{failures} failed check(s)[/]" if failures else "every check passed") + ".")


@app.command("list")
def list_templates(source: Source = None, as_json: JsonFlag = False) -> None:
    """The templates you can send: each one's category (what a category suppression or an
    unsubscribe stops), its variables with their types, and the fields of each list's
    items."""
    from rich.table import Table

    from mailroom_dev.cli import _print_json, console

    catalog = _catalog(source)
    items = [{"name": t.name, "subject": t.subject, "category": t.category,
              "unsubscribe": t.unsubscribe, "variables": list(t.variables),
              "types": dict(t.types), "lists": {k: list(v) for k, v in t.lists.items()}}
             for t in catalog]
    if as_json:
        return _print_json({"items": items})
    table = Table("template", "category", "variables", "list fields", title="Templates")
    for item in items:
        category = item["category"] or "-"
        if item["unsubscribe"]:
            category += " (one-click unsubscribe)"
        table.add_row(item["name"], category, ", ".join(
            f"{name} ({kind if isinstance(kind, str) else 'list'})"
            for name, kind in item["types"].items()),
            "; ".join(f"{name}: {', '.join(fields) or 'plain values'}"
                      for name, fields in item["lists"].items()) or "-")
    console.print(table)
    return None


@app.command("preview")
def preview(
    name: Annotated[str, typer.Argument(metavar="NAME", help="A template (see `templates "
                                                              "list`).")],
    data: Annotated[str | None, typer.Option(
        metavar="JSON", help="Values over the example's, as a JSON object (null removes "
                             "one).")] = None,
    part: Annotated[str | None, typer.Option(
        metavar="subject|html|text", help="Print only this part.")] = None,
    source: Source = None,
    as_json: JsonFlag = False,
) -> None:
    """Render a template with its example data (example.json), or with --data over it,
    exactly as the local stack renders it."""
    from mailroom.errors import MailroomError
    from mailroom_dev.cli import CliError, _print_json, _template_data, console

    if part not in (None, "subject", "html", "text"):
        raise typer.BadParameter("subject, html or text", param_hint="--part")
    catalog = _catalog(source)
    try:
        template = catalog.get(name)
    except MailroomError as error:
        raise CliError(error.message, error.code) from None
    merged = {**template.example, **_template_data(data, None)}
    merged = {key: value for key, value in merged.items() if value is not None}
    try:
        rendered = template.render(merged)
    except MailroomError as error:
        message = error.message if f"'{name}'" in error.message else (
            f"Template '{name}': {error.message}")
        raise CliError(message, error.code) from None
    parts = {"subject": rendered.subject, "html": rendered.html, "text": rendered.text}
    if as_json:
        return _print_json(parts if part is None else {part: parts[part]})
    if part is not None:
        print(parts[part], end="" if parts[part].endswith("\n") else "\n")
        return None
    from rich.markup import escape

    console.print(f"[bold]Subject:[/] {escape(rendered.subject)}", highlight=False)
    console.rule("text")
    console.print(escape(rendered.text.rstrip()), highlight=False)
    console.rule("html")
    console.print(escape(rendered.html.rstrip()), highlight=False)
    return None


def _source(source: Path | None) -> Path:
    from mailroom_dev.templates_build import SOURCE_DIR

    return source or SOURCE_DIR


def _catalog(source: Path | None) -> Any:
    """The templates as built from `source` now (not the committed JSON, which may lag)."""
    from mailroom.templates import TemplateCatalog
    from mailroom_dev.cli import CliError
    from mailroom_dev.templates_build import TemplateBuildError, build_catalog

    try:
        return TemplateCatalog.from_dict(build_catalog(_source(source)))
    except TemplateBuildError as error:
        raise CliError(f"{error}\n(`mailroom templates validate` checks every template.)"
                       ) from None


def _shown(path: Path) -> str:
    """A path as short as it reads: relative to the current directory when inside it."""
    try:
        return os.path.relpath(path) if Path(path).resolve().is_relative_to(Path.cwd()) \
            else str(path)
    except ValueError:
        return str(path)
