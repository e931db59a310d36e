"""Events λ: SES events → message timeline, suppression list, app notifications.

Normally invoked by the SQS events queue (SNS → SQS, so records batch, retry and dead-letter):
each record is processed on its own and only failed ones are reported back
(`batchItemFailures`), so one record never blocks its batch. A record that fails to apply is
retried and ends in the DLQ; a malformed one, which no retry could apply, goes to the DLQ at
once with its reason as a message attribute. Also accepts SNS → Lambda directly (`EventSource`
is `aws:sns`); there any failure raises, so Lambda's own retries and on-failure destination
apply.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from functools import cache, partial
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    process_partial_response,
)
from aws_lambda_powertools.utilities.data_classes import SNSEvent
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from handlers.observability import tracer_for
from mailroom import shape
from mailroom.counting import PendingCounts
from mailroom.models import Notification, NotificationType
from mailroom.outcomes import SuppressionPolicy, record_outcomes
from mailroom.pausing import GatedSwitch, gated_switch
from mailroom.ports import Counters, DeadLetters, MessageStore, Publisher, SuppressionStore
from mailroom.reputation import Guard, Level, ReputationPolicy
from mailroom.ses_events import MalformedSesEvent, SesEvent, parse_sns_message, parse_sqs_body
from mailroom.settings import EventsSettings, events_settings
from mailroom.shape import Metric
from mailroom.sweep import Sweep

logger = Logger(service=shape.EVENTS.service)
tracer = tracer_for(shape.EVENTS.service)
metrics = Metrics(namespace=shape.METRICS_NAMESPACE, service=shape.EVENTS.service)
processor = BatchProcessor(event_type=EventType.SQS)
# What apps were told, counted (a redelivered event tells nothing again, so counts once).
OUTCOME_METRICS = {
    NotificationType.DELIVERED: Metric.DELIVERED,
    NotificationType.COMPLAINED: Metric.COMPLAINED,
    NotificationType.REJECTED: Metric.REJECTED,
    NotificationType.RENDER_FAILED: Metric.RENDER_FAILED,
}


LEVEL_METRICS = {Level.WARNING: Metric.REPUTATION_WARNING, Level.PAUSED: Metric.REPUTATION_PAUSE}


def outcome_metric(notification: Notification) -> Metric | None:
    if notification.type is NotificationType.BOUNCED:
        permanent = notification.failure is not None and \
            notification.failure.bounce_type == "Permanent"
        return Metric.HARD_BOUNCED if permanent else Metric.SOFT_BOUNCED
    return OUTCOME_METRICS.get(notification.type)


@dataclass(frozen=True)
class Dependencies:
    """What the events function works with, built once per container."""

    messages: MessageStore
    suppressions: SuppressionStore
    publisher: Publisher
    policy: SuppressionPolicy
    counters: Counters | None = None  # None: nothing is counted
    guard: Guard | None = None  # None: no reputation guard
    switch: GatedSwitch | None = None  # its gates are brought in line on the schedule
    sweep: Sweep | None = None  # None: nothing is swept
    dead_letters: DeadLetters | None = None  # None: a malformed record is retried, then DLQ'd

    @classmethod
    def from_settings(cls, settings: EventsSettings) -> Dependencies:
        import boto3

        from mailroom.adapters.dynamodb import (
            DynamoCounters,
            DynamoGuardLevels,
            DynamoMessageStore,
            DynamoSendingSwitch,
            DynamoSuppressionStore,
        )
        from mailroom.adapters.sns import SnsPublisher
        from mailroom.adapters.sqs import SqsDeadLetters

        # One client per service, shared by every adapter: each client built costs init time.
        dynamodb = boto3.client("dynamodb")
        # Every batch publishes its outcomes: its client is part of init.
        publisher = SnsPublisher(settings.notifications_topic_arn, boto3.client("sns"))
        counters = DynamoCounters(settings.counters_table, dynamodb)
        switch = gated_switch(
            DynamoSendingSwitch(settings.control_table, dynamodb, cache_seconds=0), settings,
            logger)
        guard = Guard(counters=counters, switch=switch,
                      levels=DynamoGuardLevels(settings.control_table, dynamodb),
                      publisher=publisher, policy=ReputationPolicy.from_settings(settings),
                      interval=timedelta(seconds=settings.reputation_check_seconds))
        messages = DynamoMessageStore(settings.messages_table, dynamodb)
        return cls(
            messages=messages,
            suppressions=DynamoSuppressionStore(settings.suppressions_table, dynamodb),
            publisher=publisher,
            policy=SuppressionPolicy.from_settings(settings),
            counters=counters,
            guard=guard,
            switch=switch,
            sweep=Sweep(messages, publisher,
                        settled=timedelta(hours=settings.sweep_settled_hours),
                        lookback=timedelta(hours=settings.sweep_lookback_hours)),
            dead_letters=SqsDeadLetters(settings.ses_events_dlq_url),
        )


@cache
def dependencies() -> Dependencies:
    """Built at first use, so importing this module needs no environment."""
    return Dependencies.from_settings(events_settings())


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext,
            deps: Dependencies | None = None) -> Mapping[str, Any] | None:
    """Lambda's entry point; tests pass `deps` built with fakes."""
    deps = deps or dependencies()
    task = event.get(shape.SCHEDULED_TASK_KEY)
    if task == shape.REPUTATION_CHECK.task:
        _guard_reputation(deps, scheduled=True)
        _reconcile_gates(deps)
        return None
    if task == shape.SWEEP.task:
        return _sweep(deps, event)
    counts = PendingCounts(deps.counters) if deps.counters is not None else None
    if _is_sns_invocation(event):
        try:
            _handle_sns(event, deps, counts)
        finally:
            _write_counts(counts)
        _guard_reputation(deps)
        return None
    try:
        response = process_partial_response(
            event=event, record_handler=partial(_handle_sqs_record, deps=deps, counts=counts),
            processor=processor, context=context,
        )
    finally:
        _write_counts(counts)  # what the applied records counted, whatever failed after
    _guard_reputation(deps)
    return response


