"""Template data against each template's declared types: what `check` refuses, in which words,
and that the JSON Schema the build emits says the same as `check`."""

from __future__ import annotations

import json
import math
import shutil
import subprocess
from typing import Any

import pytest

from mailroom.errors import MissingTemplateData, RequestValidationError
from mailroom.templates import (
    SUBJECT_MAX_LENGTH,
    TEMPLATE_DATA_MAX_LENGTH,
    TEXT_MAX_LENGTH,
    URL_MAX_LENGTH,
    URL_PATTERN,
    TemplateCatalog,
    data_schema_for,
)
from mailroom_dev.templates_build import OUTPUT_PATH

jsonschema = pytest.importorskip("jsonschema")

CATALOG = TemplateCatalog.load()
WELCOME = CATALOG.get("welcome")
RESET = CATALOG.get("password_reset")
ORDER = CATALOG.get("order_confirmation")


def welcome(**overrides: Any) -> dict[str, Any]:
    return {**WELCOME.example, **overrides}


def reset(**overrides: Any) -> dict[str, Any]:
    return {**RESET.example, **overrides}


def order(**overrides: Any) -> dict[str, Any]:
    return {**ORDER.example, **overrides}


def item(**overrides: Any) -> dict[str, Any]:
    return {"name": "Poster", "quantity": 1, "price": "$1.00", **overrides}


def refusal(template: Any, data: Any) -> RequestValidationError:
    with pytest.raises(RequestValidationError) as raised:
        template.check(data)
    return raised.value


# --- wrong types -------------------------------------------------------------------------


def test_an_object_where_text_is_expected_is_refused_naming_the_field():
    # Given a name sent as an object, which would print as a Python dict in the subject
    error = refusal(WELCOME, welcome(name={"first": "Ada"}))
    # Then the error names the field, what it must be and what came, in plain words
    assert error.to_body() == {"error": {
        "code": "validation_error",
        "message": "`data.name` must be text (a JSON string), not an object.",
        "details": {"field": "data.name", "expected": "text", "received": "object"},
    }}


def test_a_number_where_text_is_expected_says_to_quote_it():
    error = refusal(ORDER, order(order_id=10042))
    assert error.details == {"field": "data.order_id", "expected": "text", "received": "number"}
    assert error.message == "`data.order_id` must be text (a JSON string), not a number. " \
        "Put it in quotes."


@pytest.mark.parametrize("value", ["thirty", "30", "", True, None])
def test_anything_but_a_json_number_where_a_number_is_expected_is_refused(value):
    # Given expires_in_minutes as a string, a boolean or null
    with pytest.raises((RequestValidationError, MissingTemplateData)) as raised:
        RESET.check(reset(expires_in_minutes=value))
    # Then a string or boolean is the wrong type, and null counts as missing
    if value is None:
        assert raised.value.details == {"missing": ["expires_in_minutes"]}
    else:
        assert raised.value.details["field"] == "data.expires_in_minutes"
        assert raised.value.details["expected"] == "number"


def test_a_number_sent_as_a_string_says_to_drop_the_quotes():
    error = refusal(RESET, reset(expires_in_minutes="30"))
    assert error.message == (
        "`data.expires_in_minutes` must be a number, not a string. Send it without quotes."
    )


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
def test_nan_and_infinity_are_not_numbers_ses_can_read(value):
    error = refusal(RESET, reset(expires_in_minutes=value))
    assert error.details == {"field": "data.expires_in_minutes", "expected": "number"}
    assert "finite number" in error.message


@pytest.mark.parametrize("value", [0, 30, 2.5, -1, 10**20])
def test_integers_and_decimals_are_numbers(value):
    RESET.check(reset(expires_in_minutes=value))


def test_a_list_item_with_a_quantity_that_is_not_a_number_is_pointed_at():
    # Given an order whose second item has its quantity in words
    data = order(items=[item(), item(quantity="three")])
    # Then the error points at that one field by position
    error = refusal(ORDER, data)
    assert error.details == {
        "field": "data.items[1].quantity", "expected": "number", "received": "string"
    }
    assert error.message == "`data.items[1].quantity` must be a number, not a string."


