"""Compile the email templates in `templates/` into `functions/mailroom/compiled_templates.json`.

Each template folder holds `meta.json` (subject, declared variables: the API contract),
`body.html.j2`, `body.txt.j2` and `example.json`. Jinja2 composes them with the shared layouts
and partials at build time, using `[% %]`, `[[ ]]` and `[# #]` so that `{{ }}` stays free for
the Handlebars placeholders SES fills at send time. The build then reads the placeholders back
out of the result and fails, with a message saying what to fix, when they don't match what
`meta.json` declares, so the contract can't drift from what the templates really use.

    python -m mailroom_dev.templates_build            # rebuild the JSON
    python -m mailroom_dev.templates_build --check    # exit 1 if the JSON is stale
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Any

import jinja2
import pybars

from mailroom.templates import EmailTemplate

REPO_ROOT = Path(__file__).resolve().parent.parent
SOURCE_DIR = REPO_ROOT / "templates"
OUTPUT_PATH = REPO_ROOT / "functions" / "mailroom" / "compiled_templates.json"

PARTS = {"html": "body.html.j2", "text": "body.txt.j2"}
SUPPORTED_BLOCKS = {"each", "if", "unless"}
_MUSTACHE = re.compile(r"\{\{(\{?)(.*?)\}?\}\}", re.DOTALL)
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class TemplateBuildError(Exception):
    """A template source is wrong; the message says which file and what to change."""


def build_catalog(source_dir: Path = SOURCE_DIR) -> dict[str, dict[str, Any]]:
    """Compile every template folder under `source_dir` (folders starting with `_` hold
    layouts and partials) into the JSON-ready catalog."""
    source_dir = Path(source_dir)
    env = _jinja_environment(source_dir)
    folders = sorted(
        p for p in source_dir.iterdir() if p.is_dir() and not p.name.startswith(("_", "."))
    )
    if not folders:
        raise TemplateBuildError(f"No template folders found in {source_dir}.")
    return {folder.name: _build_template(env, folder) for folder in folders}


def _jinja_environment(source_dir: Path) -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(source_dir),
        block_start_string="[%",
        block_end_string="%]",
        variable_start_string="[[",
        variable_end_string="]]",
        comment_start_string="[#",
        comment_end_string="#]",
        # Escapes brand values in HTML parts; `{{placeholders}}` contain nothing it changes.
        autoescape=jinja2.select_autoescape(["html.j2"], default_for_string=False),
        undefined=jinja2.StrictUndefined,  # a typo in a layout fails the build, not the email
        trim_blocks=True,
        lstrip_blocks=True,
    )
    brand_file = source_dir / "_layouts" / "brand.json"
    env.globals["brand"] = _read_json(brand_file) if brand_file.exists() else {}
    return env


def _build_template(env: jinja2.Environment, folder: Path) -> dict[str, Any]:
    name = folder.name
    meta = _read_json(folder / "meta.json")
    example = _read_json(folder / "example.json")
    try:
        parts = {"subject": env.from_string(meta["subject"]).render().strip()}
        for part, filename in PARTS.items():
            parts[part] = _tidy(env.get_template(f"{name}/{filename}").render())
    except KeyError as error:
        raise TemplateBuildError(f"{folder / 'meta.json'} needs a {error} entry.") from None
    except jinja2.TemplateError as error:
        raise TemplateBuildError(f"Template '{name}': Jinja2 error: {error}") from None

    if "\n" in parts["subject"]:
        raise TemplateBuildError(f"Template '{name}': the subject must be a single line.")
    variables: set[str] = set()
    lists: dict[str, set[str]] = {}
    for part, source in parts.items():
        where = f"Template '{name}' ({part})"
        _check_pybars_compiles(source, where)
        _scan_placeholders(source, where, variables, lists, allow_unescaped=part != "html")

    _check_against_declaration(name, folder / "meta.json", meta, variables, lists)
    compiled = {
        **parts,
        "variables": sorted(variables),
        "lists": {key: sorted(fields) for key, fields in sorted(lists.items())},
        "example": example,
    }
    _check_example(name, folder / "example.json", compiled)
    return compiled


def _scan_placeholders(
    source: str,
    where: str,
    variables: set[str],
    lists: dict[str, set[str]],
    *,
    allow_unescaped: bool,
) -> None:
    """Collect the names a Handlebars source reads: top-level names into `variables`, fields
    read inside `{{#each L}}` into `lists[L]`. Rejects what SES templates here shouldn't use."""
    open_blocks: list[tuple[str, str]] = []  # (helper, target), innermost last

    def current_list() -> str | None:
        return next((t for h, t in reversed(open_blocks) if h == "each"), None)

    def record(path: str) -> None:
        if path.startswith("@"):
            return  # @index, @first, @last: supplied by #each, not by data
        if path in ("this", "."):
            if current_list() is None:
                raise TemplateBuildError(f"{where}: {{{{{path}}}}} outside #each; use a name.")
            return  # the item itself: a list of plain values
        to_top_level = path.startswith("../")
        path = path.removeprefix("../").removeprefix("this.").removeprefix("./")
        head = re.split(r"[./]", path, maxsplit=1)[0]
        if not _NAME.fullmatch(head):
            raise TemplateBuildError(f"{where}: can't read the placeholder {{{{{path}}}}}.")
        list_name = None if to_top_level else current_list()
        if list_name is None:
            variables.add(head)
        else:
            lists[list_name].add(head)

    for match in _MUSTACHE.finditer(source):
        unescaped = match.group(1) == "{"
        expression = match.group(2).strip("~ \t\r\n")
        if expression.startswith("!"):
            continue  # a Handlebars comment
        if unescaped and not allow_unescaped:
            raise TemplateBuildError(
                f"{where}: {{{{{{{expression}}}}}}} skips HTML escaping, so data could inject "
                f"markup. Use {{{{{expression}}}}}; SES escapes it."
            )
        if expression.startswith("#"):
            helper, _, target = expression[1:].partition(" ")
            target = target.strip()
            if helper not in SUPPORTED_BLOCKS or not target or " " in target:
                raise TemplateBuildError(
                    f"{where}: {{{{{expression}}}}} isn't supported; use #each, #if or #unless "
                    "with a single name."
                )
            if helper == "each":
                if current_list() is not None:
                    raise TemplateBuildError(f"{where}: #each inside #each isn't supported.")
                if not _NAME.fullmatch(target):
                    raise TemplateBuildError(f"{where}: #each needs a top-level list name.")
                variables.add(target)
                lists.setdefault(target, set())
            else:
                record(target)
            open_blocks.append((helper, target))
        elif expression.startswith("/"):
            helper = expression[1:].strip()
            if not open_blocks or open_blocks[-1][0] != helper:
                raise TemplateBuildError(f"{where}: {{{{/{helper}}}}} closes nothing open.")
            open_blocks.pop()
        elif expression == "else":
            if not open_blocks:
                raise TemplateBuildError(f"{where}: {{{{else}}}} outside a block.")
        elif expression[:1] in (">", "^", "&") or " " in expression:
            raise TemplateBuildError(
                f"{where}: {{{{{expression}}}}} isn't supported: SES templates here use plain "
                "names, #each, #if and #unless (no partials or helpers)."
            )
        else:
            record(expression)
    if open_blocks:
        raise TemplateBuildError(f"{where}: {{{{#{open_blocks[-1][0]}}}}} is never closed.")


