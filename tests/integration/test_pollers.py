"""The SQS pollers behave like Lambda's event source mapping, against moto's SQS: the event
shape, partial batch failures, whole-batch failure on an exception, and redrive to the DLQ
after maxReceiveCount."""

from __future__ import annotations

import time
import uuid
from typing import Any

import boto3
import pytest
from moto.server import ThreadedMotoServer

from mailroom_dev.local.lambda_runtime import LambdaFunction
from mailroom_dev.local.pollers import SqsPoller, failed_message_ids
from mailroom_dev.local.resources import QueueUrls, create_queue_with_dlq

REGION = "us-east-1"
MAX_RECEIVE_COUNT = 2
VISIBILITY_TIMEOUT = 1  # seconds; short so redelivery is quick to observe


@pytest.fixture(scope="module")
def sqs() -> Any:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield boto3.client(
        "sqs", endpoint_url=f"http://{host}:{port}", region_name=REGION,
        aws_access_key_id="test", aws_secret_access_key="test",
    )
    server.stop()


@pytest.fixture
def queue(sqs: Any) -> QueueUrls:
    return create_queue_with_dlq(
        sqs, f"q-{uuid.uuid4().hex[:12]}",
        visibility_timeout=VISIBILITY_TIMEOUT, max_receive_count=MAX_RECEIVE_COUNT,
    )


class RecordingHandler:
    """A stand-in function: fails the records whose body starts with "fail", or raises."""

    def __init__(self, raise_error: bool = False) -> None:
        self.events: list[dict[str, Any]] = []
        self.raise_error = raise_error

    def __call__(self, event: dict[str, Any], context: Any) -> dict[str, Any]:
        self.events.append(event)
        assert context.get_remaining_time_in_millis() > 0
        if self.raise_error:
            raise RuntimeError("boom")
        return {"batchItemFailures": [
            {"itemIdentifier": record["messageId"]}
            for record in event["Records"] if record["body"].startswith("fail")
        ]}

    def bodies(self, invocation: int) -> list[str]:
        return sorted(record["body"] for record in self.events[invocation]["Records"])


def poller_for(sqs: Any, queue: QueueUrls, handler: RecordingHandler) -> SqsPoller:
    return SqsPoller(sqs, queue.url, queue.arn, LambdaFunction.from_callable("fn", handler),
                     REGION, wait_time_seconds=1)


def send(sqs: Any, queue: QueueUrls, *bodies: str) -> None:
    for body in bodies:
        sqs.send_message(QueueUrl=queue.url, MessageBody=body, MessageAttributes={
            "kind": {"DataType": "String", "StringValue": "test"},
        })


def poll_until_received(poller: SqsPoller, timeout: float = 5) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if received := poller.poll_once():
            return received
    return 0


def queue_depth(sqs: Any, url: str) -> int:
    attributes = sqs.get_queue_attributes(
        QueueUrl=url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"]) + int(
        attributes["ApproximateNumberOfMessagesNotVisible"]
    )


def test_records_have_the_lambda_sqs_event_shape(sqs: Any, queue: QueueUrls) -> None:
    handler = RecordingHandler()
    send(sqs, queue, "hello")

    poll_until_received(poller_for(sqs, queue, handler))

    (record,) = handler.events[0]["Records"]
    assert record["body"] == "hello"
    assert record["eventSource"] == "aws:sqs"
    assert record["eventSourceARN"] == queue.arn
    assert record["awsRegion"] == REGION
    assert record["messageId"] and record["receiptHandle"] and record["md5OfBody"]
    assert record["attributes"]["ApproximateReceiveCount"] == "1"
    assert "SentTimestamp" in record["attributes"]
    assert record["messageAttributes"]["kind"] == {
        "stringValue": "test", "stringListValues": [], "binaryListValues": [],
        "dataType": "String",
    }


def test_batches_hold_up_to_ten_records(sqs: Any, queue: QueueUrls) -> None:
    handler = RecordingHandler()
    send(sqs, queue, *[f"m{i}" for i in range(12)])
    poller = poller_for(sqs, queue, handler)

    while poll_until_received(poller, timeout=2):
        pass

    assert max(len(event["Records"]) for event in handler.events) <= 10
    assert sum(len(event["Records"]) for event in handler.events) == 12
    assert queue_depth(sqs, queue.url) == 0


def test_only_reported_failures_come_back(sqs: Any, queue: QueueUrls) -> None:
    handler = RecordingHandler()
    send(sqs, queue, "ok-1", "fail-1", "ok-2")
    poller = poller_for(sqs, queue, handler)
    assert poll_until_received(poller) == 3

    time.sleep(VISIBILITY_TIMEOUT + 0.2)
    poll_until_received(poller)

    assert handler.bodies(1) == ["fail-1"]
    assert handler.events[1]["Records"][0]["attributes"]["ApproximateReceiveCount"] == "2"


def test_a_raised_exception_fails_the_whole_batch(sqs: Any, queue: QueueUrls) -> None:
    handler = RecordingHandler(raise_error=True)
    send(sqs, queue, "a", "b")
    poller = poller_for(sqs, queue, handler)
    assert poll_until_received(poller) == 2

    time.sleep(VISIBILITY_TIMEOUT + 0.2)
    poll_until_received(poller)

    assert handler.bodies(1) == ["a", "b"]


def test_after_max_receive_count_a_failing_message_moves_to_the_dlq(
    sqs: Any, queue: QueueUrls
) -> None:
    handler = RecordingHandler()
    send(sqs, queue, "fail-forever", "ok")
    poller = poller_for(sqs, queue, handler)

    for _ in range(MAX_RECEIVE_COUNT):
        poll_until_received(poller)
        time.sleep(VISIBILITY_TIMEOUT + 0.2)
    poller.poll_once()  # SQS moves it to the DLQ instead of delivering it again

    dead = sqs.receive_message(QueueUrl=queue.dlq_url, WaitTimeSeconds=1)["Messages"]
    assert [message["Body"] for message in dead] == ["fail-forever"]
    assert len(handler.events) == MAX_RECEIVE_COUNT
    assert queue_depth(sqs, queue.url) == 0


def test_a_started_poller_processes_messages_until_stopped(
    sqs: Any, queue: QueueUrls
) -> None:
    handler = RecordingHandler()
    poller = poller_for(sqs, queue, handler)
    poller.start()
    try:
        send(sqs, queue, "background")
        deadline = time.monotonic() + 5
        while not handler.events and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        poller.stop()

    assert handler.bodies(0) == ["background"]


@pytest.mark.parametrize(
    ("response", "failed"),
    [
        (None, set()),
        ({}, set()),
        ({"batchItemFailures": []}, set()),
        ({"batchItemFailures": [{"itemIdentifier": "b"}]}, {"b"}),
        # Lambda treats an unknown or empty identifier as a failure of the whole batch.
        ({"batchItemFailures": [{"itemIdentifier": "zzz"}]}, {"a", "b"}),
        ({"batchItemFailures": [{"itemIdentifier": ""}]}, {"a", "b"}),
        ({"batchItemFailures": [{}]}, {"a", "b"}),
    ],
)
def test_batch_item_failures_are_read_the_way_lambda_reads_them(
    response: Any, failed: set[str]
) -> None:
    assert failed_message_ids(response, ["a", "b"]) == failed
