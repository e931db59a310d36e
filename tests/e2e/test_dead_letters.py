"""Dead letters on the local stack, as an operator meets them: a send message that failed
every retry is shown with the reason Mailroom recorded, without being taken out, then
redriven — reopened as queued with who did it — and delivered, once."""

from __future__ import annotations

import json
import time
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

from .conftest import Api, mailroom_cli, running_stack, wait_for

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def quick_retry_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    # Retries a few hundredths of a second apart: the 8 attempts are over in seconds.
    yield from running_stack(tmp_path_factory.mktemp("mailroom-dlq"),
                             retry_base_seconds="0.05")


def simulator(config: dict[str, Any], method: str, path: str, body: Any = None) -> Any:
    request = urllib.request.Request(
        config["simulator_url"] + path, method=method,
        data=json.dumps(body).encode() if body is not None else None)
    with urllib.request.urlopen(request) as response:
        return json.load(response)


def test_a_poisoned_send_is_shown_then_redriven_to_delivery(quick_retry_stack):
    config, api = quick_retry_stack, Api(quick_retry_stack)
    simulator(config, "POST", "/_simulator/faults", {"server_error": 8})  # every attempt
    message_id = api.send("success+dlq@simulator.amazonses.com")[1]["id"]
    wait_for(lambda: api.call("GET", f"/v1/emails/{message_id}")[1]["status"] == "failed",
             timeout=60)

    def dead_lettered() -> dict[str, Any] | None:
        shown = json.loads(mailroom_cli(config, "dlq", "show", "send", "--json").stdout)
        return shown if shown["count"] == 1 else None

    shown = wait_for(dead_lettered, timeout=60)
    [letter] = shown["messages"]
    assert (letter["message_id"], letter["to"], letter["reason"]) == (
        message_id, "s***@simulator.amazonses.com", "retries_exhausted")
    assert letter["receives"] >= 8 and letter["first_received"]
    again = json.loads(mailroom_cli(config, "dlq", "show", "send", "--json").stdout)
    assert again["count"] == 1  # showing took nothing out

    redriven = mailroom_cli(config, "dlq", "redrive", "send")

    assert "Moved 1 of 1" in redriven.stdout and "reopened 1" in redriven.stdout
    message, _ = api.follow(message_id, until={"delivered"})
    [entry] = [event for event in message["events"] if event["type"] == "redriven"]
    assert entry["by"] and entry["reason"] == "retries_exhausted"
    sends = simulator(config, "GET", "/_simulator/messages")["messages"]
    assert [s["destination"] for s in sends] == [["success+dlq@simulator.amazonses.com"]]
    assert json.loads(mailroom_cli(config, "dlq", "show", "send", "--json").stdout)[
        "count"] == 0


def test_a_dead_letter_ses_already_took_is_never_sent_again(quick_retry_stack):
    """Redriving a message whose record says SES has it drops it: no second send."""
    import boto3

    config, api = quick_retry_stack, Api(quick_retry_stack)
    message_id = api.send("success+once@simulator.amazonses.com")[1]["id"]
    api.follow(message_id, until={"delivered"})
    sqs = boto3.client("sqs", endpoint_url=config["aws_endpoint_url"],
                       region_name=config["region"], aws_access_key_id="local",
                       aws_secret_access_key="local")
    body = json.dumps({"id": message_id, "to": "success+once@simulator.amazonses.com",
                       "from": "no-reply@mailroom.example.com", "template": "welcome",
                       "data": {"name": "Ada", "action_url": "https://example.com"}})
    sqs.send_message(QueueUrl=config["send_dlq_url"], MessageBody=body)  # as if dead-lettered

    result = mailroom_cli(config, "dlq", "redrive", "send")

    assert "Moved 1 of 1" in result.stdout and "reopened" not in result.stdout
    time.sleep(3)
    sends = simulator(config, "GET", "/_simulator/messages")["messages"]
    assert sum(s["destination"] == ["success+once@simulator.amazonses.com"]
               for s in sends) == 1


def test_a_malformed_ses_event_is_dead_lettered_at_once_and_can_be_deleted(local_stack):
    import uuid

    import boto3

    def client(service: str) -> Any:
        return boto3.client(service, endpoint_url=local_stack["aws_endpoint_url"],
                            region_name=local_stack["region"], aws_access_key_id="local",
                            aws_secret_access_key="local")

    def publish_malformed() -> str:
        marker = uuid.uuid4().hex  # the stack is shared: find this test's record by it
        client("sns").publish(TopicArn=local_stack["ses_events_topic_arn"],
                              Message=json.dumps({"mail": "no type", "marker": marker}))
        return marker

    def dead_lettered(marker: str) -> str | None:
        """The SQS id of the events dead letter holding `marker`, left in the queue."""
        sqs, url = client("sqs"), local_stack["events_dlq_url"]
        found, handles = None, []
        for _ in range(10):
            batch = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10,
                                        VisibilityTimeout=5).get("Messages", [])
            handles += [m["ReceiptHandle"] for m in batch]
            found = found or next((m["MessageId"] for m in batch if marker in m["Body"]), None)
            if not batch:
                break
        for handle in handles:
            sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=handle,
                                          VisibilityTimeout=0)
        return found

    marker = publish_malformed()
    sqs_id = wait_for(lambda: dead_lettered(marker))
    shown = json.loads(mailroom_cli(local_stack, "dlq", "show", "events", "--json").stdout)
    [letter] = [m for m in shown["messages"] if m["sqs_message_id"] == sqs_id]
    assert letter["reason"] == "malformed"
    assert "mailroom dlq delete events --malformed" in letter["action"]

    named = mailroom_cli(local_stack, "dlq", "delete", "events", "no-such-id", "--json",
                         check=False)
    assert named.returncode == 1
    assert json.loads(named.stdout)["not_found"] == ["no-such-id"]
    assert dead_lettered(marker) == sqs_id  # naming another id took nothing out

    by_id = json.loads(mailroom_cli(local_stack, "dlq", "delete", "events", sqs_id,
                                    "--json").stdout)
    assert (by_id["deleted"], by_id["not_found"]) == (1, [])
    assert dead_lettered(marker) is None

    second = publish_malformed()
    wait_for(lambda: dead_lettered(second))
    swept = json.loads(mailroom_cli(local_stack, "dlq", "delete", "events", "--malformed",
                                    "--json").stdout)
    assert swept["deleted"] >= 1 and dead_lettered(second) is None


def test_dead_letter_commands_need_aws_access(local_stack, tmp_path):
    import os
    import subprocess
    import sys

    from .conftest import REPO_ROOT

    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("AWS_", "MAILROOM_"))}
    env |= {"MAILROOM_API_URL": local_stack["api_url"], "MAILROOM_API_KEY": local_stack["api_key"],
            "PYTHONPATH": os.pathsep.join([str(REPO_ROOT / "functions"), str(REPO_ROOT)])}
    for command in (["dlq", "show"], ["dlq", "redrive", "events"]):
        result = subprocess.run([sys.executable, "-m", "mailroom_dev.cli", *command],
                                cwd=tmp_path, env=env, capture_output=True, text=True,
                                timeout=60)
        assert result.returncode == 2, command
        assert "needs AWS access" in result.stderr