def test_items_that_are_an_object_are_not_a_list():
    error = refusal(ORDER, order(items={"name": "Poster"}))
    assert error.details == {"field": "data.items", "expected": "list", "received": "object"}


def test_missing_names_are_reported_before_wrong_types():
    # Given data that lacks a name and has another of the wrong type
    with pytest.raises(MissingTemplateData) as raised:
        WELCOME.check({"name": {"first": "Ada"}})
    # Then all missing names come first, in the existing error shape
    assert raised.value.details == {"missing": ["action_url"]}


def test_keys_no_template_reads_are_let_through():
    # Given data with an extra key of any shape (SES ignores it)
    WELCOME.check(welcome(account={"plan": "pro", "seats": [1, 2]}))
    ORDER.check(order(items=[item(sku="P-1")]))


def test_empty_text_and_an_empty_list_are_allowed():
    ORDER.check(order(name="", items=[]))


# --- links -------------------------------------------------------------------------------


def test_a_javascript_link_is_refused():
    # Given an action URL that would run script when clicked
    error = refusal(WELCOME, welcome(action_url="javascript:alert(1)"))
    # Then it never reaches an href, and the error says which links are allowed
    assert error.to_body()["error"] == {
        "code": "validation_error",
        "message": "`data.action_url` is not a link Mailroom sends: 'javascript:' links are "
        "not allowed. Use an https://, http:// or mailto: link.",
        "details": {
            "field": "data.action_url",
            "expected": "url",
            "allowed_schemes": ["https", "http", "mailto"],
        },
    }


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("JavaScript:alert(1)", "'JavaScript:' links are not allowed"),
        ("data:text/html,<script>alert(1)</script>", "'data:' links are not allowed"),
        ("vbscript:msgbox", "'vbscript:' links are not allowed"),
        ("ftp://files.example.com/a", "'ftp:' links are not allowed"),
        (" https://example.com", "it has no scheme"),
        ("//evil.example.com", "it has no scheme"),
        ("www.example.com/start", "it has no scheme"),
        ("", "it has no scheme"),
        ("https://exa mple.com", "it contains a space"),
        ("https://example.com/\n", "it contains a space, a line break"),
        ("https://example.com/\x00", "a control character"),
        ("https://", "it lacks the host"),
        ("https:///path", "it lacks the host"),
        ("https:/example.com", "it lacks the host"),
        ("mailto:", "or the address"),
    ],
)
def test_links_other_than_http_https_and_mailto_are_refused(url, why):
    error = refusal(WELCOME, welcome(action_url=url))
    assert error.details["field"] == "data.action_url"
    assert why in error.message


@pytest.mark.parametrize(
    "url",
    [
        "https://app.example.com/start?ref=welcome#top",
        "HTTPS://APP.EXAMPLE.COM/START",
        "http://localhost:8080/reset?token=a%20b",
        "mailto:support@example.com?subject=Help",
        "https://例え.jp/パス",
        "https://user@example.com/",
    ],
)
def test_web_and_mail_links_are_accepted(url):
    WELCOME.check(welcome(action_url=url))


def test_a_link_that_is_not_a_string_is_the_wrong_type():
    error = refusal(WELCOME, welcome(action_url=["https://example.com"]))
    assert error.details == {"field": "data.action_url", "expected": "url", "received": "list"}


# --- size limits -------------------------------------------------------------------------


def test_a_text_value_over_its_limit_is_refused_with_the_limit():
    # Given a 200 KB name
    error = refusal(WELCOME, welcome(name="x" * 200_000))
    # Then the error gives the limit and the length, not a generic "too large"
    assert error.details == {
        "field": "data.name", "expected": "text", "limit": TEXT_MAX_LENGTH, "length": 200_000
    }
    assert error.message == (
        f"`data.name` is 200000 characters long; the limit is {TEXT_MAX_LENGTH}."
    )


def test_a_text_value_at_its_limit_is_accepted():
    ORDER.check(order(items=[item(name="x" * TEXT_MAX_LENGTH)]))


