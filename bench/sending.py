"""The sender against the local SES simulator:

- speedup: a batch of 10 through the sender function, SES (the simulator in a process of its
  own, bench/remote_ses.py) answering after an injected latency and a send rate that does
  not bind, against the same ten sent one after another by the same Sender, in the same run;
- quota: 600 emails with the simulator enforcing a send rate R, fed to the sender function
  by the local stack's SQS poller as Lambda's event source would: the achieved rate / R and
  the messages that failed because of throttling;
- events: SES records the events function applies per second in one invocation, against a
  plain DynamoDB GetItem loop on the same moto (the floor every record's calls stand on).
"""

from __future__ import annotations

import contextlib
import functools
import json
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

from mailroom.models import SendRequest

from .paths import EVENTS_BATCH, _fresh_handlers, _receive, drain, local_aws

SES_LATENCY = 0.040
QUOTA_RATE = 20.0
QUOTA_EMAILS = 600
SPEEDUP_ROUNDS = 5  # after one round that opens the connections


def _queue_emails(handlers: dict[str, Any], count: int, prefix: str) -> list[str]:
    from tests.integration.lambda_events import LambdaContext, api_event

    ids: list[str] = []
    for start in range(0, count, 100):
        emails = [{"to": f"{prefix}{i}@example.com", "template": "welcome",
                   "data": {"name": "Ada", "action_url": "https://app.example.com/start"}}
                  for i in range(start, min(count, start + 100))]
        response = handlers["api"].handler(api_event("POST", "/v1/emails/batch",
                                                     {"emails": emails}), LambdaContext())
        ids += [r["id"] for r in json.loads(response["body"])["results"]]
    return ids


class _Visibility:
    """Stands in for the SQS client the sender backs off through: remembers the delays."""

    def __init__(self) -> None:
        self.delays: dict[str, int] = {}

    def change_message_visibility(self, *, QueueUrl: str, ReceiptHandle: str,
                                  VisibilityTimeout: int) -> None:
        self.delays[ReceiptHandle] = VisibilityTimeout


