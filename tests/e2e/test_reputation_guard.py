"""The reputation guard on the local stack, as a new user tries it with the README: mail to
the test domain's bouncing mailbox pushes the bounce rate over the pause level; sending
pauses with the figures in the reason, the sender's consumer and the configuration set stop,
and the mail behind waits; `mailroom sending resume` accepts the figures and every waiting
message goes out promptly, once."""

from __future__ import annotations

import getpass
import json
import time
import urllib.request
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest

from .conftest import Api, local_aws, mailroom_cli, running_stack, wait_for

pytestmark = pytest.mark.e2e
TEST_DOMAIN = "test.mailroom.example"
# 2 bounces first, then ordinary mail; the guard pauses from 20 sends (lowered for the test)
# while the rest, held to 4 sends a second by the simulator, still waits in the queue.
BOUNCES, TOTAL, MIN_SENDS = 2, 40, 20
SEND_RATE = 4
RESUME_DEADLINE = 30  # seconds from the resume to the last waiting message delivered


@pytest.fixture(scope="module")
def guarded_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    state_dir = tmp_path_factory.mktemp("mailroom-guard")
    yield from running_stack(state_dir, reputation_pause_min_sends=str(MIN_SENDS),
                             reputation_warn_min_sends="10", sim_max_send_rate=str(SEND_RATE))


def consumer_state(config: dict[str, Any]) -> str:
    [mapping] = local_aws(config, "lambda", "lambda_url").list_event_source_mappings(
        FunctionName="mailroom-sender")["EventSourceMappings"]
    return str(mapping["State"])


def configuration_set_sending(config: dict[str, Any]) -> bool:
    described = local_aws(config, "sesv2", "simulator_url").get_configuration_set(
        ConfigurationSetName=config["configuration_set"])
    return bool(described["SendingOptions"]["SendingEnabled"])


def simulated_sends(config: dict[str, Any]) -> Counter[str]:
    with urllib.request.urlopen(config["simulator_url"] + "/_simulator/messages") as response:
        sends = json.load(response)["messages"]
    return Counter(address for send in sends for address in send["destination"])


def test_a_burst_of_bounces_pauses_sending_and_resume_delivers_all_that_waited(
        guarded_stack) -> None:
    config, api = guarded_stack, Api(guarded_stack)
    recipients = [f"bounce+{i}@{TEST_DOMAIN}" for i in range(BOUNCES)]
    recipients += [f"ada+{i}@{TEST_DOMAIN}" for i in range(TOTAL - BOUNCES)]
    ids = {api.send(to)[1]["id"]: to for to in recipients}

    # The guard pauses with the figures, and everything that stops sending stops.
    state = wait_for(lambda: (s := api.call("GET", "/v1/sending")[1])["paused"] and s)
    assert state["source"] == "reputation_guard"
    assert "bounce rate" in state["reason"] and f"{BOUNCES} of " in state["reason"]
    wait_for(lambda: consumer_state(config) == "Disabled", timeout=15)
    assert configuration_set_sending(config) is False
    status, figures = api.call("GET", "/v1/reputation")
    assert (status, figures["state"], figures["bounces"]) == (200, "paused", BOUNCES)
    assert figures["sends"] >= MIN_SENDS
    assert api.send(f"ada@{TEST_DOMAIN}")[0] == 503

    # The rest waits, and says so.
    time.sleep(2)  # anything in flight at the pause is back in the queue by now
    waiting = [message_id for message_id in ids
               if api.call("GET", f"/v1/emails/{message_id}")[1]["status"] == "queued"]
    assert waiting, "the pause left nothing waiting: raise TOTAL"
    message = api.call("GET", f"/v1/emails/{waiting[0]}")[1]
    assert message["waiting"] == {"reason": "paused", "since": state["since"]}
    sent_before_resume = simulated_sends(config)
    assert not any(ids[message_id] in sent_before_resume for message_id in waiting)

    resumed = mailroom_cli(config, "sending", "resume", "--reason", "bounces explained")
    resumed_at = time.monotonic()
    assert "Sending is enabled." in resumed.stdout

    for message_id in waiting:
        wait_for(lambda message_id=message_id: api.call(
            "GET", f"/v1/emails/{message_id}")[1]["status"] == "delivered",
            timeout=max(1, RESUME_DEADLINE - (time.monotonic() - resumed_at)))
    assert consumer_state(config) == "Enabled"
    assert configuration_set_sending(config) is True

    # Each message went out exactly once, and those that waited say from when to when.
    assert simulated_sends(config) == Counter(ids.values())
    for message_id in waiting:
        events = api.call("GET", f"/v1/emails/{message_id}")[1]["events"]
        [deferred] = [event for event in events if event["type"] == "deferred"]
        assert deferred["reason"] == "paused" and deferred["from"] <= deferred["to"]
    sending = api.call("GET", "/v1/sending")[1]
    assert sending["paused"] is False and sending["reason"] == "bounces explained"
    assert sending["by"].startswith(f"{getpass.getuser()} (API key ")  # who resumed
    assert api.call("GET", "/v1/reputation")[1]["state"] == "ok"  # figures accepted
