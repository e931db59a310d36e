"""The template catalog: what each template needs, how it renders, and the build that makes it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from mailroom.errors import MissingTemplateData, RequestValidationError, UnknownTemplate
from mailroom.templates import DEFAULT_CATALOG_PATH, TemplateCatalog
from mailroom_dev.templates_build import (
    SOURCE_DIR,
    TemplateBuildError,
    build_catalog,
    main,
    render_catalog_json,
)

CATALOG = TemplateCatalog.load()


def order(**overrides):
    return {**CATALOG.get("order_confirmation").example, **overrides}


# --- the catalog -------------------------------------------------------------------------


def test_the_catalog_ships_the_contract_templates_with_their_variables():
    # Given the compiled catalog / When listing it / Then it matches DESIGN §4 exactly
    assert {t.name: t.variables for t in CATALOG} == {
        "order_confirmation": ("items", "name", "order_id", "total"),
        "password_reset": ("expires_in_minutes", "name", "reset_url"),
        "welcome": ("action_url", "name"),
        "weekly_digest": ("headline", "name", "stories"),
    }
    # Only the digest is a category of mail its recipient may leave in one click.
    assert {t.name: (t.category, t.unsubscribe) for t in CATALOG} == {
        "order_confirmation": (None, False), "password_reset": (None, False),
        "welcome": (None, False), "weekly_digest": ("digest", True)}
    assert dict(CATALOG.get("order_confirmation").lists) == {"items": ("name", "price", "quantity")}


def test_each_variable_has_the_type_its_use_calls_for():
    # Given the compiled catalog / Then links are URLs, counts numbers, the rest text
    assert {t.name: dict(t.types) for t in CATALOG} == {
        "order_confirmation": {
            "items": [{"name": "text", "price": "text", "quantity": "number"}],
            "name": "text",
            "order_id": "text",
            "total": "text",
        },
        "password_reset": {"expires_in_minutes": "number", "name": "text", "reset_url": "url"},
        "welcome": {"action_url": "url", "name": "text"},
        "weekly_digest": {"headline": "text", "name": "text",
                          "stories": [{"title": "text", "url": "url"}]},
    }


@pytest.mark.parametrize("name", CATALOG.names())
def test_every_template_renders_its_example_data(name):
    # Given a template and its example data
    template = CATALOG.get(name)
    # When rendering
    email = template.render(template.example)
    # Then every part is filled in, with no placeholder left over
    for part in (email.subject, email.html, email.text):
        assert part.strip()
        assert "{{" not in part
    assert str(template.example["name"]) in email.html


def test_the_order_lists_every_item_in_both_parts():
    # When rendering an order of two items
    email = CATALOG.get("order_confirmation").render(order())
    # Then each item's name, quantity and price appear in the text part, one line each
    assert "- Analytical Engine poster x 1: $24.00" in email.text
    assert "- Punched-card notebook x 3: $9.00" in email.text
    assert "Punched-card notebook" in email.html


def test_an_unknown_template_names_the_known_ones():
    # When asking for a template that doesn't exist / Then the error lists what does
    with pytest.raises(UnknownTemplate) as raised:
        CATALOG.get("welcom")
    assert raised.value.details == {"template": "welcom", "known": CATALOG.names()}
    assert "welcome" in raised.value.message


def test_the_default_catalog_is_loaded_once():
    # When loading the default catalog twice / Then the same object comes back
    assert TemplateCatalog.load() is TemplateCatalog.load()


def test_the_ses_name_carries_the_stack_prefix():
    assert CATALOG.get("welcome").ses_name("mailroom-dev-") == "mailroom-dev-welcome"


def test_importing_the_catalog_and_checking_data_loads_neither_jinja_nor_pybars():
    # Given a fresh interpreter / When it imports the runtime module, loads the catalog and
    # checks data, as the API does for every send
    code = (
        "import sys; from mailroom.templates import TemplateCatalog; "
        "catalog = TemplateCatalog.load(); "
        "[t.check(t.example) for t in catalog]; "
        "print(sorted(m for m in ('jinja2', 'pybars') if m in sys.modules))"
    )
    functions_dir = Path(__file__).resolve().parents[2] / "functions"
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env={"PYTHONPATH": str(functions_dir)},
    )
    # Then neither heavy dependency was imported: cold starts stay cheap (pybars alone takes
    # about half a second to import)
    assert result.stdout.strip() == "[]"


# --- what data a template needs ----------------------------------------------------------


def test_missing_names_are_listed_exactly_and_sorted():
    # Given data lacking two top-level names
    template = CATALOG.get("password_reset")
    # When asking what's missing / Then exactly those two come back, sorted
    assert template.missing({"name": "Ada"}) == ["expires_in_minutes", "reset_url"]


def test_null_counts_as_missing_but_zero_and_empty_do_not():
    template = CATALOG.get("password_reset")
    data = {"name": "", "reset_url": None, "expires_in_minutes": 0}
    assert template.missing(data) == ["reset_url"]


def test_missing_item_fields_are_named_by_position():
    # Given an order whose second item lacks its price
    data = order(
        items=[{"name": "Poster", "quantity": 1, "price": "$1"}, {"name": "Pen", "quantity": 2}]
    )
    # When asking what's missing / Then the field is pointed at precisely
    assert CATALOG.get("order_confirmation").missing(data) == ["items[1].price"]


def test_check_reports_missing_data_in_plain_words():
    # When checking welcome data without the action URL
    with pytest.raises(MissingTemplateData) as raised:
        CATALOG.get("welcome").check({"name": "Ada"})
    # Then the error lists it and says what to do
    assert raised.value.details == {"missing": ["action_url"]}
    assert raised.value.message == (
        "Template 'welcome' needs data for: action_url. Add them to `data`."
    )


def test_render_refuses_incomplete_data():
    with pytest.raises(MissingTemplateData):
        CATALOG.get("welcome").render({"name": "Ada"})


def test_items_that_are_not_a_list_are_a_validation_error():
    # When `items` is a string instead of a list
    with pytest.raises(RequestValidationError) as raised:
        CATALOG.get("order_confirmation").check(order(items="3 posters"))
    # Then the error points at the field
    assert raised.value.details["field"] == "data.items"
    assert "list" in raised.value.message


def test_an_item_that_is_not_an_object_is_a_validation_error():
    with pytest.raises(RequestValidationError) as raised:
        CATALOG.get("order_confirmation").check(order(items=["poster"]))
    assert raised.value.details == {
        "field": "data.items[0]", "expected": "object", "received": "string"
    }


def test_data_that_is_not_an_object_is_a_validation_error():
    with pytest.raises(RequestValidationError) as raised:
        CATALOG.get("welcome").check(["Ada"])
    assert raised.value.details["field"] == "data"


# --- escaping ----------------------------------------------------------------------------


def test_html_part_escapes_markup_in_data():
    # Given a name carrying a script tag
    email = CATALOG.get("welcome").render(
        {"name": "<script>alert(1)</script>", "action_url": "https://example.com/?a=1&b=2"}
    )
    # Then the HTML part shows it as text, never as markup
    assert "<script>" not in email.html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in email.html
    assert 'href="https://example.com/?a=1&amp;b=2"' in email.html


def test_subject_and_text_part_keep_data_as_written():
    # Given data with characters HTML would escape
    email = CATALOG.get("welcome").render(
        {"name": "O'Brien & <Co>", "action_url": "https://example.com/?a=1&b=2"}
    )
    # Then plain-text parts show them as typed, not as HTML entities
    assert email.subject == "Welcome to Acme, O'Brien & <Co>"
    assert "Welcome, O'Brien & <Co>!" in email.text
    assert "https://example.com/?a=1&b=2" in email.text


# --- the build ---------------------------------------------------------------------------


def test_the_committed_json_is_a_fresh_build_of_the_sources():
    # Given the template sources / When building them
    fresh = render_catalog_json(build_catalog(SOURCE_DIR))
    # Then the result is byte for byte what is committed (rebuild with
    # `python -m mailroom_dev.templates_build` after editing templates/)
    assert DEFAULT_CATALOG_PATH.read_text(encoding="utf-8") == fresh


def test_the_check_mode_passes_on_the_committed_json():
    # When running `python -m mailroom_dev.templates_build --check` / Then it finds nothing stale
    assert main(["--check"]) == 0


def write_template(
    root: Path,
    *,
    html: str,
    variables: Any,
    example: dict,
    text: str = "Hello {{{name}}}\n",
    **meta: Any,
) -> Path:
    folder = root / "greeting"
    folder.mkdir(parents=True)
    meta = {"subject": "Hello {{{name}}}", "variables": variables, **meta}
    (folder / "meta.json").write_text(json.dumps(meta))
    (folder / "example.json").write_text(json.dumps(example))
    (folder / "body.html.j2").write_text(html)
    (folder / "body.txt.j2").write_text(text)
    return root


def test_a_minimal_template_builds(tmp_path):
    source = write_template(
        tmp_path, html="<p>Hi {{name}}</p>", variables={"name": "text"}, example={"name": "Ada"}
    )
    built = build_catalog(source)["greeting"]
    assert built["types"] == {"name": "text"}
    assert built["data_schema"]["required"] == ["name"]
    assert built["html"] == "<p>Hi {{name}}</p>\n"


def test_an_undeclared_variable_fails_the_build(tmp_path):
    # Given a template using {{nickname}} that meta.json doesn't declare
    source = write_template(
        tmp_path,
        html="<p>Hi {{name}}, or {{nickname}}</p>",
        variables={"name": "text"},
        example={"name": "Ada"},
    )
    # When building / Then the build fails naming the variable and the file to fix
    with pytest.raises(TemplateBuildError, match=r"uses \{\{nickname\}\} but doesn't declare"):
        build_catalog(source)


def test_unescaped_placeholders_in_html_fail_the_build(tmp_path):
    source = write_template(
        tmp_path, html="<p>Hi {{{name}}}</p>", variables={"name": "text"}, example={"name": "Ada"}
    )
    with pytest.raises(TemplateBuildError, match="skips HTML escaping"):
        build_catalog(source)


def test_an_incomplete_example_fails_the_build(tmp_path):
    source = write_template(
        tmp_path, html="<p>Hi {{name}}</p>", variables={"name": "text"}, example={}
    )
    with pytest.raises(TemplateBuildError, match="lacks data for: name"):
        build_catalog(source)


def test_an_unclosed_block_fails_the_build(tmp_path):
    source = write_template(
        tmp_path,
        html="{{#if name}}<p>Hi {{name}}</p>",
        variables={"name": "text"},
        example={"name": "A"},
    )
    with pytest.raises(TemplateBuildError, match=r"\{\{#if\}\} is never closed"):
        build_catalog(source)


def on_a_layout(root: Path, text: str) -> Path:
    """A one-variable template whose text part is `text`, beside a layout with one block."""
    (root / "_layouts").mkdir()
    (root / "_layouts" / "base.txt.j2").write_text("[% block content %][% endblock %]\n")
    return write_template(root, html="<p>Hi {{name}}</p>", variables={"name": "text"},
                          example={"name": "A"}, text=text)


def test_text_a_layout_would_drop_fails_the_build(tmp_path):
    source = on_a_layout(tmp_path, '[% extends "_layouts/base.txt.j2" %]\n'
                                   "[% block content %]Hi {{{name}}}[% endblock %]\n"
                                   "{{#if name}}\n")
    with pytest.raises(TemplateBuildError, match=r"body.txt.j2: line 3 is outside every"):
        build_catalog(source)


def test_text_a_layout_would_drop_fails_the_build_inside_an_if_too(tmp_path):
    source = on_a_layout(tmp_path, '[% extends "_layouts/base.txt.j2" %]\n'
                                   "[% if brand %]\nP.S. hello\n[% endif %]\n"
                                   "[% block content %]Hi {{{name}}}[% endblock %]\n")
    with pytest.raises(TemplateBuildError, match=r"line 3 is outside every"):
        build_catalog(source)


def test_whitespace_and_comments_around_the_blocks_of_a_layout_are_fine(tmp_path):
    source = on_a_layout(tmp_path, '[# the greeting #]\n[% extends "_layouts/base.txt.j2" %]\n\n'
                                   "[% block content %]Hi {{{name}}}[% endblock %]\n\n")
    assert build_catalog(source)["greeting"]["text"] == "Hi {{{name}}}\n"


def test_the_check_mode_reports_a_stale_output_without_writing_it(tmp_path):
    # Given a compiled file that doesn't match the sources
    output = tmp_path / "compiled.json"
    output.write_text("{}\n")
    # When running the build in check mode / Then it fails and leaves the file alone
    assert main(["--check", "--output", str(output)]) == 1
    assert output.read_text() == "{}\n"


# --- the build: declared types -----------------------------------------------------------


def test_the_old_lists_syntax_fails_the_build_saying_what_replaced_it(tmp_path):
    # Given a meta.json still written with "lists" and a plain list of names
    source = write_template(
        tmp_path, html="<p>Hi {{name}}</p>", variables=["name"], example={"name": "A"}, lists={}
    )
    # When building / Then the build says how to declare types instead
    with pytest.raises(TemplateBuildError) as raised:
        build_catalog(source)
    assert '"lists" is no longer used' in str(raised.value)
    assert '"variables" must map each name the template reads to its type' in str(raised.value)


@pytest.mark.parametrize(
    ("declared", "complaint"),
    [
        ("string", "unknown type 'string'; use \"text\", \"number\", \"url\""),
        (["text", "number"], "a list holds one item type"),
        ([{}], "a list holds one item type"),
        ([{"tags": ["text"]}], "lists inside lists aren't supported"),
        ({"first": "text"}, "the type must be"),
        (None, "the type must be"),
    ],
)
def test_a_variable_without_a_valid_type_fails_the_build(tmp_path, declared, complaint):
    source = write_template(
        tmp_path, html="<p>Hi {{name}}</p>", variables={"name": declared}, example={"name": "A"}
    )
    with pytest.raises(TemplateBuildError) as raised:
        build_catalog(source)
    assert "  - name: " in str(raised.value)
    assert complaint in str(raised.value)


def test_a_loop_over_a_variable_declared_as_text_fails_the_build(tmp_path):
    source = write_template(
        tmp_path,
        html="<p>Hi {{name}}</p>{{#each items}}<p>{{label}}</p>{{/each}}",
        variables={"name": "text", "items": "text"},
        example={"name": "A", "items": "x"},
    )
    with pytest.raises(TemplateBuildError, match="loops over items with #each; declare it as a"):
        build_catalog(source)


def test_item_fields_must_match_what_the_loop_reads(tmp_path):
    source = write_template(
        tmp_path,
        html="<p>Hi {{name}}</p>{{#each items}}<p>{{label}}</p>{{/each}}",
        variables={"name": "text", "items": [{"title": "text"}]},
        example={"name": "A", "items": []},
    )
    with pytest.raises(TemplateBuildError, match=r"reads \{\{label\}\} from the items of items"):
        build_catalog(source)


def test_a_list_of_plain_values_builds(tmp_path):
    source = write_template(
        tmp_path,
        html="<p>Hi {{name}}</p><ul>{{#each tags}}<li>{{this}}</li>{{/each}}</ul>",
        variables={"name": "text", "tags": ["text"]},
        example={"name": "A", "tags": ["new", "sale"]},
    )
    assert build_catalog(source)["greeting"]["data_schema"]["properties"]["tags"] == {
        "type": "array", "items": {"type": "string", "maxLength": 1000}
    }


@pytest.mark.parametrize(
    "html",
    [
        '<a href="{{link}}">Open</a>',
        "<a href='{{link}}'>Open</a>",
        '<img src="{{link}}" alt="">',
        "{{#each rows}}<a href=\"{{link}}\">Open</a>{{/each}}",
    ],
)
def test_a_placeholder_that_starts_a_link_must_be_declared_url(tmp_path, html):
    # Given a link whose whole target comes from data, declared as mere text
    in_loop = "#each" in html
    variables: dict[str, Any] = {"name": "text"}
    variables.update({"rows": [{"link": "text"}]} if in_loop else {"link": "text"})
    source = write_template(
        tmp_path, html=f"<p>Hi {{{{name}}}}</p>{html}", variables=variables, example={}
    )
    # When building / Then the build asks for the url type, which refuses javascript: links
    with pytest.raises(TemplateBuildError, match=r'at the start of a link .*declare it "url"'):
        build_catalog(source)


def test_a_placeholder_later_in_a_link_may_be_text(tmp_path):
    # Given a link whose scheme and host are fixed in the template
    source = write_template(
        tmp_path,
        html='<p><a href="https://example.com/orders/{{name}}">Order</a></p>',
        variables={"name": "text"},
        example={"name": "A-1"},
    )
    # When building / Then text is fine: data can't change where the link goes
    assert build_catalog(source)["greeting"]["types"] == {"name": "text"}


def test_an_example_of_the_wrong_type_fails_the_build(tmp_path):
    source = write_template(
        tmp_path, html="<p>Hi {{name}}</p>", variables={"name": "text"}, example={"name": 42}
    )
    with pytest.raises(TemplateBuildError, match=r"example.json: `data.name` must be text"):
        build_catalog(source)


def test_templates_compiled_in_many_threads_at_once_each_render_their_own_text():
    """The local stack renders in many threads; pybars' compiler shares its state across
    instances, so unguarded concurrent compiles fail ('list' object has no attribute
    'grow') or mix up their code."""
    import threading

    threads, rounds = 8, 6
    start = threading.Barrier(threads)
    results: dict[tuple[int, int], str] = {}
    errors: list[BaseException] = []

    def render_distinct_templates(thread: int) -> None:
        start.wait()
        for round_ in range(rounds):
            # A fresh source each time, so every render compiles.
            template = TemplateCatalog.from_dict({"t": {
                "subject": f"Hi {{{{name}}}} {thread}/{round_}",
                "html": f"<p>{thread}/{round_} {{{{#each items}}}}[{{{{name}}}}]{{{{/each}}}}</p>",
                "text": f"{thread}/{round_} {{{{name}}}}",
                "variables": ["name", "items"], "lists": {"items": ["name"]},
            }}).get("t")
            try:
                rendered = template.render({"name": "Ada", "items": [{"name": "tea"}]})
            except Exception as error:
                errors.append(error)
            else:
                results[(thread, round_)] = rendered.subject + "|" + rendered.html

    workers = [threading.Thread(target=render_distinct_templates, args=(index,))
               for index in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()

    assert errors == []
    assert results == {(t, r): f"Hi Ada {t}/{r}|<p>{t}/{r} [tea]</p>"
                       for t in range(threads) for r in range(rounds)}


@pytest.mark.parametrize(("meta", "problem"), [
    ({"transactional": True, "unsubscribe": True, "category": "digest"},
     "a transactional template"),
    ({"transactional": True, "category": "digest"}, "a transactional template"),
    ({"unsubscribe": True}, "needs the `category`"),
    ({"category": "Weekly Digest"}, "lower-case letters"),
    ({"unsubscribe": "yes", "category": "digest"}, "true or false"),
])
def test_a_template_that_may_not_carry_an_unsubscribe_fails_the_build(tmp_path, meta, problem):
    source = write_template(tmp_path, html="<p>Hi {{name}}</p>", variables={"name": "text"},
                            example={"name": "Ada"}, **meta)

    with pytest.raises(TemplateBuildError, match=problem):
        build_catalog(source)


def test_a_category_and_its_unsubscribe_are_compiled_for_the_runtime(tmp_path):
    source = write_template(tmp_path, html="<p>Hi {{name}}</p>", variables={"name": "text"},
                            example={"name": "Ada"}, category="news", unsubscribe=True)

    built = build_catalog(source)["greeting"]

    assert (built["category"], built["unsubscribe"]) == ("news", True)
    template = TemplateCatalog.from_dict({"greeting": built}).get("greeting")
    assert (template.category, template.unsubscribe) == ("news", True)