def _check_against_declaration(
    name: str, meta_file: Path, meta: dict[str, Any], variables: set[str], lists: dict[str, set]
) -> None:
    declared = set(meta.get("variables", []))
    declared_lists = {key: set(fields) for key, fields in meta.get("lists", {}).items()}
    problems = []
    if undeclared := sorted(variables - declared):
        problems.append(
            f'uses {_names(undeclared)} but doesn\'t declare it in "variables". Declare it '
            "(it becomes part of the API contract) or fix the typo."
        )
    if unused := sorted(declared - variables):
        problems.append(f'declares {_names(unused)} in "variables" but never uses it.')
    if not_variables := sorted(set(declared_lists) - declared):
        problems.append(f'lists {_names(not_variables)} in "lists" but not in "variables".')
    for list_name in sorted(set(lists) | set(declared_lists)):
        if list_name not in lists:
            problems.append(f'declares {list_name} in "lists" but never loops over it.')
        elif list_name not in declared_lists:
            problems.append(
                f'loops over {list_name} with #each; declare its item fields in "lists".'
            )
        elif lists[list_name] != declared_lists[list_name]:
            problems.append(
                f"reads {_names(sorted(lists[list_name]))} from each item of {list_name}, "
                f'but "lists" declares {_names(sorted(declared_lists[list_name]))}.'
            )
    if problems:
        bullet_list = "\n".join(f"  - {problem}" for problem in problems)
        raise TemplateBuildError(f"Template '{name}' doesn't match {meta_file}:\n{bullet_list}")


def _check_example(name: str, example_file: Path, compiled: dict[str, Any]) -> None:
    template = EmailTemplate(
        name=name,
        subject=compiled["subject"],
        html=compiled["html"],
        text=compiled["text"],
        variables=tuple(compiled["variables"]),
        lists={key: tuple(fields) for key, fields in compiled["lists"].items()},
    )
    if absent := template.missing(compiled["example"]):
        raise TemplateBuildError(f"{example_file} lacks data for: {', '.join(absent)}.")


def _check_pybars_compiles(source: str, where: str) -> None:
    try:
        pybars.Compiler().compile(source)
    except Exception as error:  # pybars raises assorted types for bad syntax
        raise TemplateBuildError(f"{where}: not valid Handlebars: {error}") from None


def _tidy(rendered: str) -> str:
    """Drop the blank lines Jinja's block tags leave, so the output diffs and reads well."""
    lines = [line.rstrip() for line in rendered.strip().splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)) + "\n"


def _names(names: list[str]) -> str:
    return ", ".join(f"{{{{{n}}}}}" for n in names)


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise TemplateBuildError(f"{path} is missing.") from None
    except json.JSONDecodeError as error:
        raise TemplateBuildError(f"{path} is not valid JSON: {error}") from None


def render_catalog_json(catalog: dict[str, Any]) -> str:
    """The committed file's exact text: stable order and one value per line, so diffs are
    small and reviewable."""
    return json.dumps(catalog, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path, default=SOURCE_DIR)
    parser.add_argument("--output", type=Path, default=OUTPUT_PATH)
    parser.add_argument(
        "--check", action="store_true", help="don't write; exit 1 if the output is stale"
    )
    args = parser.parse_args(argv)
    try:
        expected = render_catalog_json(build_catalog(args.source))
    except TemplateBuildError as error:
        print(f"Template build failed: {error}", file=sys.stderr)
        return 1
    current = args.output.read_text(encoding="utf-8") if args.output.exists() else None
    if args.check:
        if current != expected:
            print(
                f"{args.output} is out of date. Run: python -m mailroom_dev.templates_build",
                file=sys.stderr,
            )
            return 1
        return 0
    if current != expected:
        args.output.write_text(expected, encoding="utf-8")
    print(f"Wrote {len(json.loads(expected))} templates to {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
