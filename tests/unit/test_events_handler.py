"""The events handler: every envelope in events/, partial batch failures and the poison record,
with the in-memory fakes handed to it as its dependencies."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from handlers import events as events_handler
from mailroom.models import Message, Status
from mailroom.outcomes import SuppressionPolicy
from mailroom.ses_events import parse_ses_notification
from tests.fakes import (
    FakeDeadLetters,
    FakeMessageStore,
    FakePublisher,
    FakeSuppressionStore,
)

ROOT = Path(__file__).resolve().parents[2]
EVENTS = ROOT / "events"
CREATED = datetime(2026, 11, 22, 9, 0, tzinfo=UTC)


@dataclass
class LambdaContext:
    function_name: str = "mailroom-events"
    function_version: str = "$LATEST"
    memory_limit_in_mb: int = 256
    invoked_function_arn: str = "arn:aws:lambda:eu-west-1:123456789012:function:mailroom-events"
    aws_request_id: str = "5f1a7c3e-0000-4000-8000-000000000001"

    def get_remaining_time_in_millis(self) -> int:
        return 30_000


def lambda_event(name: str) -> dict[str, Any]:
    return json.loads((EVENTS / name).read_text())


class Fakes:
    def __init__(self) -> None:
        self.messages = FakeMessageStore()
        self.suppressions = FakeSuppressionStore()
        self.publisher = FakePublisher()
        self.dead_letters = FakeDeadLetters()

    def dependencies(self) -> events_handler.Dependencies:
        return events_handler.Dependencies(
            messages=self.messages,
            suppressions=self.suppressions,
            publisher=self.publisher,
            policy=SuppressionPolicy(),
            dead_letters=self.dead_letters,
        )

    def seed_messages_for_every_sample(self) -> None:
        """Create the message each tagged sample is about, as the sender left it."""
        for path in sorted((EVENTS / "ses").glob("*.json")):
            for event in parse_ses_notification(json.loads(path.read_text())):
                if event.mailroom_id and self.messages.get(event.mailroom_id) is None:
                    self.messages.create(Message(
                        id=event.mailroom_id, status=Status.QUEUED, to=event.recipient,
                        from_address="noreply@mail.example.com", template="welcome",
                        created_at=CREATED, updated_at=CREATED,
                    ))


@pytest.fixture
def fakes() -> Fakes:
    fakes = Fakes()
    fakes.seed_messages_for_every_sample()
    return fakes


@pytest.fixture
def invoke(fakes: Fakes) -> Any:
    def invoke(event: dict[str, Any]) -> Any:
        return events_handler.handler(event, LambdaContext(), deps=fakes.dependencies())
    return invoke


SQS_SNS_FILES = sorted(path.name for path in EVENTS.glob("sqs-sns-*.json"))
SQS_RAW_FILES = sorted(path.name for path in EVENTS.glob("sqs-raw-*.json"))
SNS_FILES = sorted(path.name for path in EVENTS.glob("sns-*.json"))


def test_there_is_an_envelope_of_each_kind_for_every_sample() -> None:
    # Given the raw SES samples, Then each has all three envelopes: SNS → SQS without and
    # with raw message delivery, and SNS → Lambda
    samples = {path.stem for path in (EVENTS / "ses").glob("*.json")}
    assert {name[len("sqs-sns-"):-5] for name in SQS_SNS_FILES} == samples
    assert {name[len("sqs-raw-"):-5] for name in SQS_RAW_FILES} == samples
    assert {name[len("sns-"):-5] for name in SNS_FILES} == samples


def test_the_envelopes_are_what_generate_py_writes() -> None:
    # Given events/generate.py, When it would run, Then the committed files are its output
    sys.path.insert(0, str(EVENTS))
    try:
        import generate  # type: ignore[import-not-found]
    finally:
        sys.path.remove(str(EVENTS))
    for name, event in generate.all_events().items():
        assert lambda_event(name) == event, f"{name} is stale: run python events/generate.py"


@pytest.mark.parametrize("name", SQS_SNS_FILES + SQS_RAW_FILES)
def test_every_sqs_sample_is_applied_without_failures(fakes: Fakes, invoke: Any, name: str) -> None:
    # Given an SQS batch from events/, When the handler runs
    response = invoke(lambda_event(name))

    # Then no record failed
    assert response == {"batchItemFailures": []}


@pytest.mark.parametrize("name", SNS_FILES)
def test_every_sns_sample_is_applied(fakes: Fakes, invoke: Any, name: str) -> None:
    # Given an SNS → Lambda invocation from events/, When the handler runs, Then it succeeds
    assert invoke(lambda_event(name)) is None


@pytest.mark.parametrize(
    "name",
    ["sqs-sns-bounce-permanent-general.json", "sqs-raw-bounce-permanent-general.json",
     "sns-bounce-permanent-general.json"],
)
def test_a_bounce_in_any_envelope_bounces_suppresses_and_notifies(fakes: Fakes, invoke: Any,
                                                                   name: str) -> None:
    # Given the message the sample bounce is about, When the bounce arrives in this envelope
    invoke(lambda_event(name))

    # Then the message is bounced, the address suppressed and the app told
    message = fakes.messages.get("a7c1e2f0-3b4d-4c5e-8f60-718293040101")
    assert message is not None and message.status is Status.BOUNCED
    assert fakes.suppressions.get("bounce@simulator.amazonses.com", datetime.now(UTC))
    assert [n.type for n in fakes.publisher.published] == ["email.bounced", "email.suppressed"]


def test_a_redelivered_batch_changes_nothing_more(fakes: Fakes, invoke: Any) -> None:
    # Given a bounce already applied
    event = lambda_event("sqs-sns-bounce-permanent-general.json")
    invoke(event)

    # When SQS delivers it again
    invoke(event)

    # Then it was recorded and published once
    message = fakes.messages.get("a7c1e2f0-3b4d-4c5e-8f60-718293040101")
    assert message is not None and len(message.events) == 1
    assert len(fakes.publisher.published) == 2


def test_a_poison_record_fails_alone(fakes: Fakes, invoke: Any,
                                     caplog: pytest.LogCaptureFixture) -> None:
    # Given a batch of a good delivery and a malformed record
    event = lambda_event("sqs-batch-poison.json")
    _good, poison = event["Records"]

    # When the handler runs
    response = invoke(event)

    # Then the good one is applied, and the malformed one, which no retry could apply, is
    # dead-lettered at once with its reason rather than retried
    assert response == {"batchItemFailures": []}
    delivered = fakes.messages.get("a7c1e2f0-3b4d-4c5e-8f60-718293040001")
    assert delivered is not None and delivered.status is Status.DELIVERED
    [(body, reason, detail)] = fakes.dead_letters.letters
    assert (body, reason) == (poison["body"], "malformed")
    assert "SNS Message is not JSON" in detail
    # And the reason is logged
    [error] = [record for record in caplog.records
               if record.levelname == "ERROR" and record.name == "mailroom-events"]
    assert "SNS Message is not JSON" in error.reason
    assert error.record_id == poison["messageId"]


def test_a_malformed_record_the_dlq_refuses_is_retried(fakes: Fakes, invoke: Any) -> None:
    # Given a dead-letter queue that cannot be written to
    class Unreachable(FakeDeadLetters):
        def put(self, body: str, reason: str, detail: str) -> None:
            raise ConnectionError("SQS unavailable")

    fakes.dead_letters = Unreachable()
    event = lambda_event("sqs-batch-poison.json")

    # When the handler runs, Then the record fails, so SQS retries and dead-letters it
    response = invoke(event)

    assert response == {"batchItemFailures": [{"itemIdentifier": event["Records"][1][
        "messageId"]}]}


def test_a_failing_dependency_fails_only_its_record(fakes: Fakes, invoke: Any) -> None:
    # Given a topic that refuses the first publish, and a batch of two bounces
    class FlakyPublisher(FakePublisher):
        calls = 0

        def publish(self, notifications):
            self.calls += 1
            if self.calls == 1:
                raise ConnectionError("SNS unavailable")
            super().publish(notifications)

    fakes.publisher = FlakyPublisher()
    first = lambda_event("sqs-sns-bounce-permanent-general.json")["Records"][0]
    second = lambda_event("sqs-sns-complaint-abuse.json")["Records"][0]

    # When the handler runs
    response = invoke({"Records": [first, second]})

    # Then the first is retried later and the second is applied
    assert response == {"batchItemFailures": [{"itemIdentifier": first["messageId"]}]}
    assert [n.type for n in fakes.publisher.published] == ["email.complained",
                                                            "email.suppressed"]


def test_a_malformed_sns_invocation_raises_so_lambda_retries(fakes: Fakes, invoke: Any) -> None:
    # Given an SNS → Lambda invocation whose message is not an SES event
    event = lambda_event("sns-delivery.json")
    event["Records"][0]["Sns"]["Message"] = '{"hello": "world"}'

    # When the handler runs, Then it raises with the reason
    with pytest.raises(Exception, match="without eventType or notificationType"):
        invoke(event)


def test_importing_the_handler_needs_no_environment() -> None:
    # Given an environment without any MAILROOM_ variable
    env = {key: value for key, value in os.environ.items() if not key.startswith("MAILROOM_")}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "functions"), str(ROOT)])

    # When the module is imported in a fresh interpreter, Then it succeeds
    result = subprocess.run(
        [sys.executable, "-c", "import handlers.events as h; assert callable(h.handler)"],
        env=env, capture_output=True, text=True, check=False, timeout=60,
    )
    assert result.returncode == 0, result.stderr


def test_a_record_of_an_unexpected_shape_is_logged_as_malformed(
        fakes: Fakes, invoke: Any, caplog: pytest.LogCaptureFixture) -> None:
    # Given a batch whose second record's SNS envelope has a list where its Type belongs
    event = lambda_event("sqs-batch-poison.json")
    record = event["Records"][1]
    record["body"] = json.dumps({"Type": ["Notification"]})

    # When the handler runs
    response = invoke(event)

    # Then the record is dead-lettered and logged as malformed
    assert response == {"batchItemFailures": []}
    assert [reason for _, reason, _ in fakes.dead_letters.letters] == ["malformed"]
    [error] = [entry for entry in caplog.records
               if entry.levelname == "ERROR" and entry.name == "mailroom-events"]
    assert error.getMessage().startswith("Malformed SES event record")
    assert "unexpected shape" in error.reason
