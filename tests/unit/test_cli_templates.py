"""`mailroom templates build|validate|list|preview` on this machine: what each prints, its
exit code, and --json."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from rich.console import Console
from typer.testing import CliRunner

from mailroom_dev import cli, templates_build

runner = CliRunner()


@pytest.fixture(autouse=True)
def wide_console(monkeypatch):
    monkeypatch.setattr(cli, "console", Console(width=300, highlight=False))
    monkeypatch.setattr(cli, "errors", Console(stderr=True, width=300, highlight=False))


@pytest.fixture
def source(tmp_path: Path) -> Path:
    copy = tmp_path / "templates"
    shutil.copytree(templates_build.SOURCE_DIR, copy)
    return copy


def run(*args: str):
    return runner.invoke(cli.app, ["templates", *args])


def test_validate_passes_the_shipped_templates():
    result = run("validate")

    assert result.exit_code == 0, result.output
    count = len(templates_build.template_folders())
    assert f"{count} template(s), every check passed." in result.output


def test_validate_names_the_template_file_and_problem_and_exits_one(source):
    text = source / "welcome" / "body.txt.j2"
    text.write_text(text.read_text().replace("{{{action_url}}}", "our site"))

    result = run("validate", "--source", str(source))

    assert result.exit_code == 1
    assert "welcome" in result.output and "FAIL  same_variables" in result.output
    assert f"{text}: same_variables: the text part never prints {{{{action_url}}}}" \
        in result.output


def test_validate_json_lists_every_result(source):
    result = run("validate", "--source", str(source), "--json", "welcome")

    document = json.loads(result.output)
    assert document["ok"] is True
    assert {r["template"] for r in document["results"]} == {"welcome"}
    assert all(r["status"] == "pass" for r in document["results"])


def test_validate_with_a_stack_asks_ses_to_render(monkeypatch):
    asked = []

    class Ses:
        def test_render_email_template(self, TemplateName, TemplateData):
            asked.append(TemplateName)
            return {"RenderedTemplate": "Subject: Welcome to Acme, Ada\r\n\r\nHi\r\n"}

    class Access:
        def client(self, service):
            assert service == "sesv2"
            return Ses()

        def url(self, local_key, output):
            return "Prod-"

    monkeypatch.setattr(cli, "aws_access", lambda settings, what: Access())

    result = runner.invoke(cli.app, ["--stack", "Prod", "templates", "validate", "welcome"])

    assert result.exit_code == 0, result.output
    assert asked == ["Prod-welcome"]


def test_build_check_exits_one_when_the_compiled_file_is_stale(monkeypatch, tmp_path):
    stale = tmp_path / "compiled.json"
    stale.write_text("{}\n")
    monkeypatch.setattr(templates_build, "OUTPUT_PATH", stale)

    result = run("build", "--check")

    assert result.exit_code == 1 and "out of date" in result.output
    assert stale.read_text() == "{}\n"


def test_build_writes_the_compiled_file(monkeypatch, tmp_path):
    output = tmp_path / "compiled.json"
    monkeypatch.setattr(templates_build, "OUTPUT_PATH", output)

    result = run("build", "--json")

    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["written"] is True
    assert set(json.loads(output.read_text())) == {
        folder.name for folder in templates_build.template_folders()}


def test_list_gives_variables_types_and_list_fields():
    result = run("list", "--json")

    items = {item["name"]: item for item in json.loads(result.output)["items"]}
    assert items["order_confirmation"]["lists"] == {"items": ["name", "price", "quantity"]}
    assert items["password_reset"]["types"]["expires_in_minutes"] == "number"


def test_list_says_which_category_each_template_belongs_to():
    result = run("list")  # on a 300-column console

    rows = {line.split()[1]: line for line in result.output.splitlines()
            if line.startswith("│") and len(line.split()) > 3}
    assert "digest (one-click unsubscribe)" in rows["weekly_digest"]
    assert rows["password_reset"].split("│")[2].strip() == "-"
    assert {(item["name"], item["category"]) for item in json.loads(
        run("list", "--json").output)["items"]} >= {("weekly_digest", "digest"),
                                                    ("password_reset", None)}


def test_preview_renders_the_example_with_data_over_it():
    result = run("preview", "welcome", "--data", '{"name": "Grace"}', "--json")

    assert result.exit_code == 0, result.output
    parts = json.loads(result.output)
    assert parts["subject"] == "Welcome to Acme, Grace"
    assert "https://app.example.com/start?ref=welcome" in parts["text"]


def test_preview_of_one_part_prints_it_bare():
    result = run("preview", "welcome", "--part", "subject")

    assert result.output == "Welcome to Acme, Ada\n"


def test_preview_with_data_the_template_refuses_says_why():
    result = run("preview", "welcome", "--data", '{"action_url": "javascript:alert(1)"}')

    assert result.exit_code == 1
    assert "data.action_url" in str(result.exception)


def test_preview_of_an_unknown_template_lists_the_known_ones():
    result = run("preview", "nope")

    assert result.exit_code == 1
    assert "welcome" in str(result.exception)
    assert result.exception.code == "unknown_template"  # as the API says it


def test_preview_missing_data_names_the_template_once_with_the_apis_code():
    result = run("preview", "welcome", "--data", '{"name": null}')

    assert result.exit_code == 1
    assert str(result.exception).count("'welcome'") == 1
    assert result.exception.code == "missing_template_data"