def test_a_link_over_its_limit_is_refused():
    url = "https://example.com/?t=" + "a" * URL_MAX_LENGTH
    assert refusal(WELCOME, welcome(action_url=url)).details["limit"] == URL_MAX_LENGTH


def data_of_json_length(length: int) -> dict[str, Any]:
    """Welcome data whose JSON, as the SES adapter writes it, is exactly `length` long."""
    data = welcome(padding="")
    data["padding"] = "x" * (length - len(json.dumps(data)))
    assert len(json.dumps(data)) == length
    return data


def test_template_data_at_ses_limit_is_accepted():
    WELCOME.check(data_of_json_length(TEMPLATE_DATA_MAX_LENGTH))


def test_template_data_over_ses_limit_is_refused_naming_the_limit():
    # Given data one character longer, as JSON, than SES takes as TemplateData
    error = refusal(WELCOME, data_of_json_length(TEMPLATE_DATA_MAX_LENGTH + 1))
    # Then the error names SES's limit
    assert error.details == {
        "field": "data", "limit": TEMPLATE_DATA_MAX_LENGTH, "size": TEMPLATE_DATA_MAX_LENGTH + 1
    }
    assert f"SES accepts at most {TEMPLATE_DATA_MAX_LENGTH}" in error.message


def test_template_data_is_measured_as_ses_receives_it():
    # Given 50,000 accented letters: each is written \u00e9 (six characters) in the JSON sent
    error = refusal(WELCOME, welcome(note="é" * 50_000))
    # Then the escaped length is what counts
    assert error.details["size"] > TEMPLATE_DATA_MAX_LENGTH


def test_nan_anywhere_in_the_data_is_refused():
    # Given NaN in a key no template reads: SES can't parse the JSON it would make
    error = refusal(WELCOME, welcome(score=math.nan))
    assert error.details == {"field": "data", "expected": "object"}


def test_a_subject_over_the_header_limit_is_refused():
    # Given a name that fits as text but makes "Welcome to Acme, <name>" too long
    fixed = len("Welcome to Acme, ")
    error = refusal(WELCOME, welcome(name="x" * (SUBJECT_MAX_LENGTH - fixed + 1)))
    # Then the error names the limit and what to shorten
    assert error.details == {
        "field": "subject", "limit": SUBJECT_MAX_LENGTH, "length": SUBJECT_MAX_LENGTH + 1
    }
    assert "an email subject can be at most 998. Shorten name." in error.message


def test_a_subject_at_the_header_limit_is_accepted():
    fixed = len("Welcome to Acme, ")
    WELCOME.check(welcome(name="x" * (SUBJECT_MAX_LENGTH - fixed)))


def hand_built(subject: str, types: dict[str, Any]) -> Any:
    return TemplateCatalog.from_dict({"t": {
        "subject": subject, "html": "<p>{{name}}</p>", "text": "{{name}}", "types": types,
    }}).get("t")


def test_a_subject_with_blocks_is_measured_by_rendering_it():
    # Given a subject whose length depends on a block
    template = hand_built(
        "{{#if vip}}{{{vip}}}: {{/if}}{{{name}}}", {"name": "text", "vip": "text"}
    )
    # Then short data passes and long data through the block is caught
    template.check({"name": "Ada", "vip": "VIP"})
    assert refusal(template, {"name": "x" * 500, "vip": "y" * 500}).details["length"] == 1002


def test_html_escaping_in_the_subject_counts():
    # Given an escaped placeholder in the subject: each & prints as five characters
    template = hand_built("Hi {{name}}", {"name": "text"})
    template.check({"name": "&" * 199})
    assert refusal(template, {"name": "&" * 200}).details["length"] == 1003


# --- the emitted JSON Schema -------------------------------------------------------------


@pytest.mark.parametrize("name", CATALOG.names())
def test_the_emitted_schema_is_valid_json_schema(name):
    schema = json.loads(OUTPUT_PATH.read_text(encoding="utf-8"))[name]["data_schema"]
    jsonschema.Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"


