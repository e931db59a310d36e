"""Test-side probes: how a contract test sees what a queue, a topic or SES received, for
each implementation, without adding anything to the ports."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any, Protocol

from mailroom.models import Notification, SendRequest
from tests.fakes import FakePublisher, FakeSendQueue


class QueueProbe(Protocol):
    def receive(self) -> list[SendRequest]:
        """Take every request a consumer can receive now."""
        ...

    def wait(self, seconds: float) -> None:
        """Let `seconds` pass for the queue."""
        ...


class FakeQueueProbe:
    """Reads `FakeSendQueue.sent` and `.delays` on a clock of its own."""

    def __init__(self, queue: FakeSendQueue) -> None:
        self.queue = queue
        self.elapsed = 0.0
        self.taken: set[int] = set()

    def receive(self) -> list[SendRequest]:
        ready = [index for index, delay in enumerate(self.queue.delays)
                 if index not in self.taken and delay <= self.elapsed]
        self.taken.update(ready)
        return [self.queue.sent[index] for index in ready]

    def wait(self, seconds: float) -> None:
        self.elapsed += seconds


class SqsQueueProbe:
    """Receives (and deletes) from the queue, as the sender's event source mapping does."""

    def __init__(self, sqs: Any, queue_url: str) -> None:
        self.sqs, self.queue_url = sqs, queue_url

    def receive(self) -> list[SendRequest]:
        return [SendRequest.model_validate_json(body)
                for body in receive_all(self.sqs, self.queue_url)]

    def wait(self, seconds: float) -> None:
        time.sleep(seconds)


class PublisherProbe(Protocol):
    def received(self) -> list[tuple[str, Notification]]:
        """What a subscriber got: each notification with its `type` message attribute."""
        ...


class FakePublisherProbe:
    def __init__(self, publisher: FakePublisher) -> None:
        self.publisher = publisher

    def received(self) -> list[tuple[str, Notification]]:
        return [(notification.type, notification) for notification in self.publisher.published]


class SubscribedQueueProbe:
    """Reads the SQS queue subscribed to the topic (raw delivery off, as in the stack), so
    each message is an SNS envelope carrying the notification and its attributes."""

    def __init__(self, sqs: Any, queue_url: str) -> None:
        self.sqs, self.queue_url = sqs, queue_url

    def received(self) -> list[tuple[str, Notification]]:
        envelopes = [json.loads(body) for body in receive_all(self.sqs, self.queue_url)]
        return [(envelope["MessageAttributes"]["type"]["Value"],
                 Notification.model_validate_json(envelope["Message"]))
                for envelope in envelopes]


def receive_all(sqs: Any, queue_url: str) -> list[str]:
    """The bodies of every message visible now, each received once and deleted."""
    bodies: list[str] = []
    while True:
        messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get(
            "Messages", [])
        if not messages:
            return bodies
        for message in messages:
            bodies.append(message["Body"])
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])


class SesProbe:
    """The SendEmail requests SES received, as the JSON body on the wire (SES v2 speaks
    REST-JSON), and the message ids it answered; hooks the fixture installs fill them."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.answered: list[str] = []

    def record(self, body: bytes | str | dict[str, Any]) -> None:
        self.requests.append(body if isinstance(body, dict) else json.loads(body))


def recording(probe: SesProbe, send_email: Callable[[dict[str, Any]], Any]) -> Callable[..., Any]:
    """`send_email` of the SES simulator, recording each request it receives first."""
    def record_then_send(request: dict[str, Any]) -> Any:
        probe.record(request)
        answer = send_email(request)
        probe.answered.append(answer["MessageId"])
        return answer
    return record_then_send
