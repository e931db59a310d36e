"""The accept path: what POST /v1/emails checks before anything is queued."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from mailroom.accept import Acceptor, EmailRequest
from mailroom.errors import (
    InvalidAddress,
    MissingTemplateData,
    PayloadTooLarge,
    RecipientSuppressed,
    RequestValidationError,
    SenderNotAllowed,
    UnknownTemplate,
)
from mailroom.models import Status, Suppression, SuppressionReason
from mailroom.templates import TemplateCatalog
from tests.fakes import FakeMessageStore, FakeSendQueue, FakeSuppressionStore

NOW = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
WELCOME = {"name": "Ada", "action_url": "https://app.example.com/start"}


@pytest.fixture
def acceptor() -> Acceptor:
    return Acceptor(
        messages=FakeMessageStore(), suppressions=FakeSuppressionStore(),
        queue=FakeSendQueue(), catalog=TemplateCatalog.load(),
        default_from="Acme <no-reply@mail.example.com>",
        allowed_senders=["mail.example.com", "ceo@example.com"],
        clock=lambda: NOW,
    )


def request(**overrides) -> EmailRequest:
    body = {"to": "ada@example.com", "template": "welcome", "data": WELCOME} | overrides
    return EmailRequest.model_validate(body)


def test_a_valid_email_is_recorded_as_queued_and_put_on_the_queue(acceptor):
    result = acceptor.accept(request())

    assert result["status"] == "queued"
    message = acceptor.messages.get(result["id"])
    assert message.status is Status.QUEUED
    assert [event.type for event in message.events] == ["queued"]
    assert [queued.id for queued in acceptor.queue.sent] == [result["id"]]
    assert acceptor.queue.sent[0].from_address == "Acme <no-reply@mail.example.com>"


def test_the_recipient_is_normalised_before_queueing(acceptor):
    acceptor.accept(request(to="  Ada@EXAMPLE.com "))

    assert acceptor.queue.sent[0].to == "ada@example.com"


@pytest.mark.parametrize("to", ["ada@example.com\r\nBcc: all@example.com",
                                "ada@example.com\nX: y", "ada\x00@example.com"])
def test_header_breaking_characters_are_refused_and_nothing_is_queued(acceptor, to):
    with pytest.raises(InvalidAddress) as caught:
        acceptor.accept(request(to=to))

    assert caught.value.details["field"] == "to"
    assert acceptor.queue.sent == []
    assert acceptor.messages.messages == {}


def test_a_likely_domain_typo_is_refused_with_a_suggestion(acceptor):
    with pytest.raises(InvalidAddress) as caught:
        acceptor.accept(request(to="ada@gmial.com"))

    assert caught.value.details == {"field": "to", "suggestion": "ada@gmail.com"}


def test_a_reply_to_address_is_validated_with_its_position(acceptor):
    with pytest.raises(InvalidAddress) as caught:
        acceptor.accept(request(reply_to=["ok@example.com", "not an address"]))

    assert caught.value.details["field"] == "reply_to[1]"


def test_an_unknown_template_is_refused(acceptor):
    with pytest.raises(UnknownTemplate):
        acceptor.accept(request(template="newsletter"))
    assert acceptor.queue.sent == []


def test_missing_template_variables_are_named(acceptor):
    with pytest.raises(MissingTemplateData) as caught:
        acceptor.accept(request(template="password_reset", data={"name": "Ada"}))

    assert caught.value.details == {"missing": ["expires_in_minutes", "reset_url"]}
    assert acceptor.queue.sent == []


def test_a_sender_outside_the_allow_list_is_refused(acceptor):
    with pytest.raises(SenderNotAllowed):
        acceptor.accept(request(**{"from": "billing@other.example.org"}))


@pytest.mark.parametrize("sender", ["Billing <billing@mail.example.com>", "ceo@example.com"])
def test_a_sender_on_an_allowed_domain_or_address_is_used(acceptor, sender):
    acceptor.accept(request(**{"from": sender}))

    assert acceptor.queue.sent[0].from_address == sender


@pytest.mark.parametrize("tags", [{"campaign": "spring sale"}, {"ses:x": "y"},
                                  {"mailroom_id": "x"}, {"mailroom_canary": "1"},
                                  {"a": "line\r\nbreak"}])
def test_tags_that_break_ses_rules_or_are_reserved_are_refused(acceptor, tags):
    with pytest.raises(RequestValidationError):
        acceptor.accept(request(tags=tags))


def test_the_canary_tag_is_taken_only_on_mail_to_the_ses_mailbox_simulator(acceptor):
    """It takes mail out of the guard's figures: mail to people must always count."""
    acceptor.accept(request(to="success@simulator.amazonses.com",
                            tags={"mailroom_canary": "1"}))
    assert acceptor.queue.sent[0].tags == {"mailroom_canary": "1"}

    with pytest.raises(RequestValidationError, match="reserved for the canary"):
        acceptor.accept(request(to="ada@example.com", tags={"mailroom_canary": "1"}))


