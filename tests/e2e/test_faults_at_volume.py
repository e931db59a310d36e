"""Several hundred emails through the local stack while everything that can fail does: SES
throttles about a fifth of the calls and answers 5xx to about a tenth, DynamoDB throttles a
few writes past botocore's retries, and one sender invocation dies after SES accepted a
message and before the send was recorded (tests/e2e/faulty_stack.py injects the last two).

Then every accepted email ends delivered, or failed and in the send DLQ with its reason;
none is lost and none sent twice: the outbox holds each message exactly once."""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from email import message_from_bytes, policy
from pathlib import Path
from typing import Any

import boto3
import pytest

from tests.e2e import faulty_stack
from tests.e2e.conftest import WELCOME, Api, running_stack
from tests.e2e.test_send_path import simulator

pytestmark = pytest.mark.e2e

BATCHES = 2  # of 100, through POST /v1/emails/batch
SINGLES = 40  # through POST /v1/emails, four at a time
SES_FAULT_RATES = {"throttle": 0.2, "server_error": 0.1}
PLAN = faulty_stack.Plan(throttle_every=97, throttle_max=4, throttle_once_every=31,
                         die_at_send=40, reappear_seconds=2)
EXPECTED = {"delivered", "failed"}
# Where a message stops moving: waiting for these, a failure of the stack's own (say
# `render_failed`) shows at once in the assertion rather than as a timeout.
FINAL = EXPECTED | {"bounced", "rejected", "render_failed", "suppressed", "complained"}
SETTLE_SECONDS = 240
# The events queue's visibility timeout, shortened from 6 minutes: an events record that
# failed on a throttled write comes back within the test.
EVENTS_VISIBILITY_SECONDS = 10


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    state_dir = tmp_path_factory.mktemp("mailroom-faults")
    report = state_dir / "faults.json"
    for config in running_stack(
            state_dir, module="tests.e2e.faulty_stack",
            environment={faulty_stack.PLAN_ENV: json.dumps(PLAN.__dict__),
                         faulty_stack.REPORT_ENV: str(report)},
            # SES's rate does not bind here: the faults do. The guard reads its counters
            # once a minute, as deployed, rather than after every batch.
            sim_max_send_rate="200", reputation_check_seconds="60"):
        yield {**config, "report": report}


def aws(config: dict[str, Any], service: str) -> Any:
    return boto3.client(service, endpoint_url=config["aws_endpoint_url"],
                        region_name=config["region"], aws_access_key_id="test",
                        aws_secret_access_key="test")


def statuses(config: dict[str, Any]) -> dict[str, dict[str, Any]]:
    pages = aws(config, "dynamodb").get_paginator("scan").paginate(
        TableName=config["messages_table"], ConsistentRead=True)
    return {item["id"]["S"]: item for page in pages for item in page["Items"]}


def accept_all(api: Api) -> dict[str, str]:
    """Message id → recipient, for each email the API accepted (202)."""
    accepted: dict[str, str] = {}
    for batch in range(BATCHES):
        emails = [{"to": f"success+b{batch}-{i}@simulator.amazonses.com",
                   "template": "welcome", "data": WELCOME} for i in range(100)]
        status, answer = api.call("POST", "/v1/emails/batch", {"emails": emails})
        assert status == 202, answer
        accepted |= {result["id"]: emails[result["index"]]["to"]
                     for result in answer["results"] if "id" in result}

    def single(i: int) -> tuple[int, Any, str]:
        to = f"success+s{i}@simulator.amazonses.com"
        return *api.send(to), to

    with ThreadPoolExecutor(max_workers=4) as pool:
        for status, answer, to in pool.map(single, range(SINGLES)):
            if status == 202:
                accepted[answer["id"]] = to
    return accepted


def wait_until_settled(config: dict[str, Any], ids: set[str]) -> dict[str, dict[str, Any]]:
    """Every message final and both queues empty, so a late duplicate would show."""
    sqs = aws(config, "sqs")
    deadline = time.monotonic() + SETTLE_SECONDS
    while True:
        time.sleep(3)  # the stack shares one interpreter with moto: poll gently
        queued = sum(
            int(value)
            for url in (config["send_queue_url"], config["events_queue_url"])
            for value in sqs.get_queue_attributes(
                QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages",
                                              "ApproximateNumberOfMessagesNotVisible",
                                              "ApproximateNumberOfMessagesDelayed"],
            )["Attributes"].values())
        items = statuses(config) if not queued else {}
        pending = [i for i in ids if items.get(i, {}).get("status", {}).get("S") not in FINAL]
        if not pending:
            return items
        if time.monotonic() > deadline:
            pytest.fail(f"{len(pending)} messages not final, {queued} queue messages left "
                        f"after {SETTLE_SECONDS} s; e.g. {pending[:3]}")


def dead_letters(config: dict[str, Any]) -> set[str]:
    sqs, ids = aws(config, "sqs"), set()
    while messages := sqs.receive_message(QueueUrl=config["send_dlq_url"],
                                          MaxNumberOfMessages=10,
                                          VisibilityTimeout=600).get("Messages", []):
        ids |= {json.loads(message["Body"])["id"] for message in messages}
    return ids


def outbox_recipients(config: dict[str, Any]) -> Counter[str]:
    return Counter(
        message_from_bytes(path.read_bytes(), policy=policy.default)["To"]
        for path in Path(config["outbox_dir"]).glob("*.eml"))


def test_under_faults_at_volume_no_accepted_email_is_lost_or_sent_twice(stack) -> None:
    api = Api(stack)
    sqs = aws(stack, "sqs")
    sqs.set_queue_attributes(QueueUrl=stack["events_queue_url"],
                             Attributes={"VisibilityTimeout": str(EVENTS_VISIBILITY_SECONDS)})
    simulator(stack, "POST", "/_simulator/faults", {"rates": SES_FAULT_RATES})

    accepted = accept_all(api)
    items = wait_until_settled(stack, set(accepted))
    simulator(stack, "DELETE", "/_simulator/faults")

    report = json.loads(stack["report"].read_text())
    final = Counter(items[i]["status"]["S"] for i in accepted)
    failed = {i for i in accepted if items[i]["status"]["S"] == "failed"}
    print(f"\naccepted {len(accepted)}: {dict(final)}; faults: {report}")
    # The faults happened.
    assert len(accepted) >= 200
    assert len(report["throttled_calls"]) == PLAN.throttle_max
    assert report["throttled_once"] > 0
    assert report["batches_died"] == 1 and len(report["died_after_ses_accepted"]) == 1
    # Nothing lost: each accepted email delivered, or failed with its reason in the DLQ.
    assert set(final) <= EXPECTED, final
    assert all(api.call("GET", f"/v1/emails/{i}")[1]["failure"]["reason"] for i in failed)
    assert failed <= dead_letters(stack)
    # Nothing sent twice, the mail SES accepted just before the invocation died included.
    sent = outbox_recipients(stack)
    twice = {to: n for to, n in sent.items() if n > 1}
    assert twice == {}, [api.call("GET", f"/v1/emails/{i}")[1]  # their timelines say how
                         for i, to in accepted.items() if to in twice]
    assert set(sent) == {accepted[i] for i in accepted if i not in failed}
    died = report["died_after_ses_accepted"][0]
    assert [i for i in accepted if items[i].get("ses_message_id", {}).get("S") == died]
