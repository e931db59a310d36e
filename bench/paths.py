"""What one email costs in AWS requests and DynamoDB units, on each path (accept, send,
events), single sends and 100-email batches, then the infra cost per 1000 emails.

The real handlers and adapters run in-process on moto, and the sender sends through the
local SES simulator, whose SES events then feed the events function, so every path is the
deployed one. Requests are counted with botocore event hooks on every client the handlers
create; DynamoDB units come from item sizes (an item over 1 KB costs more than one write
unit, and an index that projects ALL writes its copy too), not from the number of calls."""

from __future__ import annotations

import contextlib
import io
import json
import math
import os
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import botocore.session

from mailroom import shape

from . import prices

SINGLES = 10
BATCH = 100
SENDER_BATCH = shape.SENDER.event_source.batch_size if shape.SENDER.event_source else 10
EVENTS_BATCH = shape.EVENTS.event_source.batch_size if shape.EVENTS.event_source else 10
WRITES = {"PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems"}
# X-Ray's default sampling rule: the first request each second, then 5%. At volume, 5%.
XRAY_SAMPLED = 0.05
KILOBYTE = 1024


def item_size(item: dict[str, Any]) -> int:
    """DynamoDB's item size: attribute names plus values, as it bills them."""
    return sum(len(name.encode()) + _value_size(value) for name, value in item.items())


def _value_size(value: dict[str, Any]) -> int:
    [(kind, data)] = value.items()
    if kind == "S":
        return len(data.encode())
    if kind == "N":
        return math.ceil(len(data.strip("-").replace(".", "").lstrip("0") or "0") / 2) + 1
    if kind == "B":
        return len(data)
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "L":
        return 3 + sum(1 + _value_size(element) for element in data)
    if kind == "M":
        return 3 + sum(1 + len(name.encode()) + _value_size(element)
                       for name, element in data.items())
    return sum(len(str(element).encode()) for element in data)  # SS, NS, BS


@dataclass
class Tally:
    calls: Counter[str] = field(default_factory=Counter)
    write_units: float = 0.0
    read_units: float = 0.0
    seconds: float = 0.0  # handler time (Lambda duration), in CPU seconds
    invocations: int = 0
    log_bytes: int = 0
    published: int = 0  # SNS messages: PublishBatch bills each one it carries

    def minus(self, other: Tally) -> Tally:
        return Tally(self.calls - other.calls, self.write_units - other.write_units,
                     self.read_units - other.read_units, self.seconds - other.seconds,
                     self.invocations - other.invocations, self.log_bytes - other.log_bytes,
                     self.published - other.published)

    def copy(self) -> Tally:
        return self.minus(Tally())

    @property
    def requests(self) -> int:
        return sum(self.calls.values())

    def count(self, prefix: str) -> int:
        return sum(n for call, n in self.calls.items() if call.startswith(prefix))


