"""The sender runs the SES calls of one batch concurrently: a batch of 10 takes about one
SES round trip, not ten."""

from __future__ import annotations

import time
from functools import partial

import boto3
import pytest

from mailroom.adapters.dynamodb import DynamoMessageStore
from mailroom.models import Message, SendRequest, Status, utcnow
from tests.fakes import FakeMailer
from tests.integration.lambda_events import LambdaContext, sqs_event

SES_ROUND_TRIP = 0.2


class SlowMailer(FakeMailer):
    def send(self, request):
        time.sleep(SES_ROUND_TRIP)
        return super().send(request)


@pytest.fixture
def sender(function_env, messages_table, send_queue):
    from handlers import sender as module
    from mailroom.settings import SenderSettings

    deps = module.Dependencies.from_settings(SenderSettings(), mailer=SlowMailer())
    return partial(module.handler, deps=deps), DynamoMessageStore(messages_table), \
        send_queue["url"]


def test_a_batch_of_ten_takes_about_one_ses_round_trip(sender, benchmark):
    handler, store, queue_url = sender
    sqs = boto3.client("sqs", region_name="us-east-1")

    def batch_of_ten():
        now = utcnow()
        for i in range(10):
            request = SendRequest(id=f"{now.timestamp()}-{i}", to=f"u{i}@example.com",
                                  from_address="a@mail.example.com", template="welcome",
                                  data={"name": "A", "action_url": "u"})
            store.create(Message(id=request.id, status=Status.QUEUED, to=request.to,
                                 from_address=request.from_address, template="welcome",
                                 created_at=now, updated_at=now))
            sqs.send_message(QueueUrl=queue_url, MessageBody=request.model_dump_json(
                by_alias=True))
        messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10,
                                       AttributeNames=["All"])["Messages"]
        started = time.perf_counter()
        response = handler(sqs_event(messages, "arn:aws:sqs:us-east-1:1:send"),
                           LambdaContext())
        elapsed = time.perf_counter() - started
        for message in messages:
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
        assert response == {"batchItemFailures": []}
        return elapsed

    elapsed = benchmark.pedantic(batch_of_ten, rounds=3, iterations=1)
    print(f"\nbatch of 10 with {SES_ROUND_TRIP}s SES round trips: {elapsed:.2f}s")
    assert elapsed < 3 * SES_ROUND_TRIP  # ten sequential calls would take 10x
