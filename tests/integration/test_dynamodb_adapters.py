"""The DynamoDB adapters on moto: the conditions that keep duplicates and races harmless."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from mailroom.adapters.dynamodb import DynamoMessageStore, DynamoSuppressionStore
from mailroom.errors import InvalidCursor, RequestValidationError
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


@pytest.mark.parametrize("cursor", [
    "not-a-cursor!", "MQ==",  # not JSON / JSON but not an object
    "eyJmb28iOiB7IlMiOiAieCJ9fQ==",  # {"foo": {"S": "x"}}: not this listing's key
    "e30=",  # {}
])
def test_a_cursor_not_from_this_api_is_a_validation_error(suppressions, cursor):
    with pytest.raises(RequestValidationError):
        suppressions.list(NOW, None, 10, cursor)


def test_a_cursor_from_one_listing_is_refused_by_the_other(suppressions):
    for index in range(3):
        suppressions.put(Suppression(email=f"user{index}@example.com",
                                     reason=SuppressionReason.COMPLAINT,
                                     created_at=NOW + timedelta(seconds=index), source="ses"))
    _, by_reason = suppressions.list(NOW, SuppressionReason.COMPLAINT, 1, None)
    _, everything = suppressions.list(NOW, None, 1, None)

    with pytest.raises(InvalidCursor):
        suppressions.list(NOW, None, 10, by_reason)
    with pytest.raises(InvalidCursor):
        suppressions.list(NOW, SuppressionReason.COMPLAINT, 10, everything)


def test_a_page_that_ends_the_listing_has_no_cursor(suppressions):
    for index in range(4):
        suppressions.put(Suppression(email=f"user{index}@example.com",
                                     reason=SuppressionReason.HARD_BOUNCE,
                                     created_at=NOW, source="ses"))

    first, cursor = suppressions.list(NOW, SuppressionReason.HARD_BOUNCE, 2, None)
    second, last = suppressions.list(NOW, SuppressionReason.HARD_BOUNCE, 2, cursor)

    assert len(first) == len(second) == 2
    assert {s.email for s in first}.isdisjoint(s.email for s in second)
    assert last is None


WINDOW = timedelta(days=7)


def count(suppressions, at, key, now=None):
    return suppressions.record_soft_bounce("ada@example.com", at, key, WINDOW, now or at)


def test_soft_bounces_are_counted_once_each_within_the_window(suppressions):
    counts = [
        count(suppressions, NOW, "b1").count,
        count(suppressions, NOW, "b1").count,  # redelivered
        count(suppressions, NOW + timedelta(days=1), "b2").count,
        count(suppressions, NOW + timedelta(days=7, hours=12), "b3").count,
    ]

    assert counts == [1, 1, 2, 2]  # b1 left the window by then, b2 not
    assert suppressions.get("ada@example.com", NOW) is None  # counting is not suppressing


def test_soft_bounces_recorded_out_of_order_all_count(suppressions):
    later = NOW + timedelta(hours=5)
    times = [NOW + timedelta(hours=2), NOW + timedelta(hours=1), NOW]

    results = [count(suppressions, at, f"b{i}", now=later) for i, at in enumerate(times)]

    assert [result.count for result in results] == [1, 2, 3]
    assert results[-1].latest == NOW + timedelta(hours=2)


def raw_item(suppressions, key):
    return suppressions.client.get_item(TableName=suppressions.table_name,
                                        Key={"email": {"S": key}})["Item"]


def test_bounces_older_than_the_window_are_forgotten_when_writing(suppressions):
    count(suppressions, NOW, "old")
    count(suppressions, NOW + timedelta(days=8), "new")

    item = raw_item(suppressions, "ada@example.com#soft")
    assert set(item["bounces"]["M"]) == {"new"}
    assert int(item["ttl"]["N"]) == int((NOW + timedelta(days=15)).timestamp())


def test_a_soft_bounce_count_never_touches_a_permanent_suppression(suppressions):
    suppressions.put(Suppression(email="ada@example.com", reason=SuppressionReason.HARD_BOUNCE,
                                 created_at=NOW, source="ses"))

    count(suppressions, NOW, "b1")

    item = raw_item(suppressions, "ada@example.com")
    assert "ttl" not in item
    assert suppressions.list(NOW, None, 10, None)[0] == [
        suppressions.get("ada@example.com", NOW)]


def test_deleting_a_suppression_forgets_the_soft_bounces(suppressions):
    count(suppressions, NOW, "b1")
    count(suppressions, NOW, "b2")
    suppressions.put(Suppression(email="ada@example.com", reason=SuppressionReason.MANUAL,
                                 created_at=NOW, source="api"))

    assert suppressions.delete("ada@example.com") is True
    assert count(suppressions, NOW, "b3").count == 1


class ClientWithARival:
    """A DynamoDB client before whose first write another invocation records soft bounce
    b1: the race between reading the count and writing it back."""

    def __init__(self, client, rival) -> None:
        self.client, self.rival, self.raced = client, rival, False

    def __getattr__(self, name):
        return getattr(self.client, name)

    def update_item(self, **request):
        if not self.raced:
            self.raced = True
            self.rival.record_soft_bounce("ada@example.com", NOW, "b1", WINDOW, NOW)
        return self.client.update_item(**request)


def test_two_soft_bounces_counted_at_the_same_moment_both_count(suppressions):
    racing = DynamoSuppressionStore(suppressions.table_name,
                                    ClientWithARival(suppressions.client, suppressions))

    result = racing.record_soft_bounce("ada@example.com", NOW, "b2", WINDOW, NOW)

    assert result.count == 2


def entry(reason, expires_in=None, minutes=0, note=None):
    return Suppression(email="ada@example.com", reason=reason,
                       created_at=NOW + timedelta(minutes=minutes),
                       expires_at=NOW + expires_in if expires_in else None,
                       source="ses", note=note)


HARD = SuppressionReason.HARD_BOUNCE
SOFT = SuppressionReason.SOFT_BOUNCE
COMPLAINT = SuppressionReason.COMPLAINT
MANUAL = SuppressionReason.MANUAL


def test_strengthen_writes_where_there_is_nothing(suppressions):
    assert suppressions.strengthen(entry(HARD), {SOFT}) is True
    assert suppressions.get("ada@example.com", NOW).reason is HARD


def test_strengthen_never_lets_a_soft_bounce_replace_a_hard_bounce(suppressions):
    suppressions.put(entry(HARD))

    assert suppressions.strengthen(entry(SOFT, timedelta(days=14), minutes=1)) is False
    stored = suppressions.get("ada@example.com", NOW + timedelta(days=30))
    assert (stored.reason, stored.expires_at) == (HARD, None)


def test_strengthen_makes_an_expiring_entry_permanent(suppressions):
    suppressions.put(entry(SOFT, timedelta(days=14)))

    assert suppressions.strengthen(entry(HARD, minutes=1), {SOFT}) is True
    assert suppressions.get("ada@example.com", NOW + timedelta(days=30)).reason is HARD


def test_strengthen_lets_an_expiring_entry_grow_but_not_shrink(suppressions):
    suppressions.put(entry(SOFT, timedelta(days=14)))

    assert suppressions.strengthen(entry(SOFT, timedelta(days=10), minutes=1)) is False
    assert suppressions.strengthen(entry(SOFT, timedelta(days=20), minutes=2)) is True
    assert suppressions.get("ada@example.com", NOW).expires_at == NOW + timedelta(days=20)


def test_strengthen_lets_a_complaint_replace_a_hard_bounce_and_not_back(suppressions):
    suppressions.put(entry(HARD))

    assert suppressions.strengthen(entry(COMPLAINT, minutes=1), {HARD, SOFT}) is True
    assert suppressions.strengthen(entry(HARD, minutes=2), {SOFT}) is False
    assert suppressions.get("ada@example.com", NOW).reason is COMPLAINT


def test_strengthen_never_replaces_an_operators_permanent_entry(suppressions):
    suppressions.put(entry(MANUAL))

    assert suppressions.strengthen(entry(COMPLAINT, minutes=1), {HARD, SOFT}) is False
    assert suppressions.get("ada@example.com", NOW).reason is MANUAL


def test_strengthen_answers_a_retry_of_the_same_entry_as_the_first_time(suppressions):
    hard = entry(HARD, note="Bounce Permanent/General (SES message m1)")
    assert suppressions.strengthen(hard, {SOFT}) is True

    assert suppressions.strengthen(hard, {SOFT}) is True
    assert suppressions.strengthen(entry(HARD, minutes=5, note="another bounce"), {SOFT}) is False


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