class Meter:
    """Counts each AWS request the handlers make, and the DynamoDB units it uses."""

    def __init__(self, side_dynamodb: Any) -> None:
        self.tally = Tally()
        self._side = side_dynamodb  # reads item sizes; not counted
        self._indexes = {table.name: table.indexes for table in shape.TABLES}

    def install(self) -> None:
        create_client = botocore.session.Session.create_client
        meter = self

        def create_counted_client(session: Any, service_name: str, *args: Any,
                                  **kwargs: Any) -> Any:
            client = create_client(session, service_name, *args, **kwargs)
            client.meta.events.register("before-parameter-build", meter._remember)
            client.meta.events.register("after-call", meter._count)
            return client

        botocore.session.Session.create_client = create_counted_client  # type: ignore[method-assign]

    def _remember(self, params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        context["bench_params"] = dict(params)

    def _count(self, model: Any, parsed: dict[str, Any], context: dict[str, Any],
               **_: Any) -> None:
        service = model.service_model.service_name
        self.tally.calls[f"{service}.{model.name}"] += 1
        params = context.get("bench_params", {})
        if service == "dynamodb":
            self._units(model.name, params, parsed)
        elif service == "sns":
            self.tally.published += len(params.get("PublishBatchRequestEntries") or [1])

    def _units(self, operation: str, params: dict[str, Any], parsed: dict[str, Any]) -> None:
        table = params.get("TableName", "")
        if operation == "PutItem":
            self._write(table, params["Item"])
        elif operation in ("UpdateItem", "DeleteItem"):
            item = self._side.get_item(TableName=table, Key=params["Key"],
                                       ConsistentRead=True).get("Item") or params["Key"]
            self._write(table, item, params.get("UpdateExpression"))
        elif operation == "BatchWriteItem":
            for name, requests in params["RequestItems"].items():
                for request in requests:
                    put = request.get("PutRequest", {}).get("Item")
                    self._write(name, put or request["DeleteRequest"]["Key"])
        elif operation == "GetItem":
            self._read(parsed.get("Item") or {}, params.get("ConsistentRead", False))
        elif operation == "BatchGetItem":
            # Every key asked for is read, found or not; a found item may cost more.
            for name, request in params["RequestItems"].items():
                found = parsed.get("Responses", {}).get(name, [])
                for item in found + [{}] * (len(request["Keys"]) - len(found)):
                    self._read(item, request.get("ConsistentRead", False))
        elif operation in ("Query", "Scan"):
            size = sum(item_size(item) for item in parsed.get("Items", []))
            units = max(1, math.ceil(size / (4 * KILOBYTE)))
            self.tally.read_units += units if params.get("ConsistentRead") else units / 2

    def _write(self, table: str, item: dict[str, Any], update: str | None = None) -> None:
        """The item's units, plus each index's copy: an ALL index rewrites the whole item
        on any change; a KEYS_ONLY one only when the write touches its keys."""
        units = max(1, math.ceil(item_size(item) / KILOBYTE))
        self.tally.write_units += units
        for index in self._indexes.get(table, ()):
            if not all(key in item for key in index.keys):
                continue  # sparse: the item is not in the index
            if index.projection is shape.Projection.ALL:
                self.tally.write_units += units
            elif update is None or any(key in update for key in index.keys):
                self.tally.write_units += 1

    def _read(self, item: dict[str, Any], consistent: bool) -> None:
        units = max(1, math.ceil(item_size(item) / (4 * KILOBYTE)))
        self.tally.read_units += units if consistent else units / 2


@contextlib.contextmanager
def local_aws(metrics: bool = False) -> Iterator[dict[str, Any]]:
    """moto in-process, the stack's resources, the SES simulator, and the handlers' env."""
    from moto import mock_aws

    from mailroom.settings import EventsSettings
    from mailroom.templates import TemplateCatalog
    from mailroom_dev.local import resources as names
    from mailroom_dev.local.resources import create_resources
    from mailroom_dev.local.ses_simulator import SesSimulator
    from mailroom_dev.local.stack import settings_environment

    saved = dict(os.environ)
    os.environ.update({"AWS_DEFAULT_REGION": "us-east-1", "AWS_REGION": "us-east-1",
                       "AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench"})
    for name in ("AWS_ENDPOINT_URL", "AWS_PROFILE"):
        os.environ.pop(name, None)
    with mock_aws(), tempfile.TemporaryDirectory() as outbox:
        side = {service: boto3.client(service) for service in ("dynamodb", "sqs", "sns")}
        resources = create_resources(side["dynamodb"], side["sqs"], side["sns"])
        simulator = SesSimulator(
            sns=side["sns"], ses_events_topic_arn=resources.ses_events_topic_arn,
            configuration_set=names.CONFIGURATION_SET, outbox_dir=Path(outbox),
            catalog=TemplateCatalog.load(), template_prefix=names.TEMPLATE_PREFIX,
            max_send_rate=100_000, event_delay=0.0)
        simulator.start()
        os.environ.update(settings_environment(resources))
        # As deployed, not as the local stack (which checks after every batch to be watchable).
        os.environ["MAILROOM_REPUTATION_CHECK_SECONDS"] = str(
            EventsSettings.model_fields["reputation_check_seconds"].default)
        os.environ.update({"AWS_ENDPOINT_URL_SESV2": simulator.url,
                           "MAILROOM_MAX_SEND_RATE": "100000",
                           "POWERTOOLS_METRICS_NAMESPACE": shape.METRICS_NAMESPACE,
                           "POWERTOOLS_METRICS_DISABLED": str(not metrics).lower(),
                           "POWERTOOLS_LOG_LEVEL": shape.LOG_LEVEL})
        try:
            yield {"side": side, "resources": resources, "simulator": simulator}
        finally:
            simulator.stop()
            os.environ.clear()
            os.environ.update(saved)


def drain(simulator: Any) -> None:
    """Wait until the simulator has published every SES event it owes."""
    deadline = time.monotonic() + 30
    while simulator.dispatcher.pending() and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.2)  # the last publish under way


