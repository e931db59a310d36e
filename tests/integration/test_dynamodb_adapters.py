"""The DynamoDB adapters on moto: what only DynamoDB can get wrong — the items as stored,
races between invocations, paging past filtered items, the switch's cache. The behaviour
every store shares with its fake is pinned in tests/contract."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from mailroom.adapters.dynamodb import DynamoMessageStore, DynamoSuppressionStore
from mailroom.errors import RequestValidationError
from mailroom.models import (
    Message,
    Status,
    Suppression,
    SuppressionReason,
    TimelineEvent,
)

NOW = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


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


def test_creating_the_same_id_twice_is_refused(store):
    from botocore.exceptions import ClientError

    with pytest.raises(ClientError):
        store.create(store.get("m1"))


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


@pytest.mark.parametrize("reason", [None, SuppressionReason.SOFT_BOUNCE])
def test_a_page_is_filled_past_reads_the_filter_emptied(suppressions, reason):
    # Given 30 expired entries and 2 active ones
    for index in range(32):
        expires_at = NOW + timedelta(days=30 if index in (7, 23) else -1)
        suppressions.put(Suppression(email=f"user{index:02d}@example.com",
                                     reason=SuppressionReason.SOFT_BOUNCE, created_at=NOW,
                                     expires_at=expires_at, source="ses"))

    # When two are asked for, then both come back in one page, with nothing after them
    items, cursor = suppressions.list(NOW, reason, 2, None)
    assert sorted(item.email for item in items) == ["user07@example.com",
                                                    "user23@example.com"]
    assert cursor is None


WINDOW = timedelta(days=7)


def count(suppressions, at, key, now=None):
    return suppressions.record_soft_bounce("ada@example.com", at, key, WINDOW, now or at)


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


SES_ID = "010001a231d42f18-d5eee564-5052-47a1-aad0-17228e5f3a7d-000000"


def _delivery(at: datetime = NOW) -> TimelineEvent:
    return TimelineEvent(type="delivery", at=at, key=f"{SES_ID}#delivery#ada@example.com#",
                         detail={"ses_message_id": SES_ID, "recipient": "ada@example.com"})


def test_a_delivered_message_fits_in_one_write_unit(store):
    # Given a message through its usual life: queued, sent, Send, Delivery
    store.record_sent("m1", SES_ID, NOW)
    send = TimelineEvent(type="send", at=NOW, key=f"{SES_ID}#send#ada@example.com#",
                         detail={"ses_message_id": SES_ID, "recipient": "ada@example.com"})
    store.apply_event("m1", send)
    store.apply_event("m1", _delivery(), status=Status.DELIVERED)

    # Then its item stays under 1 KB (every write costs a unit per KB of the item)
    from bench.paths import item_size

    item = store.client.get_item(TableName=store.table_name, Key={"id": {"S": "m1"}})["Item"]
    assert item_size(item) < 1024
    # And it reads back as written
    message = store.get("m1")
    assert message is not None and message.status is Status.DELIVERED
    assert [event.key for event in message.events] == [
        "queued", f"sent#{SES_ID}", send.key, _delivery().key]
    assert message.events[-1] == _delivery()
    assert message.tags == {"campaign": "x"} and message.reply_to == []


def test_an_item_written_before_the_compact_timeline_reads_the_same(store):
    # Given an item as the earlier encoding stored it: whole entries, whole keys
    from mailroom.adapters.dynamodb.codec import to_attribute

    sent = TimelineEvent(type="sent", at=NOW, key=f"sent#{SES_ID}",
                         detail={"ses_message_id": SES_ID})
    store.client.update_item(
        TableName=store.table_name, Key={"id": {"S": "m1"}},
        UpdateExpression="SET events = :events, event_keys = :keys",
        ExpressionAttributeValues={
            ":events": to_attribute([TimelineEvent(type="queued", at=NOW, key="queued")
                                     .model_dump(mode="json"), sent.model_dump(mode="json")]),
            ":keys": {"SS": ["queued", sent.key]}})

    # When the same event comes again, and a new one after it
    again = store.apply_event("m1", sent, status=Status.SENT)
    delivered = store.apply_event("m1", _delivery(NOW + timedelta(seconds=1)),
                                  status=Status.DELIVERED)

    # Then the old entry is recognised, the new one added, and all read back alike
    message = store.get("m1")
    assert message is not None
    assert (again, delivered) == (False, True)
    assert [event.key for event in message.events] == ["queued", sent.key, _delivery().key]
    assert message.events[1] == sent and message.status is Status.DELIVERED
