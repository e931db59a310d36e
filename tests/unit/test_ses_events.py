"""Parsing what SES sends: both shapes, every type, every envelope, and malformed records."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from mailroom.ses_events import (
    MalformedSesEvent,
    SesEventKind,
    parse_ses_notification,
    parse_sns_message,
    parse_sqs_body,
)

EVENTS = Path(__file__).resolve().parents[2] / "events"


def sample(name: str) -> dict[str, Any]:
    return json.loads((EVENTS / "ses" / f"{name}.json").read_text())


def lambda_event(name: str) -> dict[str, Any]:
    return json.loads((EVENTS / name).read_text())


EXPECTED_KINDS = {
    "send": SesEventKind.SEND,
    "delivery": SesEventKind.DELIVERY,
    "bounce-permanent-general": SesEventKind.BOUNCE,
    "bounce-permanent-noemail": SesEventKind.BOUNCE,
    "bounce-permanent-onaccountsuppressionlist": SesEventKind.BOUNCE,
    "bounce-permanent-suppressed": SesEventKind.BOUNCE,
    "bounce-permanent-unsubscribedrecipient": SesEventKind.BOUNCE,
    "bounce-permanent-generic-status": SesEventKind.BOUNCE,
    "bounce-permanent-final-recipient": SesEventKind.BOUNCE,
    "bounce-transient-mailboxfull": SesEventKind.BOUNCE,
    "bounce-transient-general": SesEventKind.BOUNCE,
    "bounce-transient-messagetoolarge": SesEventKind.BOUNCE,
    "bounce-transient-contentrejected": SesEventKind.BOUNCE,
    "bounce-transient-attachmentrejected": SesEventKind.BOUNCE,
    "bounce-undetermined": SesEventKind.BOUNCE,
    "bounce-multi-recipient": SesEventKind.BOUNCE,
    "complaint-abuse": SesEventKind.COMPLAINT,
    "complaint-not-spam": SesEventKind.COMPLAINT,
    "complaint-no-feedback-type": SesEventKind.COMPLAINT,
    "complaint-onaccountsuppressionlist": SesEventKind.COMPLAINT,
    "reject": SesEventKind.REJECT,
    "rendering-failure": SesEventKind.RENDERING_FAILURE,
    "delivery-delay": SesEventKind.DELIVERY_DELAY,
    "open": SesEventKind.OPEN,
    "click": SesEventKind.CLICK,
    "subscription": SesEventKind.SUBSCRIPTION,
    "notification-bounce": SesEventKind.BOUNCE,
    "notification-complaint": SesEventKind.COMPLAINT,
    "notification-delivery": SesEventKind.DELIVERY,
}


def test_every_sample_has_an_expected_kind() -> None:
    # Given the samples in events/ses, When listed, Then each is pinned by the table below
    assert {path.stem for path in (EVENTS / "ses").glob("*.json")} == set(EXPECTED_KINDS)


@pytest.mark.parametrize(("name", "kind"), EXPECTED_KINDS.items())
def test_every_ses_event_type_parses_to_its_kind(name: str, kind: SesEventKind) -> None:
    # Given a documented SES event, When parsed, Then every event has its kind and SES id
    document = sample(name)

    events = parse_ses_notification(document)

    assert events
    assert {event.kind for event in events} == {kind}
    assert {event.ses_message_id for event in events} == {document["mail"]["messageId"]}


def test_a_bounce_carries_every_fact_ses_gives() -> None:
    # Given a Permanent General bounce published by the configuration set
    document = sample("bounce-permanent-general")

    # When parsed
    [event] = parse_ses_notification(document)

    # Then the event carries the bounce facts, the source, the tags and Mailroom's id
    assert event.recipient == "bounce@simulator.amazonses.com"
    assert event.bounce_type == "Permanent"
    assert event.bounce_subtype == "General"
    assert event.diagnostic_code == "smtp; 550 5.1.1 user unknown"
    assert event.enhanced_status_code == "5.1.1"
    assert event.feedback_id == document["bounce"]["feedbackId"]
    assert event.reporting_mta == document["bounce"]["reportingMTA"]
    assert event.occurred_at == datetime(2026, 11, 22, 11, 1, 2, 669000, tzinfo=UTC)
    assert event.mailroom_id == document["mail"]["tags"]["mailroom_id"][0]
    assert event.source == "Acme <noreply@mail.example.com>"
    assert event.tags["ses:configuration-set"] == ["mailroom"]


def test_each_bounced_recipient_keeps_its_dsn_action() -> None:
    # Given a Permanent bounce, When parsed, Then the recipient's DSN action is kept
    [event] = parse_ses_notification(sample("bounce-permanent-general"))
    assert event.dsn_action == "failed"
    assert event.failed_for_good


def test_a_recipient_delayed_inside_a_permanent_bounce_has_not_failed_for_good() -> None:
    # Given a Permanent bounce naming a second recipient with action delayed and a 4.x status
    document = sample("bounce-permanent-general")
    document["mail"]["destination"].append("later@example.com")
    document["bounce"]["bouncedRecipients"].append(
        {"emailAddress": "later@example.com", "action": "delayed", "status": "4.0.0"})

    # When parsed
    failed, delayed = parse_ses_notification(document)

    # Then only the first failed for good
    assert failed.failed_for_good
    assert not delayed.failed_for_good


def test_a_4xx_status_inside_a_permanent_bounce_has_not_failed_for_good() -> None:
    # Given a Permanent bounce whose recipient's status is 4.2.2 (action failed)
    document = sample("bounce-permanent-general")
    document["bounce"]["bouncedRecipients"][0].update(
        status="4.2.2", diagnosticCode="smtp; 452 4.2.2 over quota")

    # When parsed, Then the recipient has not failed for good
    [event] = parse_ses_notification(document)
    assert not event.failed_for_good


def test_a_generic_x00_status_gives_way_to_the_code_in_the_diagnostic() -> None:
    # Given a bounce whose Status is 5.0.0 but whose diagnostic quotes 5.1.1
    # When parsed
    [event] = parse_ses_notification(sample("bounce-permanent-generic-status"))

    # Then the specific code is the one kept
    assert event.enhanced_status_code == "5.1.1"


def test_a_generic_x00_status_is_kept_when_nothing_is_more_specific() -> None:
    # Given a bounce whose Status is 5.0.0 and whose diagnostic quotes no code
    document = sample("bounce-permanent-general")
    document["bounce"]["bouncedRecipients"][0].update(
        status="5.0.0", diagnosticCode="smtp; 550 mailbox unavailable")

    # When parsed, Then 5.0.0 is kept
    [event] = parse_ses_notification(document)
    assert event.enhanced_status_code == "5.0.0"


def test_an_ip_address_in_the_diagnostic_is_not_a_status_code() -> None:
    # Given a bounce with no Status whose diagnostic quotes an IP address ending in 5.7.1
    document = sample("bounce-permanent-general")
    document["bounce"]["bouncedRecipients"][0].pop("status")
    document["bounce"]["bouncedRecipients"][0]["diagnosticCode"] = (
        "smtp; 550 Requested action not taken [mx.example.org 10.5.7.1]")

    # When parsed, Then no enhanced status code is read
    [event] = parse_ses_notification(document)
    assert event.enhanced_status_code is None


def test_a_status_code_ending_a_sentence_is_still_read() -> None:
    # Given a diagnostic that ends with a code and a full stop
    document = sample("bounce-permanent-general")
    document["bounce"]["bouncedRecipients"][0].pop("status")
    document["bounce"]["bouncedRecipients"][0]["diagnosticCode"] = "smtp; 550 No such user 5.1.1."

    # When parsed, Then the code is read
    [event] = parse_ses_notification(document)
    assert event.enhanced_status_code == "5.1.1"


def test_a_bounce_for_a_final_recipient_is_about_the_address_sent_to() -> None:
    # Given a bounce whose DSN names the address a forwarding alias led to
    # When parsed
    [event] = parse_ses_notification(sample("bounce-permanent-final-recipient"))

    # Then the recipient is the (single) destination, and the Final-Recipient is kept
    assert event.recipient == "alumni.ada@university.example.edu"
    assert event.final_recipient == "ada.old.account@mail.example.net"
    assert event.timeline_detail()["final_recipient"] == "ada.old.account@mail.example.net"


def test_a_final_recipient_among_several_destinations_stays_as_reported() -> None:
    # Given a bounce naming an address none of two destinations is
    document = sample("bounce-permanent-final-recipient")
    document["mail"]["destination"].append("bob@example.com")

    # When parsed, Then the reported address stays, flagged as a Final-Recipient
    [event] = parse_ses_notification(document)
    assert event.recipient == "ada.old.account@mail.example.net"
    assert event.final_recipient == "ada.old.account@mail.example.net"


def test_a_bounced_recipient_in_the_destination_has_no_final_recipient() -> None:
    # Given a bounce for a destination written in another case, When parsed
    [event] = parse_ses_notification(sample("bounce-multi-recipient"))[1:2]

    # Then it is that destination, with no Final-Recipient of its own
    assert event.recipient == "carol.typo@example.org"
    assert event.final_recipient is None


def test_a_timestamp_without_an_offset_is_read_as_utc() -> None:
    # Given a bounce whose timestamp carries no offset
    document = sample("bounce-permanent-general")
    document["bounce"]["timestamp"] = "2026-11-22T11:01:02.669"

    # When parsed, Then it is the same instant in UTC
    [event] = parse_ses_notification(document)
    assert event.occurred_at == datetime(2026, 11, 22, 11, 1, 2, 669000, tzinfo=UTC)


def test_the_dedupe_key_is_message_id_type_recipient_and_feedback_id() -> None:
    # Given a bounce, When parsed, Then its key joins the four parts DESIGN §2 names
    document = sample("bounce-permanent-general")

    [event] = parse_ses_notification(document)

    assert event.key == (
        f"{document['mail']['messageId']}#bounce#bounce@simulator.amazonses.com"
        f"#{document['bounce']['feedbackId']}"
    )


def test_an_identity_notification_has_no_mailroom_id() -> None:
    # Given a bounce from identity notifications (notificationType, no tags)
    # When parsed
    [event] = parse_ses_notification(sample("notification-bounce"))

    # Then it is a bounce found later by its SES message id only
    assert event.kind is SesEventKind.BOUNCE
    assert event.mailroom_id is None
    assert event.recipient == "jane@example.com"


def test_the_same_bounce_in_both_shapes_has_one_key() -> None:
    # Given one bounce reported by event publishing and by identity notifications
    published = sample("bounce-permanent-general")
    notified = copy.deepcopy(published)
    notified["notificationType"] = notified.pop("eventType")
    del notified["mail"]["tags"]

    # When both are parsed, Then they deduplicate to one event
    [first] = parse_ses_notification(published)
    [second] = parse_ses_notification(notified)
    assert first.key == second.key


def test_a_multi_recipient_bounce_gives_one_event_per_recipient() -> None:
    # Given one bounce notification naming three recipients, one in mixed case
    # When parsed
    events = parse_ses_notification(sample("bounce-multi-recipient"))

    # Then there is one event each, with its own normalised address and diagnostic
    assert [event.recipient for event in events] == [
        "gone@example.com",
        "carol.typo@example.org",
        "dave@example.net",
    ]
    assert len({event.diagnostic_code for event in events}) == 3
    assert len({event.key for event in events}) == 3


def test_addresses_are_normalised() -> None:
    # Given a delivery to an address written with spaces, capitals and an IDN domain
    document = sample("delivery")
    document["delivery"]["recipients"] = ["  Ada.Lovelace@BÜCHER.example "]

    # When parsed
    [event] = parse_ses_notification(document)

    # Then the recipient is the suppression key form
    assert event.recipient == "ada.lovelace@xn--bcher-kva.example"


def test_a_display_name_in_the_destination_is_dropped() -> None:
    # Given a Send whose destination carries a display name
    document = sample("send")
    document["mail"]["destination"] = ["Ada Lovelace <Ada@Example.com>"]

    # When parsed, Then the recipient is the bare normalised address
    [event] = parse_ses_notification(document)
    assert event.recipient == "ada@example.com"


def test_mail_to_the_ses_mailbox_simulator_is_flagged() -> None:
    # Given events to the simulator and to a real domain, When parsed
    [simulated] = parse_ses_notification(sample("delivery"))
    [real] = parse_ses_notification(sample("notification-delivery"))

    # Then only the simulator one is flagged (it never counts toward reputation)
    assert simulated.is_simulator
    assert not real.is_simulator


def test_a_rendering_failure_carries_the_ses_error_and_the_template() -> None:
    # Given a Rendering Failure event, When parsed
    [event] = parse_ses_notification(sample("rendering-failure"))

    # Then it names the template and the missing variable, for the recipient of the mail
    assert event.ses_event_type == "Rendering Failure"
    assert event.template == "order_confirmation"
    assert event.error_message == "Attribute 'order_id' is not present in the rendering data."
    assert event.recipient == "ada@example.com"


def test_a_delivery_delay_carries_its_type_expiry_and_status() -> None:
    # Given a DeliveryDelay event, When parsed
    [event] = parse_ses_notification(sample("delivery-delay"))

    # Then the delay facts are there
    assert event.delay_type == "TransientCommunicationFailure"
    assert event.expires_at == datetime(2026, 11, 22, 23, 10, tzinfo=UTC)
    assert event.enhanced_status_code == "4.4.1"
    assert event.diagnostic_code == "smtp; 421 4.4.1 Unable to connect to remote host"
    assert event.occurred_at == datetime(2026, 11, 22, 13, 25, tzinfo=UTC)


def test_a_complaint_carries_its_feedback_type_and_id() -> None:
    # Given an abuse complaint, When parsed
    document = sample("complaint-abuse")
    [event] = parse_ses_notification(document)

    # Then the feedback type and id are there
    assert event.complaint_feedback_type == "abuse"
    assert event.feedback_id == document["complaint"]["feedbackId"]


def test_a_complaint_without_feedback_type_is_still_a_complaint() -> None:
    # Given a complaint from a provider that sends no feedback type, When parsed
    [event] = parse_ses_notification(sample("complaint-no-feedback-type"))

    # Then it is a complaint with no feedback type
    assert event.kind is SesEventKind.COMPLAINT
    assert event.complaint_feedback_type is None


def test_a_reject_carries_its_reason() -> None:
    # Given a Reject event, When parsed, Then SES's reason is kept
    [event] = parse_ses_notification(sample("reject"))
    assert event.reject_reason == "Bad content"


def test_an_open_happens_when_the_recipient_opened_it() -> None:
    # Given an Open event, When parsed, Then it is dated by the open, not by the send
    [event] = parse_ses_notification(sample("open"))
    assert event.occurred_at == datetime(2026, 11, 22, 10, 21, 2, 455000, tzinfo=UTC)


def test_a_click_carries_its_link() -> None:
    # Given a Click event, When parsed, Then the link is kept
    [event] = parse_ses_notification(sample("click"))
    assert event.link == "https://app.example.com/welcome?token=abc123"


def test_two_opens_are_two_events_but_a_redelivered_open_is_one() -> None:
    # Given the same Open twice and a later second Open
    first = sample("open")
    later = copy.deepcopy(first)
    later["open"]["timestamp"] = "2026-11-23T08:00:00.000Z"

    # When parsed
    [a] = parse_ses_notification(first)
    [b] = parse_ses_notification(copy.deepcopy(first))
    [c] = parse_ses_notification(later)

    # Then the redelivery shares the key and the later open does not
    assert a.key == b.key
    assert a.key != c.key


def test_the_send_event_concerns_every_destination() -> None:
    # Given a Send to two destinations, When parsed, Then there is one event each
    document = sample("send")
    document["mail"]["destination"] = ["a@example.com", "b@example.com"]

    events = parse_ses_notification(document)

    assert [event.recipient for event in events] == ["a@example.com", "b@example.com"]


def test_unknown_fields_are_ignored() -> None:
    # Given a bounce with fields SES might add one day
    document = sample("bounce-permanent-general")
    document["someNewField"] = {"x": 1}
    document["bounce"]["bouncedRecipients"][0]["newDetail"] = "y"
    document["mail"]["newMailField"] = [1, 2]

    # When parsed, Then it parses as before
    [event] = parse_ses_notification(document)
    assert event.bounce_type == "Permanent"


def test_an_unknown_event_type_about_a_mail_is_kept_as_unknown() -> None:
    # Given an event type SES may add later, When parsed
    document = sample("send")
    document["eventType"] = "Teleport"
    document["teleport"] = {"timestamp": "2026-11-22T10:30:00.000Z"}

    [event] = parse_ses_notification(document)

    # Then it is an unknown event of that message, dated by its own timestamp
    assert event.kind is SesEventKind.UNKNOWN
    assert event.ses_event_type == "Teleport"
    assert event.occurred_at == datetime(2026, 11, 22, 10, 30, tzinfo=UTC)


def test_two_unknown_event_types_do_not_deduplicate_each_other() -> None:
    # Given two event types SES may add later, about the same mail at the same time
    first, second = sample("send"), sample("send")
    first["eventType"], second["eventType"] = "Teleport", "Levitate"

    # When parsed, Then their keys differ
    [a] = parse_ses_notification(first)
    [b] = parse_ses_notification(second)
    assert a.key != b.key


def test_the_ses_setup_message_is_not_an_event() -> None:
    # Given the message SES sends when identity notifications are pointed at a topic
    document = {
        "notificationType": "AmazonSnsSubscriptionSucceeded",
        "message": "You have successfully subscribed your Amazon SNS topic ...",
    }

    # When parsed, Then there is nothing to record (and nothing malformed)
    assert parse_ses_notification(document) == []


# --- Envelopes


def test_an_sqs_record_with_an_sns_envelope_parses() -> None:
    # Given the SQS record SNS delivers with raw message delivery off
    record = lambda_event("sqs-sns-bounce-permanent-general.json")["Records"][0]

    # When its body is parsed, Then it is the SES bounce
    [event] = parse_sqs_body(record["body"])
    assert event == parse_ses_notification(sample("bounce-permanent-general"))[0]


def test_an_sqs_record_with_the_raw_ses_json_parses() -> None:
    # Given the SQS record SNS delivers with raw message delivery on
    record = lambda_event("sqs-raw-bounce-permanent-general.json")["Records"][0]

    # When its body is parsed, Then it is the same SES bounce
    [event] = parse_sqs_body(record["body"])
    assert event == parse_ses_notification(sample("bounce-permanent-general"))[0]


def test_an_sns_record_delivered_to_lambda_parses() -> None:
    # Given an SNS → Lambda record
    record = lambda_event("sns-bounce-permanent-general.json")["Records"][0]

    # When its message is parsed, Then it is the same SES bounce
    [event] = parse_sns_message(record["Sns"]["Message"])
    assert event == parse_ses_notification(sample("bounce-permanent-general"))[0]


def test_an_sns_subscription_confirmation_is_not_an_event() -> None:
    # Given SNS housekeeping in the queue, When parsed, Then there is nothing to record
    body = json.dumps({"Type": "SubscriptionConfirmation", "Message": "confirm..."})
    assert parse_sqs_body(body) == []


# --- Malformed records: a clear reason, never a silent drop


def bounce_with(mutate) -> str:
    document = sample("bounce-permanent-general")
    mutate(document)
    return json.dumps(document)


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ("not json {", "SQS message body is not JSON"),
        ("[1, 2]", "not an object"),
        (json.dumps({"hello": "world"}), "neither an SNS envelope nor an SES event"),
        (json.dumps({"Type": "Notification", "Message": "{oops"}), "SNS Message is not JSON"),
        (json.dumps({"Type": "Notification"}), "without a Message"),
        (json.dumps({"eventType": ""}), "without eventType or notificationType"),
        (bounce_with(lambda d: d.pop("mail")), "without its 'mail' object"),
        (bounce_with(lambda d: d.pop("bounce")), "without its 'bounce' object"),
        (bounce_with(lambda d: d["mail"].pop("messageId")), "messageId"),
        (bounce_with(lambda d: d["bounce"].update(bouncedRecipients=[])), "bouncedRecipients"),
        (bounce_with(lambda d: d["bounce"].update(timestamp="yesterday")), "timestamp"),
        (json.dumps({"Type": ["Notification"]}), "unexpected shape .*TypeError"),
    ],
)
def test_a_malformed_record_raises_with_its_reason(body: str, reason: str) -> None:
    # Given a record we cannot read, When parsed, Then the error says why
    with pytest.raises(MalformedSesEvent, match=reason):
        parse_sqs_body(body)


def test_a_send_without_destination_is_malformed() -> None:
    # Given a Send naming nobody, When parsed, Then it is malformed
    document = sample("send")
    document["mail"]["destination"] = []

    with pytest.raises(MalformedSesEvent, match="destination is empty"):
        parse_ses_notification(document)
