"""`mailroom tail`'s own subscription on moto: each tail reads a tagged queue of its own, so
two readers both see every notification; it is removed on close, and what a crashed tail left
is removed by the next one."""

from __future__ import annotations

import json

import boto3
import pytest

from mailroom_dev.tail import QUEUE_PREFIX, STALE_AFTER_SECONDS, TAG_CREATED, TAG_HOST, TAG_PID
from mailroom_dev.tail import TailSubscription as Tail

REGION = "us-east-1"
NOW = 1_800_000_000.0


@pytest.fixture
def clients(aws):
    sqs = boto3.client("sqs", region_name=REGION)
    sns = boto3.client("sns", region_name=REGION)
    topic = sns.create_topic(Name="notifications")["TopicArn"]
    return sqs, sns, topic


def tail(clients, pid: int = 4242, host: str = "laptop", alive=lambda pid: True) -> Tail:
    sqs, sns, topic = clients
    return Tail(sqs, sns, topic, pid=pid, host=host, clock=lambda: NOW, alive=alive)


def tail_queues(sqs) -> list[str]:
    return sqs.list_queues(QueueNamePrefix=QUEUE_PREFIX).get("QueueUrls", [])


def endpoints(clients) -> list[str]:
    _, sns, topic = clients
    return [s["Endpoint"] for s in
            sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"]]


def leftover(sqs, name: str, **tags: str) -> str:
    return sqs.create_queue(QueueName=QUEUE_PREFIX + name, tags=tags)["QueueUrl"]


def test_two_tails_each_receive_every_notification(clients):
    _, sns, topic = clients
    first, second = tail(clients, pid=1), tail(clients, pid=2)
    first.open()
    second.open()

    sns.publish(TopicArn=topic, Message=json.dumps({"type": "email.delivered"}))

    for reader in (first, second):
        [body] = reader.receive(wait_seconds=0)
        assert json.loads(json.loads(body)["Message"]) == {"type": "email.delivered"}
        assert reader.receive(wait_seconds=0) == []  # taken off its own queue only


def test_a_tails_queue_is_tagged_with_who_made_it_and_when(clients):
    sqs, _, _ = clients
    reader = tail(clients, pid=77, host="laptop")

    reader.open()

    tags = sqs.list_queue_tags(QueueUrl=reader.queue_url)["Tags"]
    assert tags == {TAG_PID: "77", TAG_HOST: "laptop", TAG_CREATED: str(int(NOW))}
    policy = json.loads(sqs.get_queue_attributes(
        QueueUrl=reader.queue_url, AttributeNames=["Policy"])["Attributes"]["Policy"])
    assert policy["Statement"][0]["Condition"] == {"ArnEquals": {"aws:SourceArn": clients[2]}}


def test_closing_removes_the_queue_and_its_subscription(clients):
    sqs, _, _ = clients
    reader = tail(clients)
    reader.open()
    assert len(tail_queues(sqs)) == 1 and len(endpoints(clients)) == 1

    reader.close()
    reader.close()  # twice is fine

    assert tail_queues(sqs) == [] and endpoints(clients) == []


def test_the_next_tail_removes_what_a_dead_tail_on_this_host_left(clients):
    sqs, _, _ = clients
    crashed = tail(clients, pid=1001)
    crashed.open()  # and never closed: kill -9

    survivor = tail(clients, pid=1002, alive=lambda pid: pid != 1001)
    removed = survivor.open()

    assert removed == [crashed.queue_url]
    assert tail_queues(sqs) == [survivor.queue_url]
    assert len(endpoints(clients)) == 1


def test_a_running_tails_queue_is_left_alone(clients):
    sqs, _, _ = clients
    running = tail(clients, pid=1001)
    running.open()

    assert tail(clients, pid=1002, alive=lambda pid: True).open() == []
    assert len(tail_queues(sqs)) == 2


def test_another_hosts_queue_counts_as_left_behind_only_after_a_day(clients):
    sqs, _, _ = clients
    old = leftover(sqs, "9-old", **{TAG_PID: "9", TAG_HOST: "ci-runner",
                                    TAG_CREATED: str(int(NOW - STALE_AFTER_SECONDS - 1))})
    recent = leftover(sqs, "9-new", **{TAG_PID: "9", TAG_HOST: "ci-runner",
                                       TAG_CREATED: str(int(NOW - 60))})

    assert tail(clients).open() == [old]
    assert recent in tail_queues(sqs)


def test_a_queue_with_the_prefix_but_no_tail_tags_is_not_ours(clients):
    sqs, _, _ = clients
    someone_elses = leftover(sqs, "reports")

    tail(clients, alive=lambda pid: False).open()

    assert someone_elses in tail_queues(sqs)
