"""Compile the email templates in `templates/` into `functions/mailroom/compiled_templates.json`.

Each template folder holds `meta.json` (subject, declared variables and their types: the API
contract), `body.html.j2`, `body.txt.j2` and `example.json`. Jinja2 composes them with the
shared layouts and partials at build time, using `[% %]`, `[[ ]]` and `[# #]` so that `{{ }}`
stays free for the Handlebars placeholders SES fills at send time. The build then reads the
placeholders back out of the result and fails, with a message saying what to fix, when they
don't match what `meta.json` declares, so the contract can't drift from what the templates
really use. Each template's entry carries the JSON Schema of its data (`data_schema`).

    python -m mailroom_dev.templates_build            # rebuild the JSON
    python -m mailroom_dev.templates_build --check    # exit 1 if the JSON is stale
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jinja2
import pybars

from mailroom.errors import MailroomError, MissingTemplateData
from mailroom.models import CATEGORY_PATTERN
from mailroom.templates import SCALAR_TYPES, EmailTemplate, VariableType

REPO_ROOT = Path(__file__).resolve().parent.parent
SOURCE_DIR = REPO_ROOT / "templates"
OUTPUT_PATH = REPO_ROOT / "functions" / "mailroom" / "compiled_templates.json"

PARTS = {"html": "body.html.j2", "text": "body.txt.j2"}
META_KEYS = {"description", "subject", "variables", "category", "unsubscribe", "transactional"}
SUPPORTED_BLOCKS = {"each", "if", "unless"}
_MUSTACHE = re.compile(r"\{\{(\{?)(.*?)\}?\}\}", re.DOTALL)
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# What comes just before a placeholder that starts a link: `href="` or `src='`.
_LINK_START = re.compile(r"\b(?:href|src)\s*=\s*[\"']?\s*$", re.IGNORECASE)
_TYPES_HELP = (
    '"text", "number", "url", or a list: ["text"] or [{"name": "text", "quantity": "number"}]'
)

# Where a placeholder reads from: (None, name) for a top-level name, (list, field) for a
# field of each item of a list, (list, None) for the item itself (`{{this}}`).
Source = tuple[str | None, str | None]


class TemplateBuildError(Exception):
    """A template source is wrong; the message says which file and what to change."""


def build_catalog(source_dir: Path = SOURCE_DIR) -> dict[str, dict[str, Any]]:
    """Compile every template folder under `source_dir` (folders starting with `_` hold
    layouts and partials) into the JSON-ready catalog."""
    source_dir = Path(source_dir)
    env = _jinja_environment(source_dir)
    folders = template_folders(source_dir)
    if not folders:
        raise TemplateBuildError(f"No template folders found in {source_dir}.")
    return {folder.name: _build_template(env, folder) for folder in folders}


def template_folders(source_dir: Path = SOURCE_DIR) -> list[Path]:
    """Each template's folder (folders starting with `_` hold layouts and partials)."""
    return sorted(
        p for p in Path(source_dir).iterdir()
        if p.is_dir() and not p.name.startswith(("_", "."))
    )


def build_template(folder: Path, source_dir: Path | None = None) -> dict[str, Any]:
    """Compile one template folder into its catalog entry; raises TemplateBuildError."""
    source_dir = Path(source_dir or folder.parent)
    return _build_template(_jinja_environment(source_dir), folder)


def part_placeholders(source: str, where: str) -> tuple[set[str], dict[str, set[str]]]:
    """The top-level names one compiled part reads, and the fields it reads from the items of
    each list it loops over."""
    variables: set[str] = set()
    lists: dict[str, set[str]] = {}
    _scan_placeholders(source, where, variables, lists, set(), allow_unescaped=True)
    return variables, lists


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
    types = _declared_types(folder / "meta.json", meta)
    example = _read_json(folder / "example.json")
    try:
        parts = {"subject": env.from_string(meta["subject"]).render().strip()}
        for part, filename in PARTS.items():
            _check_nothing_outside_blocks(env, f"{name}/{filename}", folder / filename)
            parts[part] = _tidy(env.get_template(f"{name}/{filename}").render())
    except KeyError as error:
        raise TemplateBuildError(f"{folder / 'meta.json'} needs a {error} entry.") from None
    except jinja2.TemplateError as error:
        raise TemplateBuildError(f"Template '{name}': Jinja2 error: {error}") from None

    if "\n" in parts["subject"]:
        raise TemplateBuildError(f"Template '{name}': the subject must be a single line.")
    variables: set[str] = set()
    lists: dict[str, set[str]] = {}
    links: set[Source] = set()
    for part, source in parts.items():
        where = f"Template '{name}' ({part})"
        _check_pybars_compiles(source, where)
        _scan_placeholders(
            source, where, variables, lists, links, allow_unescaped=part != "html"
        )

    _check_against_declaration(name, folder / "meta.json", types, variables, lists, links)
    template = EmailTemplate(
        name=name,
        subject=parts["subject"],
        html=parts["html"],
        text=parts["text"],
        types=types,
        example=example,
    )
    _check_example(folder / "example.json", template)
    return {
        **parts,
        "types": types,
        "data_schema": template.data_schema,
        "example": example,
        **_mail_category(folder / "meta.json", meta),
    }