def _write_counts(counts: PendingCounts | None) -> None:
    """The batch's counts, once its records are applied. A failure here leaves the records
    applied (retrying them would count nothing: their timeline entries are written): those
    counts are lost, never doubled, and the failure is logged."""
    if counts is None:
        return
    try:
        counts.flush()
    except Exception:
        logger.exception("Could not write this batch's outcome counts; they are lost")


def _guard_reputation(deps: Dependencies, scheduled: bool = False) -> None:
    """After the batch's outcomes are counted, and on the schedule (a quiet hour still
    confirms or clears a level). A failure here leaves the records applied (they must not be
    retried for it): it is logged, and the next invocation checks again."""
    if deps.guard is None:
        return
    try:
        reputation = deps.guard.check() if scheduled else deps.guard.check_if_due()
    except Exception:
        logger.exception("The reputation guard could not check the rates; next batch retries")
        return
    if reputation is not None and reputation.level is not Level.OK:
        logger.warning(f"reputation {reputation.level.value}: {reputation.describe()}",
                       level=reputation.level.value)
        metrics.add_metric(name=LEVEL_METRICS[reputation.level], unit=MetricUnit.Count,
                           value=1)


def _sweep(deps: Dependencies, event: dict[str, Any]) -> dict[str, Any]:
    """The hourly sweep, or one on demand (`mailroom sweep`) with its own settled window."""
    if deps.sweep is None:
        return {"unconfirmed": []}
    settled = event.get("settled_seconds")
    marked = deps.sweep.run(None if settled is None else timedelta(seconds=float(settled)))
    if marked:
        metrics.add_metric(name=Metric.UNCONFIRMED, unit=MetricUnit.Count, value=len(marked))
        logger.warning(f"marked unconfirmed: {len(marked)} sent message(s) with no outcome",
                       message_ids=marked[:20])
    return {"unconfirmed": marked}


