"""The feedback loop checks itself, on the local stack as a new user would try it: with the
events path stopped (its event source mapping disabled), mail SES took hears nothing back;
`mailroom sweep` marks it `unconfirmed` and apps are told; once the path runs again the
late events still move it on."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest

from .conftest import Api, local_aws, mailroom_cli, wait_for

pytestmark = pytest.mark.e2e


def events_consumer(config: dict[str, Any]) -> tuple[Any, str]:
    client = local_aws(config, "lambda", "lambda_url")
    [mapping] = client.list_event_source_mappings(
        FunctionName="mailroom-events")["EventSourceMappings"]
    return client, mapping["UUID"]


@pytest.fixture
def events_path_stopped(local_stack: dict[str, Any]) -> Iterator[Any]:
    client, mapping = events_consumer(local_stack)
    client.update_event_source_mapping(UUID=mapping, Enabled=False)
    wait_for(lambda: client.get_event_source_mapping(UUID=mapping)["State"] == "Disabled")

    def restart() -> None:
        wait_for(lambda: client.get_event_source_mapping(UUID=mapping)["State"]
                 in ("Enabled", "Disabled"))
        client.update_event_source_mapping(UUID=mapping, Enabled=True)

    yield restart
    if client.get_event_source_mapping(UUID=mapping)["State"] == "Disabled":
        restart()


def test_sent_mail_that_hears_nothing_back_is_swept_unconfirmed(local_stack,
                                                                 events_path_stopped):
    api = Api(local_stack)
    message_id = api.send("success@simulator.amazonses.com")[1]["id"]
    wait_for(lambda: api.call("GET", f"/v1/emails/{message_id}")[1]["status"] == "sent")

    swept = mailroom_cli(local_stack, "sweep", "--settled-hours", "0", "--json")

    assert message_id in json.loads(swept.stdout)["unconfirmed"]
    message = api.call("GET", f"/v1/emails/{message_id}")[1]
    assert message["status"] == "unconfirmed"
    [entry] = [event for event in message["events"] if event["type"] == "unconfirmed"]
    assert entry["reason"] == "no_outcome"
    again = json.loads(mailroom_cli(local_stack, "sweep", "--settled-hours", "0",
                                    "--json").stdout)
    assert message_id not in again["unconfirmed"]  # marked once

    events_path_stopped()  # the events queue held SES's events all along

    api.follow(message_id, until={"delivered"})


def test_sweeping_needs_aws_access_not_only_an_api_key(local_stack, tmp_path):
    import os
    import subprocess
    import sys

    from .conftest import REPO_ROOT

    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("AWS_", "MAILROOM_"))}
    env |= {"MAILROOM_API_URL": local_stack["api_url"], "MAILROOM_API_KEY": local_stack["api_key"],
            "PYTHONPATH": os.pathsep.join([str(REPO_ROOT / "functions"), str(REPO_ROOT)])}
    result = subprocess.run([sys.executable, "-m", "mailroom_dev.cli", "sweep"], cwd=tmp_path,
                            env=env, capture_output=True, text=True, timeout=60)

    assert result.returncode == 2
    assert "needs AWS access" in result.stderr


def test_the_canary_reports_a_healthy_round_trip(local_stack):
    result = mailroom_cli(local_stack, "canary", "run", "--json")

    verdict = json.loads(result.stdout)
    assert verdict["healthy"] is True and verdict["latency_seconds"] > 0
    message = Api(local_stack).call("GET", f"/v1/emails/{verdict['message_id']}")[1]
    assert message["tags"] == {"mailroom_canary": "1"}


def test_the_canary_names_the_feedback_hop_when_the_events_path_is_stopped(
        local_stack, events_path_stopped):
    result = mailroom_cli(local_stack, "canary", "run", "--timeout", "5", check=False)

    assert result.returncode == 1
    assert "Broken at the feedback hop" in result.stdout
    assert "SES's Send event never came back" in result.stdout


def test_the_scheduled_canary_checks_the_last_round_trip(local_stack):
    """The canary function as its schedule runs it, invoked through the local Lambda API:
    the first run sends, the next one checks that message."""
    client = local_aws(local_stack, "lambda", "lambda_url")

    def run() -> Any:
        response = client.invoke(FunctionName="mailroom-canary",
                                 Payload=json.dumps({"mailroom_task": "canary"}).encode())
        assert "FunctionError" not in response
        return json.loads(response["Payload"].read())

    run()  # sends one (and checks any earlier one)
    time.sleep(3)  # the simulator delivers within a second
    verdict = run()

    assert verdict["healthy"] is True, verdict