@pytest.mark.parametrize("name", CATALOG.names())
def test_the_runtime_exposes_the_schema_the_build_emitted(name):
    emitted = json.loads(OUTPUT_PATH.read_text(encoding="utf-8"))[name]["data_schema"]
    template = CATALOG.get(name)
    assert template.data_schema == emitted == data_schema_for(template.types)


@pytest.mark.parametrize("name", CATALOG.names())
def test_every_example_is_valid(name):
    template = CATALOG.get(name)
    template.check(template.example)
    jsonschema.validate(dict(template.example), template.data_schema)
    json.dumps(template.data_schema)  # ready to serve as it is


AGREEMENT_CASES = [
    ("welcome", welcome()),
    ("welcome", welcome(name="")),
    ("welcome", welcome(extra={"any": ["thing"]})),
    ("welcome", welcome(name={"first": "Ada"})),
    ("welcome", welcome(name=7)),
    ("order_confirmation", order(items=[item(name="x" * TEXT_MAX_LENGTH)])),
    ("welcome", welcome(name="x" * (TEXT_MAX_LENGTH + 1))),
    ("welcome", welcome(action_url="javascript:alert(1)")),
    ("welcome", welcome(action_url="HTTP://EXAMPLE.COM")),
    ("welcome", welcome(action_url="mailto:ada@example.com")),
    ("welcome", welcome(action_url="https://example.com/\n")),
    ("welcome", welcome(action_url="https://example.com/ a")),
    ("welcome", welcome(action_url="https://")),
    ("welcome", welcome(action_url="https://例え.jp/")),
    ("welcome", {"name": "Ada"}),
    ("welcome", welcome(name=None)),
    ("welcome", ["Ada"]),
    ("password_reset", reset()),
    ("password_reset", reset(expires_in_minutes=2.5)),
    ("password_reset", reset(expires_in_minutes="30")),
    ("password_reset", reset(expires_in_minutes=True)),
    ("order_confirmation", order()),
    ("order_confirmation", order(items=[])),
    ("order_confirmation", order(items=[item(), item(quantity="3")])),
    ("order_confirmation", order(items=[item(sku="P-1")])),
    ("order_confirmation", order(items=[{"name": "Poster", "quantity": 1}])),
    ("order_confirmation", order(items=["Poster"])),
    ("order_confirmation", order(items="Poster")),
    ("order_confirmation", order(total=51.0)),
]


@pytest.mark.parametrize(("name", "data"), AGREEMENT_CASES)
def test_the_schema_and_check_agree(name, data):
    # Given data of any shape (none near SES's size limits, which the schema can't express)
    template = CATALOG.get(name)
    # When both judge it / Then they agree on whether it may be sent
    by_schema = jsonschema.Draft202012Validator(template.data_schema).is_valid(data)
    try:
        template.check(data)
        by_check = True
    except (RequestValidationError, MissingTemplateData):
        by_check = False
    assert by_schema == by_check


URL_SAMPLES = [
    "https://example.com", "HTTPS://A.B/c?d#e", "http://localhost:3000", "mailto:a@b.c",
    "javascript:alert(1)", "https://a.b/\n", "https://a.b/\r", "https://a b", "https://",
    "mailto:", " https://a.b", "https://a.b/\u2028", "https://例え.jp/", "ftp://a.b", "",
]


@pytest.mark.skipif(shutil.which("node") is None, reason="needs Node.js for ECMA-262 regexes")
def test_the_url_pattern_means_the_same_in_ecma_262():
    # Given JSON Schema's regex dialect (ECMA-262), as Node.js runs it
    script = (
        "const re = new RegExp(process.argv[1]);"
        "const samples = JSON.parse(process.argv[2]);"
        "console.log(JSON.stringify(samples.map(s => re.test(s))));"
    )
    result = subprocess.run(
        ["node", "-e", script, URL_PATTERN, json.dumps(URL_SAMPLES)],
        capture_output=True, text=True, check=True, timeout=30,
    )
    # Then it accepts and refuses exactly what `check` does
    by_check = []
    for url in URL_SAMPLES:
        try:
            WELCOME.check(welcome(action_url=url))
            by_check.append(True)
        except RequestValidationError:
            by_check.append(False)
    assert json.loads(result.stdout) == by_check
