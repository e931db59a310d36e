"""The DynamoDB adapters on moto: the conditions that keep duplicates and races harmless."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from mailroom.adapters.dynamodb import DynamoMessageStore, DynamoSuppressionStore
from mailroom.errors import RequestValidationError
from mailroom.models import (
    Failure,
    Message,
    Status,
    Suppression,
    SuppressionReason,
    TimelineEvent,
)
from mailroom.ports import Claim

NOW = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
LEASE = timedelta(seconds=90)


@pytest.fixture
def store(messages_table) -> DynamoMessageStore:
    store = DynamoMessageStore(messages_table)
    store.create(Message(id="m1", status=Status.QUEUED, to="ada@example.com",
                         from_address="no-reply@mail.example.com", template="welcome",
                         tags={"campaign": "x"}, created_at=NOW, updated_at=NOW,
                         events=[TimelineEvent(type="queued", at=NOW, key="queued")]))
    return store


@pytest.fixture
def suppressions(suppressions_table) -> DynamoSuppressionStore:
    return DynamoSuppressionStore(suppressions_table)


def event(kind: str, key: str, minutes: int = 1) -> TimelineEvent:
    return TimelineEvent(type=kind, at=NOW + timedelta(minutes=minutes), key=key)


def test_a_created_message_reads_back_as_written(store):
    message = store.get("m1")

    assert (message.status, message.to, message.tags) == (Status.QUEUED, "ada@example.com",
                                                           {"campaign": "x"})
    assert [e.type for e in message.events] == ["queued"]


def test_creating_the_same_id_twice_is_refused(store):
    from botocore.exceptions import ClientError

    with pytest.raises(ClientError):
        store.create(store.get("m1"))


def test_only_one_of_two_claims_wins(store):
    assert store.claim("m1", NOW, LEASE) is Claim.CLAIMED
    assert store.claim("m1", NOW + timedelta(seconds=5), LEASE) is Claim.IN_FLIGHT


def test_an_expired_lease_can_be_claimed_again(store):
    store.claim("m1", NOW, LEASE)

    assert store.claim("m1", NOW + LEASE + timedelta(seconds=1), LEASE) is Claim.CLAIMED


def test_a_released_claim_can_be_taken_at_once(store):
    store.claim("m1", NOW, LEASE)
    store.release("m1")

    assert store.claim("m1", NOW + timedelta(seconds=1), LEASE) is Claim.CLAIMED


def test_a_sent_message_is_never_claimed_again(store):
    store.claim("m1", NOW, LEASE)
    store.record_sent("m1", "ses-1", NOW)

    assert store.claim("m1", NOW + timedelta(hours=1), LEASE) is Claim.ALREADY_SENT
    assert store.get("m1").status is Status.SENT
    assert store.find_by_ses_message_id("ses-1").id == "m1"


def test_a_finished_message_and_an_unknown_one_are_told_apart(store):
    store.apply_event("m1", event("suppressed", "s"), status=Status.SUPPRESSED)

    assert store.claim("m1", NOW, LEASE) is Claim.FINISHED
    assert store.claim("nope", NOW, LEASE) is Claim.MISSING


def test_the_same_event_is_kept_once(store):
    assert store.apply_event("m1", event("delivery", "ses-1#Delivery#ada"), Status.DELIVERED)
    assert not store.apply_event("m1", event("delivery", "ses-1#Delivery#ada"),
                                 Status.DELIVERED)

    assert [e.type for e in store.get("m1").events] == ["queued", "delivery"]


def test_status_only_moves_forward_but_every_event_is_in_the_timeline(store):
    bounce = Failure(reason="mailbox_does_not_exist", action="Check the address.")
    store.apply_event("m1", event("bounce", "b", 2), Status.BOUNCED, failure=bounce)
    store.apply_event("m1", event("delivery", "d", 3), Status.DELIVERED)

    message = store.get("m1")
    assert message.status is Status.BOUNCED
    assert message.failure == bounce
    assert [e.type for e in message.events] == ["queued", "bounce", "delivery"]


def test_a_complaint_outranks_a_delivery(store):
    store.apply_event("m1", event("delivery", "d"), Status.DELIVERED)
    store.apply_event("m1", event("complaint", "c", 5), Status.COMPLAINED)

    assert store.get("m1").status is Status.COMPLAINED


def test_a_suppression_reads_back_and_can_be_deleted(suppressions):
    suppressions.put(Suppression(email="ada@example.com", reason=SuppressionReason.HARD_BOUNCE,
                                 created_at=NOW, source="ses"))

    assert suppressions.get("ada@example.com", NOW).reason is SuppressionReason.HARD_BOUNCE
    assert suppressions.delete("ada@example.com") is True
    assert suppressions.get("ada@example.com", NOW) is None
    assert suppressions.delete("ada@example.com") is False


def test_an_expired_suppression_is_ignored_even_before_ttl_deletes_it(suppressions):
    suppressions.put(Suppression(email="ada@example.com", reason=SuppressionReason.SOFT_BOUNCE,
                                 created_at=NOW, expires_at=NOW + timedelta(days=14),
                                 source="ses"))

    assert suppressions.get("ada@example.com", NOW + timedelta(days=13)) is not None
    assert suppressions.get("ada@example.com", NOW + timedelta(days=15)) is None
    items, _ = suppressions.list(NOW + timedelta(days=15), None, 10, None)
    assert items == []


def test_making_a_suppression_permanent_clears_its_expiry(suppressions):
    suppressions.put(Suppression(email="ada@example.com", reason=SuppressionReason.SOFT_BOUNCE,
                                 created_at=NOW, expires_at=NOW + timedelta(days=1),
                                 source="ses"))
    suppressions.put(Suppression(email="ada@example.com", reason=SuppressionReason.COMPLAINT,
                                 created_at=NOW, source="ses"))

    assert suppressions.get("ada@example.com", NOW + timedelta(days=30)).expires_at is None


def test_listing_pages_through_every_entry_and_filters_by_reason(suppressions):
    for index in range(7):
        reason = SuppressionReason.COMPLAINT if index % 2 else SuppressionReason.HARD_BOUNCE
        suppressions.put(Suppression(email=f"user{index}@example.com", reason=reason,
                                     created_at=NOW + timedelta(seconds=index), source="ses"))
    seen, cursor = [], None
    while True:
        page, cursor = suppressions.list(NOW, None, 3, cursor)
        seen += [item.email for item in page]
        if cursor is None:
            break

    complaints, _ = suppressions.list(NOW, SuppressionReason.COMPLAINT, 10, None)
    assert sorted(seen) == [f"user{i}@example.com" for i in range(7)]
    assert sorted(c.email for c in complaints) == ["user1@example.com", "user3@example.com",
                                                   "user5@example.com"]


def test_a_cursor_not_from_this_api_is_a_validation_error(suppressions):
    with pytest.raises(RequestValidationError):
        suppressions.list(NOW, None, 10, "not-a-cursor!")


def test_soft_bounces_are_counted_once_each_within_the_window(suppressions):
    window = timedelta(days=7)
    counts = [
        suppressions.count_soft_bounce("ada@example.com", NOW, window, "b1"),
        suppressions.count_soft_bounce("ada@example.com", NOW, window, "b1"),  # redelivered
        suppressions.count_soft_bounce("ada@example.com", NOW + timedelta(days=1), window, "b2"),
        suppressions.count_soft_bounce("ada@example.com", NOW + timedelta(days=7, hours=12),
                                        window, "b3"),
    ]

    assert counts == [1, 1, 2, 2]  # b1 left the window by then, b2 not
    assert suppressions.get("ada@example.com", NOW) is None  # counting is not suppressing


def test_the_sending_switch_is_read_through_a_short_cache(control_table):
    from mailroom.adapters.dynamodb import DynamoSendingSwitch
    from mailroom.models import SendingState

    ticks = iter([0.0, 1.0, 11.0])
    writer = DynamoSendingSwitch(control_table)
    reader = DynamoSendingSwitch(control_table, cache_seconds=10, clock=lambda: next(ticks))

    assert reader.state().paused is False  # t=0, read
    writer.set(SendingState(paused=True, reason="maintenance", since=NOW, source="api"))
    assert reader.state().paused is False  # t=1, cached
    assert reader.state() == SendingState(paused=True, reason="maintenance", since=NOW,
                                          source="api")  # t=11, read again
