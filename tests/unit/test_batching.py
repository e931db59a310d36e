"""Batch calls against botocore's Stubber (requests validated against the real service
models): chunks to each service's limit, retries what the service left undone with a capped
backoff, and raises only for what still failed. No test sleeps: the backoff's sleep is
recorded instead."""

from __future__ import annotations

from datetime import UTC, datetime

import boto3
import pytest
from botocore.stub import ANY, Stubber

from mailroom.adapters.batching import Answer, Backoff, BatchIncomplete, call_in_batches
from mailroom.adapters.dynamodb import DynamoMessageStore, DynamoSuppressionStore
from mailroom.adapters.sns import SnsPublisher
from mailroom.adapters.sqs import SqsSendQueue
from mailroom.models import Message, Notification, SendRequest, Status

NOW = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
TOPIC = "arn:aws:sns:us-east-1:123456789012:notifications"
QUEUE = "https://sqs.us-east-1.amazonaws.com/123456789012/send"


class Pauses(list):
    """A sleep that only records how long it was asked to wait."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture
def pauses() -> Pauses:
    return Pauses()


def stubbed(service: str):
    client = boto3.client(service, region_name="us-east-1", aws_access_key_id="k",
                          aws_secret_access_key="s")
    return client, Stubber(client)


def message(index: int) -> Message:
    return Message(id=f"m{index}", status=Status.QUEUED, to="ada@example.com",
                   from_address="no-reply@x.com", template="welcome",
                   created_at=NOW, updated_at=NOW)


def notification(index: int) -> Notification:
    return Notification(id=f"n{index}", type="email.delivered", occurred_at=NOW,
                        message_id=f"m{index}", recipient="ada@example.com")


def send_request(index: int) -> SendRequest:
    return SendRequest(id=f"m{index}", to="ada@example.com", from_address="no-reply@x.com",
                       template="welcome")


def test_the_backoff_doubles_up_to_its_cap():
    assert list(Backoff(attempts=6, base_seconds=0.1, max_seconds=0.5).pauses()) == [
        0.1, 0.2, 0.4, 0.5, 0.5]


def test_requests_are_sent_in_chunks_of_the_limit():
    chunks = []

    def call(chunk):
        chunks.append(chunk)
        return Answer(results=[item * 10 for item in chunk])

    results = call_in_batches(list(range(7)), 3, call, what="numbers", backoff=Backoff())

    assert chunks == [[0, 1, 2], [3, 4, 5], [6]]
    assert results == [0, 10, 20, 30, 40, 50, 60]


def test_unprocessed_writes_are_sent_again_after_a_pause(pauses):
    # Given DynamoDB leaves one write of the first call unprocessed
    client, stub = stubbed("dynamodb")
    store = DynamoMessageStore("messages", client, backoff=Backoff(sleep=pauses))
    stub.add_response("batch_write_item", {"UnprocessedItems": {"messages": [
        {"PutRequest": {"Item": {"id": {"S": "m1"}}}}]}}, {"RequestItems": ANY})
    stub.add_response("batch_write_item", {"UnprocessedItems": {}},
                      {"RequestItems": {"messages": [
                          {"PutRequest": {"Item": {"id": {"S": "m1"}}}}]}})

    # When two messages are created
    with stub:
        store.create_many([message(0), message(1)])

    # Then the unprocessed one went again, once, after the first pause
    stub.assert_no_pending_responses()
    assert pauses == [0.05]


def test_writes_go_25_per_call():
    client, stub = stubbed("dynamodb")
    store = DynamoMessageStore("messages", client)
    for count in (25, 25, 10):
        stub.add_response("batch_write_item", {},
                          {"RequestItems": {"messages": [ANY] * count}})

    with stub:
        store.create_many([message(index) for index in range(60)])
    stub.assert_no_pending_responses()


def test_writes_still_unprocessed_after_every_attempt_raise_plainly(pauses):
    client, stub = stubbed("dynamodb")
    store = DynamoMessageStore("messages", client, backoff=Backoff(attempts=3, sleep=pauses))
    for _ in range(3):
        stub.add_response("batch_write_item", {"UnprocessedItems": {"messages": [
            {"PutRequest": {"Item": {"id": {"S": "m0"}}}}]}}, {"RequestItems": ANY})

    with stub, pytest.raises(BatchIncomplete, match="1 of 1 DynamoDB writes did not go "
                                                    "through: 1 still failing after 3"):
        store.create_many([message(0)])
    assert pauses == [0.05, 0.1]


def test_unprocessed_keys_are_read_again_and_every_item_is_kept(pauses):
    # Given DynamoDB answers one key and leaves the other unprocessed
    client, stub = stubbed("dynamodb")
    store = DynamoSuppressionStore("suppressions", client, backoff=Backoff(sleep=pauses))
    item = {"reason": {"S": "hard_bounce"}, "created_at": {"S": NOW.isoformat()},
            "source": {"S": "ses"}}
    stub.add_response("batch_get_item", {
        "Responses": {"suppressions": [{"email": {"S": "a@x.com"}, **item}]},
        "UnprocessedKeys": {"suppressions": {"Keys": [{"email": {"S": "b@x.com"}}]}},
    }, {"RequestItems": {"suppressions": {
        "Keys": [{"email": {"S": "a@x.com"}}, {"email": {"S": "b@x.com"}}],
        "ConsistentRead": True}}})
    stub.add_response("batch_get_item", {
        "Responses": {"suppressions": [{"email": {"S": "b@x.com"}, **item}]},
    }, {"RequestItems": {"suppressions": {"Keys": [{"email": {"S": "b@x.com"}}],
                                          "ConsistentRead": True}}})

    # When both addresses are looked up
    with stub:
        found = store.get_many(["b@x.com", "a@x.com"], NOW)

    # Then both answers are kept
    assert sorted(found) == ["a@x.com", "b@x.com"]
    assert pauses == [0.05]


def test_reads_go_100_per_call():
    client, stub = stubbed("dynamodb")
    store = DynamoSuppressionStore("suppressions", client)
    for count in (100, 50):
        stub.add_response("batch_get_item", {"Responses": {"suppressions": []}},
                          {"RequestItems": {"suppressions": {"Keys": [ANY] * count,
                                                             "ConsistentRead": True}}})

    with stub:
        assert store.get_many([f"u{index}@x.com" for index in range(150)], NOW) == {}
    stub.assert_no_pending_responses()


def sns_failure(entry_id: str, sender_fault: bool, code: str = "InternalError") -> dict:
    return {"Id": entry_id, "Code": code, "Message": f"{code} happened",
            "SenderFault": sender_fault}


def test_notifications_sns_failed_on_its_side_are_published_again(pauses):
    # Given SNS fails entry 1 on its side (not the sender's fault)
    client, stub = stubbed("sns")
    publisher = SnsPublisher(TOPIC, client, backoff=Backoff(sleep=pauses))
    stub.add_response("publish_batch", {
        "Successful": [{"Id": "0", "MessageId": "s0"}],
        "Failed": [sns_failure("1", sender_fault=False)],
    }, {"TopicArn": TOPIC, "PublishBatchRequestEntries": [ANY, ANY]})
    stub.add_response("publish_batch", {"Successful": [{"Id": "1", "MessageId": "s1"}]},
                      {"TopicArn": TOPIC, "PublishBatchRequestEntries": [
                          {"Id": "1", "Message": notification(1).model_dump_json(),
                           "MessageAttributes": {"type": {
                               "DataType": "String", "StringValue": "email.delivered"}}}]})

    # When two notifications are published
    with stub:
        publisher.publish([notification(0), notification(1)])

    # Then only the failed one went again, after a pause
    stub.assert_no_pending_responses()
    assert pauses == [0.05]


def test_a_notification_sns_refuses_as_the_senders_fault_raises_without_a_retry(pauses):
    client, stub = stubbed("sns")
    publisher = SnsPublisher(TOPIC, client, backoff=Backoff(sleep=pauses))
    stub.add_response("publish_batch", {
        "Successful": [{"Id": "0", "MessageId": "s0"}],
        "Failed": [sns_failure("1", sender_fault=True, code="InvalidParameter")],
    }, {"TopicArn": TOPIC, "PublishBatchRequestEntries": ANY})

    with stub, pytest.raises(BatchIncomplete,
                             match=r"1 of 2 SNS notifications did not go through: 1 refused "
                                   r"\(entry 1: InvalidParameter happened\)"):
        publisher.publish([notification(0), notification(1)])
    assert pauses == []


def test_notifications_go_10_per_call_and_failures_of_every_chunk_are_reported(pauses):
    # Given SNS fails one entry of each of the three calls, every time
    client, stub = stubbed("sns")
    publisher = SnsPublisher(TOPIC, client, backoff=Backoff(attempts=2, sleep=pauses))
    for first, count in ((0, 10), (10, 10), (20, 3)):
        failing = str(first)
        stub.add_response("publish_batch", {"Successful": [],
                                            "Failed": [sns_failure(failing, False)]},
                          {"TopicArn": TOPIC, "PublishBatchRequestEntries": [ANY] * count})
        stub.add_response("publish_batch", {"Successful": [],
                                            "Failed": [sns_failure(failing, False)]},
                          {"TopicArn": TOPIC, "PublishBatchRequestEntries": [ANY]})

    # When 23 are published, then every chunk was tried and all three failures are named
    with stub, pytest.raises(BatchIncomplete) as raised:
        publisher.publish([notification(index) for index in range(23)])
    stub.assert_no_pending_responses()
    assert "3 of 23 SNS notifications" in str(raised.value)
    assert "3 still failing after 2 attempts" in str(raised.value)
    assert "entry 20: InternalError happened" in str(raised.value)


def test_messages_sqs_failed_on_its_side_are_sent_again_with_their_delay(pauses):
    client, stub = stubbed("sqs")
    queue = SqsSendQueue(QUEUE, client, backoff=Backoff(sleep=pauses))
    stub.add_response("send_message_batch", {
        "Successful": [{"Id": "0", "MessageId": "q0", "MD5OfMessageBody": "x"}],
        "Failed": [sns_failure("1", sender_fault=False, code="ServiceUnavailable")],
    }, {"QueueUrl": QUEUE, "Entries": [ANY, ANY]})
    stub.add_response("send_message_batch", {
        "Successful": [{"Id": "1", "MessageId": "q1", "MD5OfMessageBody": "x"}], "Failed": [],
    }, {"QueueUrl": QUEUE, "Entries": [
        {"Id": "1", "MessageBody": send_request(1).model_dump_json(by_alias=True),
         "DelaySeconds": 30}]})

    with stub:
        queue.enqueue([send_request(0), send_request(1)], delay_seconds=30)

    stub.assert_no_pending_responses()
    assert pauses == [0.05]


def test_a_message_sqs_refuses_as_the_senders_fault_raises_without_a_retry(pauses):
    client, stub = stubbed("sqs")
    queue = SqsSendQueue(QUEUE, client, backoff=Backoff(sleep=pauses))
    stub.add_response("send_message_batch", {
        "Successful": [],
        "Failed": [sns_failure("0", sender_fault=True, code="InvalidMessageContents")],
    }, {"QueueUrl": QUEUE, "Entries": ANY})

    with stub, pytest.raises(BatchIncomplete, match="entry 0: InvalidMessageContents"):
        queue.enqueue([send_request(0)])
    assert pauses == []
