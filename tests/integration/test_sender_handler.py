"""The sender Lambda on moto: SQS batches, redelivery, partial failure, the DLQ."""

from __future__ import annotations

import json
from dataclasses import replace

import boto3
import pytest

from mailroom.adapters.dynamodb import DynamoMessageStore
from mailroom.models import Message, SendRequest, Status, utcnow
from mailroom.sending import TransientSendError
from mailroom.shape import SEND_QUEUE
from tests.fakes import FakeMailer
from tests.integration.conftest import received_notifications
from tests.integration.lambda_events import LambdaContext, sqs_event


@pytest.fixture
def sender(function_env, messages_table, send_queue):
    from handlers import sender as module
    from mailroom.settings import SenderSettings

    mailer = FakeMailer()
    deps = replace(module.Dependencies.from_settings(SenderSettings(), mailer=mailer),
                   retry_delay=lambda attempt: 0)  # retry at once
    sqs = boto3.client("sqs", region_name="us-east-1")
    arn = sqs.get_queue_attributes(QueueUrl=send_queue["url"], AttributeNames=["QueueArn"])[
        "Attributes"]["QueueArn"]
    yield {"module": module, "deps": deps, "mailer": mailer, "sqs": sqs, "arn": arn,
           **send_queue, "store": DynamoMessageStore(messages_table)}


def invoke(sender, event: dict) -> dict:
    return sender["module"].handler(event, LambdaContext(), deps=sender["deps"])


def enqueue(sender, to: str) -> str:
    request = SendRequest(id=f"id-{to}", to=to, from_address="no-reply@mail.example.com",
                          template="welcome", data={"name": "A", "action_url": "u"})
    now = utcnow()
    sender["store"].create(Message(id=request.id, status=Status.QUEUED, to=to,
                                   from_address=request.from_address, template="welcome",
                                   created_at=now, updated_at=now))
    sender["sqs"].send_message(QueueUrl=sender["url"],
                               MessageBody=request.model_dump_json(by_alias=True))
    return request.id


def poll(sender, queue_url: str | None = None) -> tuple[list[dict], dict]:
    """What the Lambda event source mapping does: receive, invoke, delete the successes."""
    messages = sender["sqs"].receive_message(
        QueueUrl=queue_url or sender["url"], MaxNumberOfMessages=10,
        AttributeNames=["All"]).get("Messages", [])
    if not messages:
        return [], {"batchItemFailures": []}
    response = invoke(sender, sqs_event(messages, sender["arn"]))
    failed = {item["itemIdentifier"] for item in response["batchItemFailures"]}
    for message in messages:
        if message["MessageId"] not in failed:
            sender["sqs"].delete_message(QueueUrl=sender["url"],
                                         ReceiptHandle=message["ReceiptHandle"])
    return messages, response


def test_a_batch_is_sent_and_each_message_records_its_ses_id(sender):
    ids = [enqueue(sender, f"user{i}@example.com") for i in range(5)]

    poll(sender)

    assert sorted(r.id for r in sender["mailer"].sent) == sorted(ids)
    assert all(sender["store"].get(i).status is Status.SENT for i in ids)


def test_the_same_sqs_record_delivered_twice_makes_one_ses_call(sender):
    enqueue(sender, "ada@example.com")
    messages = sender["sqs"].receive_message(QueueUrl=sender["url"],
                                             AttributeNames=["All"])["Messages"]
    event = sqs_event(messages, sender["arn"])

    first = invoke(sender, event)
    second = invoke(sender, event)

    assert first == second == {"batchItemFailures": []}
    assert len(sender["mailer"].sent) == 1


def test_only_the_failed_record_of_a_batch_is_retried(sender):
    enqueue(sender, "ok@example.com")
    failing = enqueue(sender, "slow@example.com")
    attempts = iter([TransientSendError("InternalFailure: SES had a moment")])
    sender["mailer"].failures["slow@example.com"] = lambda: next(attempts, None)

    messages, response = poll(sender)
    assert len(messages) == 2
    assert len(response["batchItemFailures"]) == 1
    assert sender["store"].get(failing).status is Status.QUEUED

    poll(sender)  # the redelivery
    assert sender["store"].get(failing).status is Status.SENT
    assert sorted(r.to for r in sender["mailer"].sent) == ["ok@example.com", "slow@example.com"]


