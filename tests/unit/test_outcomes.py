"""The events domain: timeline, status by rank, the suppression policy (DESIGN §2) and the
notifications apps receive."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from mailroom.counting import CountedEvent, Outcome, Traffic
from mailroom.models import CANARY_TAG, Message, Status, Suppression, SuppressionReason
from mailroom.outcomes import SuppressionPolicy, record_outcomes
from mailroom.ses_events import SesEvent, parse_ses_notification
from mailroom.settings import EventsSettings
from tests.fakes import FakeCounters, FakeMessageStore, FakePublisher, FakeSuppressionStore

EVENTS = Path(__file__).resolve().parents[2] / "events"
NOW = datetime(2026, 11, 22, 18, 0, tzinfo=UTC)
POLICY = SuppressionPolicy()


def sample(name: str) -> dict[str, Any]:
    return json.loads((EVENTS / "ses" / f"{name}.json").read_text())


def parsed(name: str, **mail_changes: Any) -> list[SesEvent]:
    document = sample(name)
    document["mail"].update(mail_changes)
    return parse_ses_notification(document)


def soft_bounce(address: str, at: datetime, subtype: str = "General",
                bounce_type: str = "Transient") -> SesEvent:
    """A soft bounce of a separate message, `at` a given time."""
    document = sample("bounce-transient-general")
    stamp = at.isoformat().replace("+00:00", "Z")
    document["mail"]["messageId"] = f"0100019a-soft-{stamp}-{subtype}"
    document["mail"]["destination"] = [address]
    document["bounce"].update(bounceType=bounce_type, bounceSubType=subtype, timestamp=stamp,
                              feedbackId=f"fb-{stamp}-{subtype}")
    document["bounce"]["bouncedRecipients"][0]["emailAddress"] = address
    if bounce_type == "Permanent":  # the DSN of a hard bounce says so too
        document["bounce"]["bouncedRecipients"][0].update(
            action="failed", status="5.1.1", diagnosticCode="smtp; 550 5.1.1 user unknown")
    [event] = parse_ses_notification(document)
    return event


class World:
    """The fakes of the events path, and shortcuts to read what happened."""

    def __init__(self) -> None:
        self.messages = FakeMessageStore()
        self.suppressions = FakeSuppressionStore()
        self.publisher = FakePublisher()
        self.counters = FakeCounters()

    def sent(self, event: SesEvent, status: Status = Status.SENT,
             with_ses_id: bool = True) -> Message:
        """Record the message this event is about, as the sender left it."""
        message = Message(
            id=event.mailroom_id or "msg-without-tag",
            status=status,
            to=event.recipient,
            from_address="noreply@mail.example.com",
            template="welcome",
            tags={"campaign": "onboarding"},
            created_at=NOW - timedelta(days=1),
            updated_at=NOW - timedelta(days=1),
            ses_message_id=event.ses_message_id if with_ses_id else None,
        )
        self.messages.create(message)
        return message

    def record(self, events: list[SesEvent], policy: SuppressionPolicy = POLICY,
               now: datetime = NOW):
        return record_outcomes(events, self.messages, self.suppressions, self.publisher,
                               policy, now, counters=self.counters)

    def message(self, message_id: str) -> Message:
        message = self.messages.get(message_id)
        assert message is not None
        return message

    def suppression(self, email: str, now: datetime = NOW) -> Suppression | None:
        return self.suppressions.get(email, now)

    @property
    def published_types(self) -> list[str]:
        return [notification.type for notification in self.published]

    @property
    def published(self):
        return self.publisher.published


@pytest.fixture
def world() -> World:
    return World()


# --- Status by rank and the timeline


@pytest.mark.parametrize(
    ("name", "status"),
    [
        ("send", Status.SENT),
        ("delivery", Status.DELIVERED),
        ("delivery-delay", Status.DELAYED),
        ("bounce-permanent-general", Status.BOUNCED),
        ("complaint-abuse", Status.COMPLAINED),
        ("reject", Status.REJECTED),
        ("rendering-failure", Status.RENDER_FAILED),
    ],
)
def test_each_outcome_moves_the_message_to_its_status(world: World, name: str,
                                                      status: Status) -> None:
    # Given a queued message
    events = parsed(name)
    message = world.sent(events[0], status=Status.QUEUED, with_ses_id=False)

    # When SES reports the outcome
    world.record(events)

    # Then the message has that status, the event in its timeline and the SES id
    stored = world.message(message.id)
    assert stored.status is status
    assert [entry.key for entry in stored.events] == [events[0].key]
    assert stored.ses_message_id == events[0].ses_message_id


@pytest.mark.parametrize("name", ["open", "click", "subscription"])
def test_engagement_is_recorded_but_not_acted_on(world: World, name: str) -> None:
    # Given a delivered message
    events = parsed(name)
    message = world.sent(events[0], status=Status.DELIVERED)

    # When SES reports an open, a click or a subscription change
    world.record(events)

    # Then it is in the timeline, the status is unchanged and nobody is notified
    stored = world.message(message.id)
    assert stored.status is Status.DELIVERED
    assert [entry.type for entry in stored.events] == [events[0].kind.value]
    assert world.published == []


def test_a_delivery_after_a_bounce_keeps_the_message_bounced(world: World) -> None:
    # Given a message that bounced
    [bounce] = parsed("bounce-permanent-general")
    message = world.sent(bounce)
    world.record([bounce])

    # When a Delivery for it arrives late
    [delivery] = parsed("delivery", messageId=bounce.ses_message_id,
                        tags={"mailroom_id": [message.id]},
                        destination=["bounce@simulator.amazonses.com"])
    world.record([delivery])

    # Then it stays bounced, with both events in the timeline
    stored = world.message(message.id)
    assert stored.status is Status.BOUNCED
    assert [entry.type for entry in stored.events] == ["bounce", "delivery"]
    assert stored.failure is not None and stored.failure.reason == "mailbox_does_not_exist"


def test_a_late_delivery_is_announced_with_the_worse_status(world: World) -> None:
    # Given a bounced message
    [bounce] = parsed("bounce-permanent-general")
    message = world.sent(bounce, status=Status.BOUNCED)

    # When a late Delivery arrives
    [delivery] = parsed("delivery", messageId=bounce.ses_message_id,
                        tags={"mailroom_id": [message.id]})
    world.record([delivery])

    # Then email.delivered says the message is still bounced
    [notification] = world.published
    assert notification.type == "email.delivered"
    assert notification.status is Status.BOUNCED


def test_a_complaint_outranks_a_delivery(world: World) -> None:
    # Given a delivered message
    [complaint] = parsed("complaint-abuse")
    message = world.sent(complaint, status=Status.DELIVERED)

    # When the recipient complains
    world.record([complaint])

    # Then it is complained
    assert world.message(message.id).status is Status.COMPLAINED


def test_a_bounce_after_a_complaint_keeps_it_complained(world: World) -> None:
    # Given a complained message
    [bounce] = parsed("bounce-permanent-general")
    message = world.sent(bounce, status=Status.COMPLAINED)

    # When a bounce arrives
    world.record([bounce])

    # Then it stays complained, the bounce kept in the timeline
    stored = world.message(message.id)
    assert stored.status is Status.COMPLAINED
    assert [entry.type for entry in stored.events] == ["bounce"]


def test_a_delay_after_the_delivery_keeps_it_delivered(world: World) -> None:
    # Given a delivered message
    [delay] = parsed("delivery-delay")
    message = world.sent(delay, status=Status.DELIVERED)

    # When a delay report arrives late
    world.record([delay])

    # Then it stays delivered
    assert world.message(message.id).status is Status.DELIVERED


def test_a_bounced_message_carries_its_diagnosis(world: World) -> None:
    # Given a sent message
    [bounce] = parsed("bounce-permanent-noemail")
    message = world.sent(bounce)

    # When it bounces
    world.record([bounce])

    # Then its failure explains why and what to do
    failure = world.message(message.id).failure
    assert failure is not None
    assert failure.reason == "domain_does_not_exist"
    assert failure.bounce_subtype == "NoEmail"
    assert failure.diagnostic == "smtp; 550 5.1.2 Host unknown: domain name not found"


def test_a_render_failed_message_says_which_variable(world: World) -> None:
    # Given a queued message
    [failure_event] = parsed("rendering-failure")
    message = world.sent(failure_event, status=Status.QUEUED, with_ses_id=False)

    # When SES cannot render it
    world.record([failure_event])

    # Then its failure names the missing variable
    failure = world.message(message.id).failure
    assert failure is not None and failure.reason == "rendering_failed"
    assert "order_id" in failure.action


# --- Deduplication


def test_a_redelivered_event_is_recorded_and_published_once(world: World) -> None:
    # Given a sent message and its bounce, applied once
    [bounce] = parsed("bounce-permanent-general")
    message = world.sent(bounce)
    world.record([bounce])

    # When SQS delivers the same bounce again
    world.record(parsed("bounce-permanent-general"))

    # Then the timeline and the notifications have it once
    assert len(world.message(message.id).events) == 1
    assert world.published_types == ["email.bounced", "email.suppressed"]


def test_the_same_bounce_in_both_shapes_is_recorded_once(world: World) -> None:
    # Given a bounce reported by event publishing, applied
    document = sample("bounce-permanent-general")
    [published] = parse_ses_notification(document)
    message = world.sent(published)
    world.record([published])

    # When identity notifications report the same bounce (no tags: found by SES id)
    document["notificationType"] = document.pop("eventType")
    del document["mail"]["tags"]
    world.record(parse_ses_notification(document))

    # Then it is recorded once
    assert len(world.message(message.id).events) == 1
    assert world.published_types.count("email.bounced") == 1


def test_a_failed_publish_is_retried_with_the_same_notification_ids(world: World) -> None:
    # Given a sent message, and a topic that fails once
    [bounce] = parsed("bounce-permanent-general")
    message = world.sent(bounce)

    class FlakyPublisher(FakePublisher):
        fail = True

        def publish(self, notifications):
            if self.fail:
                self.fail = False
                raise ConnectionError("SNS unavailable")
            super().publish(notifications)

    world.publisher = FlakyPublisher()

    # When the first attempt fails
    with pytest.raises(ConnectionError):
        world.record([bounce])

    # Then the event is not in the timeline yet, so the retry publishes everything again
    # (the suppression it already wrote is recognised as its own)
    assert world.message(message.id).events == []
    world.record(parsed("bounce-permanent-general"))
    assert world.published_types == ["email.bounced", "email.suppressed"]
    assert world.message(message.id).status is Status.BOUNCED


def test_notification_ids_are_stable_for_the_same_event(world: World) -> None:
    # Given the same bounce processed by two independent runs
    other = World()
    for each in (world, other):
        [bounce] = parsed("bounce-permanent-general")
        each.sent(bounce)
        each.record([bounce])

    # Then the notifications have the same ids (subscribers deduplicate on them)
    assert [n.id for n in world.published] == [n.id for n in other.published]
    assert len({n.id for n in world.published}) == 2


# --- Finding the message


def test_an_untagged_event_finds_its_message_by_ses_message_id(world: World) -> None:
    # Given a message sent with SES id X, and an identity notification (no tag) about X
    [delivery] = parse_ses_notification(sample("notification-delivery"))
    message = world.sent(delivery)

    # When it is applied
    world.record([delivery])

    # Then the message is delivered
    assert world.message(message.id).status is Status.DELIVERED


def test_a_tag_naming_no_known_message_falls_back_to_the_ses_id(world: World) -> None:
    # Given a message known by its SES id, and an event whose tag names another id
    [delivery] = parsed("delivery", tags={"mailroom_id": ["not-ours"]})
    message = world.sent(delivery.model_copy(update={"mailroom_id": "ours"}))

    # When it is applied
    world.record([delivery])

    # Then the message found by SES id is delivered
    assert world.message(message.id).status is Status.DELIVERED


def test_mail_mailroom_did_not_send_still_updates_suppressions(world: World) -> None:
    # Given no message for this bounce (same configuration set used elsewhere)
    [bounce] = parsed("bounce-permanent-general")

    # When it is applied
    world.record([bounce])

    # Then the address is suppressed, and only email.suppressed is published
    assert world.suppression(bounce.recipient) is not None
    [notification] = world.published
    assert notification.type == "email.suppressed"
    assert notification.message_id is None


def test_other_outcomes_of_mail_mailroom_did_not_send_publish_nothing(world: World) -> None:
    # Given no message for this delivery, When it is applied, Then nobody is notified
    world.record(parsed("delivery"))
    assert world.published == []


# --- The suppression policy, row by row (DESIGN §2)


@pytest.mark.parametrize(
    "name",
    [
        "bounce-permanent-general",
        "bounce-permanent-noemail",
        "bounce-permanent-suppressed",
        "bounce-permanent-onaccountsuppressionlist",
    ],
)
def test_a_permanent_bounce_suppresses_at_once_without_expiry(world: World, name: str) -> None:
    # Given a hard bounce, When applied
    [bounce] = parsed(name)
    world.record([bounce])

    # Then the address is suppressed for good as a hard bounce
    suppression = world.suppression(bounce.recipient)
    assert suppression is not None
    assert suppression.reason is SuppressionReason.HARD_BOUNCE
    assert suppression.expires_at is None
    assert suppression.source == "ses"
    assert bounce.ses_message_id in (suppression.note or "")


@pytest.mark.parametrize(
    ("subtype", "bounce_type"),
    [("General", "Transient"), ("MailboxFull", "Transient"), ("Undetermined", "Undetermined")],
)
def test_soft_bounces_below_the_threshold_do_not_suppress(world: World, subtype: str,
                                                          bounce_type: str) -> None:
    # Given two soft bounces within the window, When applied
    address = "flaky@example.net"
    world.record([soft_bounce(address, NOW - timedelta(days=2), subtype, bounce_type),
                  soft_bounce(address, NOW - timedelta(days=1), subtype, bounce_type)])

    # Then the address is not suppressed
    assert world.suppression(address) is None


@pytest.mark.parametrize(
    ("subtype", "bounce_type"),
    [("General", "Transient"), ("MailboxFull", "Transient"), ("Undetermined", "Undetermined")],
)
def test_the_third_soft_bounce_in_the_window_suppresses_with_expiry(
    world: World, subtype: str, bounce_type: str
) -> None:
    # Given three soft bounces within seven days, When applied
    address = "flaky@example.net"
    third_at = NOW - timedelta(hours=1)
    world.record([soft_bounce(address, NOW - timedelta(days=6), subtype, bounce_type),
                  soft_bounce(address, NOW - timedelta(days=3), subtype, bounce_type),
                  soft_bounce(address, third_at, subtype, bounce_type)])

    # Then the address is suppressed as a soft bounce for fourteen days
    suppression = world.suppression(address)
    assert suppression is not None
    assert suppression.reason is SuppressionReason.SOFT_BOUNCE
    assert suppression.expires_at == third_at + timedelta(days=14)


def test_soft_bounces_outside_the_window_do_not_count(world: World) -> None:
    # Given two soft bounces more than seven days ago and one now, When applied
    address = "flaky@example.net"
    world.record([soft_bounce(address, NOW - timedelta(days=20)),
                  soft_bounce(address, NOW - timedelta(days=9)),
                  soft_bounce(address, NOW)])

    # Then the address is not suppressed
    assert world.suppression(address) is None


def test_a_redelivered_soft_bounce_counts_once(world: World) -> None:
    # Given the same soft bounce of a message Mailroom did not send, three times
    address = "flaky@example.net"
    bounce = soft_bounce(address, NOW)

    # When applied
    world.record([bounce, bounce, bounce])

    # Then it counted once, and the address is not suppressed
    assert world.suppression(address) is None


def test_an_expired_soft_bounce_suppression_stops_suppressing(world: World) -> None:
    # Given three soft bounces that suppressed the address
    address = "flaky@example.net"
    world.record([soft_bounce(address, NOW - timedelta(days=2)),
                  soft_bounce(address, NOW - timedelta(days=1)),
                  soft_bounce(address, NOW)])

    # When fourteen days have passed, Then the address is no longer suppressed
    assert world.suppression(address, NOW + timedelta(days=13)) is not None
    assert world.suppression(address, NOW + timedelta(days=14, seconds=1)) is None


def test_the_thresholds_come_from_the_settings(world: World) -> None:
    # Given a policy of 2 soft bounces in 1 day, suppressing for 3 days
    settings = EventsSettings(
        messages_table="m", suppressions_table="s", notifications_topic_arn="arn",
        counters_table="c", control_table="k", configuration_set="cs",
        sender_event_source_id="esm", ses_events_dlq_url="dlq",
        soft_bounce_threshold=2, soft_bounce_window_days=1, soft_bounce_suppression_days=3,
    )
    policy = SuppressionPolicy.from_settings(settings)
    address = "flaky@example.net"

    # When two soft bounces arrive within a day
    world.record([soft_bounce(address, NOW - timedelta(hours=5)), soft_bounce(address, NOW)],
                 policy=policy)

    # Then the address is suppressed for three days
    suppression = world.suppression(address)
    assert suppression is not None and suppression.expires_at == NOW + timedelta(days=3)


def test_the_default_policy_is_the_documented_one() -> None:
    # Given the settings defaults, Then they are 3 soft bounces in 7 days, for 14 days
    settings = EventsSettings(messages_table="m", suppressions_table="s",
                              notifications_topic_arn="arn", counters_table="c", control_table="k",
                              configuration_set="cs", sender_event_source_id="esm",
                              ses_events_dlq_url="dlq")
    assert SuppressionPolicy.from_settings(settings) == SuppressionPolicy(
        3, timedelta(days=7), timedelta(days=14)
    )


@pytest.mark.parametrize("subtype", ["MessageTooLarge", "ContentRejected", "AttachmentRejected"])
def test_content_failures_never_suppress(world: World, subtype: str) -> None:
    # Given three content bounces for one address, When applied
    address = "strict@example.org"
    world.record([soft_bounce(address, NOW - timedelta(hours=hours), subtype)
                  for hours in (3, 2, 1)])

    # Then the address is not suppressed: the content failed, not the address
    assert world.suppression(address) is None
    assert "email.suppressed" not in world.published_types


@pytest.mark.parametrize("name", ["complaint-abuse", "complaint-no-feedback-type",
                                  "notification-complaint"])
def test_a_complaint_suppresses_at_once_without_expiry(world: World, name: str) -> None:
    # Given a complaint (with or without a feedback type), When applied
    [complaint] = parsed(name)
    world.record([complaint])

    # Then the address is suppressed for good as a complaint
    suppression = world.suppression(complaint.recipient)
    assert suppression is not None
    assert suppression.reason is SuppressionReason.COMPLAINT
    assert suppression.expires_at is None


def test_a_not_spam_complaint_never_suppresses(world: World) -> None:
    # Given a delivered message, When a not-spam complaint arrives
    [complaint] = parsed("complaint-not-spam")
    message = world.sent(complaint, status=Status.DELIVERED)
    world.record([complaint])

    # Then no suppression, no status change, no notification; the timeline keeps it
    assert world.suppression(complaint.recipient) is None
    stored = world.message(message.id)
    assert stored.status is Status.DELIVERED
    assert [entry.type for entry in stored.events] == ["complaint"]
    assert world.published == []


@pytest.mark.parametrize("name", ["delivery", "send", "reject", "rendering-failure",
                                  "delivery-delay", "open"])
def test_other_outcomes_never_suppress(world: World, name: str) -> None:
    # Given any outcome that is not a bounce or complaint, When applied
    events = parsed(name)
    world.record(events)

    # Then nothing is suppressed
    assert world.suppression(events[0].recipient) is None


def test_a_soft_bounce_never_downgrades_a_permanent_suppression(world: World) -> None:
    # Given an address suppressed for good by a hard bounce
    address = "flaky@example.net"
    world.record([soft_bounce(address, NOW - timedelta(days=1), "General", "Permanent")])
    world.publisher.published.clear()

    # When three soft bounces reach the threshold
    world.record([soft_bounce(address, NOW - timedelta(hours=hours)) for hours in (3, 2, 1)])

    # Then it is still suppressed for good, and no new suppression is announced
    suppression = world.suppression(address)
    assert suppression is not None
    assert suppression.reason is SuppressionReason.HARD_BOUNCE
    assert suppression.expires_at is None
    assert world.published == []


def test_a_manual_permanent_suppression_is_kept(world: World) -> None:
    # Given an operator's permanent suppression
    address = "bounce@simulator.amazonses.com"
    world.suppressions.put(Suppression(email=address, reason=SuppressionReason.MANUAL,
                                       created_at=NOW - timedelta(days=30), source="api"))

    # When the address hard-bounces
    world.record(parsed("bounce-permanent-general"))

    # Then the operator's entry stands
    suppression = world.suppression(address)
    assert suppression is not None and suppression.reason is SuppressionReason.MANUAL


def test_a_hard_bounce_makes_a_soft_bounce_suppression_permanent(world: World) -> None:
    # Given an address suppressed for fourteen days by soft bounces
    address = "flaky@example.net"
    world.record([soft_bounce(address, NOW - timedelta(hours=hours)) for hours in (3, 2, 1)])

    # When it hard-bounces
    world.record([soft_bounce(address, NOW, "General", "Permanent")])

    # Then it is suppressed for good, and that is announced
    suppression = world.suppression(address)
    assert suppression is not None
    assert suppression.reason is SuppressionReason.HARD_BOUNCE
    assert suppression.expires_at is None
    assert world.published_types == ["email.suppressed", "email.suppressed"]


def test_an_expired_suppression_is_replaced(world: World) -> None:
    # Given an address whose manual suppression expired yesterday
    address = "bounce@simulator.amazonses.com"
    world.suppressions.put(Suppression(email=address, reason=SuppressionReason.MANUAL,
                                       created_at=NOW - timedelta(days=30),
                                       expires_at=NOW - timedelta(days=1), source="api"))

    # When it hard-bounces
    world.record(parsed("bounce-permanent-general"))

    # Then it is suppressed again, as a hard bounce
    suppression = world.suppression(address)
    assert suppression is not None and suppression.reason is SuppressionReason.HARD_BOUNCE


# --- Notifications


def test_an_outcome_notification_tells_the_app_everything(world: World) -> None:
    # Given a sent message
    [bounce] = parsed("bounce-permanent-general")
    message = world.sent(bounce)

    # When it bounces
    world.record([bounce])

    # Then email.bounced carries the message, the recipient, the failure and the SES ids
    bounced = world.published[0]
    assert bounced.type == "email.bounced"
    assert bounced.message_id == message.id
    assert bounced.recipient == "bounce@simulator.amazonses.com"
    assert bounced.template == "welcome"
    assert bounced.tags == {"campaign": "onboarding"}
    assert bounced.status is Status.BOUNCED
    assert bounced.failure is not None and bounced.failure.reason == "mailbox_does_not_exist"
    assert bounced.ses_message_id == bounce.ses_message_id
    assert bounced.ses_feedback_id == bounce.feedback_id
    assert bounced.occurred_at == bounce.occurred_at


@pytest.mark.parametrize(
    ("name", "notification_type"),
    [
        ("send", "email.sent"),
        ("delivery", "email.delivered"),
        ("delivery-delay", "email.delayed"),
        ("bounce-transient-messagetoolarge", "email.bounced"),
        ("complaint-abuse", "email.complained"),
        ("reject", "email.rejected"),
        ("rendering-failure", "email.render_failed"),
    ],
)
def test_each_outcome_publishes_its_notification(world: World, name: str,
                                                 notification_type: str) -> None:
    # Given a message, When SES reports the outcome, Then its notification goes out first
    events = parsed(name)
    world.sent(events[0], status=Status.QUEUED)

    world.record(events)

    assert world.published_types[0] == notification_type


def test_a_delay_notification_says_why_without_failing_the_message(world: World) -> None:
    # Given a sent message, When delivery is delayed
    [delay] = parsed("delivery-delay")
    message = world.sent(delay)
    world.record([delay])

    # Then email.delayed carries the reason, and the message has no failure
    [delayed] = world.published
    assert delayed.failure is not None and delayed.failure.reason == "temporary_failure"
    assert world.message(message.id).failure is None


def test_email_suppressed_carries_the_new_entry_and_its_cause(world: World) -> None:
    # Given a sent message, When it hard-bounces
    [bounce] = parsed("bounce-permanent-general")
    message = world.sent(bounce)
    world.record([bounce])

    # Then email.suppressed carries the suppression and the diagnosis
    suppressed = world.published[1]
    assert suppressed.type == "email.suppressed"
    assert suppressed.message_id == message.id
    assert suppressed.suppression is not None
    assert suppressed.suppression.reason is SuppressionReason.HARD_BOUNCE
    assert suppressed.failure is not None
    assert suppressed.failure.reason == "mailbox_does_not_exist"


def test_a_multi_recipient_bounce_notifies_each_recipient(world: World) -> None:
    # Given a message whose bounce names three recipients
    events = parsed("bounce-multi-recipient", tags={"mailroom_id": ["msg-multi"]})
    world.sent(events[0])

    # When applied
    world.record(events)

    # Then each recipient gets its own email.bounced and email.suppressed, with its own id
    bounced = [n for n in world.published if n.type == "email.bounced"]
    suppressed = [n for n in world.published if n.type == "email.suppressed"]
    recipients = ["gone@example.com", "carol.typo@example.org", "dave@example.net"]
    assert [n.recipient for n in bounced] == recipients
    assert [n.recipient for n in suppressed] == recipients
    assert len({n.id for n in world.published}) == 6
    assert all(world.suppression(address) for address in recipients)


# --- Soft bounces in any order, and races with other writers


def test_soft_bounces_processed_out_of_order_still_reach_the_threshold(world: World) -> None:
    # Given three soft bounces within the window, processed newest first
    address = "flaky@example.net"
    newest = NOW - timedelta(hours=1)
    bounces = [soft_bounce(address, newest), soft_bounce(address, NOW - timedelta(days=1)),
               soft_bounce(address, NOW - timedelta(days=2))]

    # When applied
    world.record(bounces)

    # Then the address is suppressed until fourteen days after the newest bounce
    suppression = world.suppression(address)
    assert suppression is not None
    assert suppression.reason is SuppressionReason.SOFT_BOUNCE
    assert suppression.expires_at == newest + timedelta(days=14)


def test_a_soft_suppression_ends_the_same_whatever_order_its_bounces_came_in(
        world: World) -> None:
    # Given the same three soft bounces applied in two orders to two lists
    address = "flaky@example.net"
    times = [NOW - timedelta(days=2), NOW - timedelta(hours=1), NOW - timedelta(days=1)]
    other = World()

    # When applied
    world.record([soft_bounce(address, at) for at in sorted(times)])
    other.record([soft_bounce(address, at) for at in times])

    # Then both suppressions end at the same time
    in_order, out_of_order = world.suppression(address), other.suppression(address)
    assert in_order is not None and out_of_order is not None
    assert in_order.expires_at == out_of_order.expires_at


def test_a_rival_hard_bounce_written_meanwhile_is_never_downgraded(world: World) -> None:
    # Given two soft bounces, and another invocation that writes a hard bounce for the same
    # address just before this one writes its soft-bounce suppression
    address = "flaky@example.net"
    world.record([soft_bounce(address, NOW - timedelta(hours=3)),
                  soft_bounce(address, NOW - timedelta(hours=2))])
    hard = Suppression(email=address, reason=SuppressionReason.HARD_BOUNCE,
                       created_at=NOW - timedelta(minutes=1), source="ses")

    class RacingStore(FakeSuppressionStore):
        def put(self, suppression):
            self.items[(address, None)] = hard
            super().put(suppression)

        def strengthen(self, suppression, outranks=()):
            self.items[(address, None)] = hard
            return super().strengthen(suppression, outranks)

    racing = RacingStore()
    racing.soft_bounces = world.suppressions.soft_bounces
    world.suppressions = racing

    # When the third soft bounce reaches the threshold
    world.record([soft_bounce(address, NOW - timedelta(hours=1))])

    # Then the hard bounce stands, and no suppression is announced for the soft bounce
    assert world.suppression(address) == hard
    assert "email.suppressed" not in world.published_types


# --- Bounces whose DSN names another address


def test_a_bounce_for_a_forwarding_target_suppresses_the_address_sent_to(world: World) -> None:
    # Given a message to an alias whose bounce names the address it forwarded to
    [bounce] = parsed("bounce-permanent-final-recipient")
    message = world.sent(bounce)

    # When applied
    world.record([bounce])

    # Then the alias Mailroom sent to is suppressed, not the Final-Recipient
    assert world.suppression("alumni.ada@university.example.edu") is not None
    assert world.suppression("ada.old.account@mail.example.net") is None
    [entry] = world.message(message.id).events
    assert entry.detail["final_recipient"] == "ada.old.account@mail.example.net"


def test_a_final_recipient_among_several_destinations_is_matched_to_the_message(
        world: World) -> None:
    # Given a known message to an alias, and a bounce (two destinations) naming another address
    document = sample("bounce-permanent-final-recipient")
    document["mail"]["destination"].append("someone.else@example.com")
    [bounce] = parse_ses_notification(document)
    sent_to = "Alumni.Ada@university.example.edu"
    message = world.sent(bounce.model_copy(update={"recipient": sent_to}))

    # When applied
    world.record([bounce])

    # Then the address the message was sent to is suppressed and the app told about it
    assert world.suppression("alumni.ada@university.example.edu") is not None
    assert world.suppression("ada.old.account@mail.example.net") is None
    assert {n.recipient for n in world.published} == {"alumni.ada@university.example.edu"}
    assert world.message(message.id).status is Status.BOUNCED


# --- Automatic replies


def auto_reply_to(delivery: SesEvent) -> SesEvent:
    """The Transient/General bounce SES reports for an out-of-office reply to `delivery`."""
    document = sample("bounce-transient-general")
    document["mail"].update(messageId=delivery.ses_message_id,
                            destination=[delivery.recipient],
                            tags={"mailroom_id": [delivery.mailroom_id]})
    document["bounce"]["bouncedRecipients"] = [{"emailAddress": delivery.recipient}]
    [bounce] = parse_ses_notification(document)
    return bounce


def test_an_auto_reply_after_the_delivery_keeps_the_message_delivered(world: World) -> None:
    # Given a delivered message
    [delivery] = parsed("delivery")
    message = world.sent(delivery)
    world.record([delivery])
    world.publisher.published.clear()

    # When a Transient/General bounce for the same recipient arrives
    world.record([auto_reply_to(delivery)])

    # Then it stays delivered, without a failure, and nobody is notified
    stored = world.message(message.id)
    assert stored.status is Status.DELIVERED
    assert stored.failure is None
    assert world.published == []


def test_an_auto_reply_is_kept_in_the_timeline_as_one(world: World) -> None:
    # Given a delivered message, When an auto-reply bounce arrives
    [delivery] = parsed("delivery")
    message = world.sent(delivery)
    world.record([delivery, auto_reply_to(delivery)])

    # Then the timeline keeps it, marked as a likely automatic reply
    bounce = world.message(message.id).events[-1]
    assert bounce.type == "bounce"
    assert bounce.detail["likely_auto_reply"] is True


def test_auto_replies_never_count_as_soft_bounces(world: World) -> None:
    # Given three delivered messages to one address
    replies = []
    for index in range(3):
        [delivery] = parsed("delivery", messageId=f"0100019a-delivered-{index}",
                            tags={"mailroom_id": [f"msg-{index}"]})
        world.sent(delivery)
        world.record([delivery])
        replies.append(auto_reply_to(delivery))

    # When each gets an out-of-office reply
    world.record(replies)

    # Then the address is not suppressed
    assert world.suppression(replies[0].recipient) is None


# --- Permanent bounces that do not mean "this address is dead"


def delayed_in_permanent_bounce(address: str, at: datetime) -> SesEvent:
    """A recipient SES lists in a Permanent bounce while its server is still retrying it."""
    document = sample("bounce-permanent-general")
    stamp = at.isoformat().replace("+00:00", "Z")
    document["mail"].update(messageId=f"0100019a-perm-{stamp}", destination=[address], tags={})
    document["bounce"].update(timestamp=stamp, feedbackId=f"fb-perm-{stamp}")
    document["bounce"]["bouncedRecipients"] = [
        {"emailAddress": address, "action": "delayed", "status": "4.0.0"}]
    [event] = parse_ses_notification(document)
    return event


def test_a_recipient_still_retried_in_a_permanent_bounce_is_not_hard_suppressed(
        world: World) -> None:
    # Given a Permanent bounce whose recipient's DSN says delayed (4.0.0), When applied
    address = "slow@example.org"
    world.record([delayed_in_permanent_bounce(address, NOW)])

    # Then the address is not suppressed (one soft bounce so far)
    assert world.suppression(address) is None


def test_recipients_still_retried_in_permanent_bounces_count_as_soft_bounces(
        world: World) -> None:
    # Given three such bounces within the window, When applied
    address = "slow@example.org"
    world.record([delayed_in_permanent_bounce(address, NOW - timedelta(hours=hours))
                  for hours in (3, 2, 1)])

    # Then the address is suppressed as a soft bounce, with an expiry
    suppression = world.suppression(address)
    assert suppression is not None
    assert suppression.reason is SuppressionReason.SOFT_BOUNCE
    assert suppression.expires_at is not None


def test_an_unsubscribed_recipient_is_not_suppressed(world: World) -> None:
    # Given a message, When SES reports a Permanent/UnsubscribedRecipient bounce
    [bounce] = parsed("bounce-permanent-unsubscribedrecipient")
    message = world.sent(bounce)
    world.record([bounce])

    # Then the address is not suppressed, and the message failed as unsubscribed
    assert world.suppression(bounce.recipient) is None
    stored = world.message(message.id)
    assert stored.status is Status.BOUNCED
    assert stored.failure is not None and stored.failure.reason == "unsubscribed"
    assert world.published_types == ["email.bounced"]


# --- Complaints and hard bounces


def test_a_complaint_after_a_hard_bounce_becomes_the_reason(world: World) -> None:
    # Given an address suppressed for good by a hard bounce
    address = "complaint@simulator.amazonses.com"
    world.record([soft_bounce(address, NOW - timedelta(days=1), "General", "Permanent")])

    # When the recipient complains
    world.record(parsed("complaint-abuse"))

    # Then the entry's reason is complaint, still for good, and that is announced
    suppression = world.suppression(address)
    assert suppression is not None
    assert suppression.reason is SuppressionReason.COMPLAINT
    assert suppression.expires_at is None
    assert world.published_types == ["email.suppressed", "email.suppressed"]


def test_a_hard_bounce_after_a_complaint_keeps_the_complaint(world: World) -> None:
    # Given an address suppressed because the recipient complained
    address = "complaint@simulator.amazonses.com"
    world.record(parsed("complaint-abuse"))
    world.publisher.published.clear()

    # When it hard-bounces
    world.record([soft_bounce(address, NOW, "General", "Permanent")])

    # Then the complaint stands and nothing new is announced
    suppression = world.suppression(address)
    assert suppression is not None and suppression.reason is SuppressionReason.COMPLAINT
    assert world.published == []


def test_a_complaint_for_an_address_on_the_ses_list_says_it_was_suppressed(
        world: World) -> None:
    # Given a message, When SES reports a complaint with subtype OnAccountSuppressionList
    [complaint] = parsed("complaint-onaccountsuppressionlist")
    message = world.sent(complaint)
    world.record([complaint])

    # Then the failure says the recipient was on SES's suppression list
    failure = world.message(message.id).failure
    assert failure is not None and failure.reason == "recipient_suppressed"


# --- Counting outcomes (mailroom.counting)


def sent_to(name: str, to: str, **mail_changes: Any) -> list[SesEvent]:
    """The sample as SES reports it for mail sent to `to`."""
    document = sample(name)
    document["mail"].update(destination=[to], **mail_changes)
    for recipients in ("bouncedRecipients", "complainedRecipients"):
        for recipient in document.get(name.split("-")[0], {}).get(recipients, []):
            recipient["emailAddress"] = to
    if "delivery" in document:
        document["delivery"]["recipients"] = [to]
    return parse_ses_notification(document)


def test_a_new_outcome_is_counted_with_its_reason_domain_and_hour(world: World) -> None:
    # Given a sent message, When it hard-bounces
    [bounce] = sent_to("bounce-permanent-general", "ada@example.org")
    world.sent(bounce)
    world.record([bounce])

    # Then one hard bounce of real mail is counted, with its reason and domain
    assert world.counters.counted == [CountedEvent(
        hour=bounce.occurred_at.replace(minute=0, second=0, microsecond=0),
        traffic=Traffic.REAL, outcome=Outcome.HARD_BOUNCE,
        reason="mailbox_does_not_exist", domain="example.org")]


def test_a_redelivered_event_is_counted_once(world: World) -> None:
    # Given a sent message whose delivery was applied
    [delivery] = sent_to("delivery", "ada@example.org")
    world.sent(delivery)
    world.record([delivery])

    # When SQS delivers the same event again
    world.record(sent_to("delivery", "ada@example.org"))

    # Then it was counted once
    assert [counted.outcome for counted in world.counters.counted] == [Outcome.DELIVERY]


class LateStore(FakeMessageStore):
    """Another worker appends every event between our read and our write."""

    def apply_event(self, message_id, event, status=None, failure=None,
                    ses_message_id=None) -> bool:
        super().apply_event(message_id, event, status, failure, ses_message_id)
        return False


def test_an_event_another_worker_appended_first_is_not_counted_again(world: World) -> None:
    # Given a message, and a store where a concurrent worker wins every append
    world.messages = LateStore()
    [delivery] = sent_to("delivery", "ada@example.org")
    world.sent(delivery)

    # When the delivery is applied, Then this worker counts nothing (the other one did)
    world.record([delivery])
    assert world.counters.counted == []


def test_simulator_and_canary_mail_are_counted_apart_from_real_mail(world: World) -> None:
    # Given a real message, one to the mailbox simulator and the canary's, each sent
    real = sent_to("send", "ada@example.org", messageId="0100019a-real",
                   tags={"mailroom_id": ["msg-real"]})
    simulated = parsed("send", messageId="0100019a-sim", tags={"mailroom_id": ["msg-sim"]})
    canary = sent_to("send", "canary@example.org", messageId="0100019a-canary",
                     tags={"mailroom_id": ["msg-canary"], CANARY_TAG: ["run-1"]})
    for events in (real, simulated, canary):
        world.sent(events[0])

    # When SES reports their sends
    world.record(real + simulated + canary)

    # Then each is counted under its own traffic class
    assert [(counted.traffic, counted.domain) for counted in world.counters.counted] == [
        (Traffic.REAL, "example.org"), (Traffic.SIMULATOR, "simulator.amazonses.com"),
        (Traffic.CANARY, "example.org")]


def test_a_not_spam_complaint_is_not_counted(world: World) -> None:
    [complaint] = parsed("complaint-not-spam")
    world.sent(complaint, status=Status.DELIVERED)

    world.record([complaint])

    assert world.counters.counted == []


def test_an_auto_reply_is_not_counted_as_a_soft_bounce(world: World) -> None:
    # Given a delivered message, When an out-of-office reply comes back
    [delivery] = parsed("delivery")
    world.sent(delivery)
    world.record([delivery, auto_reply_to(delivery)])

    # Then only the delivery is counted
    assert [counted.outcome for counted in world.counters.counted] == [Outcome.DELIVERY]


def test_mail_mailroom_did_not_send_is_not_counted(world: World) -> None:
    # Given no message, When a bounce arrives (mail sent by someone else)
    world.record(parsed("bounce-permanent-general", tags={}))

    # Then the list is updated but nothing is counted: there is no timeline to dedupe on
    assert world.suppression("bounce@simulator.amazonses.com") is not None
    assert world.counters.counted == []


def test_without_counters_nothing_is_counted_and_all_else_happens(world: World) -> None:
    [bounce] = parsed("bounce-permanent-general")
    message = world.sent(bounce)

    record_outcomes([bounce], world.messages, world.suppressions, world.publisher, POLICY, NOW)

    assert world.message(message.id).status is Status.BOUNCED
    assert world.counters.counted == []
