"""Sender Lambda: SQS batches of queued emails → SES. The SES calls of one batch run
concurrently (bounded), paced under the account's send rate; transient failures come back
later through SQS visibility with exponential backoff and jitter."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta
from functools import cache, partial
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import (
    AsyncBatchProcessor,
    EventType,
    async_process_partial_response,
)
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from handlers.observability import tracer_for
from mailroom import shape
from mailroom.models import SendRequest
from mailroom.pacing import retry_delay
from mailroom.ports import Mailer
from mailroom.send import Sender, SendResult
from mailroom.sending import ConfigurationFault, MessageBusy, TransientSendError
from mailroom.settings import SenderSettings, sender_settings
from mailroom.shape import Metric

INVOCATION_MARGIN_SECONDS = 10
# The switch is read before each send, cached this long: mail that waited out a pause goes
# out within seconds of the resume.
SWITCH_CACHE_SECONDS = 2.0
logger = Logger(service=shape.SENDER.service)
tracer = tracer_for(shape.SENDER.service)
metrics = Metrics(namespace=shape.METRICS_NAMESPACE, service=shape.SENDER.service)
# Every record failing is reported like any partial failure, not raised: same effect on SQS,
# and the handler's answer stays one shape.
# A duplicate (already sent or finished) is no outcome.
RESULT_METRICS = {SendResult.SENT: Metric.SENT, SendResult.DEFERRED: Metric.DEFERRED,
                  SendResult.SUPPRESSED: Metric.SUPPRESSED, SendResult.FAILED: Metric.FAILED}
processor = AsyncBatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)


@dataclass(frozen=True)
class Dependencies:
    """What the sender function works with, built once per container."""

    sender: Sender
    sqs: Any  # to back off through a message's visibility
    queue_url: str
    # Threads, not the default executor: its size follows the CPU count, and SES calls
    # wait on the network, not the CPU.
    executor: ThreadPoolExecutor
    max_receive_count: int
    # Seconds before the next attempt, given the attempt that failed.
    retry_delay: Callable[[int], int]
    lease_seconds: int

    @classmethod
    def from_settings(cls, settings: SenderSettings, *, mailer: Mailer | None = None,
                      sqs: Any = None) -> Dependencies:
        """The AWS adapters; a test may hand in its own `mailer` or SQS client."""
        import boto3

        from mailroom.adapters.dynamodb import (
            DynamoMessageStore,
            DynamoSendingSwitch,
            DynamoSuppressionStore,
        )
        from mailroom.adapters.ses import SesMailer
        from mailroom.adapters.sns import SnsPublisher
        from mailroom.adapters.sqs import SqsSendQueue
        from mailroom.pacing import SendPacer

        ses = SesMailer(settings.configuration_set, settings.template_prefix)
        fleet_rate = settings.max_send_rate or ses.max_send_rate()
        sqs = sqs or boto3.client("sqs")
        # One client per service, shared by every adapter: each client built costs init time.
        dynamodb = boto3.client("dynamodb")
        # The fleet shares the account's rate; each instance takes its share.
        pacer = SendPacer(fleet_rate / max(1, settings.fleet_concurrency))
        sender = Sender(
            messages=DynamoMessageStore(settings.messages_table, dynamodb),
            suppressions=DynamoSuppressionStore(settings.suppressions_table, dynamodb),
            mailer=mailer or ses,
            publisher=SnsPublisher(settings.notifications_topic_arn),
            pacer=pacer,
            queue=SqsSendQueue(settings.send_queue_url, client=sqs),
            switch=DynamoSendingSwitch(settings.control_table, dynamodb,
                                       cache_seconds=SWITCH_CACHE_SECONDS),
            lease=timedelta(seconds=settings.lease_seconds),
            on_configuration_fault=report_configuration_fault,
        )
        return cls(sender=sender, sqs=sqs, queue_url=settings.send_queue_url,
                   executor=ThreadPoolExecutor(max_workers=settings.send_concurrency,
                                               thread_name_prefix="send"),
                   max_receive_count=settings.max_receive_count,
                   retry_delay=partial(retry_delay, base=settings.retry_base_seconds),
                   lease_seconds=settings.lease_seconds)


def report_configuration_fault(fault: ConfigurationFault) -> None:
    """SES refuses all mail until someone fixes the account, identity or deployment: say so
    loudly. (Requesting an automatic pause would go here.)"""
    logger.error("SES configuration fault: mail waits until it is fixed", reason=fault.reason,
                 action=fault.action, diagnostic=fault.diagnostic)
    metrics.add_metric(name=Metric.CONFIGURATION_FAULT, unit=MetricUnit.Count, value=1)


@cache
def dependencies() -> Dependencies:
    return Dependencies.from_settings(sender_settings())


def send_record(record: SQSRecord, deps: Dependencies,
                time_left: Callable[[], float] | None = None) -> SendResult:
    request = SendRequest.model_validate_json(record.body)
    attempt = int(record.attributes.approximate_receive_count or 1)
    # Per thread: the records of a batch are sent concurrently.
    logger.thread_safe_append_keys(message_id=request.id, attempt=attempt)
    try:
        result = deps.sender.send(request, time_left=time_left)
    except MessageBusy as error:
        # Not a failed attempt: look again once the other worker's claim has lapsed.
        _retry_in(deps, record, deps.lease_seconds)
        logger.info("message busy, looking again later", reason=str(error))
        raise
    except Exception as error:
        _after_failed_attempt(deps, record, request, attempt, error)
        raise
    if metric := RESULT_METRICS.get(result):
        metrics.add_metric(name=metric, unit=MetricUnit.Count, value=1)
    logger.info(result.value, result=result.value)
    return result


def _after_failed_attempt(deps: Dependencies, record: SQSRecord, request: SendRequest,
                          attempt: int, error: Exception) -> None:
    """Back off through the message's visibility; on the last attempt, record why before
    SQS moves it to the dead-letter queue — whatever failed (SES, DynamoDB, a bug)."""
    metrics.add_metric(name=Metric.RETRIED, unit=MetricUnit.Count, value=1)
    if isinstance(error, TransientSendError) and error.throttled:
        metrics.add_metric(name=Metric.THROTTLED, unit=MetricUnit.Count, value=1)
    if attempt >= deps.max_receive_count:
        metrics.add_metric(name=Metric.FAILED, unit=MetricUnit.Count, value=1)
        logger.error("giving up: the message goes to the dead-letter queue", exc_info=True)
        try:
            deps.sender.give_up(request, attempt, error)
        finally:
            _retry_in(deps, record, 0)  # visible at once, so SQS moves it to the DLQ
        return
    delay = deps.retry_delay(attempt)
    if isinstance(error, TransientSendError) and error.ambiguous:
        delay = max(delay, deps.lease_seconds)  # SES may have it: let the Send event land
    logger.warning("send attempt failed, retrying", retry_in_seconds=delay, error=str(error),
                   exc_info=not isinstance(error, TransientSendError))
    _retry_in(deps, record, delay)


def _retry_in(deps: Dependencies, record: SQSRecord, seconds: int) -> None:
    deps.sqs.change_message_visibility(
        QueueUrl=deps.queue_url, ReceiptHandle=record.receipt_handle,
        VisibilityTimeout=seconds)


async def _send_record_async(record: SQSRecord, deps: Dependencies,
                             time_left: Callable[[], float]) -> str:
    result = await asyncio.get_running_loop().run_in_executor(
        deps.executor, send_record, record, deps, time_left)
    return result.value


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: Any,
            deps: Dependencies | None = None) -> PartialItemFailureResponse:
    """Lambda's entry point; tests pass `deps` built with fakes."""
    deps = deps or dependencies()

    def time_left() -> float:
        # Never wait for a send slot past the invocation's end: keep a margin to record.
        return context.get_remaining_time_in_millis() / 1000 - INVOCATION_MARGIN_SECONDS

    return async_process_partial_response(
        event=event, record_handler=partial(_send_record_async, deps=deps, time_left=time_left),
        processor=processor, context=context,
    )