def _fresh_handlers() -> dict[str, Any]:
    import importlib

    from handlers import api, events, sender
    from mailroom import settings

    api_dependencies = importlib.import_module("handlers.api.dependencies")

    for cached in (settings.api_settings, settings.sender_settings, settings.events_settings,
                   api.dependencies, sender.dependencies, events.dependencies):
        cached.cache_clear()
    return {"api": api, "sender": sender, "events": events,
            "loggers": [api_dependencies.logger, sender.logger, events.logger]}


def _invoke(meter: Meter, handlers: dict[str, Any], module: Any, event: dict[str, Any]) -> Any:
    from tests.integration.lambda_events import LambdaContext

    logs = io.StringIO()
    for logger in handlers["loggers"]:
        logger.registered_handler.setStream(logs)
    # CPU seconds of this process, not wall time: on a shared machine wall time counts other
    # people's work too. They include moto's and the simulator's, so still an upper bound.
    started = time.process_time()
    with contextlib.redirect_stdout(logs):  # EMF metrics are printed
        response = module.handler(event, LambdaContext())
    meter.tally.seconds += time.process_time() - started
    meter.tally.invocations += 1
    meter.tally.log_bytes += len(logs.getvalue().encode())
    return response


def _receive(sqs: Any, url: str, count: int) -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = []
    deadline = time.monotonic() + 10
    while len(messages) < count and time.monotonic() < deadline:
        messages += sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=min(10, count -
                                        len(messages)), AttributeNames=["All"],
                                        WaitTimeSeconds=0).get("Messages", [])
    return messages