def _reconcile_gates(deps: Dependencies) -> None:
    """Whatever turned a gate against the switch (a deploy, a hand, a failed pause or
    resume), the schedule turns it back."""
    if deps.switch is None:
        return
    try:
        moved = deps.switch.reconcile()
        # A gauge on the schedule: the queue-age alarms read it to tell waiting from stuck.
        metrics.add_metric(name=Metric.SENDING_PAUSED, unit=MetricUnit.Count,
                           value=int(deps.switch.state().paused))
    except Exception:
        logger.exception("Could not read the sending switch to check its gates; next run "
                         "retries")
        return
    for gate in moved:
        logger.warning(f"{gate} disagreed with the sending switch: set it back", gate=gate)


def _is_sns_invocation(event: dict[str, Any]) -> bool:
    records = event.get("Records") or [{}]
    return records[0].get("EventSource") == "aws:sns"


def _handle_sns(event: dict[str, Any], deps: Dependencies,
                counts: PendingCounts | None) -> None:
    for record in SNSEvent(event).records:
        _process(
            deps,
            counts,
            record_id=record.sns.message_id,
            parse=partial(parse_sns_message, record.sns.message),
        )


def _handle_sqs_record(record: SQSRecord, deps: Dependencies,
                       counts: PendingCounts | None) -> None:
    dead_letter = (partial(deps.dead_letters.put, record.body) if deps.dead_letters
                   else None)
    _process(deps, counts, record_id=record.message_id,
             parse=lambda: parse_sqs_body(record.body), dead_letter=dead_letter)


def _process(deps: Dependencies, counts: PendingCounts | None, record_id: str,
             parse: Callable[[], list[SesEvent]],
             dead_letter: Callable[[str, str], None] | None = None) -> None:
    """One record: parse it, apply its events. A failure is logged with its reason and
    re-raised, so the record is retried (and dead-lettered), never silently dropped — but a
    malformed record goes straight to `dead_letter` with its reason, when there is one."""
    logger.set_correlation_id(record_id)
    try:
        events = parse()
    except MalformedSesEvent as error:
        metrics.add_metric(name=Metric.MALFORMED_EVENTS, unit=MetricUnit.Count, value=1)
        if dead_letter is None:
            logger.error("Malformed SES event record: it will be retried, then dead-lettered",
                         extra={"record_id": record_id, "reason": str(error)})
            raise
        # If this write fails, the record is retried and dead-lettered as any other.
        dead_letter("malformed", str(error))
        logger.error("Malformed SES event record: moved to the dead-letter queue with its "
                     "reason; nothing will ever apply it",
                     extra={"record_id": record_id, "reason": str(error)})
        return
    if not events:
        logger.info("Record carries no SES event (SNS or SES set-up message); nothing to do")
        return
    first = events[0]
    with logger.append_context_keys(
        ses_message_id=first.ses_message_id,
        ses_event_type=first.ses_event_type,
        mailroom_id=first.mailroom_id,
    ):
        try:
            published = record_outcomes(
                events,
                messages=deps.messages,
                suppressions=deps.suppressions,
                publisher=deps.publisher,
                policy=deps.policy,
                counters=counts,
            )
        except Exception:
            logger.exception("Could not apply SES event record; it will be retried")
            raise
        metrics.add_metric(name=Metric.SES_EVENTS, unit=MetricUnit.Count, value=len(events))
        for notification in published:
            if metric := outcome_metric(notification):
                metrics.add_metric(name=metric, unit=MetricUnit.Count, value=1)
        logger.info(
            # What it did, e.g. "bounce → bounced, suppressed": what apps were told.
            f"{first.kind} → " + (", ".join(notification.type.removeprefix("email.")
                                            for notification in published) or "nothing new"),
            extra={
                "recipients": len(events),
                "notifications": [notification.type for notification in published],
            },
        )
