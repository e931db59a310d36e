"""The SES v2 simulator, driven through a real boto3 `sesv2` client: the production SES
adapter must not be able to tell it from SES for SendEmail and GetAccount, and its events
must reach SQS through SNS in the shape SES event publishing uses."""

from __future__ import annotations

import json
import time
import urllib.request
from email import message_from_bytes, policy
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from moto.server import ThreadedMotoServer

from mailroom.templates import TemplateCatalog
from mailroom_dev.local.ses_simulator import SesSimulator

REGION = "us-east-1"
CONFIG_SET = "mailroom-test"
PREFIX = "test-"
SENDER = "Acme <no-reply@acme.example.com>"
CATALOG = TemplateCatalog.from_dict({
    "hello": {
        "subject": "Hello {{name}}",
        "html": "<p>Hello {{name}}, start at <a href=\"{{url}}\">{{url}}</a></p>",
        "text": "Hello {{name}}, start at {{url}}",
        "variables": ["name", "url"],
        "lists": {},
        "example": {"name": "Ada", "url": "https://example.com"},
    }
})
# One try per call: these tests pin what SES answers, not botocore's retries.
NO_RETRIES = Config(retries={"total_max_attempts": 1, "mode": "standard"})


@pytest.fixture(scope="module")
def moto_url() -> Any:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


def _client(service: str, endpoint_url: str) -> Any:
    return boto3.client(
        service, endpoint_url=endpoint_url, region_name=REGION, config=NO_RETRIES,
        aws_access_key_id="test", aws_secret_access_key="test",
    )