def _mail_category(meta_file: Path, meta: dict[str, Any]) -> dict[str, Any]:
    """`category` and `unsubscribe` as meta.json declares them, checked: a template marked
    `transactional` (mail the recipient asked for: a password reset, a receipt) never has
    either; `unsubscribe` needs a category to unsubscribe from."""
    category, unsubscribe = meta.get("category"), meta.get("unsubscribe", False)
    transactional = meta.get("transactional", False)
    if category is not None and (not isinstance(category, str)
                                 or not re.fullmatch(CATEGORY_PATTERN, category)):
        raise TemplateBuildError(f"{meta_file}: `category` must be lower-case letters, digits, "
                                 f"`-` and `_` (like `digest`), not {json.dumps(category)}.")
    if not isinstance(unsubscribe, bool) or not isinstance(transactional, bool):
        raise TemplateBuildError(f"{meta_file}: `unsubscribe` and `transactional` are true "
                                 "or false.")
    if transactional and (unsubscribe or category):
        raise TemplateBuildError(
            f"{meta_file}: a transactional template (mail the recipient asked for) has no "
            "`category` and no `unsubscribe`: a user who leaves a digest must still get it.")
    if unsubscribe and category is None:
        raise TemplateBuildError(f"{meta_file}: `unsubscribe` needs the `category` its link "
                                 "unsubscribes from.")
    return {"category": category, "unsubscribe": unsubscribe} if category else {}


def _declared_types(meta_file: Path, meta: Any) -> dict[str, VariableType]:
    """The `variables` of meta.json, each name with its type, after checking the syntax."""
    if not isinstance(meta, dict):
        raise TemplateBuildError(f"{meta_file} must hold a JSON object.")
    problems = []
    if "lists" in meta:
        problems.append(
            '"lists" is no longer used: declare a list\'s item fields in its type, '
            'e.g. "items": [{"name": "text", "quantity": "number"}].'
        )
    elif unknown := sorted(set(meta) - META_KEYS):
        problems.append(f"unknown keys {', '.join(unknown)}; use {', '.join(sorted(META_KEYS))}.")
    declared = meta.get("variables")
    if not isinstance(declared, dict):
        problems.append(
            '"variables" must map each name the template reads to its type, e.g. '
            '{"name": "text", "action_url": "url"}.'
        )
        declared = {}
    for name, kind in declared.items():
        if not _NAME.fullmatch(name):
            problems.append(f"{name!r} is not a name a placeholder can read.")
        elif problem := _type_problem(kind):
            problems.append(f"{name}: {problem}")
    if problems:
        bullet_list = "\n".join(f"  - {problem}" for problem in problems)
        raise TemplateBuildError(f"{meta_file} is not a valid declaration:\n{bullet_list}")
    return declared


def _type_problem(kind: Any) -> str | None:
    """What is wrong with a declared type, or None. The types: text, number, url, and lists
    of a scalar type or of records of scalar fields (the templates don't nest #each)."""
    if isinstance(kind, str):
        return None if kind in SCALAR_TYPES else f"unknown type {kind!r}; use {_TYPES_HELP}."
    if not isinstance(kind, list):
        return f"the type must be {_TYPES_HELP}."
    item = kind[0] if len(kind) == 1 else None
    if isinstance(item, str) and item in SCALAR_TYPES:
        return None
    if not isinstance(item, dict) or not item:
        return f"a list holds one item type: {_TYPES_HELP}."
    for field, field_kind in item.items():
        if not _NAME.fullmatch(field):
            return f"{field!r} is not a name a placeholder can read."
        if field_kind not in SCALAR_TYPES:
            return (
                f"the item field {field} must be text, number or url "
                "(lists inside lists aren't supported)."
            )
    return None


