"""`mailroom invoke`'s pieces: finding the function, reading the event and the environment,
and running a handler once with that environment, its logs kept off stdout."""

from __future__ import annotations

import dataclasses
import json
import os
import sys
from pathlib import Path

import pytest

from mailroom import shape
from mailroom_dev import invoke


def echo(event, context):
    print("a log line")  # what a handler's logger writes, to stdout
    return {"event": event, "function": context.function_name,
            "table": os.environ["MAILROOM_TEST_TABLE"]}


@pytest.mark.parametrize("name", ["sender", "mailroom-sender"])
def test_a_function_is_found_by_its_name_or_its_service(name):
    assert invoke.find_function(name) is shape.SENDER


def test_an_unknown_function_names_the_known_ones():
    with pytest.raises(invoke.InvokeError, match="use one of api, sender, events"):
        invoke.find_function("mailer")


@pytest.mark.parametrize("content, message", [("[1]", "one JSON object"),
                                              ("{", "not valid JSON")])
def test_an_event_file_must_hold_one_json_object(tmp_path, content, message):
    path = tmp_path / "event.json"
    path.write_text(content)

    with pytest.raises(invoke.InvokeError, match=message):
        invoke.read_event(path)


def test_every_sample_event_reads():
    for path in sorted((Path(__file__).parents[2] / "events").glob("*.json")):
        assert isinstance(invoke.read_event(path), dict)


def test_the_environment_is_the_env_vars_files_parameters(tmp_path):
    path = tmp_path / "env-vars.json"
    path.write_text(json.dumps({"Parameters": {"A": "1", "B": 2}}))

    assert invoke.read_environment(path) == {"A": "1", "B": "2"}


def test_a_missing_env_vars_file_says_to_run_make_dev(tmp_path):
    with pytest.raises(invoke.InvokeError, match="make dev"):
        invoke.read_environment(tmp_path / "env-vars.json")


def test_the_handler_runs_with_the_environment_and_its_output_goes_to_stderr(
        monkeypatch, capsys):
    monkeypatch.setenv("MAILROOM_TEST_TABLE", "before")  # restored after the test
    monkeypatch.setenv("AWS_PROFILE", "production")
    spec = dataclasses.replace(shape.SENDER, handler=f"{__name__}.echo")

    answer = invoke.run_handler(spec, {"Records": []}, {"MAILROOM_TEST_TABLE": "messages"})

    assert answer == {"event": {"Records": []}, "function": "mailroom-sender",
                      "table": "messages"}
    assert "AWS_PROFILE" not in os.environ  # never a real account from a local run
    captured = capsys.readouterr()
    assert captured.out == "" and "a log line" in captured.err
    assert sys.stdout is not sys.stderr
