"""`mailroom templates validate`'s checks, on copies of the shipped templates with one thing
broken each: the check that owns the rule fails, naming the template, the file and the
problem; the rest still pass. SES's own rendering through botocore's Stubber."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import boto3
import pytest
from botocore.stub import Stubber

from mailroom_dev import templates_check
from mailroom_dev.templates_build import SOURCE_DIR, TemplateBuildError, template_folders


@pytest.fixture
def source(tmp_path: Path) -> Path:
    copy = tmp_path / "templates"
    shutil.copytree(SOURCE_DIR, copy)
    return copy


def statuses(validation, template: str) -> dict[str, str]:
    return {r.check: r.status.value for r in validation.results if r.template == template}


def problems(validation, template: str, check: str) -> list[tuple[str, str]]:
    [result] = [r for r in validation.results if (r.template, r.check) == (template, check)]
    return [(p.file.name, p.problem) for p in result.problems]


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def test_the_shipped_templates_pass_every_check():
    validation = templates_check.validate()

    assert validation.ok
    assert {r.template for r in validation.results} == {
        folder.name for folder in template_folders()} >= {"welcome", "order_confirmation"}
    assert {r.check for r in validation.results} == {
        "build", *(check.name for check in templates_check.CHECKS)}


def test_a_text_part_missing_what_the_html_part_prints_fails_same_variables(source):
    edit(source / "welcome" / "body.txt.j2", "{{{action_url}}}", "our website")

    validation = templates_check.validate(source)

    assert not validation.ok
    assert statuses(validation, "welcome")["same_variables"] == "fail"
    [(file, problem)] = problems(validation, "welcome", "same_variables")
    assert file == "body.txt.j2" and "{{action_url}}" in problem
    assert statuses(validation, "password_reset")["same_variables"] == "pass"


def test_a_link_that_is_not_http_or_mailto_fails_links(source):
    edit(source / "welcome" / "body.html.j2", "[% block content %]",
         '[% block content %]<a href="javascript:alert(1)">x</a>')

    validation = templates_check.validate(source, ["welcome"])

    [(file, problem)] = problems(validation, "welcome", "links")
    assert file == "body.html.j2" and "javascript:alert(1)" in problem


def test_a_template_that_does_not_build_fails_build_and_skips_the_rest(source):
    edit(source / "welcome" / "body.html.j2", "{{name}}", "{{#if name}}")

    validation = templates_check.validate(source)

    checks = statuses(validation, "welcome")
    assert checks.pop("build") == "fail"
    assert set(checks.values()) == {"skip"}
    [(_, problem)] = problems(validation, "welcome", "build")
    assert "never closed" in problem and "welcome" in problem
    assert set(statuses(validation, "order_confirmation").values()) == {"pass"}


def test_an_example_of_the_wrong_type_fails_the_build_naming_example_json(source):
    (source / "password_reset" / "example.json").write_text(json.dumps(
        {"name": "Ada", "reset_url": "https://x.example/r", "expires_in_minutes": "30"}))

    validation = templates_check.validate(source, ["password_reset"])

    [(file, problem)] = problems(validation, "password_reset", "build")
    assert file == "password_reset" and "example.json" in problem and "number" in problem


def test_a_transactional_template_with_an_unsubscribe_fails_the_build_naming_meta_json(source):
    meta = source / "password_reset" / "meta.json"
    declared = json.loads(meta.read_text())
    meta.write_text(json.dumps({**declared, "transactional": True, "category": "digest",
                                "unsubscribe": True}))

    validation = templates_check.validate(source, ["password_reset"])

    [(_, problem)] = problems(validation, "password_reset", "build")
    assert str(meta) in problem and "transactional" in problem


def test_a_name_ses_cannot_store_fails_ses_limits(source):
    long_name = "w" * 60
    shutil.copytree(source / "welcome", source / long_name)

    validation = templates_check.validate(source, [long_name])

    [(_, problem)] = problems(validation, long_name, "ses_limits")
    assert "64" in problem


def test_asking_for_a_template_that_does_not_exist_names_the_ones_that_do(source):
    with pytest.raises(TemplateBuildError, match=r"No template nope .* welcome"):
        templates_check.validate(source, ["nope"])


# --- SES's own rendering ---------------------------------------------------------------------


def ses_and_stubber():
    client = boto3.client("sesv2", region_name="us-east-1", aws_access_key_id="x",
                          aws_secret_access_key="x")
    return client, Stubber(client)


def rendered(subject: str) -> str:
    return f"Subject: {subject}\r\nMIME-Version: 1.0\r\nContent-Type: text/plain\r\n\r\nHi\r\n"


def test_ses_rendering_passes_when_ses_gives_the_local_subject():
    client, stubber = ses_and_stubber()
    stubber.add_response(
        "test_render_email_template",
        {"RenderedTemplate": rendered("Welcome to Acme, Ada")},
        {"TemplateName": "Mailroom-welcome",
         "TemplateData": json.dumps({"name": "Ada",
                                     "action_url": "https://app.example.com/start?ref=welcome"})})
    check = templates_check.ses_render_check(client, "Mailroom-")

    with stubber:
        validation = templates_check.validate(names=["welcome"], extra=[check])

    assert statuses(validation, "welcome")["ses_render"] == "pass"
    stubber.assert_no_pending_responses()


def test_ses_rendering_fails_when_ses_renders_another_subject():
    client, stubber = ses_and_stubber()
    stubber.add_response("test_render_email_template",
                         {"RenderedTemplate": rendered("Welcome, Ada")})
    check = templates_check.ses_render_check(client, "Mailroom-")

    with stubber:
        validation = templates_check.validate(names=["welcome"], extra=[check])

    [(file, problem)] = problems(validation, "welcome", "ses_render")
    assert file == "meta.json" and "'Welcome, Ada'" in problem


def test_ses_refusing_to_render_fails_with_its_message():
    client, stubber = ses_and_stubber()
    stubber.add_client_error("test_render_email_template", "NotFoundException",
                             "Template Mailroom-welcome does not exist.", 404)
    check = templates_check.ses_render_check(client, "Mailroom-")

    with stubber:
        validation = templates_check.validate(names=["welcome"], extra=[check])

    [(_, problem)] = problems(validation, "welcome", "ses_render")
    assert "does not exist" in problem and "NotFoundException" in problem