def test_a_suppressed_recipient_is_refused_with_reason_and_since(acceptor):
    acceptor.suppressions.put(Suppression(
        email="ada@example.com", reason=SuppressionReason.HARD_BOUNCE,
        created_at=NOW - timedelta(days=3), source="ses"))

    with pytest.raises(RecipientSuppressed) as caught:
        acceptor.accept(request(to="ADA@example.com"))

    assert caught.value.details["reason"] == "hard_bounce"
    assert caught.value.details["since"] == (NOW - timedelta(days=3)).isoformat()
    assert acceptor.queue.sent == []


def test_an_expired_suppression_no_longer_blocks(acceptor):
    acceptor.suppressions.put(Suppression(
        email="ada@example.com", reason=SuppressionReason.SOFT_BOUNCE,
        created_at=NOW - timedelta(days=20), expires_at=NOW - timedelta(days=6), source="ses"))

    assert acceptor.accept(request())["status"] == "queued"


def test_template_data_too_big_for_the_queue_is_refused(acceptor):
    # Within SES's 262,144 characters of template data, over the queue's 240 KiB message.
    huge = {"name": "Ada", "action_url": "https://example.com", "notes": "x" * 250_000}

    with pytest.raises(PayloadTooLarge) as caught:
        acceptor.accept(request(data=huge))

    assert caught.value.details["limit"] < caught.value.details["size"]
    assert acceptor.queue.sent == []


def test_messages_the_queue_refused_are_closed_so_a_retry_cannot_send_twice(acceptor):
    from mailroom.errors import QueueUnavailable

    def refuse(requests):
        raise RuntimeError("SQS is down")

    acceptor.queue.enqueue = refuse

    with pytest.raises(QueueUnavailable):
        acceptor.accept(request())

    [message] = acceptor.messages.messages.values()
    assert message.status is Status.FAILED
    assert message.failure.reason == "not_queued"


def test_a_batch_answers_each_item_in_order_and_queues_only_the_good_ones(acceptor):
    acceptor.suppressions.put(Suppression(email="bob@example.com",
                                          reason=SuppressionReason.COMPLAINT,
                                          created_at=NOW, source="ses"))

    results = acceptor.accept_many([request(), request(to="bob@example.com"),
                                    request(template="nope"), request(to="cy@example.com")])

    assert [getattr(r, "code", None) or r["status"] for r in results] == [
        "queued", "recipient_suppressed", "unknown_template", "queued"]
    assert sorted(q.to for q in acceptor.queue.sent) == ["ada@example.com", "cy@example.com"]


def test_while_sending_is_paused_nothing_is_accepted_and_the_answer_says_why(acceptor):
    from mailroom.errors import SendingPaused
    from mailroom.models import SendingState
    from tests.fakes import FakeSendingSwitch

    acceptor.switch = FakeSendingSwitch()
    acceptor.switch.set(SendingState(paused=True, reason="bounce rate 4.2%", since=NOW,
                                     source="reputation_guard"))

    with pytest.raises(SendingPaused) as caught:
        acceptor.accept(request())

    assert caught.value.http_status == 503
    assert caught.value.details["reason"] == "bounce rate 4.2%"
    assert acceptor.queue.sent == []


@pytest.mark.parametrize(("sender", "queued_as"), [
    ('"Doe, John" <john@mail.example.com>', '"Doe, John" <john@mail.example.com>'),
    ("Zoë Café <zoe@mail.example.com>", "=?utf-8?b?Wm/DqyBDYWbDqQ==?= <zoe@mail.example.com>"),
])
def test_a_display_name_is_quoted_or_encoded_so_it_stays_one_address(acceptor, sender,
                                                                      queued_as):
    acceptor.accept(request(**{"from": sender}))

    assert acceptor.queue.sent[0].from_address == queued_as