@contextlib.contextmanager
def remote_simulator(latency: float) -> Iterator[str]:
    """The SES simulator's URL, in a process of its own for as long as this lasts."""
    process = subprocess.Popen([sys.executable, "-m", "bench.remote_ses", str(latency)],
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert process.stdin is not None and process.stdout is not None
    try:
        yield process.stdout.readline().strip()
    finally:
        process.stdin.close()
        process.wait(timeout=30)


@functools.cache
def _quiet_metrics() -> None:
    """No EMF documents on the bench's output from here on: Powertools prints one at every
    100th data point even with metrics off, as the local stack also keeps it from doing.
    (The cost figures, measured before, count the EMF bytes.)"""
    import importlib

    from handlers import events, sender
    from mailroom_dev.local.logs import own_metric_set

    api = importlib.import_module("handlers.api.dependencies")  # the module, not its function
    for module in (api, sender, events):
        own_metric_set(module.metrics, publish=False)


def _sender_on_fakes(ses_url: str, rate: float | None) -> tuple[Any, Any, Any]:
    """The sender function's Dependencies with in-memory stores (tests/fakes.py) and the
    real SES adapter against the simulator, so that SES is the only thing that takes time;
    paced at `rate` (None: the account's, read with GetAccount, as deployed)."""
    from concurrent.futures import ThreadPoolExecutor

    import boto3

    from handlers import sender as module
    from mailroom.adapters.ses import _CLIENT_CONFIG, SesMailer
    from mailroom.pacing import SendPacer
    from mailroom.send import Sender
    from mailroom_dev.local import resources as names
    from tests.fakes import FakeMessageStore, FakePublisher, FakeSuppressionStore

    client = boto3.client("sesv2", endpoint_url=ses_url, config=_CLIENT_CONFIG,
                          region_name="us-east-1", aws_access_key_id="bench",
                          aws_secret_access_key="bench")
    mailer = SesMailer(names.CONFIGURATION_SET, names.TEMPLATE_PREFIX, client=client)
    store, visibility = FakeMessageStore(), _Visibility()
    sender = Sender(messages=store, suppressions=FakeSuppressionStore(), mailer=mailer,
                    publisher=FakePublisher(), pacer=SendPacer(rate or mailer.max_send_rate()))
    deps = module.Dependencies(
        sender=sender, sqs=visibility, queue_url="", max_receive_count=8,
        executor=ThreadPoolExecutor(max_workers=10, thread_name_prefix="send"),
        retry_delay=lambda attempt: 1, lease_seconds=90)
    return deps, store, visibility


def _records(store: Any, kind: str, count: int) -> list[dict[str, Any]]:
    """SQS messages of `count` queued emails, their records in `store`."""
    from mailroom.models import Message, Status, utcnow

    now, records = utcnow(), []
    for i in range(count):
        request = SendRequest(
            id=f"{kind}-{i}", to=f"{kind}-{i}@example.com",
            from_address="no-reply@mailroom.example.com", template="welcome",
            data={"name": "Ada", "action_url": "https://app.example.com/start"})
        store.create(Message(id=request.id, status=Status.QUEUED, to=request.to,
                             from_address=request.from_address, template=request.template,
                             created_at=now, updated_at=now))
        records.append({"MessageId": request.id, "ReceiptHandle": request.id,
                        "MD5OfBody": "", "Attributes": {"ApproximateReceiveCount": "1"},
                        "Body": request.model_dump_json(by_alias=True)})
    return records


def measure_speedup() -> dict[str, Any]:
    """In-memory stores, so that SES's latency is the only wait and the figure is the
    sender's concurrency, not the emulator's CPU."""
    from handlers import sender as module
    from mailroom.models import SendRequest as Request
    from tests.integration.lambda_events import LambdaContext, sqs_event

    _quiet_metrics()
    with remote_simulator(SES_LATENCY) as ses_url:
        deps, store, _ = _sender_on_fakes(ses_url, rate=100_000)
        batch_seconds, loop_seconds, batch_cpu = [], [], []
        for round_ in range(-1, SPEEDUP_ROUNDS):
            batch = _records(store, f"batch{round_}", 10)
            started, cpu = time.perf_counter(), time.process_time()
            response = module.handler(sqs_event(batch, "arn:aws:sqs:us-east-1:1:send"),
                                      LambdaContext(), deps=deps)
            if round_ >= 0:
                batch_seconds.append(time.perf_counter() - started)
                batch_cpu.append(time.process_time() - cpu)
            assert response == {"batchItemFailures": []}, response
            loop = [Request.model_validate_json(r["Body"])
                    for r in _records(store, f"loop{round_}", 10)]
            started = time.perf_counter()
            for request in loop:  # the same work, one email at a time
                deps.sender.send(request)
            if round_ >= 0:
                loop_seconds.append(time.perf_counter() - started)
    batch_rate = 10 / statistics.median(batch_seconds)
    loop_rate = 10 / statistics.median(loop_seconds)
    return {"name": "sender_speedup", "value": round(batch_rate / loop_rate, 2), "unit": "x",
            "baseline": f"sequential loop: {loop_rate:.1f} emails/s "
                        f"(SES latency {SES_LATENCY * 1000:.0f} ms)",
            "target": ">= 7",
            "detail": f"batch of 10: {batch_rate:.1f} emails/s; one after another: "
                      f"{loop_rate:.1f} emails/s; the sender's CPU in a batch: "
                      f"{statistics.median(batch_cpu) * 100:.1f} ms per email"}


def measure_quota() -> list[dict[str, Any]]:
    """Batches of 10 through the sender function, one invocation at a time (the local
    fleet of one), the simulator enforcing R; a record the function reports failed comes
    back, as SQS would bring it back after its visibility timeout, until its last attempt."""
    from handlers import sender as module
    from mailroom.models import Status
    from tests.integration.lambda_events import LambdaContext, sqs_event

    _quiet_metrics()
    with local_aws() as aws:
        simulator = aws["simulator"]
        simulator.event_delay = 600
        simulator.limits.max_send_rate = QUOTA_RATE
        accepted_at = _record_acceptances(simulator)
        deps, store, _ = _sender_on_fakes(simulator.url, rate=None)
        pending = _records(store, "quota", QUOTA_EMAILS)
        throttled = 0
        while pending:
            batch, pending = pending[:10], pending[10:]
            response = module.handler(sqs_event(batch, "arn:aws:sqs:us-east-1:1:send"),
                                      LambdaContext(), deps=deps)
            failed = {item["itemIdentifier"] for item in response["batchItemFailures"]}
            throttled += len(failed)
            for record in batch:
                attempt = int(record["Attributes"]["ApproximateReceiveCount"])
                if record["MessageId"] in failed and attempt < deps.max_receive_count:
                    pending.append({**record, "Attributes": {
                        "ApproximateReceiveCount": str(attempt + 1)}})
        failures = sum(1 for i in range(QUOTA_EMAILS)
                       if store.get(f"quota-{i}").status is Status.FAILED)
        accepted = len(accepted_at)
        elapsed = max(accepted_at) - min(accepted_at) if accepted > 1 else 0.0
    achieved = (accepted - 1) / elapsed if elapsed else 0.0
    return [
        {"name": "quota_utilisation", "value": round(achieved / QUOTA_RATE, 2), "unit": "x R",
         "baseline": f"R = {QUOTA_RATE:.0f}/s enforced by the simulator", "target": ">= 0.9",
         "detail": f"{accepted} of {QUOTA_EMAILS} sent in {elapsed:.1f} s: {achieved:.1f}/s; "
                   f"{throttled} attempts came back"},
        {"name": "quota_throttle_failures", "value": failures, "unit": "messages",
         "baseline": f"{QUOTA_EMAILS} emails", "target": "0",
         "detail": f"messages that ended failed after {throttled} throttled attempts came "
                   "back through the queue"},
    ]


def _record_acceptances(simulator: Any) -> list[float]:
    """When SES accepted each send (the simulator's answer), in this list."""
    times: list[float] = []
    send_email = simulator.send_email

    def timed_send_email(request: dict[str, Any]) -> dict[str, str]:
        answer = send_email(request)
        times.append(time.monotonic())
        return answer  # type: ignore[no-any-return]

    simulator.send_email = timed_send_email
    return times


def measure_events() -> dict[str, Any]:
    from tests.integration.lambda_events import LambdaContext, sqs_event

    _quiet_metrics()
    with local_aws() as aws:
        handlers = _fresh_handlers()
        side, resources = aws["side"], aws["resources"]
        _queue_emails(handlers, 100, "events-")
        from .paths import Meter, _run_queue

        meter = Meter(side["dynamodb"])
        _run_queue(meter, handlers, handlers["sender"], side["sqs"],
                   resources.send_queue.url, resources.send_queue.arn, 100, 10)
        drain(aws["simulator"])
        events = handlers["events"]
        seconds, records = 0.0, 0
        while batch := _receive(side["sqs"], resources.events_queue.url, EVENTS_BATCH):
            started = time.perf_counter()
            response = events.handler(sqs_event(batch, resources.events_queue.arn),
                                      LambdaContext())
            seconds += time.perf_counter() - started
            records += len(batch)
            assert not (response or {}).get("batchItemFailures"), response
            side["sqs"].delete_message_batch(QueueUrl=resources.events_queue.url, Entries=[
                {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]}
                for i, m in enumerate(batch)])
        table = resources.messages_table
        started = time.perf_counter()
        for i in range(200):
            side["dynamodb"].get_item(TableName=table, Key={"id": {"S": f"x{i}"}})
        calls_per_second = 200 / (time.perf_counter() - started)
    rate = records / seconds
    return {"name": "events_per_second", "value": round(rate, 1), "unit": "records/s",
            "baseline": f"DynamoDB GetItem on moto: {calls_per_second:.0f} calls/s",
            "target": None,
            "detail": f"{records} records; a record takes as long as "
                      f"{calls_per_second / rate:.1f} GetItem calls on the same moto"}
