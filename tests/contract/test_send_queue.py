"""SendQueue contract (mailroom.ports): the fake and the SQS queue alike, each read through
its probe (what a consumer of the queue receives)."""

from __future__ import annotations

import pytest

from mailroom.models import SendRequest


def request(index: int) -> SendRequest:
    return SendRequest(id=f"m{index:02d}", to=f"user{index}@example.com",
                       from_address="Acme <no-reply@mail.example.com>",
                       reply_to=["help@example.com"], template="order_confirmation",
                       data={"name": "Ada", "items": [{"name": "Tea", "quantity": 2,
                                                       "price": "4.50"}], "total": "9.00"},
                       tags={"campaign": "orders"})


def by_id(requests: list[SendRequest]) -> list[SendRequest]:
    return sorted(requests, key=lambda r: r.id)


def test_every_request_arrives_once_whole_in_batches_over_the_limit(send_queue):
    queue, probe = send_queue
    requests = [request(index) for index in range(23)]

    queue.enqueue(requests)

    assert by_id(probe.receive()) == requests
    assert probe.receive() == []


def test_delayed_requests_arrive_only_after_their_delay(send_queue):
    queue, probe = send_queue
    requests = [request(index) for index in range(12)]

    queue.enqueue(requests, delay_seconds=1)

    assert probe.receive() == []
    probe.wait(1.5)
    assert by_id(probe.receive()) == requests


def test_the_longest_delay_the_sender_uses_is_accepted(send_queue):
    queue, _ = send_queue

    queue.enqueue([request(0)], delay_seconds=900)  # QUOTA_RECHECK_SECONDS, SQS's maximum


def test_a_delay_beyond_fifteen_minutes_is_refused(send_queue):
    queue, _ = send_queue

    with pytest.raises(RuntimeError, match="DelaySeconds"):
        queue.enqueue([request(0)], delay_seconds=901)
