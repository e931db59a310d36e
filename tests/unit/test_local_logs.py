"""What the local stack prints: the handlers' Powertools JSON as short lines, the api's joined
to the request line, and each function's metrics under its own service name."""

from __future__ import annotations

import importlib
import io
import json
import logging
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.metrics.exceptions import MetricUnitError

from handlers import events as events_handler
from mailroom import shape
from mailroom.outcomes import SuppressionPolicy
from mailroom_dev.local import logs
from mailroom_dev.local.logs import HandlerLines, about, describe, own_metric_set
from tests.fakes import FakeMessageStore, FakePublisher, FakeSuppressionStore

EVENTS = Path(__file__).resolve().parents[2] / "events"
MESSAGE_ID = "7f3c1a2b-0d4e-4f60-8a7b-9c0d1e2f3a4b"
TIME = r"\d\d:\d\d:\d\d "


@pytest.fixture
def printed() -> Iterator[Callable[[], list[str]]]:
    """The lines the local stack prints, as it prints them (the time cut off)."""
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(logs.LineFormatter())
    handler.addFilter(logs.JoinHeldApiLines())
    local = logging.getLogger("mailroom_dev.local")
    level, local.level = local.level, logging.INFO
    local.addHandler(handler)
    yield lambda: [re.sub(f"^{TIME}", "", line) for line in out.getvalue().splitlines()]
    local.removeHandler(handler)
    local.level = level
    logs._take_held()


def powertools_logger(function: str) -> Logger:
    """A Powertools logger like a handler's, writing where the local stack points it."""
    return Logger(service=f"test-local-logs-{function}", level="INFO",
                  logger_handler=logging.StreamHandler(HandlerLines(f"mailroom-{function}")))


# --- one Powertools record, described --------------------------------------------------------
def test_an_info_record_is_its_message_and_its_reason() -> None:
    # Given what the sender logs when another worker holds the message
    record = {"level": "INFO", "message": "message busy, looking again later",
              "service": "mailroom-sender", "message_id": MESSAGE_ID, "attempt": 2,
              "reason": "claimed until 09:12:40", "function_request_id": "abc"}

    # When it is described, Then it is the message and why, with the message's id
    assert describe(record) == (logging.INFO, MESSAGE_ID,
                                "message busy, looking again later (claimed until 09:12:40)")


def test_the_events_function_names_the_message_by_its_mailroom_id() -> None:
    record = {"level": "INFO", "message": "delivery → delivered", "mailroom_id": MESSAGE_ID,
              "ses_message_id": "0100019a", "ses_event_type": "Delivery", "recipients": 1}

    assert describe(record) == (logging.INFO, MESSAGE_ID, "delivery → delivered")


def test_a_warning_shows_every_detail_of_its_own_but_not_the_invocation() -> None:
    # Given a retried send, as the sender logs it inside a Lambda invocation
    record = {"level": "WARNING", "location": "_after_failed_attempt:141",
              "message": "send attempt failed, retrying", "timestamp": "2026-12-01 09:12:04",
              "service": "mailroom-sender", "cold_start": False,
              "function_name": "mailroom-sender", "function_request_id": "abc",
              "message_id": MESSAGE_ID, "attempt": 1, "retry_in_seconds": 2,
              "error": "TooManyRequestsException: Maximum sending rate exceeded."}

    # When it is described, Then it keeps what explains it
    level, _, text = describe(record)
    assert level == logging.WARNING
    assert text == ("send attempt failed, retrying (attempt=1; retry_in_seconds=2; "
                    "error=TooManyRequestsException: Maximum sending rate exceeded.)")


def test_an_error_keeps_its_traceback_below_the_line() -> None:
    record = {"level": "ERROR", "message": "Could not apply SES event record",
              "exception_name": "KeyError",
              "exception": "Traceback (most recent call last):\n  ...\nKeyError: 'mail'"}

    _, _, text = describe(record)

    assert text.splitlines() == ["Could not apply SES event record",
                                 "    Traceback (most recent call last):", "      ...",
                                 "    KeyError: 'mail'"]


# --- handler logs, as the stack prints them --------------------------------------------------
def test_a_handler_line_says_which_function_which_message_and_what_happened(printed) -> None:
    # Given the sender's logger pointed at the local stack's log
    logger = powertools_logger("sender")

    # When the sender logs a send
    logger.info("sent", message_id=MESSAGE_ID, result="sent")

    # Then one short line says so
    assert printed() == ["sender   7f3c1a2b…  sent"]


def test_a_warning_stays_visible_with_its_reason(printed) -> None:
    logger = powertools_logger("events")

    logger.error("Malformed SES event record: it will be retried, then dead-lettered",
                 extra={"record_id": "rec-1", "reason": "SNS Message is not JSON"})

    assert printed() == ["events   error: Malformed SES event record: it will be retried, "
                         "then dead-lettered (SNS Message is not JSON; record_id=rec-1)"]


