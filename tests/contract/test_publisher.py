"""Publisher contract (mailroom.ports): the fake and the SNS topic alike, each read through
its probe (what an app subscribed to the notifications topic receives)."""

from __future__ import annotations

from datetime import UTC, datetime

from mailroom.models import Failure, Notification, Status

NOW = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
TYPES = ["email.delivered", "email.bounced", "email.complained"]


def notification(index: int) -> Notification:
    kind = TYPES[index % len(TYPES)]
    failure = (Failure(reason="mailbox_does_not_exist", action="Check the address.")
               if kind == "email.bounced" else None)
    return Notification(id=f"n{index:02d}", type=kind, occurred_at=NOW,
                        message_id=f"m{index:02d}", recipient="ada@example.com",
                        template="welcome", tags={"campaign": "onboarding"},
                        status=Status.BOUNCED if failure else Status.DELIVERED,
                        failure=failure, ses_message_id=f"ses-{index}")


def test_every_notification_arrives_once_whole_in_batches_over_the_limit(publisher):
    topic, probe = publisher
    notifications = [notification(index) for index in range(23)]

    topic.publish(notifications)

    received = sorted(probe.received(), key=lambda pair: pair[1].id)
    assert [n for _, n in received] == notifications


def test_each_notification_carries_its_type_as_a_message_attribute(publisher):
    topic, probe = publisher

    topic.publish([notification(index) for index in range(3)])

    assert sorted((kind, n.type) for kind, n in probe.received()) == sorted(
        (kind, kind) for kind in TYPES)


def test_publishing_nothing_sends_nothing(publisher):
    topic, probe = publisher

    topic.publish([])

    assert probe.received() == []
