"""The operator CLI against a fake API: what each command asks the API for, what it prints,
and the plain-words errors. No stack, no sockets: `Settings.api` hands out a `FakeApi`, and
the HTTP layer itself (`Api.call`) is tested with a fake `urlopen`."""

from __future__ import annotations

import io
import json
import urllib.error
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console
from typer.testing import CliRunner

from mailroom_dev import cli
from mailroom_dev.cli import ApiError, CliError, UsageError

runner = CliRunner()

MESSAGE = {
    "id": "msg_1", "status": "delivered", "to": "ada@example.com", "template": "welcome",
    "created_at": "2026-11-01T12:00:00Z", "updated_at": "2026-11-01T12:00:02Z",
    "ses_message_id": "0100abc-000000",
    "events": [{"type": "queued", "at": "2026-11-01T12:00:00Z"},
               {"type": "delivered", "at": "2026-11-01T12:00:02Z",
                "smtp_response": "250 ok"}],
    "failure": None,
}
SUPPRESSION = {"email": "ada@example.com", "reason": "hard_bounce",
               "created_at": "2026-11-01T12:00:00Z", "expires_at": None,
               "source": "ses:bounce", "note": None}
NOT_FOUND = {"error": {"code": "not_found", "message": "No such suppression.", "details": None}}


class FakeApi:
    """Answers (method, path) with canned payloads, or raises a canned error; keeps calls."""

    def __init__(self) -> None:
        self.answers: dict[tuple[str, str], list[Any]] = {}
        self.calls: list[tuple[str, str, Any]] = []

    def answer(self, method: str, path: str, *payloads: Any) -> None:
        self.answers[(method, path)] = list(payloads)

    def call(self, method: str, path: str, body: Any = None,
             headers: dict[str, str] | None = None) -> Any:
        self.calls.append((method, path, body))
        queued = self.answers.get((method, path))
        if not queued:
            raise AssertionError(f"unexpected API call {method} {path}")
        payload = queued.pop(0) if len(queued) > 1 else queued[0]
        if isinstance(payload, Exception):
            raise payload
        return payload