def _scan_placeholders(
    source: str,
    where: str,
    variables: set[str],
    lists: dict[str, set[str]],
    links: set[Source],
    *,
    allow_unescaped: bool,
) -> None:
    """Collect the names a Handlebars source reads: top-level names into `variables`, fields
    read inside `{{#each L}}` into `lists[L]`, and what starts a link (an href or src value)
    into `links`. Rejects what SES templates here shouldn't use."""
    open_blocks: list[tuple[str, str]] = []  # (helper, target), innermost last

    def current_list() -> str | None:
        return next((t for h, t in reversed(open_blocks) if h == "each"), None)

    def record(path: str) -> Source | None:
        if path.startswith("@"):
            return None  # @index, @first, @last: supplied by #each, not by data
        if path in ("this", "."):
            if current_list() is None:
                raise TemplateBuildError(f"{where}: {{{{{path}}}}} outside #each; use a name.")
            return (current_list(), None)  # the item itself: a list of plain values
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
        return (list_name, head)

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
            source_of = record(expression)
            if source_of and _LINK_START.search(source, max(0, match.start() - 40), match.start()):
                links.add(source_of)
    if open_blocks:
        raise TemplateBuildError(f"{where}: {{{{#{open_blocks[-1][0]}}}}} is never closed.")


def _check_against_declaration(
    name: str,
    meta_file: Path,
    types: dict[str, VariableType],
    variables: set[str],
    lists: dict[str, set[str]],
    links: set[Source],
) -> None:
    declared = set(types)
    declared_lists = {
        key: set(kind[0]) if isinstance(kind[0], dict) else set()
        for key, kind in types.items()
        if isinstance(kind, list)
    }
    problems = []
    if undeclared := sorted(variables - declared):
        problems.append(
            f'uses {_names(undeclared)} but doesn\'t declare it in "variables". Declare it '
            "with its type (it becomes part of the API contract) or fix the typo."
        )
    if unused := sorted(declared - variables):
        problems.append(f'declares {_names(unused)} in "variables" but never uses it.')
    for list_name in sorted(set(lists) | set(declared_lists)):
        if list_name not in lists:
            if list_name in variables:
                problems.append(
                    f"declares {list_name} as a list but never loops over it with #each."
                )
        elif list_name not in declared_lists:
            if list_name in declared:
                problems.append(
                    f"loops over {list_name} with #each; declare it as a list, e.g. "
                    f'"{list_name}": [{{"name": "text"}}].'
                )
        elif lists[list_name] != declared_lists[list_name]:
            problems.append(
                f"reads {_names(sorted(lists[list_name])) or 'each item itself ({{this}})'} "
                f"from the items of {list_name}, but meta.json declares "
                f"{_names(sorted(declared_lists[list_name])) or 'plain items'}."
            )
    for owner, field in sorted(links, key=str):
        kind = _declared_type_of(types, owner, field)
        if kind not in (None, "url"):
            placeholder = field or "this"
            where = f" in the items of {owner}" if owner else ""
            problems.append(
                f"puts {{{{{placeholder}}}}}{where} at the start of a link (href or src), so "
                'declare it "url": only https, http and mailto links get in.'
            )
    if problems:
        bullet_list = "\n".join(f"  - {problem}" for problem in problems)
        raise TemplateBuildError(f"Template '{name}' doesn't match {meta_file}:\n{bullet_list}")


def _declared_type_of(
    types: dict[str, VariableType], list_name: str | None, field: str | None
) -> Any:
    """The type meta.json gives a placeholder's source; None when it declares none."""
    if list_name is None:
        return types.get(field or "")
    kind = types.get(list_name)
    if not isinstance(kind, list):
        return None
    item = kind[0]
    return item if field is None else item.get(field) if isinstance(item, dict) else None


def _check_example(example_file: Path, template: EmailTemplate) -> None:
    """The example must be data the API accepts: it is what previews and docs show."""
    try:
        template.check(template.example)
    except MissingTemplateData as error:
        raise TemplateBuildError(
            f"{example_file} lacks data for: {', '.join(error.details['missing'])}."
        ) from None
    except MailroomError as error:
        raise TemplateBuildError(f"{example_file}: {error.message}") from None


def _check_nothing_outside_blocks(env: jinja2.Environment, name: str, path: Path) -> None:
    """A template that extends a layout renders only its blocks: Jinja2 drops anything else
    without a word, so text added after the last `[% endblock %]` would vanish."""
    assert env.loader is not None
    source = env.loader.get_source(env, name)[0]
    tree = env.parse(source)
    if not any(isinstance(node, jinja2.nodes.Extends) for node in tree.body):
        return

    def outside_blocks(node: jinja2.nodes.Node) -> Iterator[jinja2.nodes.Output]:
        for child in node.iter_child_nodes():
            if isinstance(child, jinja2.nodes.Output):
                yield child
            elif not isinstance(child, jinja2.nodes.Block):
                yield from outside_blocks(child)  # e.g. inside an [% if %]

    for output in outside_blocks(tree):
        for child in output.nodes:
            text = child.data if isinstance(child, jinja2.nodes.TemplateData) else "x"
            if text.strip():
                raise TemplateBuildError(
                    f"{path}: line {output.lineno} is outside every [% block %], and a "
                    "template that extends a layout drops it: move it into a block.")


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
