"""The local SES stand-in's pure logic: what the mailbox simulator does with each address,
the SES event JSON it publishes, the outbox .eml, and SendEmail's refusals. The simulator is
built without its loopback server and its events are collected instead of published."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta, timezone
from email import message_from_bytes, policy
from pathlib import Path
from typing import Any

import pytest

from mailroom.templates import TemplateCatalog
from mailroom_dev.local import ses_simulator
from mailroom_dev.local.outbox import (
    OutgoingEmail,
    build_mime,
    headers_for_event,
    write_eml,
)
from mailroom_dev.local.ses_events import (
    SentMail,
    bounce_event,
    complaint_event,
    delivery_event,
    send_event,
    ses_id,
    timestamp,
)
from mailroom_dev.local.ses_mailbox import (
    COMPLAINT,
    DELIVERED,
    HARD_BOUNCE,
    ON_SUPPRESSION_LIST,
    outcome_for,
)
from mailroom_dev.local.ses_simulator import SesError, SesSimulator

SIM = "simulator.amazonses.com"
SES_TIMESTAMP = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z")
SES_ID = re.compile(r"0100[0-9a-f]{12}-[0-9a-f]{8}-([0-9a-f]{4}-){3}[0-9a-f]{12}-000000")
SENT_AT = datetime(2026, 11, 1, 12, 0, 0, 250_000, tzinfo=UTC)
CONFIG_SET = "mailroom-local"
CATALOG = TemplateCatalog.from_dict({
    "hello": {
        "subject": "Hello {{name}}",
        "html": "<p>Hello {{name}}</p>",
        "text": "Hello {{name}}",
        "variables": ["name"],
        "lists": {},
        "example": {"name": "Ada"},
    }
})


# --- the mailbox simulator's outcome per address -------------------------------------------


@pytest.mark.parametrize(
    ("address", "outcome"),
    [
        (f"success@{SIM}", DELIVERED),
        (f"bounce@{SIM}", HARD_BOUNCE),
        (f"complaint@{SIM}", COMPLAINT),
        (f"ooto@{SIM}", DELIVERED),
        (f"suppressionlist@{SIM}", ON_SUPPRESSION_LIST),
    ],
)
def test_each_simulator_mailbox_has_its_outcome(address, outcome):
    assert outcome_for(address) == outcome


def test_the_bounce_mailbox_is_a_permanent_general_bounce_without_delivery():
    outcome = outcome_for(f"bounce@{SIM}")

    assert outcome.delivered is False
    assert (outcome.bounce.bounce_type, outcome.bounce.bounce_subtype) == ("Permanent", "General")
    assert outcome.bounce.status == "5.1.1"


def test_the_suppressionlist_mailbox_bounces_on_the_account_suppression_list():
    outcome = outcome_for(f"suppressionlist@{SIM}")

    assert outcome.delivered is False
    assert (outcome.bounce.bounce_type, outcome.bounce.bounce_subtype) == (
        "Permanent", "OnAccountSuppressionList")


def test_the_complaint_mailbox_is_delivered_then_complains():
    outcome = outcome_for(f"complaint@{SIM}")

    assert outcome.delivered is True
    assert outcome.bounce is None
    assert outcome.complaint_feedback_type == "abuse"


@pytest.mark.parametrize(
    ("address", "outcome"),
    [
        (f"bounce+signup-test@{SIM}", HARD_BOUNCE),
        (f"complaint+a+b@{SIM}", COMPLAINT),
        (f"suppressionlist+1@{SIM}", ON_SUPPRESSION_LIST),
        (f"success+x@{SIM}", DELIVERED),
    ],
)
def test_a_plus_label_keeps_the_mailbox_behaviour(address, outcome):
    assert outcome_for(address) == outcome


@pytest.mark.parametrize(
    "address", [f"BOUNCE@{SIM}", "Bounce@Simulator.AmazonSES.com", f"bounce+Label@{SIM.upper()}"]
)
def test_simulator_addresses_are_case_insensitive(address):
    assert outcome_for(address) == HARD_BOUNCE


def test_a_display_name_around_a_simulator_address_is_ignored():
    assert outcome_for(f"Test User <bounce@{SIM}>") == HARD_BOUNCE


@pytest.mark.parametrize(
    "address",
    ["bounce@example.com", "complaint@gmail.com", f"bounce@mail.{SIM}",
     f"nobody@{SIM}", "ada@example.com"],
)
def test_any_other_address_is_delivered(address):
    assert outcome_for(address) == DELIVERED


# --- SES event JSON -----------------------------------------------------------------------


def sent_mail(**overrides: Any) -> SentMail:
    fields: dict[str, Any] = {
        "message_id": "0100019a3f7c8e2b-1b2c3d4e-5f60-4718-8293-a4b5c6d7e8f9-000000",
        "sent_at": SENT_AT,
        "source": "Acme <no-reply@acme.example.com>",
        "source_arn": "arn:aws:ses:us-east-1:000000000000:identity/acme.example.com",
        "sending_account_id": "000000000000",
        "destination": ["ada@example.com"],
        "tags": {"ses:configuration-set": [CONFIG_SET], "mailroom_id": ["msg_1"]},
    }
    return SentMail(**(fields | overrides))


def test_timestamps_are_utc_iso_with_milliseconds_and_z():
    assert timestamp(datetime(2026, 11, 1, 12, 0, 5, 123_456, tzinfo=UTC)) == \
        "2026-11-01T12:00:05.123Z"


def test_a_whole_second_timestamp_still_has_three_millisecond_digits():
    assert timestamp(datetime(2026, 11, 1, 12, 0, 5, tzinfo=UTC)) == "2026-11-01T12:00:05.000Z"


def test_a_timestamp_in_another_zone_is_written_in_utc():
    paris = timezone(timedelta(hours=1))

    assert timestamp(datetime(2026, 11, 1, 13, 0, 5, 7_000, tzinfo=paris)) == \
        "2026-11-01T12:00:05.007Z"


def test_ses_ids_have_ses_message_id_shape():
    first, second = ses_id(), ses_id()

    assert SES_ID.fullmatch(first)
    assert first != second


def test_the_send_event_repeats_the_mail_and_has_an_empty_send_object():
    event = send_event(sent_mail())

    assert event["eventType"] == "Send"
    assert event["send"] == {}
    mail = event["mail"]
    assert mail["timestamp"] == "2026-11-01T12:00:00.250Z"
    assert mail["messageId"] == sent_mail().message_id
    assert mail["source"] == "Acme <no-reply@acme.example.com>"
    assert mail["destination"] == ["ada@example.com"]
    assert mail["sendingAccountId"] == "000000000000"
    assert mail["headersTruncated"] is False


def test_the_mail_tags_carry_the_email_tags_including_mailroom_id():
    event = send_event(sent_mail())

    assert event["mail"]["tags"]["mailroom_id"] == ["msg_1"]
    assert event["mail"]["tags"]["ses:configuration-set"] == [CONFIG_SET]


def test_mail_without_rendered_headers_has_no_headers_in_events():
    mail = send_event(sent_mail())["mail"]

    assert "headers" not in mail
    assert "commonHeaders" not in mail


def test_mail_with_rendered_headers_carries_them():
    headers = [{"name": "Subject", "value": "Hi"}]
    mail = send_event(sent_mail(headers=headers, common_headers={"subject": "Hi"}))["mail"]

    assert mail["headers"] == headers
    assert mail["commonHeaders"] == {"subject": "Hi"}


def test_the_delivery_event_names_the_bare_recipient_and_times_the_delivery():
    at = SENT_AT + timedelta(milliseconds=300)

    event = delivery_event(sent_mail(), "Ada <ada@example.com>", at)

    assert event["eventType"] == "Delivery"
    delivery = event["delivery"]
    assert delivery["recipients"] == ["ada@example.com"]
    assert delivery["timestamp"] == "2026-11-01T12:00:00.550Z"
    assert delivery["processingTimeMillis"] == 300
    assert delivery["smtpResponse"].startswith("250 ")
    assert delivery["reportingMTA"]


def test_the_delivery_event_adds_the_outgoing_tags_and_keeps_the_email_tags():
    tags = delivery_event(sent_mail(), "ada@example.com", SENT_AT)["mail"]["tags"]

    assert tags["mailroom_id"] == ["msg_1"]
    assert "ses:outgoing-ip" in tags
    assert "ses:outgoing-ip" not in sent_mail().tags  # the shared mail is left alone


def test_the_bounce_event_describes_the_bounced_recipient():
    at = SENT_AT + timedelta(seconds=1)

    event = bounce_event(sent_mail(), f"bounce@{SIM}", HARD_BOUNCE.bounce, at)

    assert event["eventType"] == "Bounce"
    bounce = event["bounce"]
    assert (bounce["bounceType"], bounce["bounceSubType"]) == ("Permanent", "General")
    assert bounce["bouncedRecipients"] == [{
        "emailAddress": f"bounce@{SIM}", "action": "failed", "status": "5.1.1",
        "diagnosticCode": "smtp; 550 5.1.1 user unknown",
    }]
    assert bounce["timestamp"] == "2026-11-01T12:00:01.250Z"
    assert SES_ID.fullmatch(bounce["feedbackId"])
    assert bounce["reportingMTA"]
    assert event["mail"]["tags"]["mailroom_id"] == ["msg_1"]


def test_the_suppression_list_bounce_explains_the_account_suppression_list():
    event = bounce_event(sent_mail(), f"suppressionlist@{SIM}", ON_SUPPRESSION_LIST.bounce,
                         SENT_AT)

    assert event["bounce"]["bounceSubType"] == "OnAccountSuppressionList"
    assert "suppression list" in event["bounce"]["bouncedRecipients"][0]["diagnosticCode"]


def test_the_complaint_event_describes_the_complaining_recipient():
    at = SENT_AT + timedelta(seconds=2)

    event = complaint_event(sent_mail(), f"Someone <complaint@{SIM}>", "abuse", at)

    assert event["eventType"] == "Complaint"
    complaint = event["complaint"]
    assert complaint["complainedRecipients"] == [{"emailAddress": f"complaint@{SIM}"}]
    assert complaint["complaintFeedbackType"] == "abuse"
    assert complaint["timestamp"] == "2026-11-01T12:00:02.250Z"
    assert SES_TIMESTAMP.fullmatch(complaint["arrivalDate"])
    assert SES_ID.fullmatch(complaint["feedbackId"])


def test_events_round_trip_through_json():
    for event in (send_event(sent_mail()),
                  delivery_event(sent_mail(), "ada@example.com", SENT_AT),
                  bounce_event(sent_mail(), f"bounce@{SIM}", HARD_BOUNCE.bounce, SENT_AT),
                  complaint_event(sent_mail(), f"complaint@{SIM}", "abuse", SENT_AT)):
        assert json.loads(json.dumps(event)) == event


# --- the outbox .eml ----------------------------------------------------------------------


def outgoing(**overrides: Any) -> OutgoingEmail:
    fields: dict[str, Any] = {
        "message_id": "0100abc-000000",
        "sent_at": SENT_AT,
        "from_address": "Acme <no-reply@acme.example.com>",
        "to": ["ada@example.com"],
        "cc": [],
        "reply_to": [],
        "subject": "Welcome, Ada",
        "text": "Hello Ada",
        "html": "<p>Hello Ada</p>",
        "configuration_set": CONFIG_SET,
    }
    return OutgoingEmail(**(fields | overrides))


def parsed(message: Any) -> Any:
    return message_from_bytes(message.as_bytes(), policy=policy.default)


def test_text_and_html_make_a_multipart_alternative_text_first():
    message = parsed(build_mime(outgoing()))

    assert message.get_content_type() == "multipart/alternative"
    parts = list(message.iter_parts())
    assert [part.get_content_type() for part in parts] == ["text/plain", "text/html"]
    assert parts[0].get_content().strip() == "Hello Ada"
    assert parts[1].get_content().strip() == "<p>Hello Ada</p>"


def test_html_only_is_a_single_html_part():
    message = parsed(build_mime(outgoing(text=None)))

    assert message.get_content_type() == "text/html"


def test_the_eml_has_the_headers_ses_writes():
    message = parsed(build_mime(outgoing()))

    assert message["From"] == "Acme <no-reply@acme.example.com>"
    assert message["To"] == "ada@example.com"
    assert message["Subject"] == "Welcome, Ada"
    assert message["Message-ID"] == "<0100abc-000000@email.amazonses.com>"
    assert message["MIME-Version"] == "1.0"
    assert message["X-SES-CONFIGURATION-SET"] == CONFIG_SET
    assert message["Date"].datetime == SENT_AT.replace(microsecond=0)  # RFC 5322: seconds


def test_cc_and_reply_to_appear_only_when_given():
    without = parsed(build_mime(outgoing()))
    with_them = parsed(build_mime(outgoing(cc=["b@example.com"],
                                           reply_to=["help@example.com", "ops@example.com"])))

    assert without["Cc"] is None and without["Reply-To"] is None
    assert with_them["Cc"] == "b@example.com"
    assert with_them["Reply-To"] == "help@example.com, ops@example.com"


def test_a_non_ascii_subject_is_rfc_2047_encoded_in_the_raw_headers():
    message = build_mime(outgoing(subject="Bienvenue, Zoë"))

    header_block = message.as_bytes().split(b"\n\n", 1)[0]
    assert header_block.isascii()
    assert b"=?utf-8?" in header_block
    assert parsed(message)["Subject"] == "Bienvenue, Zoë"


def test_common_headers_for_events_use_the_bare_message_id():
    _, common = headers_for_event(build_mime(outgoing(cc=["b@example.com"])))

    assert common["messageId"] == "0100abc-000000"
    assert common["from"] == ["Acme <no-reply@acme.example.com>"]
    assert common["to"] == ["ada@example.com"]
    assert common["cc"] == ["b@example.com"]
    assert common["subject"] == "Welcome, Ada"
    assert "replyTo" not in common


def test_the_eml_is_written_under_the_message_id_with_no_partial_left(tmp_path: Path):
    path = write_eml(tmp_path / "outbox", "0100abc-000000", b"Subject: x\r\n\r\nbody")

    assert path == tmp_path / "outbox" / "0100abc-000000.eml"
    assert path.read_bytes() == b"Subject: x\r\n\r\nbody"
    assert [p.name for p in (tmp_path / "outbox").iterdir()] == ["0100abc-000000.eml"]


# --- SendEmail through the simulator, without its server -------------------------------------


class _NoServer:
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.url, self.port = "http://127.0.0.1:0", 0


class CollectingDispatcher:
    def __init__(self) -> None:
        self.scheduled: list[tuple[float, dict[str, Any]]] = []

    def schedule(self, due: float, event: dict[str, Any]) -> None:
        self.scheduled.append((due, event))

    @property
    def events(self) -> list[dict[str, Any]]:
        return [event for _, event in self.scheduled]


@pytest.fixture
def simulator(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> SesSimulator:
    monkeypatch.setattr(ses_simulator, "LoopbackServer", _NoServer)
    sim = SesSimulator(sns=None, ses_events_topic_arn="arn:aws:sns:us-east-1:0:ses-events",
                       configuration_set=CONFIG_SET, outbox_dir=tmp_path / "outbox",
                       catalog=CATALOG, template_prefix="local-", event_delay=0.1)
    sim.dispatcher = CollectingDispatcher()  # type: ignore[assignment]
    return sim


def send(simulator: SesSimulator, to: str = "ada@example.com", **overrides: Any) -> str:
    request: dict[str, Any] = {
        "FromEmailAddress": "Acme <no-reply@acme.example.com>",
        "Destination": {"ToAddresses": [to]},
        "Content": {"Template": {"TemplateName": "local-hello",
                                 "TemplateData": json.dumps({"name": "Ada"})}},
        "EmailTags": [{"Name": "mailroom_id", "Value": "msg_1"}],
        "ConfigurationSetName": CONFIG_SET,
    } | overrides
    return simulator.send_email(request)["MessageId"]


@pytest.mark.parametrize(
    ("to", "event_types"),
    [
        ("ada@example.com", ["Send", "Delivery"]),
        (f"success@{SIM}", ["Send", "Delivery"]),
        (f"bounce@{SIM}", ["Send", "Bounce"]),
        (f"complaint@{SIM}", ["Send", "Delivery", "Complaint"]),
        (f"ooto@{SIM}", ["Send", "Delivery"]),
        (f"suppressionlist+x@{SIM}", ["Send", "Bounce"]),
    ],
)
def test_a_send_publishes_the_events_ses_would_in_order(simulator, to, event_types):
    send(simulator, to)

    dispatcher = simulator.dispatcher
    assert [event["eventType"] for event in dispatcher.events] == event_types
    dues = [due for due, _ in dispatcher.scheduled]
    assert dues == sorted(dues) and len(set(dues)) == len(dues)


def test_every_event_of_a_send_carries_the_email_tags_and_message_id(simulator):
    message_id = send(simulator, f"complaint@{SIM}")

    for event in simulator.dispatcher.events:
        assert event["mail"]["messageId"] == message_id
        assert event["mail"]["tags"]["mailroom_id"] == ["msg_1"]
        assert event["mail"]["tags"]["ses:configuration-set"] == [CONFIG_SET]
        assert event["mail"]["tags"]["ses:from-domain"] == ["acme.example.com"]
        assert SES_TIMESTAMP.fullmatch(event["mail"]["timestamp"])


def test_the_rendered_message_lands_in_the_outbox(simulator, tmp_path: Path):
    message_id = send(simulator)

    eml = tmp_path / "outbox" / f"{message_id}.eml"
    message = message_from_bytes(eml.read_bytes(), policy=policy.default)
    assert message["Subject"] == "Hello Ada"
    assert message.get_content_type() == "multipart/alternative"
    assert simulator.dispatcher.events[0]["mail"]["commonHeaders"]["subject"] == "Hello Ada"


def test_without_a_configuration_set_ses_publishes_no_events(simulator):
    send(simulator, ConfigurationSetName=None)

    assert simulator.dispatcher.events == []
    assert simulator.sends[0].events == ["Send", "Delivery"]


def test_missing_template_data_is_accepted_then_fails_to_render(simulator, tmp_path: Path):
    send(simulator, Content={"Template": {"TemplateName": "local-hello", "TemplateData": "{}"}})

    assert [e["eventType"] for e in simulator.dispatcher.events] == ["Rendering Failure"]
    assert "name" in simulator.dispatcher.events[0]["failure"]["errorMessage"]
    assert not (tmp_path / "outbox").exists()


# --- what SES refuses ---------------------------------------------------------------------


def refusal(simulator: SesSimulator, **overrides: Any) -> SesError:
    with pytest.raises(SesError) as raised:
        send(simulator, **overrides)
    return raised.value


@pytest.mark.parametrize(
    "destination",
    [
        {"ToAddresses": ["zoë@example.com"]},
        {"ToAddresses": ["ada@example.com"], "CcAddresses": ["用户@example.com"]},
        {"ToAddresses": ["ada@example.com"], "BccAddresses": ["Zoë <josé@example.com>"]},
    ],
)
def test_a_non_ascii_local_part_in_a_destination_is_a_bad_request(simulator, destination):
    error = refusal(simulator, Destination=destination)

    assert (error.status, error.code) == (400, "BadRequestException")
    assert "SMTPUTF8" in error.message
    assert simulator.sends == [] and simulator.dispatcher.events == []


def test_a_non_ascii_local_part_in_from_is_a_bad_request(simulator):
    error = refusal(simulator, FromEmailAddress="Zoë <zoë@acme.example.com>")

    assert (error.status, error.code) == (400, "BadRequestException")


def test_a_non_ascii_domain_must_be_punycode(simulator):
    error = refusal(simulator, Destination={"ToAddresses": ["ada@exämple.com"]})

    assert (error.status, error.code) == (400, "BadRequestException")
    assert "Punycode" in error.message


def test_a_punycode_domain_and_an_encoded_display_name_are_accepted(simulator):
    send(simulator, "ada@xn--exmple-cua.com",
         FromEmailAddress="=?utf-8?q?Zo=C3=AB?= <no-reply@acme.example.com>")

    assert simulator.sends[0].destination == ["ada@xn--exmple-cua.com"]


def test_no_recipient_is_a_bad_request(simulator):
    error = refusal(simulator, Destination={"ToAddresses": []})

    assert (error.status, error.code) == (400, "BadRequestException")


def test_an_unknown_configuration_set_is_not_found(simulator):
    error = refusal(simulator, ConfigurationSetName="other")

    assert (error.status, error.code) == (404, "NotFoundException")


def test_an_unknown_template_is_not_found(simulator):
    error = refusal(simulator, Content={"Template": {"TemplateName": "local-nope"}})

    assert (error.status, error.code) == (404, "NotFoundException")
