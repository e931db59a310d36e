"""`mailroom tail` reads the notifications topic through a queue of its own, so it never
takes a message another reader (your app, a second tail) needs: an SQS queue, tagged with who
made it and when, subscribed to the topic while tail runs and deleted when it stops. A tail
that died without cleaning up (kill -9, a crash) leaves its queue behind; the next tail
removes it, with its subscription."""

from __future__ import annotations

import json
import os
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

QUEUE_PREFIX = "mailroom-tail-"
TAG_PID = "mailroom:tail-pid"
TAG_HOST = "mailroom:tail-host"
TAG_CREATED = "mailroom:tail-created"
# A queue made on another machine cannot be asked whether its tail still runs: it counts as
# left behind after a day.
STALE_AFTER_SECONDS = 24 * 3600
# Notifications nobody reads are not worth keeping longer (SQS's minimum is 60 s).
RETENTION_SECONDS = 3600


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process, alive
    return True


@dataclass
class TailSubscription:
    sqs: Any
    sns: Any
    topic_arn: str
    pid: int = field(default_factory=os.getpid)
    host: str = field(default_factory=socket.gethostname)
    clock: Callable[[], float] = time.time
    alive: Callable[[int], bool] = pid_alive
    queue_url: str | None = None
    subscription_arn: str | None = None

    def open(self) -> list[str]:
        """Remove queues earlier tails left behind, then make and subscribe our own. Returns
        the URLs of the queues removed."""
        removed = self.remove_stale()
        created = int(self.clock())
        self.queue_url = self.sqs.create_queue(
            QueueName=f"{QUEUE_PREFIX}{self.pid}-{created}",
            Attributes={"MessageRetentionPeriod": str(RETENTION_SECONDS),
                        "SqsManagedSseEnabled": "true"},
            tags={TAG_PID: str(self.pid), TAG_HOST: self.host, TAG_CREATED: str(created)},
        )["QueueUrl"]
        queue_arn = self._arn(self.queue_url)
        self.sqs.set_queue_attributes(QueueUrl=self.queue_url, Attributes={
            "Policy": json.dumps(_policy(queue_arn, self.topic_arn))})
        self.subscription_arn = self.sns.subscribe(
            TopicArn=self.topic_arn, Protocol="sqs", Endpoint=queue_arn,
            ReturnSubscriptionArn=True)["SubscriptionArn"]
        return removed

    def receive(self, wait_seconds: int = 2) -> list[str]:
        """The next notifications (SNS envelopes), taken off our own queue."""
        assert self.queue_url, "open() first"
        received = self.sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10,
                                            WaitTimeSeconds=wait_seconds).get("Messages", [])
        if received:
            self.sqs.delete_message_batch(QueueUrl=self.queue_url, Entries=[
                {"Id": str(n), "ReceiptHandle": m["ReceiptHandle"]}
                for n, m in enumerate(received)])
        return [message["Body"] for message in received]

    def close(self) -> None:
        """Unsubscribe and delete our queue; safe to call twice."""
        if self.subscription_arn:
            self.sns.unsubscribe(SubscriptionArn=self.subscription_arn)
            self.subscription_arn = None
        if self.queue_url:
            self.sqs.delete_queue(QueueUrl=self.queue_url)
            self.queue_url = None

    def remove_stale(self) -> list[str]:
        urls = self.sqs.list_queues(QueueNamePrefix=QUEUE_PREFIX).get("QueueUrls", [])
        stale = [url for url in urls if self._is_stale(
            self.sqs.list_queue_tags(QueueUrl=url).get("Tags", {}))]
        if not stale:
            return []
        arns = {self._arn(url): url for url in stale}
        for subscription in self._subscriptions():
            if subscription.get("Endpoint") in arns:
                self.sns.unsubscribe(SubscriptionArn=subscription["SubscriptionArn"])
        for url in stale:
            self.sqs.delete_queue(QueueUrl=url)
        return stale

    def _is_stale(self, tags: dict[str, str]) -> bool:
        if TAG_PID not in tags:
            return False  # not a tail's queue, whatever its name
        try:
            pid, created = int(tags[TAG_PID]), float(tags.get(TAG_CREATED, "0"))
        except ValueError:
            return True
        if tags.get(TAG_HOST) == self.host:
            return pid != self.pid and not self.alive(pid)
        return self.clock() - created > STALE_AFTER_SECONDS

    def _subscriptions(self) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        token: str | None = None
        while True:
            page = self.sns.list_subscriptions_by_topic(
                TopicArn=self.topic_arn, **({"NextToken": token} if token else {}))
            found += page.get("Subscriptions", [])
            token = page.get("NextToken")
            if not token:
                return found

    def _arn(self, queue_url: str) -> str:
        attributes = self.sqs.get_queue_attributes(QueueUrl=queue_url,
                                                   AttributeNames=["QueueArn"])
        return str(attributes["Attributes"]["QueueArn"])


def _policy(queue_arn: str, topic_arn: str) -> dict[str, Any]:
    """Lets the notifications topic, and only it, deliver to the queue."""
    return {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"Service": "sns.amazonaws.com"},
        "Action": "sqs:SendMessage", "Resource": queue_arn,
        "Condition": {"ArnEquals": {"aws:SourceArn": topic_arn}},
    }]}