@pytest.fixture
def events_queue(moto_url: str, request: pytest.FixtureRequest) -> tuple[str, str, Any]:
    """(topic ARN, queue URL, sqs client): a queue subscribed to a fresh ses-events topic."""
    sns, sqs = _client("sns", moto_url), _client("sqs", moto_url)
    name = f"ses-events-{request.node.name[:40].replace('[', '-').replace(']', '')}"
    topic_arn = sns.create_topic(Name=name)["TopicArn"]
    queue_url = sqs.create_queue(QueueName=name)["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
        "Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=queue_arn)
    return topic_arn, queue_url, sqs


@pytest.fixture
def simulator(moto_url: str, events_queue: tuple[str, str, Any], tmp_path: Path) -> Any:
    topic_arn, _, _ = events_queue
    sim = SesSimulator(
        sns=_client("sns", moto_url),
        ses_events_topic_arn=topic_arn,
        configuration_set=CONFIG_SET,
        outbox_dir=tmp_path / "outbox",
        catalog=CATALOG,
        template_prefix=PREFIX,
        max_send_rate=14,
        event_delay=0.02,
    )
    sim.start()
    yield sim
    sim.stop()


@pytest.fixture
def ses(simulator: SesSimulator) -> Any:
    return _client("sesv2", simulator.url)


def send_template(ses: Any, to: str, data: dict[str, Any] | None = None, **extra: Any) -> str:
    data = dict(CATALOG.get("hello").example) if data is None else data
    response = ses.send_email(
        FromEmailAddress=SENDER,
        Destination={"ToAddresses": [to]},
        Content={"Template": {
            "TemplateName": f"{PREFIX}hello",
            "TemplateData": json.dumps(data),
        }},
        EmailTags=[{"Name": "mailroom_id", "Value": "msg-123"}],
        ConfigurationSetName=CONFIG_SET,
        **extra,
    )
    return str(response["MessageId"])


def received_events(events_queue: tuple[str, str, Any], count: int,
                    timeout: float = 10) -> list[dict[str, Any]]:
    """SES event records unwrapped from the SNS envelopes in the subscribed queue."""
    _, queue_url, sqs = events_queue
    events: list[dict[str, Any]] = []
    deadline = time.monotonic() + timeout
    while len(events) < count and time.monotonic() < deadline:
        for message in sqs.receive_message(
            QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1
        ).get("Messages", []):
            envelope = json.loads(message["Body"])
            assert envelope["Type"] == "Notification"
            events.append(json.loads(envelope["Message"]))
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
    return events


def control(simulator: SesSimulator, method: str, path: str, body: Any = None) -> Any:
    request = urllib.request.Request(
        simulator.url + path, method=method,
        data=json.dumps(body).encode() if body is not None else None,
    )
    with urllib.request.urlopen(request, timeout=5) as response:
        return json.loads(response.read())


def test_send_email_with_a_stored_template_returns_an_ses_message_id(ses: Any) -> None:
    message_id = send_template(ses, "success@simulator.amazonses.com")

    assert message_id.startswith("0100") and message_id.endswith("-000000")


def test_the_rendered_message_is_written_to_the_outbox_as_mime(
    ses: Any, simulator: SesSimulator
) -> None:
    message_id = send_template(ses, "ada@example.org", ReplyToAddresses=["help@acme.example.com"])

    eml = simulator.outbox_dir / f"{message_id}.eml"
    message = message_from_bytes(eml.read_bytes(), policy=policy.default)
    assert message["Subject"] == "Hello Ada"
    assert message["To"] == "ada@example.org"
    assert message["From"] == SENDER
    assert message["Reply-To"] == "help@acme.example.com"
    assert message["Message-ID"] == f"<{message_id}@email.amazonses.com>"
    assert message.get_content_type() == "multipart/alternative"
    text = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    assert "Hello Ada, start at https://example.com" in text
    assert '<a href="https://example.com">' in html


def test_get_account_reports_a_new_accounts_send_quota(ses: Any) -> None:
    account = ses.get_account()

    assert account["SendQuota"]["MaxSendRate"] == 14
    assert account["SendQuota"]["Max24HourSend"] > 0
    assert account["SendingEnabled"] is True
    assert account["ProductionAccessEnabled"] is True


def test_sent_last_24_hours_counts_each_send(ses: Any) -> None:
    send_template(ses, "success@simulator.amazonses.com")
    send_template(ses, "success@simulator.amazonses.com")

    assert ses.get_account()["SendQuota"]["SentLast24Hours"] == 2


def test_success_publishes_send_then_delivery_in_ses_shape(
    ses: Any, events_queue: Any
) -> None:
    message_id = send_template(ses, "success@simulator.amazonses.com")

    send, delivery = received_events(events_queue, 2)
    assert [send["eventType"], delivery["eventType"]] == ["Send", "Delivery"]
    assert send["send"] == {}
    mail = delivery["mail"]
    assert mail["messageId"] == message_id
    assert mail["source"] == SENDER
    assert mail["destination"] == ["success@simulator.amazonses.com"]
    assert mail["sourceArn"].endswith(":identity/acme.example.com")
    assert mail["tags"]["mailroom_id"] == ["msg-123"]
    assert mail["tags"]["ses:configuration-set"] == [CONFIG_SET]
    assert mail["commonHeaders"]["subject"] == "Hello Ada"
    assert mail["commonHeaders"]["messageId"] == message_id
    assert {"name": "Subject", "value": "Hello Ada"} in mail["headers"]
    assert delivery["delivery"]["recipients"] == ["success@simulator.amazonses.com"]
    assert delivery["delivery"]["smtpResponse"].startswith("250")


def test_bounce_address_gets_a_permanent_general_bounce(ses: Any, events_queue: Any) -> None:
    send_template(ses, "bounce@simulator.amazonses.com")

    send, bounce = received_events(events_queue, 2)
    assert send["eventType"] == "Send"
    assert bounce["eventType"] == "Bounce"
    assert bounce["bounce"]["bounceType"] == "Permanent"
    assert bounce["bounce"]["bounceSubType"] == "General"
    assert bounce["bounce"]["bouncedRecipients"] == [{
        "emailAddress": "bounce@simulator.amazonses.com",
        "action": "failed",
        "status": "5.1.1",
        "diagnosticCode": "smtp; 550 5.1.1 user unknown",
    }]
    assert bounce["bounce"]["feedbackId"]


def test_labels_after_plus_keep_the_mailbox_behaviour(ses: Any, events_queue: Any) -> None:
    send_template(ses, "bounce+signup@simulator.amazonses.com")

    events = received_events(events_queue, 2)
    assert [event["eventType"] for event in events] == ["Send", "Bounce"]
    assert events[1]["bounce"]["bouncedRecipients"][0]["emailAddress"] == (
        "bounce+signup@simulator.amazonses.com"
    )


def test_complaint_address_is_delivered_then_complains(ses: Any, events_queue: Any) -> None:
    send_template(ses, "complaint@simulator.amazonses.com")

    events = received_events(events_queue, 3)
    assert [event["eventType"] for event in events] == ["Send", "Delivery", "Complaint"]
    complaint = events[2]["complaint"]
    assert complaint["complaintFeedbackType"] == "abuse"
    assert complaint["complainedRecipients"] == [
        {"emailAddress": "complaint@simulator.amazonses.com"}
    ]


def test_suppression_list_address_bounces_on_account_suppression_list(
    ses: Any, events_queue: Any
) -> None:
    send_template(ses, "suppressionlist@simulator.amazonses.com")

    events = received_events(events_queue, 2)
    assert events[1]["bounce"]["bounceType"] == "Permanent"
    assert events[1]["bounce"]["bounceSubType"] == "OnAccountSuppressionList"


def test_ooto_address_is_delivered(ses: Any, events_queue: Any) -> None:
    send_template(ses, "ooto@simulator.amazonses.com")

    events = received_events(events_queue, 2)
    assert [event["eventType"] for event in events] == ["Send", "Delivery"]


def test_missing_template_data_is_accepted_then_fails_to_render(
    ses: Any, events_queue: Any, simulator: SesSimulator
) -> None:
    message_id = send_template(ses, "success@simulator.amazonses.com", data={"name": "Ada"})

    (failure,) = received_events(events_queue, 1)
    assert failure["eventType"] == "Rendering Failure"
    assert failure["mail"]["messageId"] == message_id
    assert failure["mail"]["tags"]["mailroom_id"] == ["msg-123"]
    assert failure["failure"] == {
        "errorMessage": "Attribute 'url' is not present in the rendering data.",
        "templateName": f"{PREFIX}hello",
    }
    assert not (simulator.outbox_dir / f"{message_id}.eml").exists()


def test_simple_content_is_sent_too(ses: Any, simulator: SesSimulator) -> None:
    message_id = ses.send_email(
        FromEmailAddress=SENDER,
        Destination={"ToAddresses": ["ada@example.org"]},
        Content={"Simple": {
            "Subject": {"Data": "Plain hello"},
            "Body": {"Text": {"Data": "Just text"}, "Html": {"Data": "<p>Just html</p>"}},
        }},
    )["MessageId"]

    eml = (simulator.outbox_dir / f"{message_id}.eml").read_text()
    assert "Subject: Plain hello" in eml
    assert "Just text" in eml


def test_unknown_template_is_not_found(ses: Any) -> None:
    with pytest.raises(ClientError) as error:
        ses.send_email(
            FromEmailAddress=SENDER,
            Destination={"ToAddresses": ["ada@example.org"]},
            Content={"Template": {"TemplateName": "test-nope", "TemplateData": "{}"}},
        )

    assert error.value.response["Error"]["Code"] == "NotFoundException"


def test_sending_faster_than_the_max_send_rate_is_throttled(
    ses: Any, simulator: SesSimulator
) -> None:
    simulator.limits.max_send_rate = 2
    send_template(ses, "success@simulator.amazonses.com")
    send_template(ses, "success@simulator.amazonses.com")

    with pytest.raises(ClientError) as error:
        send_template(ses, "success@simulator.amazonses.com")

    assert error.value.response["Error"]["Code"] == "TooManyRequestsException"
    assert error.value.response["ResponseMetadata"]["HTTPStatusCode"] == 429
    assert error.value.response["Error"]["Message"] == "Maximum sending rate exceeded."


@pytest.mark.parametrize(
    ("fault", "code", "status"),
    [
        ("throttle", "TooManyRequestsException", 429),
        ("server_error", "InternalFailure", 500),
        ("reject", "MessageRejected", 400),
    ],
)
def test_injected_faults_fail_the_next_sends_with_ses_errors(
    ses: Any, simulator: SesSimulator, fault: str, code: str, status: int
) -> None:
    control(simulator, "POST", "/_simulator/faults", {fault: 2})

    for _ in range(2):
        with pytest.raises(ClientError) as error:
            send_template(ses, "success@simulator.amazonses.com")
        assert error.value.response["Error"]["Code"] == code
        assert error.value.response["ResponseMetadata"]["HTTPStatusCode"] == status

    assert send_template(ses, "success@simulator.amazonses.com")


def test_injected_faults_can_be_listed_and_cleared(simulator: SesSimulator) -> None:
    control(simulator, "POST", "/_simulator/faults", {"throttle": 3})

    assert control(simulator, "GET", "/_simulator/faults")["faults"]["throttle"] == 3
    assert control(simulator, "DELETE", "/_simulator/faults")["faults"]["throttle"] == 0


def test_fault_rates_fail_about_that_share_of_sends_until_cleared(
    ses: Any, simulator: SesSimulator
) -> None:
    simulator.limits.max_send_rate = 1_000
    control(simulator, "POST", "/_simulator/faults",
            {"rates": {"throttle": 0.3, "server_error": 0.2}})
    codes: list[str] = []
    for _ in range(100):
        try:
            send_template(ses, "success@simulator.amazonses.com")
            codes.append("ok")
        except ClientError as error:
            codes.append(error.response["Error"]["Code"])

    # Binomial(100, p): well within four standard deviations of the mean.
    assert 12 <= codes.count("TooManyRequestsException") <= 48
    assert 4 <= codes.count("InternalFailure") <= 36
    assert codes.count("ok") == 100 - codes.count("TooManyRequestsException") - codes.count(
        "InternalFailure")
    cleared = control(simulator, "DELETE", "/_simulator/faults")
    assert set(cleared["rates"].values()) == {0.0}
    assert all(send_template(ses, "success@simulator.amazonses.com") for _ in range(10))


def test_the_account_can_be_paused(ses: Any, simulator: SesSimulator) -> None:
    control(simulator, "PUT", "/_simulator/account", {"sending_enabled": False})

    with pytest.raises(ClientError) as error:
        send_template(ses, "success@simulator.amazonses.com")

    assert error.value.response["Error"]["Code"] == "SendingPausedException"


def test_sends_are_listed_for_inspection(ses: Any, simulator: SesSimulator) -> None:
    message_id = send_template(ses, "bounce@simulator.amazonses.com")

    (listed,) = control(simulator, "GET", "/_simulator/messages")["messages"]
    assert listed["message_id"] == message_id
    assert listed["events"] == ["Send", "Bounce"]
    assert listed["template"] == f"{PREFIX}hello"


# --- the reads `mailroom doctor` makes ---------------------------------------------------------


def test_the_configuration_set_and_its_event_destination_are_described(
        ses: Any, events_queue: Any) -> None:
    from mailroom.ses_events import SUBSCRIBED_KINDS

    topic_arn, _, _ = events_queue
    assert ses.get_configuration_set(ConfigurationSetName=CONFIG_SET)[
        "SendingOptions"]["SendingEnabled"] is True
    [destination] = ses.get_configuration_set_event_destinations(
        ConfigurationSetName=CONFIG_SET)["EventDestinations"]
    assert destination["Enabled"] is True
    assert destination["SnsDestination"]["TopicArn"] == topic_arn
    assert set(destination["MatchingEventTypes"]) == {kind.name for kind in SUBSCRIBED_KINDS}
    with pytest.raises(ClientError) as caught:
        ses.get_configuration_set(ConfigurationSetName="other")
    assert caught.value.response["Error"]["Code"] == "NotFoundException"


def test_stored_templates_are_listed_and_read_back_as_compiled(ses: Any) -> None:
    hello = CATALOG.get("hello")
    assert [t["TemplateName"] for t in ses.list_email_templates()["TemplatesMetadata"]] == [
        "test-hello"]
    assert ses.get_email_template(TemplateName="test-hello")["TemplateContent"] == {
        "Subject": hello.subject, "Html": hello.html, "Text": hello.text}
    with pytest.raises(ClientError) as caught:
        ses.get_email_template(TemplateName="test-nope")
    assert caught.value.response["Error"]["Code"] == "NotFoundException"