def test_a_message_that_keeps_failing_is_recorded_failed_and_lands_in_the_dlq(sender):
    failing = enqueue(sender, "down@example.com")
    sender["mailer"].failures["down@example.com"] = TransientSendError("InternalFailure")

    # The receive after the last moves it to the DLQ.
    for _ in range(SEND_QUEUE.max_receive_count + 1):
        poll(sender)

    message = sender["store"].get(failing)
    assert message.status is Status.FAILED
    assert message.failure.reason == "retries_exhausted"
    dead = sender["sqs"].receive_message(QueueUrl=sender["dlq_url"]).get("Messages", [])
    assert [json.loads(m["Body"])["id"] for m in dead] == [failing]


def test_a_permanent_failure_is_not_retried_and_apps_hear_about_it(sender, notifications):
    from mailroom.models import Failure
    from mailroom.sending import PermanentSendError

    failing = enqueue(sender, "bad@example.com")
    sender["mailer"].failures["bad@example.com"] = PermanentSendError(
        Status.REJECTED, Failure(reason="rejected", action="Check the content."))

    _, response = poll(sender)

    assert response == {"batchItemFailures": []}
    assert sender["store"].get(failing).status is Status.REJECTED
    [notification] = received_notifications(notifications["queue_url"])
    assert notification["type"] == "email.rejected"


def test_a_failure_that_is_not_from_ses_is_still_recorded_before_the_dlq(sender):
    failing = enqueue(sender, "bug@example.com")
    sender["mailer"].failures["bug@example.com"] = RuntimeError("unexpected")

    for _ in range(SEND_QUEUE.max_receive_count + 1):
        poll(sender)

    message = sender["store"].get(failing)
    assert (message.status, message.failure.reason) == (Status.FAILED, "retries_exhausted")
    assert "unexpected" in message.failure.diagnostic


def test_a_message_another_worker_holds_is_never_given_up_on(sender):
    from datetime import timedelta

    held = enqueue(sender, "held@example.com")
    sender["store"].claim(held, utcnow(), timedelta(hours=1))  # a live worker has it
    sender["deps"] = replace(sender["deps"], lease_seconds=0)

    for _ in range(SEND_QUEUE.max_receive_count):
        poll(sender)

    assert sender["store"].get(held).status is Status.QUEUED
    assert sender["mailer"].sent == []


def test_a_configuration_fault_leaves_the_message_waiting_and_is_logged_and_counted(
        sender, notifications, capsys, caplog):
    from mailroom.sending import ConfigurationFault

    waiting = enqueue(sender, "ada@example.com")
    fault = ConfigurationFault(reason="mail_from_not_verified", action="Publish the MX.",
                               diagnostic="MailFromDomainNotVerifiedException: not verified")
    sender["mailer"].failures["ada@example.com"] = TransientSendError(str(fault), fault=fault)

    _, response = poll(sender)

    # The record is done with (a fresh, delayed copy waits in the queue), nothing failed
    assert response == {"batchItemFailures": []}
    attributes = sender["sqs"].get_queue_attributes(
        QueueUrl=sender["url"], AttributeNames=["ApproximateNumberOfMessagesDelayed"])
    assert attributes["Attributes"]["ApproximateNumberOfMessagesDelayed"] == "1"
    message = sender["store"].get(waiting)
    assert message.status is Status.QUEUED
    assert [e.detail["reason"] for e in message.events if e.type == "deferred"] == [
        "mail_from_not_verified"]
    assert received_notifications(notifications["queue_url"]) == []
    [logged] = [r for r in caplog.records if r.getMessage().startswith("SES configuration fault")]
    assert (logged.levelname, logged.reason) == ("ERROR", "mail_from_not_verified")
    assert '"ConfigurationFault":[1.0]' in capsys.readouterr().out  # the EMF metric