def _run_queue(meter: Meter, handlers: dict[str, Any], module: Any, sqs: Any, url: str,
               arn: str, records: int, batch_size: int) -> int:
    """Feed `records` queue messages to the function `batch_size` at a time, as its event
    source mapping would (its own receive and delete are not our code's requests)."""
    from tests.integration.lambda_events import sqs_event

    done = 0
    while done < records:
        batch = _receive(sqs, url, min(batch_size, records - done))
        if not batch:
            break
        response = _invoke(meter, handlers, module, sqs_event(batch, arn))
        assert not (response or {}).get("batchItemFailures"), response
        sqs.delete_message_batch(QueueUrl=url, Entries=[
            {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(batch)])
        done += len(batch)
    return done


def measure() -> tuple[list[dict[str, Any]], dict[str, Any]]:
    from tests.integration.lambda_events import api_event

    email = {"template": "welcome", "data": {"name": "Ada",
                                             "action_url": "https://app.example.com/start"}}
    with local_aws(metrics=True) as aws:  # their bytes are log bytes too
        side, resources = aws["side"], aws["resources"]
        meter = Meter(side["dynamodb"])
        meter.install()
        handlers = _fresh_handlers()
        _invoke(meter, handlers, handlers["api"], api_event("GET", "/v1/health"))
        phases: dict[str, Tally] = {}

        def phase(name: str, run: Any) -> None:
            before = meter.tally.copy()
            run()
            phases[name] = meter.tally.minus(before)

        phase("accept_single", lambda: [
            _invoke(meter, handlers, handlers["api"], api_event(
                "POST", "/v1/emails", {**email, "to": f"single{i}@example.com"}))
            for i in range(SINGLES)])
        phase("accept_idempotent", lambda: [
            _invoke(meter, handlers, handlers["api"], api_event(
                "POST", "/v1/emails", {**email, "to": f"keyed{i}@example.com"},
                headers={"Idempotency-Key": f"bench-{i}"}))
            for i in range(SINGLES)])
        phase("accept_batch", lambda: _invoke(meter, handlers, handlers["api"], api_event(
            "POST", "/v1/emails/batch",
            {"emails": [{**email, "to": f"batch{i}@example.com"} for i in range(BATCH)]})))
        send, events = resources.send_queue, resources.events_queue
        singles = 2 * SINGLES
        phase("send_single", lambda: _run_queue(meter, handlers, handlers["sender"],
                                                side["sqs"], send.url, send.arn, singles, 1))
        phase("send_batch", lambda: _run_queue(meter, handlers, handlers["sender"],
                                               side["sqs"], send.url, send.arn, BATCH,
                                               SENDER_BATCH))
        drain(aws["simulator"])
        records = 2 * (singles + BATCH)
        phase("events_single", lambda: _run_queue(meter, handlers, handlers["events"],
                                                  side["sqs"], events.url, events.arn,
                                                  2 * singles, 1))
        phase("events_batch", lambda: _run_queue(meter, handlers, handlers["events"],
                                                 side["sqs"], events.url, events.arn,
                                                 records - 2 * singles, EVENTS_BATCH))
        assert len(aws["simulator"].sends) == singles + BATCH

    per = {
        "accept_single": _per(phases["accept_single"], SINGLES),
        "accept_idempotent": _per(phases["accept_idempotent"], SINGLES),
        "accept_batch": _per(phases["accept_batch"], BATCH),
        "send_single": _per(phases["send_single"], singles),
        "send_batch": _per(phases["send_batch"], BATCH),
        # Each email brings two SES events here (Send, Delivery).
        "events_single": _per(phases["events_single"], singles),
        "events_batch": _per(phases["events_batch"], BATCH),
    }
    single = [per["accept_single"], per["send_single"], per["events_single"]]
    batch = [per["accept_batch"], per["send_batch"], per["events_batch"]]
    cost_single, lines_single = cost_per_1000(single, api_requests=1.0, sender_batch=1,
                                              events_batch=1)
    cost_batch, lines_batch = cost_per_1000(batch, api_requests=1 / BATCH,
                                            sender_batch=SENDER_BATCH, events_batch=EVENTS_BATCH)
    events_record = per["events_batch"]
    results = [
        {"name": "aws_requests_per_email_single",
         "value": round(sum(p["requests"] for p in single), 2), "unit": "requests",
         "baseline": "accept " + " + send ".join(f"{p['requests']:.2f}" for p in single[:2])
                     + f" + events {single[2]['requests']:.2f}",
         "target": None, "detail": _calls(single)},
        {"name": "aws_requests_per_email_batch",
         "value": round(sum(p["requests"] for p in batch), 2), "unit": "requests",
         "baseline": "accept " + " + send ".join(f"{p['requests']:.2f}" for p in batch[:2])
                     + f" + events {batch[2]['requests']:.2f}",
         "target": None, "detail": _calls(batch)},
        {"name": "infra_cost_usd_per_1000_single", "value": round(cost_single, 5),
         "unit": "USD", "baseline": f"SES itself: ${prices.SES_EMAIL * 1000:.2f}",
         "target": None, "detail": lines_single},
        {"name": "infra_cost_usd_per_1000_batch", "value": round(cost_batch, 5), "unit": "USD",
         "baseline": f"SES itself: ${prices.SES_EMAIL * 1000:.2f}", "target": "<= 0.01",
         "detail": lines_batch},
        {"name": "dynamodb_write_units_per_email",
         "value": round(sum(p["write_units"] for p in batch), 2), "unit": "WCU",
         "baseline": f"{sum(p['dynamodb_writes'] for p in batch):.2f} write calls",
         "target": None,
         "detail": {path: round(p["write_units"], 2)
                    for path, p in zip(("accept", "send", "events"), batch, strict=True)}},
        {"name": "dynamodb_writes_per_event",
         "value": round(events_record["dynamodb_writes"] / 2, 2), "unit": "writes",
         "baseline": f"batches of one: {per['events_single']['dynamodb_writes'] / 2:.2f}",
         "target": None,
         "detail": f"batches of {EVENTS_BATCH} SES events (Send, Delivery) against batches "
                   "of one; a batch's counts are written together"},
    ]
    extras = {"per_path": per,
              "accept_calls_with_idempotency_key": per["accept_idempotent"]["requests"]}
    results.append({
        "name": "aws_requests_idempotent_accept",
        "value": per["accept_idempotent"]["requests"], "unit": "requests",
        "baseline": f"without a key: {per['accept_single']['requests']:.2f}", "target": "<= 3",
        "detail": per["accept_idempotent"]["calls"]})
    return results, extras


def _per(tally: Tally, emails: int) -> dict[str, Any]:
    return {
        "requests": tally.requests / emails,
        "calls": {call: round(n / emails, 3) for call, n in sorted(tally.calls.items())},
        "write_units": tally.write_units / emails,
        "read_units": tally.read_units / emails,
        "dynamodb_writes": sum(n for call, n in tally.calls.items()
                               if call.split(".")[1] in WRITES and call.startswith("dynamodb"))
                           / emails,
        "sqs": tally.count("sqs.") / emails,
        "sns_publishes": tally.published / emails,
        "seconds": tally.seconds / emails,
        "invocations": tally.invocations / emails,
        "log_bytes": tally.log_bytes / emails,
    }


def _calls(paths: list[dict[str, Any]]) -> dict[str, float]:
    total: Counter[str] = Counter()
    for path in paths:
        total.update(path["calls"])
    return {call: round(n, 3) for call, n in sorted(total.items())}


def cost_per_1000(paths: list[dict[str, Any]], *, api_requests: float, sender_batch: int,
                  events_batch: int) -> tuple[float, dict[str, float]]:
    """Infra dollars per 1000 emails from the measured figures and the unit prices."""
    gb = shape.MEMORY_MB / 1024
    invocations = api_requests + 1 / sender_batch + 2 / events_batch
    # The event source mappings' own SQS requests: a receive and a delete per batch.
    mapping_sqs = 2 * (1 / sender_batch + 2 / events_batch)
    lines = {
        "api_gateway": api_requests * prices.API_GATEWAY_REST_REQUEST,
        "lambda_requests": invocations * prices.LAMBDA_REQUEST,
        "lambda_gb_seconds": sum(p["seconds"] for p in paths) * gb
                             * prices.LAMBDA_ARM64_GB_SECOND,
        "sqs": (sum(p["sqs"] for p in paths) + mapping_sqs) * prices.SQS_REQUEST,
        # Ours, plus SES publishing its two events to the ses-events topic.
        "sns": (sum(p["sns_publishes"] for p in paths) + 2) * prices.SNS_PUBLISH,
        "dynamodb": sum(p["write_units"] for p in paths) * prices.DYNAMODB_WRITE_UNIT
                    + sum(p["read_units"] for p in paths) * prices.DYNAMODB_READ_UNIT,
        "cloudwatch_logs": sum(p["log_bytes"] for p in paths) / 1024 ** 3
                           * prices.CLOUDWATCH_LOGS_GB,
        "xray": invocations * XRAY_SAMPLED * prices.XRAY_TRACE,
        # SNS reuses its data key for 5 minutes and the queues use SQS-managed keys: KMS
        # requests do not grow with mail.
        "kms": 0.0,
    }
    lines = {name: value * 1000 for name, value in lines.items()}
    return sum(lines.values()), {name: round(value, 6) for name, value in lines.items()}


if __name__ == "__main__":
    print(json.dumps(measure(), indent=1, default=str))