@pytest.fixture(autouse=True)
def isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No real target: no stack, no API env vars, an empty state dir; wide consoles."""
    for name in ("MAILROOM_STACK", "MAILROOM_API_URL", "MAILROOM_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    state_dir = tmp_path / "state"
    state_dir.mkdir()
    monkeypatch.setenv("MAILROOM_STATE_DIR", str(state_dir))
    # Wide enough that rich never wraps a line under test.
    monkeypatch.setattr(cli, "console", Console(width=300, highlight=False))
    monkeypatch.setattr(cli, "errors", Console(stderr=True, width=300, highlight=False))
    monkeypatch.setattr(cli.time, "sleep", lambda seconds: None)
    return state_dir


@pytest.fixture
def api(monkeypatch: pytest.MonkeyPatch) -> FakeApi:
    fake = FakeApi()
    monkeypatch.setattr(cli.Settings, "api", lambda self: fake)
    return fake


def run(*args: str, input: str | None = None) -> Any:
    return runner.invoke(cli.app, list(args), input=input)


def run_main(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
             *args: str) -> tuple[int, str, str]:
    """The installed entry point: exit status, stdout, stderr."""
    monkeypatch.setattr("sys.argv", ["mailroom", *args])
    try:
        status = cli.main()
    except SystemExit as exit_:  # click exits on success
        status = int(exit_.code or 0)
    captured = capsys.readouterr()
    return status, captured.out, captured.err


# --- send ---------------------------------------------------------------------------------


def test_send_posts_the_email_and_says_how_to_follow_it(api):
    api.answer("POST", "/v1/emails", {"id": "msg_1", "status": "queued"})

    result = run("send", "--to", "ada@example.com", "--template", "welcome",
                 "--data", '{"name": "Ada", "action_url": "https://x.example"}')

    assert result.exit_code == 0, result.output
    assert api.calls == [("POST", "/v1/emails", {
        "to": "ada@example.com", "template": "welcome",
        "data": {"name": "Ada", "action_url": "https://x.example"}})]
    assert "Queued msg_1 to ada@example.com (welcome)." in result.output
    assert "mailroom status msg_1" in result.output


def test_send_without_data_sends_an_empty_object(api):
    api.answer("POST", "/v1/emails", {"id": "msg_1", "status": "queued"})

    run("send", "--to", "ada@example.com", "--template", "welcome")

    assert api.calls[0][2]["data"] == {}


def test_send_reads_the_data_from_a_file(api, tmp_path: Path):
    data_file = tmp_path / "data.json"
    data_file.write_text('{"name": "Zoë", "order_id": 42}', encoding="utf-8")
    api.answer("POST", "/v1/emails", {"id": "msg_1", "status": "queued"})

    result = run("send", "--to", "ada@example.com", "--template", "welcome",
                 "--data-file", str(data_file))

    assert result.exit_code == 0, result.output
    assert api.calls[0][2]["data"] == {"name": "Zoë", "order_id": 42}


def test_send_reads_the_data_from_stdin_with_a_dash(api):
    api.answer("POST", "/v1/emails", {"id": "msg_1", "status": "queued"})

    result = run("send", "--to", "ada@example.com", "--template", "welcome",
                 "--data-file", "-", input='{"name": "Ada"}')

    assert result.exit_code == 0, result.output
    assert api.calls[0][2]["data"] == {"name": "Ada"}


def test_send_passes_sender_reply_to_tags_and_idempotency_key(api):
    api.answer("POST", "/v1/emails", {"id": "msg_1", "status": "queued"})

    result = run("send", "--to", "ada@example.com", "--template", "welcome",
                 "--from", "Acme <hello@acme.example.com>",
                 "--reply-to", "help@acme.example.com", "--reply-to", "ops@acme.example.com",
                 "--tag", "campaign=spring", "--tag", "url=https://x.example/?a=b",
                 "--idempotency-key", "order-42")

    assert result.exit_code == 0, result.output
    body = api.calls[0][2]
    assert body["from"] == "Acme <hello@acme.example.com>"
    assert body["reply_to"] == ["help@acme.example.com", "ops@acme.example.com"]
    assert body["tags"] == {"campaign": "spring", "url": "https://x.example/?a=b"}
    assert body["idempotency_key"] == "order-42"


def test_send_leaves_out_options_not_given(api):
    api.answer("POST", "/v1/emails", {"id": "msg_1", "status": "queued"})

    run("send", "--to", "ada@example.com", "--template", "welcome")

    assert set(api.calls[0][2]) == {"to", "template", "data"}



def follows(api, *statuses: str) -> None:
    api.answer("POST", "/v1/emails", {"id": "msg_1", "status": "queued"})
    api.answer("GET", "/v1/emails/msg_1", *({**MESSAGE, "status": s} for s in statuses))


@pytest.mark.parametrize("final", ["bounced", "rejected", "suppressed", "render_failed",
                                   "failed"])
def test_send_wait_exits_one_when_the_mail_did_not_arrive(api, final):
    follows(api, "queued", "sent", final)

    result = run("send", "--to", "ada@example.com", "--template", "welcome", "--wait")

    assert result.exit_code == 1, result.output
    assert f"msg_1 ended {final}." in result.output


def test_send_wait_exits_zero_when_delivered(api):
    follows(api, "queued", "sent", "delivered")

    result = run("send", "--to", "ada@example.com", "--template", "welcome", "--wait")

    assert result.exit_code == 0, result.output


def test_send_wait_exits_zero_on_mail_delivered_then_complained_about_and_says_so(api):
    follows(api, "queued", "complained")  # the poll came after the complaint

    result = run("send", "--to", "ada@example.com", "--template", "welcome", "--wait")

    assert result.exit_code == 0, result.output
    assert "msg_1 was delivered, then complained about" in result.output


def test_send_wait_json_prints_the_message_and_still_exits_one_on_a_bounce(api):
    follows(api, "bounced")

    result = run("send", "--to", "ada@example.com", "--template", "welcome", "--wait",
                 "--json")

    assert result.exit_code == 1
    assert json.loads(result.output)["status"] == "bounced"


def test_status_wait_that_runs_out_of_time_exits_one(api, monkeypatch):
    api.answer("GET", "/v1/emails/msg_1", {**MESSAGE, "status": "sent"})
    clock = iter(range(0, 1000, 10))
    monkeypatch.setattr(cli.time, "monotonic", lambda: next(clock))

    result = run("status", "msg_1", "--wait", "--timeout", "30")

    assert result.exit_code == 1
    assert "msg_1 is still sent after 30 s." in result.output


@pytest.mark.parametrize("tag", ["campaign", "=spring", ""])
def test_send_refuses_a_tag_that_is_not_name_equals_value(api, tag):
    result = run("send", "--to", "ada@example.com", "--template", "welcome", "--tag", tag)

    assert isinstance(result.exception, CliError)
    assert "--tag takes NAME=VALUE" in str(result.exception)
    assert api.calls == []


def test_send_refuses_data_given_twice(api, tmp_path: Path):
    data_file = tmp_path / "data.json"
    data_file.write_text("{}")

    result = run("send", "--to", "a@example.com", "--template", "welcome",
                 "--data", "{}", "--data-file", str(data_file))

    assert isinstance(result.exception, UsageError)  # exit 2
    assert "--data or --data-file, not both" in str(result.exception)
    assert api.calls == []


def test_send_refuses_data_that_is_not_json(api):
    result = run("send", "--to", "a@example.com", "--template", "welcome", "--data", "{name: 1}")

    assert isinstance(result.exception, UsageError)  # exit 2
    assert str(result.exception).startswith("--data is not valid JSON")
    assert api.calls == []


@pytest.mark.parametrize("data", ['["Ada"]', '"Ada"', "42", "null"])
def test_send_refuses_data_that_is_not_an_object(api, data):
    result = run("send", "--to", "a@example.com", "--template", "welcome", "--data", data)

    assert isinstance(result.exception, UsageError)  # exit 2
    assert "must be a JSON object" in str(result.exception)


def test_send_names_a_data_file_it_cannot_read(api, tmp_path: Path):
    missing = tmp_path / "nope.json"

    result = run("send", "--to", "a@example.com", "--template", "welcome",
                 "--data-file", str(missing))

    assert isinstance(result.exception, UsageError)  # exit 2
    assert f"Cannot read {missing}" in str(result.exception)


def test_send_names_a_data_file_that_is_not_json(api, tmp_path: Path):
    data_file = tmp_path / "data.json"
    data_file.write_text("name=Ada")

    result = run("send", "--to", "a@example.com", "--template", "welcome",
                 "--data-file", str(data_file))

    assert isinstance(result.exception, UsageError)  # exit 2
    assert f"{data_file} is not valid JSON" in str(result.exception)


def test_send_json_prints_the_api_answer_as_is(api):
    api.answer("POST", "/v1/emails", {"id": "msg_1", "status": "queued"})

    result = run("send", "--to", "ada@example.com", "--template", "welcome", "--json")

    assert json.loads(result.output) == {"id": "msg_1", "status": "queued"}


def test_send_wait_follows_the_message_to_its_final_status(api):
    api.answer("POST", "/v1/emails", {"id": "msg_1", "status": "queued"})
    api.answer("GET", "/v1/emails/msg_1", {**MESSAGE, "status": "queued"},
               {**MESSAGE, "status": "sent"}, MESSAGE)

    result = run("send", "--to", "ada@example.com", "--template", "welcome", "--wait")

    assert result.exit_code == 0, result.output
    assert [call[1] for call in api.calls].count("/v1/emails/msg_1") == 3
    assert result.output.index("queued") < result.output.index("sent") \
        < result.output.index("delivered")
    assert "Timeline" in result.output


# --- status -------------------------------------------------------------------------------


def test_status_shows_the_message_and_its_timeline(api):
    api.answer("GET", "/v1/emails/msg_1", MESSAGE)

    result = run("status", "msg_1")

    assert result.exit_code == 0, result.output
    assert "msg_1  delivered" in result.output
    assert "to ada@example.com  template welcome" in result.output
    assert "SES message id 0100abc-000000" in result.output
    assert "smtp_response=250 ok" in result.output


def test_status_shows_why_a_message_failed_and_what_to_do(api):
    bounced = {**MESSAGE, "status": "bounced", "failure": {
        "reason": "hard_bounce", "diagnostic": "smtp; 550 5.1.1 user unknown",
        "action": "Check the address [with the user].", "bounce_type": "Permanent",
        "bounce_subtype": "General"}}
    api.answer("GET", "/v1/emails/msg_1", bounced)

    result = run("status", "msg_1")

    assert "failed: hard_bounce (smtp; 550 5.1.1 user unknown)" in result.output
    assert "what to do: Check the address [with the user]." in result.output


def test_status_quotes_the_id_into_one_path_segment(api):
    api.answer("GET", "/v1/emails/a%2F..%2Fb", MESSAGE)

    run("status", "a/../b")

    assert api.calls[0][:2] == ("GET", "/v1/emails/a%2F..%2Fb")


def test_status_json_prints_the_message_as_is(api):
    api.answer("GET", "/v1/emails/msg_1", MESSAGE)

    result = run("status", "msg_1", "--json")

    assert json.loads(result.output) == MESSAGE


# --- suppressions -------------------------------------------------------------------------


def test_suppressions_list_asks_for_the_default_page_and_shows_rows(api):
    api.answer("GET", "/v1/suppressions?limit=50", {"items": [SUPPRESSION], "next_cursor": None})

    result = run("suppressions", "list")

    assert result.exit_code == 0, result.output
    assert "ada@example.com" in result.output and "hard_bounce" in result.output
    assert "never" in result.output
    assert "More:" not in result.output


def test_suppressions_list_passes_filters_and_shows_the_next_page(api):
    api.answer("GET", "/v1/suppressions?reason=complaint&limit=10&cursor=abc",
               {"items": [], "next_cursor": "def"})

    result = run("suppressions", "list", "--reason", "complaint", "--limit", "10",
                 "--cursor", "abc")

    assert result.exit_code == 0, result.output
    assert "More: mailroom suppressions list --cursor def" in result.output


def test_suppressions_get_shows_the_entry(api):
    api.answer("GET", "/v1/suppressions/ada@example.com", SUPPRESSION)

    result = run("suppressions", "get", "ada@example.com")

    assert result.exit_code == 0, result.output
    assert "ada@example.com  all mail  reason hard_bounce" in result.output
    assert "source ses:bounce" in result.output


def test_suppressions_get_shows_each_category_when_all_mail_still_goes(api):
    api.answer("GET", "/v1/suppressions/ada@example.com", {
        "email": "ada@example.com", "reason": None, "created_at": None, "expires_at": None,
        "source": None, "history": [], "categories": [
            {**SUPPRESSION, "reason": "unsubscribed", "category": "digest", "history": []}]})

    result = run("suppressions", "get", "ada@example.com")

    assert result.exit_code == 0, result.output
    assert "gets all mail but the categories below" in result.output
    assert "ada@example.com  digest mail  reason unsubscribed" in result.output


def test_suppressions_get_quotes_the_address_but_keeps_the_at(api):
    api.answer("GET", "/v1/suppressions/ada%2Btest@example.com", SUPPRESSION)

    run("suppressions", "get", " ada+test@example.com ")

    assert api.calls[0][1] == "/v1/suppressions/ada%2Btest@example.com"


def test_suppressions_get_says_plainly_when_not_suppressed(api):
    api.answer("GET", "/v1/suppressions/bob@example.com", ApiError(404, NOT_FOUND))

    result = run("suppressions", "get", "bob@example.com")

    assert result.exit_code == 1
    assert "bob@example.com is not suppressed." in result.output


def test_suppressions_get_json_on_an_address_not_suppressed_prints_the_apis_404(api):
    api.answer("GET", "/v1/suppressions/bob@example.com", ApiError(404, NOT_FOUND))

    result = run("suppressions", "get", "bob@example.com", "--json")

    assert result.exit_code == 1
    assert json.loads(result.stdout) == NOT_FOUND


def test_suppressions_get_lets_other_api_errors_through(api):
    api.answer("GET", "/v1/suppressions/bob@example.com", ApiError(
        403, {"error": {"code": "forbidden", "message": "Missing or invalid API key.",
                        "details": None}}))

    result = run("suppressions", "get", "bob@example.com")

    assert isinstance(result.exception, ApiError)
    assert result.exception.status == 403


def test_suppressions_add_puts_a_manual_entry(api):
    api.answer("PUT", "/v1/suppressions/ada@example.com",
               {**SUPPRESSION, "reason": "manual", "note": "asked us"})

    result = run("suppressions", "add", "ada@example.com", "--note", "asked us",
                 "--expires-at", "2027-01-01T00:00:00Z")

    assert result.exit_code == 0, result.output
    assert api.calls == [("PUT", "/v1/suppressions/ada@example.com", {
        "reason": "manual", "note": "asked us", "expires_at": "2027-01-01T00:00:00Z",
        "actor": cli.actor()})]
    assert "Suppressed ada@example.com." in result.output
    assert "note asked us" in result.output


def test_suppressions_add_without_options_sends_only_the_reason(api):
    api.answer("PUT", "/v1/suppressions/ada@example.com", {**SUPPRESSION, "reason": "manual"})

    run("suppressions", "add", "ada@example.com")

    assert api.calls[0][2] == {"reason": "manual", "actor": cli.actor()}


def test_suppressions_remove_deletes_the_entry(api):
    removal = f"/v1/suppressions/ada@example.com?actor={cli.actor()}"
    api.answer("DELETE", removal, None)

    result = run("suppressions", "remove", "ada@example.com")

    assert result.exit_code == 0, result.output
    assert api.calls == [("DELETE", removal, None)]
    assert "Removed ada@example.com from the suppression list (and SES's" in result.output


def test_suppressions_remove_says_plainly_when_it_was_not_suppressed(api):
    api.answer("DELETE", f"/v1/suppressions/bob@example.com?actor={cli.actor()}",
               ApiError(404, NOT_FOUND))

    result = run("suppressions", "remove", "bob@example.com")

    assert result.exit_code == 1
    assert "bob@example.com was not suppressed." in result.output



@pytest.mark.parametrize("answer, removed, code", [(None, True, 0),
                                                    (ApiError(404, NOT_FOUND), False, 1)])
def test_suppressions_remove_json_says_whether_it_removed(api, answer, removed, code):
    api.answer("DELETE", f"/v1/suppressions/ada@example.com?actor={cli.actor()}", answer)

    result = run("suppressions", "remove", "ada@example.com", "--json")

    assert result.exit_code == code
    # Not removed: the categories it is suppressed for instead, if any (none here).
    assert json.loads(result.output) == {"email": "ada@example.com", "category": None,
                                         "removed": removed,
                                         **({} if removed else {"categories": []})}


def test_suppressions_export_json_holds_every_page(api):
    first = {"items": [SUPPRESSION], "next_cursor": "c2"}
    second = {"items": [{**SUPPRESSION, "email": "bob@example.com"}], "next_cursor": None}
    api.answer("GET", "/v1/suppressions?limit=100", first)
    api.answer("GET", "/v1/suppressions?limit=100&cursor=c2", second)

    result = run("suppressions", "export", "--json")

    assert result.exit_code == 0, result.output
    assert [item["email"] for item in json.loads(result.output)["items"]] == [
        "ada@example.com", "bob@example.com"]


def test_suppressions_export_to_a_folder_that_is_not_there_says_so(api, tmp_path: Path):
    api.answer("GET", "/v1/suppressions?limit=100", {"items": [SUPPRESSION],
                                                     "next_cursor": None})
    target = tmp_path / "missing" / "all.csv"

    result = run("suppressions", "export", str(target))

    assert isinstance(result.exception, CliError)
    assert str(result.exception) == f"Cannot write {target}: No such file or directory."


# --- sending ------------------------------------------------------------------------------

ENABLED = {"sending": "enabled", "reason": None, "since": None, "source": None}
PAUSED = {"sending": "paused", "reason": "bounce storm", "since": "2026-11-01T12:00:00+00:00",
          "source": "api"}


def test_sending_status_says_when_sending_is_enabled(api):
    api.answer("GET", "/v1/sending", ENABLED)

    result = run("sending", "status")

    assert result.exit_code == 0, result.output
    assert "Sending is enabled." in result.output


def test_sending_status_says_since_when_and_why_it_is_paused(api):
    api.answer("GET", "/v1/sending", PAUSED)

    result = run("sending", "status")

    assert "Sending is paused since 2026-11-01T12:00:00+00:00: bounce storm" in result.output


def test_sending_pause_sends_the_reason(api):
    api.answer("PUT", "/v1/sending", PAUSED)

    result = run("sending", "pause", "--reason", "bounce storm")

    assert result.exit_code == 0, result.output
    assert api.calls == [("PUT", "/v1/sending", {"paused": True, "reason": "bounce storm",
                                                 "actor": cli.actor()})]
    assert "paused" in result.output


def test_sending_pause_has_a_default_reason(api):
    api.answer("PUT", "/v1/sending", PAUSED)

    run("sending", "pause")

    assert api.calls[0][2] == {"paused": True, "reason": "operator pause",
                               "actor": cli.actor()}


def test_sending_resume_unpauses(api):
    api.answer("PUT", "/v1/sending", ENABLED)

    result = run("sending", "resume")

    assert api.calls == [("PUT", "/v1/sending", {"paused": False, "actor": cli.actor()})]
    assert "Sending is enabled." in result.output


def test_sending_status_json_prints_the_state_as_is(api):
    api.answer("GET", "/v1/sending", PAUSED)

    result = run("sending", "status", "--json")

    assert json.loads(result.output) == PAUSED


# --- reputation --------------------------------------------------------------------------

REPUTATION = {"window_hours": 24, "since": "2026-11-30T13:00:00+00:00", "sends": 500,
              "bounces": 21, "complaints": 0, "bounce_rate": 0.042, "complaint_rate": 0.0,
              "state": "paused",
              "thresholds": {"warn": {"bounce_rate": 0.02, "complaint_rate": 0.0005,
                                      "min_sends": 100},
                             "pause": {"bounce_rate": 0.04, "complaint_rate": 0.0008,
                                       "min_sends": 500}}}


def test_reputation_shows_the_rates_against_the_thresholds(api):
    api.answer("GET", "/v1/reputation", REPUTATION)

    result = run("reputation")

    assert result.exit_code == 0, result.output
    assert "paused" in result.output
    assert "4.20%" in result.output and "21" in result.output and "4.00%" in result.output
    assert "500 sends" in result.output


def test_reputation_json_prints_the_figures_as_is(api):
    api.answer("GET", "/v1/reputation", REPUTATION)

    assert json.loads(run("reputation", "--json").output) == REPUTATION


# --- finding the API, and errors in plain words ----------------------------------------------


def test_without_any_stack_the_cli_says_to_run_make_dev(monkeypatch, capsys):
    status, out, err = run_main(monkeypatch, capsys, "reputation")

    assert status == 1
    assert "error: No local stack found: run `make dev` first" in err
    assert "MAILROOM_API_URL and MAILROOM_API_KEY" in err
    assert "Traceback" not in err + out


def test_an_api_url_without_a_key_is_refused_plainly(monkeypatch, capsys):
    monkeypatch.setenv("MAILROOM_API_URL", "https://api.example.com")

    status, _, err = run_main(monkeypatch, capsys, "reputation")

    assert status == 1
    assert "set MAILROOM_API_KEY too" in err


def test_an_api_error_is_shown_as_its_message_and_code(api, monkeypatch, capsys):
    api.answer("POST", "/v1/emails", ApiError(422, {"error": {
        "code": "invalid_address", "message": "`to` looks like a typo.",
        "details": {"field": "to", "suggestion": "ada@gmail.com"}}}))

    status, _, err = run_main(monkeypatch, capsys, "send", "--to", "ada@gmial.com",
                              "--template", "welcome")

    assert status == 1
    assert "error: `to` looks like a typo. (invalid_address, HTTP 422)" in err
    assert 'details: {"field": "to", "suggestion": "ada@gmail.com"}' in err
    assert "Traceback" not in err


def test_with_json_an_api_error_is_the_apis_body_on_stdout(api, monkeypatch, capsys):
    refusal = {"error": {"code": "invalid_address", "message": "`to` looks like a typo.",
                         "details": {"field": "to", "suggestion": "ada@gmail.com"}}}
    api.answer("POST", "/v1/emails", ApiError(422, refusal))

    status, out, err = run_main(monkeypatch, capsys, "send", "--to", "ada@gmial.com",
                                "--template", "welcome", "--json")

    assert status == 1
    assert json.loads(out) == refusal
    assert "invalid_address, HTTP 422" in err


def test_with_json_an_error_of_the_cli_itself_is_in_the_same_shape(monkeypatch, capsys):
    monkeypatch.setenv("MAILROOM_API_URL", "https://api.example.com")

    status, out, _ = run_main(monkeypatch, capsys, "reputation", "--json")

    assert status == 1
    error = json.loads(out)["error"]
    assert error["code"] == "cli_error" and "MAILROOM_API_KEY" in error["message"]


def test_with_json_a_usage_error_stays_on_stderr(api, monkeypatch, capsys):
    status, out, err = run_main(monkeypatch, capsys, "send", "--to", "ada@example.com",
                                "--template", "welcome", "--data", "{x", "--json")

    assert (status, out) == (2, "")
    assert "--data is not valid JSON" in err


def test_with_json_a_failure_is_one_line_so_a_json_lines_stream_stays_whole(
        api, monkeypatch, capsys):
    api.answer("GET", "/v1/reputation", ApiError(502, "Bad Gateway"))

    _, out, _ = run_main(monkeypatch, capsys, "reputation", "--json")

    assert out.count("\n") == 1 and json.loads(out)["error"]["code"] == "http_502"


def test_without_json_an_error_leaves_stdout_empty(api, monkeypatch, capsys):
    api.answer("GET", "/v1/reputation", ApiError(502, "Bad Gateway"))

    status, out, _ = run_main(monkeypatch, capsys, "reputation")

    assert status == 1 and out == ""


def test_an_error_body_outside_the_contract_is_shown_with_its_status(api, monkeypatch, capsys):
    api.answer("GET", "/v1/reputation", ApiError(502, "Bad Gateway"))

    status, _, err = run_main(monkeypatch, capsys, "reputation")

    assert status == 1
    assert "error: HTTP 502: Bad Gateway" in err


def test_a_successful_command_exits_zero_through_main(api, monkeypatch, capsys):
    api.answer("GET", "/v1/sending", ENABLED)

    status, out, err = run_main(monkeypatch, capsys, "sending", "status")

    assert status == 0
    assert "Sending is enabled." in out
    assert err == ""


def test_the_local_stack_is_found_through_its_state_file(isolated: Path):
    (isolated / "local.json").write_text(json.dumps(
        {"api_url": "http://127.0.0.1:3000", "api_key": "k-local"}))

    target = cli.resolve_target(None, None)

    assert (target.api_url, target.api_key) == ("http://127.0.0.1:3000", "k-local")
    assert "the local stack" in target.described_as


def test_the_state_file_is_found_from_a_subdirectory(monkeypatch, tmp_path: Path):
    monkeypatch.delenv("MAILROOM_STATE_DIR")
    (tmp_path / "repo" / ".mailroom").mkdir(parents=True)
    state = tmp_path / "repo" / ".mailroom" / "local.json"
    state.write_text("{}")
    (tmp_path / "repo" / "a" / "b").mkdir(parents=True)

    assert cli.find_local_state(tmp_path / "repo" / "a" / "b") == state


def test_api_env_vars_win_over_the_local_stack(isolated: Path, monkeypatch):
    (isolated / "local.json").write_text(json.dumps({"api_url": "http://l", "api_key": "l"}))
    monkeypatch.setenv("MAILROOM_API_URL", "https://api.example.com/prod/")
    monkeypatch.setenv("MAILROOM_API_KEY", "k-prod")

    target = cli.resolve_target(None, None)

    assert (target.api_url, target.api_key) == ("https://api.example.com/prod", "k-prod")


# --- the HTTP layer -----------------------------------------------------------------------


class FakeResponse(io.BytesIO):
    def __enter__(self) -> FakeResponse:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def local_api() -> cli.Api:
    return cli.Api(cli.Target("http://127.0.0.1:3000", "k-local", "the local stack (x)",
                              {"api_url": "http://127.0.0.1:3000"}))


def test_the_api_call_sends_the_key_and_a_json_body(monkeypatch):
    seen = []

    def urlopen(request, timeout):
        seen.append(request)
        return FakeResponse(b'{"id": "msg_1"}')

    monkeypatch.setattr(cli.urllib.request, "urlopen", urlopen)

    answer = local_api().call("POST", "/v1/emails", {"to": "ada@example.com"})

    assert answer == {"id": "msg_1"}
    request = seen[0]
    assert (request.get_method(), request.full_url) == ("POST", "http://127.0.0.1:3000/v1/emails")
    assert request.get_header("X-api-key") == "k-local"
    assert json.loads(request.data) == {"to": "ada@example.com"}


def test_an_empty_answer_is_none(monkeypatch):
    monkeypatch.setattr(cli.urllib.request, "urlopen", lambda request, timeout: FakeResponse(b""))

    assert local_api().call("DELETE", "/v1/suppressions/a@example.com") is None


def test_an_http_error_becomes_an_api_error_with_the_contract_code(monkeypatch):
    def urlopen(request, timeout):
        raise urllib.error.HTTPError(
            request.full_url, 404, "Not Found", None,
            io.BytesIO(json.dumps(NOT_FOUND).encode()))

    monkeypatch.setattr(cli.urllib.request, "urlopen", urlopen)

    with pytest.raises(ApiError) as raised:
        local_api().call("GET", "/v1/suppressions/bob@example.com")

    assert (raised.value.status, raised.value.code) == (404, "not_found")
    assert str(raised.value) == "No such suppression. (not_found, HTTP 404)"


def test_an_unreachable_local_stack_suggests_make_dev(monkeypatch):
    def urlopen(request, timeout):
        raise urllib.error.URLError(ConnectionRefusedError(111, "Connection refused"))

    monkeypatch.setattr(cli.urllib.request, "urlopen", urlopen)

    with pytest.raises(CliError) as raised:
        local_api().call("GET", "/v1/templates")

    assert "Cannot reach the local stack (x)" in str(raised.value)
    assert "Is `make dev` still running?" in str(raised.value)


def test_sending_resume_sends_why_and_who(api):
    api.answer("PUT", "/v1/sending", ENABLED)

    run("sending", "resume", "--reason", "bounces explained")

    assert api.calls[0][2] == {"paused": False, "reason": "bounces explained",
                               "actor": cli.actor()}


def _stubbed_sts(monkeypatch):
    import boto3
    from botocore.stub import Stubber

    client = boto3.client("sts", region_name="us-east-1", aws_access_key_id="x",
                          aws_secret_access_key="x")
    monkeypatch.setattr(boto3, "client", lambda service, **kwargs: client)
    return Stubber(client)


def test_with_a_stack_the_actor_is_the_callers_aws_identity(monkeypatch):
    stubber = _stubbed_sts(monkeypatch)
    stubber.add_response("get_caller_identity", {
        "Arn": "arn:aws:sts::123456789012:assumed-role/Ops/ada", "UserId": "AROA:ada",
        "Account": "123456789012"})

    with stubber:
        assert cli.actor(cli.Settings(stack="Mailroom")) == \
            "arn:aws:sts::123456789012:assumed-role/Ops/ada"


def test_without_aws_credentials_the_actor_falls_back_to_the_local_user(monkeypatch):
    stubber = _stubbed_sts(monkeypatch)
    stubber.add_client_error("get_caller_identity", "ExpiredToken", http_status_code=403)

    with stubber:
        assert cli.actor(cli.Settings(stack="Mailroom")) == cli.actor()


def test_an_import_without_an_email_column_is_refused_before_any_call(api, tmp_path):
    source = tmp_path / "bad.csv"
    source.write_text("address,why\nada@example.com,x\n", encoding="utf-8")

    result = run("suppressions", "import", str(source))

    assert result.exit_code != 0 and api.calls == []


def test_an_import_sends_batches_of_a_thousand_and_counts_by_line(api, tmp_path):
    rows = "".join(f"a{n}@example.com,,,,\n" for n in range(1500))
    source = tmp_path / "many.csv"
    source.write_text("email,reason,expires_at,note,category\n" + rows, encoding="utf-8")

    def answer(size: int, offset: int) -> dict:
        return {"results": [{"index": i, "email": f"a{offset + i}@example.com",
                             "status": "exists" if (offset + i) % 3 == 0 else "added"}
                            for i in range(size)]}

    api.answer("POST", "/v1/suppressions/batch", answer(1000, 0), answer(500, 1000))

    result = run("suppressions", "import", str(source), "--json")

    assert result.exit_code == 0, result.output
    assert [len(body["entries"]) for _, _, body in api.calls] == [1000, 500]
    summary = json.loads(result.output)
    assert (summary["added"], summary["exists"], summary["invalid"]) == (1000, 500, [])


# --- doctor --------------------------------------------------------------------------------


def local_state(state_dir: Path) -> None:
    (state_dir / "local.json").write_text(json.dumps({
        "api_url": "http://127.0.0.1:3000", "api_key": "k", "region": "us-east-1",
        "aws_endpoint_url": "http://127.0.0.1:4566", "simulator_url": "http://127.0.0.1:4567",
        "configuration_set": "mailroom-local", "template_prefix": "mailroom-local-",
        "ses_events_topic_arn": "arn:aws:sns:us-east-1:123456789012:ses-events",
        "send_queue_url": "q", "send_dlq_url": "dq", "events_dlq_url": "eq"}))


class DoctorRuns:
    """The checks `Doctor.run` answers with, and what each doctor was built with."""

    def __init__(self) -> None:
        self.checks: list[Any] = []
        self.built: list[dict[str, Any]] = []


@pytest.fixture
def doctor_runs(monkeypatch: pytest.MonkeyPatch, isolated: Path) -> DoctorRuns:
    from mailroom_dev import doctor

    local_state(isolated)
    runs = DoctorRuns()

    def fake_run(self: doctor.Doctor) -> list[doctor.Check]:
        runs.built.append({"local": self.deployment.local, "resolver": self.resolver,
                           "cloudwatch": self.cloudwatch})
        return runs.checks

    monkeypatch.setattr(doctor.Doctor, "run", fake_run)
    return runs


def test_doctor_json_is_the_contracts_document_and_a_failure_exits_one(doctor_runs):
    from mailroom_dev import doctor

    doctor_runs.checks += [doctor.passed("account.quota", "fine"),
                      doctor.failed("identity.dkim", "DKIM FAILED", "Publish the CNAMEs.")]

    result = run("doctor", "--json")

    assert result.exit_code == 1
    assert json.loads(result.output) == {"checks": [
        {"name": "account.quota", "status": "pass", "detail": "fine", "fix": ""},
        {"name": "identity.dkim", "status": "fail", "detail": "DKIM FAILED",
         "fix": "Publish the CNAMEs."}]}
    # Against the local stack: no CloudWatch and no DNS
    assert doctor_runs.built == [{"local": True, "resolver": None, "cloudwatch": None}]


def test_doctor_prints_each_check_with_its_fix_and_exits_zero_without_failures(doctor_runs):
    from mailroom_dev import doctor

    doctor_runs.checks += [doctor.warned("identity.dmarc", "No DMARC record.", "Add one."),
                      doctor.skipped("pipeline.canary", "No canary yet.")]

    result = run("doctor")

    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert " WARN  identity.dmarc  No DMARC record." in lines
    assert "       fix: Add one." in lines
    assert " SKIP  pipeline.canary  No canary yet." in lines
    assert lines[-1] == "0 pass, 1 warn, 0 fail, 1 skip"


def test_doctor_with_only_an_api_url_and_key_is_a_usage_error(monkeypatch, capsys):
    monkeypatch.setenv("MAILROOM_API_URL", "https://api.example.com/prod")
    monkeypatch.setenv("MAILROOM_API_KEY", "k")

    status, out, err = run_main(monkeypatch, capsys, "doctor")

    assert status == 2
    assert "--stack NAME" in err and out == ""


def test_doctor_against_a_stack_reads_its_outputs_and_uses_dns_and_cloudwatch(monkeypatch):
    from mailroom_dev.doctor import DnsPythonResolver

    for name, value in {"AWS_ACCESS_KEY_ID": "k", "AWS_SECRET_ACCESS_KEY": "s",
                        "AWS_EC2_METADATA_DISABLED": "true"}.items():
        monkeypatch.setenv(name, value)  # a profile's credentials, as a user has them

    outputs = {"SenderDomain": "mail.example.org", "MailFromDomain": "bounce.mail.example.org",
               "DefaultFrom": "Acme <hi@mail.example.org>", "ConfigurationSetName": "Set",
               "TemplatePrefix": "Mailroom-", "SesEventsTopicArn": "arn:topic",
               "SendQueueUrl": "q", "SendDlqUrl": "dq", "EventsDlqUrl": "eq",
               "MaxSendRate": "12.5"}
    target = cli.Target("https://api.example.com", "k", "stack Mailroom", {"outputs": outputs})

    built = cli._doctor_clients(target, "eu-west-1")

    deployment = built["deployment"]
    assert (deployment.local, deployment.region, deployment.max_send_rate) == (
        False, "eu-west-1", 12.5)
    assert deployment.default_from == "Acme <hi@mail.example.org>"
    assert isinstance(built["resolver"], DnsPythonResolver)
    assert built["cloudwatch"].meta.region_name == "eu-west-1"


def test_invoke_with_only_an_api_url_and_key_is_a_usage_error(monkeypatch, capsys):
    monkeypatch.setenv("MAILROOM_API_URL", "https://api.example.com/prod")
    monkeypatch.setenv("MAILROOM_API_KEY", "k")

    status, out, err = run_main(monkeypatch, capsys, "invoke", "api", "events/api-health.json")

    assert status == 2
    assert "local stack" in err and out == ""


def test_invoke_of_an_unknown_function_is_a_usage_error(monkeypatch, capsys, isolated):
    (isolated / "local.json").write_text(json.dumps({
        "api_url": "http://127.0.0.1:3000", "api_key": "k",
        "env_vars_file": str(isolated / "env-vars.json")}))

    status, _, err = run_main(monkeypatch, capsys, "invoke", "mailer", "events/api-health.json")

    assert status == 2
    assert "use one of api, sender, events" in err


def column(output: str, index: int) -> str:
    """One column of a table's body, its wrapped lines joined again."""
    rows = [line.split("│")[1:-1] for line in output.splitlines() if line.startswith("│")]
    return "".join(row[index].strip() for row in rows)


