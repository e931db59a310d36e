"""MessageStore contract (mailroom.ports): the fake and the DynamoDB store alike."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from mailroom.models import Failure, Message, Status, TimelineEvent
from mailroom.ports import Claim

NOW = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
LEASE = timedelta(seconds=90)
BOUNCE = Failure(reason="mailbox_does_not_exist", action="Check the address with the user.",
                 bounce_type="Permanent", bounce_subtype="General",
                 diagnostic="smtp; 550 5.1.1 user unknown")


def message(message_id: str = "m1", **changes) -> Message:
    fields = dict(id=message_id, status=Status.QUEUED, to="ada@example.com",
                  from_address="Acme <no-reply@mail.example.com>", template="welcome",
                  reply_to=["help@example.com"], tags={"campaign": "onboarding"},
                  created_at=NOW, updated_at=NOW,
                  events=[TimelineEvent(type="queued", at=NOW, key="queued")])
    return Message(**(fields | changes))


def event(kind: str, key: str, minutes: int = 1, **detail) -> TimelineEvent:
    return TimelineEvent(type=kind, at=NOW + timedelta(minutes=minutes), key=key,
                         detail=detail)


@pytest.fixture
def store(message_store):
    """The store holding one queued message, m1."""
    message_store.create(message())
    return message_store


# --- reading and writing -----------------------------------------------------------------
def test_a_created_message_reads_back_as_written(message_store):
    written = message(failure=None, events=[
        TimelineEvent(type="queued", at=NOW, key="queued", detail={"note": "first"})])

    message_store.create(written)

    assert message_store.get("m1") == written


def test_an_unknown_message_reads_as_none(message_store):
    assert message_store.get("nope") is None
    assert message_store.find_by_ses_message_id("ses-nope") is None


def test_create_many_records_more_messages_than_one_batch_call_takes(message_store):
    written = [message(f"m{index:02d}") for index in range(30)]

    message_store.create_many(written)

    assert [message_store.get(m.id) for m in written] == written


def test_a_sent_message_is_found_by_its_ses_message_id(store):
    store.record_sent("m1", "ses-1", NOW + timedelta(seconds=5))

    found = store.find_by_ses_message_id("ses-1")
    assert (found.id, found.status, found.ses_message_id) == ("m1", Status.SENT, "ses-1")
    assert found.events[-1] == TimelineEvent(type="sent", at=NOW + timedelta(seconds=5),
                                             key="sent#ses-1",
                                             detail={"ses_message_id": "ses-1"})
    assert found.updated_at == NOW + timedelta(seconds=5)


# --- claims ------------------------------------------------------------------------------
def test_a_queued_message_is_claimed(store):
    assert store.claim("m1", NOW, LEASE) is Claim.CLAIMED


def test_a_held_lease_makes_a_second_claim_wait(store):
    store.claim("m1", NOW, LEASE)

    assert store.claim("m1", NOW + LEASE - timedelta(seconds=1), LEASE) is Claim.IN_FLIGHT


def test_a_lease_can_be_claimed_again_once_it_expires(store):
    store.claim("m1", NOW, LEASE)

    assert store.claim("m1", NOW + LEASE, LEASE) is Claim.CLAIMED


def test_a_released_lease_can_be_claimed_at_once(store):
    store.claim("m1", NOW, LEASE)
    store.release("m1")

    assert store.claim("m1", NOW + timedelta(seconds=1), LEASE) is Claim.CLAIMED


def test_a_sent_message_is_never_claimed_again(store):
    store.claim("m1", NOW, LEASE)
    store.record_sent("m1", "ses-1", NOW)

    assert store.claim("m1", NOW + timedelta(hours=1), LEASE) is Claim.ALREADY_SENT


def test_an_ses_id_learnt_from_an_event_stops_a_claim(store):
    # Given the Send event named the message before the sender recorded it
    store.apply_event("m1", event("send", "ses-1#Send"), ses_message_id="ses-1")

    assert store.claim("m1", NOW, LEASE) is Claim.ALREADY_SENT
    assert store.find_by_ses_message_id("ses-1").id == "m1"


def test_a_message_that_ended_without_ses_is_finished(store):
    store.apply_event("m1", event("suppressed", "suppressed"), status=Status.SUPPRESSED)

    assert store.claim("m1", NOW, LEASE) is Claim.FINISHED


def test_a_claim_of_an_unknown_message_is_missing(message_store):
    assert message_store.claim("nope", NOW, LEASE) is Claim.MISSING


# --- events and status -------------------------------------------------------------------
def test_the_same_event_is_kept_once(store):
    delivery = event("delivery", "ses-1#Delivery#ada")
    assert store.apply_event("m1", delivery, Status.DELIVERED) is True
    assert store.apply_event("m1", delivery, Status.DELIVERED) is False

    assert [e.key for e in store.get("m1").events] == ["queued", "ses-1#Delivery#ada"]


def test_every_event_joins_the_timeline_and_sets_updated_at(store):
    store.apply_event("m1", event("send", "s", 1))
    store.apply_event("m1", event("delivery", "d", 2, smtp_response="250 ok"),
                      status=Status.DELIVERED)

    stored = store.get("m1")
    assert [e.type for e in stored.events] == ["queued", "send", "delivery"]
    assert stored.events[-1].detail == {"smtp_response": "250 ok"}
    assert stored.updated_at == NOW + timedelta(minutes=2)


def test_status_only_moves_forward_by_rank(store):
    store.apply_event("m1", event("bounce", "b", 2), Status.BOUNCED, failure=BOUNCE)
    store.apply_event("m1", event("delivery", "d", 3), Status.DELIVERED)

    stored = store.get("m1")
    assert (stored.status, stored.failure) == (Status.BOUNCED, BOUNCE)
    assert [e.type for e in stored.events] == ["queued", "bounce", "delivery"]


def test_an_equal_rank_does_not_replace_the_status_or_its_failure(store):
    rejected = Failure(reason="rejected", action="Check the content.")
    store.apply_event("m1", event("bounce", "b", 2), Status.BOUNCED, failure=BOUNCE)
    store.apply_event("m1", event("reject", "r", 3), Status.REJECTED, failure=rejected)

    assert (store.get("m1").status, store.get("m1").failure) == (Status.BOUNCED, BOUNCE)


def test_a_complaint_outranks_a_delivery(store):
    store.apply_event("m1", event("delivery", "d"), Status.DELIVERED)
    store.apply_event("m1", event("complaint", "c", 5), Status.COMPLAINED)

    assert store.get("m1").status is Status.COMPLAINED


def test_a_failure_is_set_only_with_a_status_it_explains(store):
    # Given the message already ended complained
    store.apply_event("m1", event("complaint", "c", 1), Status.COMPLAINED)

    # When a late bounce brings a failure with a lower-ranked status
    store.apply_event("m1", event("bounce", "b", 2), Status.BOUNCED, failure=BOUNCE)

    # Then the failure is not attached to a status it does not explain
    assert (store.get("m1").status, store.get("m1").failure) == (Status.COMPLAINED, None)


def test_a_redelivered_event_still_moves_the_status(store):
    # Given the event reached the timeline, but its status change was lost (a crash
    # between the store's two writes)
    store.apply_event("m1", event("bounce", "b", 2))

    # When the event is redelivered
    appended = store.apply_event("m1", event("bounce", "b", 2), Status.BOUNCED,
                                 failure=BOUNCE)

    # Then it is not added twice, and the status and failure move
    stored = store.get("m1")
    assert appended is False
    assert (stored.status, stored.failure) == (Status.BOUNCED, BOUNCE)
    assert [e.key for e in stored.events] == ["queued", "b"]


def test_an_event_for_an_unknown_message_changes_nothing(message_store):
    assert message_store.apply_event("nope", event("delivery", "d"), Status.DELIVERED) is False
    assert message_store.get("nope") is None


def test_updated_at_is_the_time_of_the_last_event_applied_even_an_earlier_one(store):
    # DynamoDB can SET updated_at but not keep the later of two times in the same write,
    # so an event processed late (but older) sets it back to its own time.
    store.apply_event("m1", event("delivery", "d", 5), Status.DELIVERED)
    store.apply_event("m1", event("send", "s", 1))

    assert store.get("m1").updated_at == NOW + timedelta(minutes=1)


# --- awaiting an outcome (the sweep's index) ---------------------------------------------
def test_sent_mail_awaits_an_outcome_in_the_hour_it_was_sent(message_store):
    hour = NOW.replace(minute=0)
    for name, sent in (("early", hour + timedelta(minutes=5)),
                       ("late", hour + timedelta(minutes=50)),
                       ("next_hour", hour + timedelta(minutes=65))):
        message_store.create(message(name))
        message_store.record_sent(name, f"ses-{name}", sent)
    message_store.create(message("never_sent"))

    assert message_store.awaiting_outcome(hour, hour + timedelta(minutes=30)) == ["early"]
    assert sorted(message_store.awaiting_outcome(hour, hour + timedelta(hours=3))) == [
        "early", "late"]
    assert message_store.awaiting_outcome(hour + timedelta(hours=1),
                                          hour + timedelta(hours=3)) == ["next_hour"]


@pytest.mark.parametrize("outcome", [Status.DELIVERED, Status.BOUNCED, Status.DELAYED,
                                     Status.UNCONFIRMED])
def test_any_outcome_ends_the_wait(store, outcome):
    store.record_sent("m1", "ses-1", NOW)

    store.apply_event("m1", event(outcome.value, f"{outcome.value}#1"), status=outcome)

    assert store.awaiting_outcome(NOW, NOW + timedelta(days=1)) == []
    assert store.get("m1").status is outcome


def test_mail_whose_outcome_came_before_its_sent_record_never_awaits(store):
    store.apply_event("m1", event("delivery", "delivery#1"), status=Status.DELIVERED)

    store.record_sent("m1", "ses-1", NOW)  # the sender's record, after the SES event

    assert store.awaiting_outcome(NOW, NOW + timedelta(days=1)) == []
    assert store.get("m1").status is Status.DELIVERED


# --- reopening for a redrive (the one exception to forward-only) -------------------------
EXHAUSTED = Failure(reason="retries_exhausted", action="…", diagnostic="8 attempts")
REDRIVEN = TimelineEvent(type="redriven", at=NOW + timedelta(hours=1), key="redriven#1",
                         detail={"by": "ada"})


def failed(store, **changes) -> None:
    store.apply_event("m1", event("failed", "failed#m1"), status=Status.FAILED,
                      failure=changes.get("failure", EXHAUSTED))


def test_mail_that_failed_every_retry_reopens_as_queued_with_who_redrove_it(store):
    failed(store)

    assert store.reopen("m1", REDRIVEN) is True

    message = store.get("m1")
    assert (message.status, message.failure) == (Status.QUEUED, None)
    assert message.events[-1] == REDRIVEN
    assert store.claim("m1", NOW + timedelta(hours=1), LEASE) is Claim.CLAIMED
    assert store.reopen("m1", REDRIVEN) is False  # once


@pytest.mark.parametrize("case", ["sent", "bounced", "other_failure"])
def test_nothing_else_reopens(store, case):
    if case == "sent":
        store.record_sent("m1", "ses-1", NOW)
        failed(store)  # a failure recorded after SES took it: SES has it, never again
    elif case == "bounced":
        store.apply_event("m1", event("bounce", "bounce#1"), status=Status.BOUNCED,
                          failure=BOUNCE)
    else:
        failed(store, failure=Failure(reason="sender_not_verified", action="Verify."))
    before = store.get("m1")

    assert store.reopen("m1", REDRIVEN) is False
    assert store.get("m1") == before
