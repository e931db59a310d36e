"""The dead-letter tooling's adapters (mailroom_dev.dlq): on moto's SQS for reading and the
local redrive, on botocore's Stubber for SQS's message-move task (moto lacks it)."""

from __future__ import annotations

import json
from pathlib import Path

import boto3
import pytest
from botocore.stub import Stubber

from mailroom_dev import dlq

EVENTS = Path(__file__).resolve().parents[2] / "events"


@pytest.fixture
def sqs(aws):
    return boto3.client("sqs", region_name="us-east-1")


@pytest.fixture
def queues(sqs) -> tuple[str, str]:
    return (sqs.create_queue(QueueName="send-dlq")["QueueUrl"],
            sqs.create_queue(QueueName="send")["QueueUrl"])


def test_showing_dead_letters_takes_nothing_out(sqs, queues):
    dead_url, _ = queues
    for n in range(23):
        sqs.send_message(QueueUrl=dead_url, MessageBody=json.dumps({"n": n}))
    queue = dlq.DeadLetterQueue(sqs, dead_url)

    letters = queue.peek(limit=100)

    assert sorted(json.loads(letter.body)["n"] for letter in letters) == list(range(23))
    assert queue.count() == 23
    visible = sqs.receive_message(QueueUrl=dead_url, MaxNumberOfMessages=10)["Messages"]
    assert len(visible) == 10  # visible again at once, not after the peek's timeout


def test_the_local_redrive_moves_every_message_with_its_attributes(sqs, queues):
    dead_url, source_url = queues
    for n in range(12):
        sqs.send_message(QueueUrl=dead_url, MessageBody=f"body-{n}", MessageAttributes={
            "reason": {"DataType": "String", "StringValue": f"r{n}"}})

    moved = dlq.CopyingRedrive(sqs).move(dlq.DeadLetterQueue(sqs, dead_url), source_url)

    assert moved == 12 and dlq.DeadLetterQueue(sqs, dead_url).count() == 0
    received = []
    while batch := sqs.receive_message(QueueUrl=source_url, MaxNumberOfMessages=10,
                                       MessageAttributeNames=["All"]).get("Messages", []):
        received += batch
        sqs.delete_message_batch(QueueUrl=source_url, Entries=[
            {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(batch)])
    assert sorted((m["Body"], m["MessageAttributes"]["reason"]["StringValue"])
                  for m in received) == sorted((f"body-{n}", f"r{n}") for n in range(12))


def test_deleting_dead_letters_takes_out_only_those_picked(sqs, queues):
    dead_url, _ = queues
    for n in range(14):
        sqs.send_message(QueueUrl=dead_url, MessageBody=json.dumps({"id": f"msg_{n}"}))
    queue = dlq.DeadLetterQueue(sqs, dead_url)

    deleted = queue.delete(lambda letter: json.loads(letter.body)["id"] in {"msg_3", "msg_11"})

    assert deleted == 2
    left = sorted(json.loads(letter.body)["id"] for letter in queue.peek(limit=100))
    assert left == sorted(f"msg_{n}" for n in range(14) if n not in (3, 11))
    assert len(sqs.receive_message(QueueUrl=dead_url, MaxNumberOfMessages=10)["Messages"]) == 10


def test_a_dead_letter_is_known_by_its_sqs_id_and_a_send_messages_own_id():
    send = dlq.DeadLetter("sqs-1", json.dumps({"id": "msg_1", "to": "a@example.com"}), None, 8,
                          {})
    record = dlq.DeadLetter("sqs-2", '{"Type": "Notification", "Message": "not json"}', None, 1,
                            {})

    assert dlq.letter_ids(send) == {"sqs-1", "msg_1"}
    assert dlq.letter_ids(record) == {"sqs-2"}


def test_on_aws_the_redrive_is_sqs_s_move_task_polled_until_it_ends():
    client = boto3.client("sqs", region_name="us-east-1", aws_access_key_id="x",
                          aws_secret_access_key="x")
    source = "https://sqs.us-east-1.amazonaws.com/123456789012/send-dlq"
    destination = "https://sqs.us-east-1.amazonaws.com/123456789012/send"
    arns = {url: f"arn:aws:sqs:us-east-1:123456789012:{url.rsplit('/', 1)[1]}"
            for url in (source, destination)}
    with Stubber(client) as stubber:
        for url in (source, destination):
            stubber.add_response("get_queue_attributes", {"Attributes": {"QueueArn": arns[url]}},
                                 {"QueueUrl": url, "AttributeNames": ["QueueArn"]})
        stubber.add_response("start_message_move_task", {"TaskHandle": "h"},
                             {"SourceArn": arns[source], "DestinationArn": arns[destination]})
        for status, moved in (("RUNNING", 3), ("COMPLETED", 7)):
            stubber.add_response("list_message_move_tasks", {"Results": [{
                "Status": status, "ApproximateNumberOfMessagesMoved": moved}]},
                {"SourceArn": arns[source], "MaxResults": 1})
        slept = []

        moved = dlq.MoveTaskRedrive(client, sleep=slept.append).move(
            dlq.DeadLetterQueue(client, source), destination)

        assert (moved, slept) == (7, [dlq.MOVE_TASK_POLL_SECONDS])
        stubber.assert_no_pending_responses()


def test_an_events_dead_letter_says_whether_it_was_malformed_or_failed_to_apply():
    good = (EVENTS / "sqs-sns-delivery.json").read_text()
    body = json.loads(good)["Records"][0]["body"]
    letter = dlq.DeadLetter("1", body, None, 8, {})
    broken = dlq.DeadLetter("2", '{"Type": "Notification", "Message": "not json"}', None, 8, {})

    assert dlq.events_reason(letter)["reason"] == "failed_to_apply"
    assert "delivery" in dlq.events_reason(letter)["action"]
    assert dlq.events_reason(broken)["reason"] == "malformed"
    assert "mailroom dlq delete events --malformed" in dlq.events_reason(broken)["action"]


def test_an_events_dead_letter_shows_the_reason_the_function_kept_on_it():
    body = '{"Type": "Notification", "Message": "{}"}'
    letter = dlq.DeadLetter("1", body, None, 1, {
        "mailroom_reason": {"DataType": "String", "StringValue": "malformed"},
        "mailroom_detail": {"DataType": "String",
                            "StringValue": "SES event without eventType or notificationType"}})

    reason = dlq.events_reason(letter)

    assert reason["reason"] == "malformed"
    assert reason["action"].startswith("SES event without eventType or notificationType.")


@pytest.mark.parametrize(("address", "masked"), [
    ("ada.lovelace@example.com", "a***@example.com"), ("x@y.org", "x***@y.org"),
    ("nonsense", "***")])
def test_recipients_are_masked(address, masked):
    assert dlq.mask(address) == masked