def test_at_80_columns_nothing_is_cut_short(api, monkeypatch):
    monkeypatch.setattr(cli, "console", Console(width=80, highlight=False))
    long = {**SUPPRESSION, "email": "someone.with.a.long.name@subdomain.example.com",
            "created_at": "2026-11-01T12:00:00.123456Z", "source": "ses:bounce:feedback-id"}
    api.answer("GET", "/v1/suppressions?limit=50", {"items": [long], "next_cursor": None})

    result = run("suppressions", "list")

    # Too wide for a table: one record per entry, each value whole on its line.
    assert "…" not in result.output
    lines = result.output.splitlines()
    assert "someone.with.a.long.name@subdomain.example.com" in lines
    for value in ("2026-11-01T12:00:00.123456Z", "ses:bounce:feedback-id", "hard_bounce"):
        assert any(value in line for line in lines), value
    assert max(len(line) for line in lines) <= 80


def test_a_table_that_fits_stays_a_table(api, monkeypatch):
    monkeypatch.setattr(cli, "console", Console(width=120, highlight=False))
    api.answer("GET", "/v1/suppressions?limit=50", {"items": [SUPPRESSION], "next_cursor": None})

    result = run("suppressions", "list")

    assert column(result.output, 0) == "ada@example.com"
    assert column(result.output, 3) == "2026-11-01T12:00:00Z"


def test_wide_never_wraps(api):
    long = {**SUPPRESSION, "email": "someone.with.a.long.name@subdomain.example.com",
            "created_at": "2026-11-01T12:00:00.123456Z", "note": "x" * 120}
    api.answer("GET", "/v1/suppressions/ada@example.com", long)
    cli.console.width = 80

    result = run("--wide", "suppressions", "get", "ada@example.com")

    assert f"  note {'x' * 120}" in result.output.splitlines()


def test_every_option_is_spelled_in_lower_case():
    # An option whose metavar is its own name in capitals comes out as --NAME unless its
    # declaration spells it: none may.
    from typer.main import get_command

    def options(command: Any) -> Iterator[str]:
        for param in command.params:
            yield from (o for o in getattr(param, "opts", []) if o.startswith("--"))
        for sub in getattr(command, "commands", {}).values():
            yield from options(sub)

    spelled = list(options(get_command(cli.app)))
    assert "--region" in spelled and "--category" in spelled
    assert [o for o in spelled if o != o.lower()] == []
    assert run("--region", "eu-west-1", "--help").exit_code == 0