def test_the_api_line_joins_the_request_line_the_emulator_logs_after_it(printed) -> None:
    # Given the api handler saying what it did during an invocation
    powertools_logger("api").info("queued", message_id=MESSAGE_ID)
    assert printed() == []

    # When the API Gateway emulator logs the request, in the same thread
    logging.getLogger("mailroom_dev.local").info(
        "POST /v1/emails 202 (41 ms)", extra=about(shape.API.service))

    # Then both are one line
    assert printed() == [
        "api      POST /v1/emails 202 (41 ms)  7f3c1a2b…  queued"]


def test_an_api_warning_is_printed_at_once(printed) -> None:
    powertools_logger("api").warning("request refused", code="sending_paused",
                                     reason="Sending is paused.")

    assert printed() == ["api      warning: request refused (Sending is paused.; "
                         "code=sending_paused)"]


def test_the_stack_s_other_lines_say_local_and_carry_their_traceback(printed) -> None:
    try:
        raise ConnectionError("moto went away")
    except ConnectionError:
        logging.getLogger("mailroom_dev.local").exception("stopping failed")

    first, *traceback = printed()
    assert first == "local    error: stopping failed"
    assert traceback[-1] == "ConnectionError: moto went away"


def test_a_line_starts_with_the_time_it_was_logged() -> None:
    record = logging.LogRecord("mailroom_dev.local", logging.INFO, __file__, 1, "ready", (),
                               None)
    assert re.fullmatch(f"{TIME}local    ready", logs.LineFormatter().format(record))


# --- metrics: each function's own -----------------------------------------------------------
@pytest.fixture
def handler_metrics(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Metrics]]:
    """Each handler module's Metrics, published as with --verbose; put back as found after."""
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "false")
    found = {}
    saved = []
    for spec in shape.FUNCTIONS:
        module = importlib.import_module(spec.handler.rpartition(".")[0])
        [metrics] = [value for value in vars(module).values() if isinstance(value, Metrics)]
        saved.append((metrics.provider, dict(vars(metrics.provider))))
        found[spec.name] = metrics
    yield found
    for provider, state in saved:
        vars(provider).clear()
        vars(provider).update(state)
        provider.clear_metrics()


def emf_documents(out: str) -> list[dict]:
    documents = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    return [document for document in documents if "_aws" in document]


def test_each_function_publishes_its_own_metrics_under_its_own_service(
        handler_metrics, capsys) -> None:
    # Given the three functions in one process, each with its own metric set
    for metrics in handler_metrics.values():
        own_metric_set(metrics, publish=True)

    # When each adds a metric before any of them flushes (their invocations overlap)
    for name, metrics in handler_metrics.items():
        metrics.add_metric(name=f"Test{name.title()}", unit=MetricUnit.Count, value=1)
    for metrics in handler_metrics.values():
        metrics.flush_metrics()

    # Then each metric document names its function's service and holds only its metric
    published = {document["service"]: [m["Name"] for m in
                                       document["_aws"]["CloudWatchMetrics"][0]["Metrics"]]
                 for document in emf_documents(capsys.readouterr().out)}
    assert published == {spec.service: [f"Test{spec.name.title()}"]
                         for spec in shape.FUNCTIONS}


@dataclass
class LambdaContext:
    function_name: str = "mailroom-events"
    function_version: str = "$LATEST"
    memory_limit_in_mb: int = 256
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:mailroom-events"
    aws_request_id: str = "5f1a7c3e-0000-4000-8000-000000000001"

    def get_remaining_time_in_millis(self) -> int:
        return 30_000


def test_an_invocation_publishes_only_its_function_s_metrics(handler_metrics, capsys) -> None:
    # Given the sender in the middle of a batch, its metrics not flushed yet
    for metrics in handler_metrics.values():
        own_metric_set(metrics, publish=True)
    handler_metrics["sender"].add_metric(name=shape.Metric.SENT, unit=MetricUnit.Count,
                                         value=1)

    # When the events function handles a bounce
    event = json.loads((EVENTS / "sqs-sns-bounce-permanent-general.json").read_text())
    deps = events_handler.Dependencies(
        messages=FakeMessageStore(), suppressions=FakeSuppressionStore(),
        publisher=FakePublisher(), policy=SuppressionPolicy())
    events_handler.handler(event, LambdaContext(), deps=deps)

    # Then its metric document is its own, under its own service
    [document] = emf_documents(capsys.readouterr().out)
    assert document["service"] == shape.EVENTS.service
    assert shape.Metric.SENT not in document


def test_unpublished_metrics_are_checked_then_dropped(handler_metrics, capsys,
                                                      monkeypatch) -> None:
    # Given metrics disabled, as `make dev` runs by default
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "true")
    metrics = handler_metrics["sender"]
    own_metric_set(metrics, publish=False)

    # When more data points come than Powertools keeps before printing them anyway
    for _ in range(150):
        metrics.add_metric(name="SendSent", unit=MetricUnit.Count, value=1)
    metrics.flush_metrics()

    # Then nothing is printed, and a bad metric still fails as it would in Lambda
    assert emf_documents(capsys.readouterr().out) == []
    with pytest.raises(MetricUnitError):
        metrics.add_metric(name="SendSent", unit="Parsecs", value=1)
