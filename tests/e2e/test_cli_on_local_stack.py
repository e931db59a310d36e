"""The polished CLI on the local stack, run as a user runs it: `tail` on a queue of its own
(two readers both see an event; the queue goes when tail stops; a crashed tail's queue goes
at the next start), `send --wait`'s exit code on a bounce, `invoke` with a file from events/,
`templates validate` on a broken template, and help in an 80-column terminal."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from mailroom_dev.tail import QUEUE_PREFIX, TAG_CREATED, TAG_HOST, TAG_PID

from .conftest import REPO_ROOT, WELCOME, Api, local_aws, mailroom_cli, wait_for

pytestmark = pytest.mark.e2e


def start_cli(config: dict[str, Any], output: Path, *args: str) -> subprocess.Popen[bytes]:
    """A long-running `mailroom` command (tail), its stdout in `output`."""
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("AWS_", "MAILROOM_"))}
    env["MAILROOM_STATE_DIR"] = str(Path(config["outbox_dir"]).parent)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO_ROOT / "functions"), str(REPO_ROOT)])
    with output.open("wb") as out:
        return subprocess.Popen([sys.executable, "-m", "mailroom_dev.cli", *args],
                                cwd=REPO_ROOT, env=env, stdout=out, stderr=subprocess.PIPE)


def tail_queues(sqs: Any) -> dict[str, dict[str, str]]:
    urls = sqs.list_queues(QueueNamePrefix=QUEUE_PREFIX).get("QueueUrls", [])
    return {url: sqs.list_queue_tags(QueueUrl=url).get("Tags", {}) for url in urls}


def subscribed(config: dict[str, Any]) -> set[str]:
    sns = local_aws(config, "sns", "aws_endpoint_url")
    return {s["Endpoint"] for s in sns.list_subscriptions_by_topic(
        TopicArn=config["notifications_topic_arn"])["Subscriptions"]}


def stop(process: subprocess.Popen[bytes]) -> int:
    process.send_signal(signal.SIGINT)  # Ctrl-C
    return process.wait(timeout=20)


def test_two_tails_both_see_an_event_and_their_queues_go_when_they_stop(
        local_stack, api: Api, tmp_path: Path):
    sqs = local_aws(local_stack, "sqs", "aws_endpoint_url")
    readers = [start_cli(local_stack, tmp_path / f"tail{n}.jsonl", "tail", "--json")
               for n in (1, 2)]
    pids = {str(reader.pid) for reader in readers}
    try:
        wait_for(lambda: pids <= {tags.get(TAG_PID) for tags in tail_queues(sqs).values()},
                 what="both tails to subscribe")
        time.sleep(1)  # moto applies a new subscription on its next publish
        status, accepted = api.send("success@simulator.amazonses.com")
        assert status == 202, accepted

        def delivered(n: int) -> bool:
            lines = (tmp_path / f"tail{n}.jsonl").read_text().splitlines()
            return any(json.loads(line).get("message_id") == accepted["id"]
                       and json.loads(line)["type"] == "email.delivered" for line in lines)

        wait_for(lambda: delivered(1) and delivered(2),
                 what="both tails to print the delivery")
    finally:
        codes = [stop(reader) for reader in readers]

    assert codes == [0, 0]
    left = [url for url, tags in tail_queues(sqs).items() if tags.get(TAG_PID) in pids]
    assert left == []
    assert not any(QUEUE_PREFIX in endpoint and any(f"-{pid}-" in endpoint for pid in pids)
                   for endpoint in subscribed(local_stack))


def test_a_crashed_tails_queue_is_removed_by_the_next_tail(local_stack):
    sqs = local_aws(local_stack, "sqs", "aws_endpoint_url")
    sns = local_aws(local_stack, "sns", "aws_endpoint_url")
    dead_pid = _a_dead_pid()
    url = sqs.create_queue(QueueName=f"{QUEUE_PREFIX}{dead_pid}-1", tags={
        TAG_PID: str(dead_pid), TAG_HOST: socket.gethostname(),
        TAG_CREATED: str(int(time.time()))})["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])[
        "Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=local_stack["notifications_topic_arn"], Protocol="sqs",
                  Endpoint=arn)

    result = mailroom_cli(local_stack, "tail", "--no-follow")

    assert "removed 1 queue(s) an earlier tail left" in " ".join(result.stderr.split())
    assert url not in tail_queues(sqs)
    assert arn not in subscribed(local_stack)


def _a_dead_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def test_send_wait_exits_one_on_a_bounce_and_zero_on_a_delivery(local_stack):
    data = json.dumps(WELCOME)
    bounced = mailroom_cli(local_stack, "send", "--to",
                           f"bounce+{uuid.uuid4().hex[:8]}@simulator.amazonses.com",
                           "--template", "welcome", "--data", data, "--wait", check=False)
    delivered = mailroom_cli(local_stack, "send", "--to", "success@simulator.amazonses.com",
                             "--template", "welcome", "--data", data, "--wait", "--json",
                             check=False)

    assert bounced.returncode == 1, bounced.stdout + bounced.stderr
    assert "ended bounced" in bounced.stderr and "mailbox_does_not_exist" in bounced.stdout
    assert delivered.returncode == 0, delivered.stderr
    assert json.loads(delivered.stdout)["status"] == "delivered"


def test_invoke_runs_a_handler_against_the_running_stack(local_stack, api: Api):
    result = mailroom_cli(local_stack, "invoke", "api", "events/api-post-email.json", "--json")

    answer = json.loads(result.stdout)
    assert answer["statusCode"] == 202, answer
    accepted = json.loads(answer["body"])
    sent = json.loads(json.loads((REPO_ROOT / "events/api-post-email.json").read_text())["body"])
    # The stack's own API sees the message the in-process handler recorded, and sends it.
    message, _ = api.follow(accepted["id"], until={"delivered"})
    assert message["to"] == sent["to"]


def test_invoke_of_the_events_function_with_a_sample_ses_event(local_stack):
    result = mailroom_cli(local_stack, "invoke", "events", "events/sqs-sns-delivery.json",
                          "--json", check=False)

    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {"batchItemFailures": []}


def test_templates_validate_catches_a_broken_template(local_stack, tmp_path: Path):
    source = tmp_path / "templates"
    shutil.copytree(REPO_ROOT / "templates", source)
    html = source / "order_confirmation" / "body.html.j2"
    html.write_text(html.read_text().replace(
        "[% block content %]", '[% block content %]<a href="ftp://files.example.com">x</a>'))

    result = mailroom_cli(local_stack, "templates", "validate", "--source", str(source),
                          check=False)

    assert result.returncode == 1
    assert "order_confirmation  FAIL  links" in result.stdout
    assert "body.html.j2: links:" in result.stdout and "ftp://files.example.com" in result.stdout


@pytest.mark.parametrize("command", [[], ["send"], ["tail"], ["status"], ["templates"],
                                     ["suppressions", "remove"], ["invoke"]])
def test_help_in_80_columns_has_no_type_placeholders(local_stack, monkeypatch, command):
    monkeypatch.setenv("COLUMNS", "80")

    result = mailroom_cli(local_stack, *command, "--help")

    for placeholder in ("<str>", "<bool>", "<list[str]>", "<path>", "<int>", "<float>"):
        assert placeholder not in result.stdout, result.stdout
    assert max(len(line) for line in result.stdout.splitlines()) <= 80
