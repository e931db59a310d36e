"""Canary λ: on its schedule, checks the last canary message's round trip and sends the next
(mailroom.canary). A healthy trip is a latency metric; a broken one a failure metric and an
`email.canary_failed` notification naming the hop. The alarm fires on a failure or on no
data at all (the canary itself not running)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

from handlers.observability import tracer_for
from mailroom import shape
from mailroom.canary import Canary, CanaryStore, Verdict
from mailroom.models import Notification, NotificationType, utcnow
from mailroom.ports import Publisher
from mailroom.settings import CanarySettings, canary_settings
from mailroom.shape import Metric

logger = Logger(service=shape.CANARY.service)
tracer = tracer_for(shape.CANARY.service)
metrics = Metrics(namespace=shape.METRICS_NAMESPACE, service=shape.CANARY.service)


@dataclass(frozen=True)
class Dependencies:
    canary: Canary
    store: CanaryStore
    publisher: Publisher

    @classmethod
    def from_settings(cls, settings: CanarySettings) -> Dependencies:
        from mailroom.adapters.canary import DynamoCanaryStore, HttpCanaryApi
        from mailroom.adapters.sns import SnsPublisher
        from mailroom.templates import TemplateCatalog

        template = TemplateCatalog.load().get(settings.canary_template)
        return cls(canary=Canary(HttpCanaryApi(settings.api_url, settings.api_key_id),
                                 template=settings.canary_template, data=dict(template.example)),
                   store=DynamoCanaryStore(settings.control_table),
                   publisher=SnsPublisher(settings.notifications_topic_arn))


@cache
def dependencies() -> Dependencies:
    return Dependencies.from_settings(canary_settings())


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: Any,
            deps: Dependencies | None = None) -> dict[str, Any] | None:
    deps = deps or dependencies()
    verdict = deps.canary.scheduled(deps.store)
    if verdict is None:
        logger.info("first canary run: nothing to check yet")
        return None
    report(verdict, deps.publisher)
    return verdict.to_dict()


def report(verdict: Verdict, publisher: Publisher) -> None:
    metrics.add_metric(name=Metric.CANARY_SUCCEEDED, unit=MetricUnit.Count,
                       value=int(verdict.healthy))
    if verdict.healthy:
        assert verdict.latency_seconds is not None
        metrics.add_metric(name=Metric.CANARY_LATENCY, unit=MetricUnit.Seconds,
                           value=verdict.latency_seconds)
        logger.info("canary round trip healthy", **verdict.to_dict())
        return
    logger.error(f"canary round trip broken at the {verdict.hop} hop", **verdict.to_dict())
    now = utcnow()
    publisher.publish([Notification(
        id=f"canary:{verdict.message_id}:{verdict.hop}", type=NotificationType.CANARY_FAILED,
        occurred_at=now, message_id=verdict.message_id, canary=verdict.to_dict())])
