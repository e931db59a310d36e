"""The sender against the local SES simulator, in-process on moto:

- speedup: a batch of 10 through the sender function, SES answering after an injected
  latency and a send rate that does not bind, against the same ten sent one after another
  by the same Sender, in the same run;
- quota: 600 emails with the simulator enforcing a send rate R, fed to the sender function
  by the local stack's SQS poller as Lambda's event source would: the achieved rate / R and
  the messages that failed because of throttling;
- events: SES records the events function applies per second in one invocation, against a
  plain DynamoDB GetItem loop on the same moto (the floor every record's calls stand on).
"""

from __future__ import annotations

import json
import statistics
import time
from typing import Any

from mailroom.models import SendRequest

from .paths import EVENTS_BATCH, _fresh_handlers, _receive, drain, local_aws

SES_LATENCY = 0.040
QUOTA_RATE = 20.0
QUOTA_EMAILS = 600
SPEEDUP_ROUNDS = 3


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


def _with_latency(simulator: Any, seconds: float) -> None:
    send_email = simulator.send_email

    def slow_send_email(request: dict[str, Any]) -> dict[str, str]:
        time.sleep(seconds)
        return send_email(request)  # type: ignore[no-any-return]

    simulator.send_email = slow_send_email


def measure_speedup() -> dict[str, Any]:
    """In-memory stores (tests/fakes.py), so that SES's latency is the only wait and the
    figure is the sender's concurrency, not the emulator's CPU."""
    from concurrent.futures import ThreadPoolExecutor

    import boto3

    from handlers import sender as module
    from mailroom.adapters.ses import _CLIENT_CONFIG, SesMailer
    from mailroom.models import Message, Status, utcnow
    from mailroom.pacing import SendPacer
    from mailroom.send import Sender
    from mailroom_dev.local import resources as names
    from tests.fakes import FakeMessageStore, FakePublisher, FakeSuppressionStore
    from tests.integration.lambda_events import LambdaContext, sqs_event

    with local_aws() as aws:
        simulator = aws["simulator"]
        simulator.event_delay = 600  # its events are not part of this
        _with_latency(simulator, SES_LATENCY)
        store = FakeMessageStore()
        client = boto3.client("sesv2", endpoint_url=simulator.url, config=_CLIENT_CONFIG)
        sender = Sender(messages=store, suppressions=FakeSuppressionStore(),
                        mailer=SesMailer(names.CONFIGURATION_SET, names.TEMPLATE_PREFIX,
                                         client=client),
                        publisher=FakePublisher(), pacer=SendPacer(100_000))
        deps = module.Dependencies(
            sender=sender, sqs=None, queue_url="", max_receive_count=8,
            executor=ThreadPoolExecutor(max_workers=10, thread_name_prefix="send"),
            retry_delay=lambda attempt: 1, lease_seconds=90)

        def requests(round_: int, kind: str) -> list[SendRequest]:
            now = utcnow()
            made = []
            for i in range(10):
                request = SendRequest(
                    id=f"{kind}-{round_}-{i}", to=f"{kind}{round_}-{i}@example.com",
                    from_address="no-reply@mailroom.example.com", template="welcome",
                    data={"name": "Ada", "action_url": "https://app.example.com/start"})
                store.create(Message(id=request.id, status=Status.QUEUED, to=request.to,
                                     from_address=request.from_address,
                                     template=request.template, created_at=now,
                                     updated_at=now))
                made.append(request)
            return made

        batch_seconds, loop_seconds = [], []
        for round_ in range(SPEEDUP_ROUNDS):
            batch = [{"MessageId": r.id, "ReceiptHandle": r.id, "MD5OfBody": "", "Attributes": {},
                      "Body": r.model_dump_json(by_alias=True)}
                     for r in requests(round_, "batch")]
            started = time.perf_counter()
            response = module.handler(sqs_event(batch, "arn:aws:sqs:us-east-1:1:send"),
                                      LambdaContext(), deps=deps)
            batch_seconds.append(time.perf_counter() - started)
            assert response == {"batchItemFailures": []}, response
            loop = requests(round_, "loop")
            started = time.perf_counter()
            for request in loop:  # the same work, one email at a time
                sender.send(request)
            loop_seconds.append(time.perf_counter() - started)
    batch_rate = 10 / statistics.median(batch_seconds)
    loop_rate = 10 / statistics.median(loop_seconds)
    return {"name": "sender_speedup", "value": round(batch_rate / loop_rate, 2), "unit": "x",
            "baseline": f"sequential loop: {loop_rate:.1f} emails/s "
                        f"(SES latency {SES_LATENCY * 1000:.0f} ms)",
            "target": ">= 7", "detail": f"batch of 10: {batch_rate:.1f} emails/s"}


def measure_quota() -> list[dict[str, Any]]:
    from mailroom_dev.local.lambda_runtime import LambdaFunction
    from mailroom_dev.local.pollers import SqsPoller

    with local_aws() as aws:
        import os

        # The sender reads the account's rate from SES GetAccount, as deployed.
        os.environ["MAILROOM_MAX_SEND_RATE"] = "0"
        os.environ["MAILROOM_RETRY_BASE_SECONDS"] = "1"
        simulator, resources = aws["simulator"], aws["resources"]
        simulator.limits.max_send_rate = QUOTA_RATE
        accepted_at = _record_acceptances(simulator)
        handlers = _fresh_handlers()
        ids = _queue_emails(handlers, QUOTA_EMAILS, "quota-")
        function = LambdaFunction.from_callable("mailroom-sender", handlers["sender"].handler)
        queue = resources.send_queue
        poller = SqsPoller(aws["side"]["sqs"], queue.url, queue.arn, function, "us-east-1",
                           batch_size=10)
        poller.start()
        deadline = time.monotonic() + 5 * QUOTA_EMAILS / QUOTA_RATE
        while len(simulator.sends) < QUOTA_EMAILS and time.monotonic() < deadline:
            time.sleep(0.2)
        poller.request_stop()
        poller.stop()
        accepted = len(simulator.sends)
        store = handlers["sender"].dependencies().sender.messages
        failed = sum(1 for message_id in ids
                     if (message := store.get(message_id)) and message.status.value == "failed")
        elapsed = max(accepted_at) - min(accepted_at) if len(accepted_at) > 1 else 0.0
    achieved = accepted / elapsed if elapsed else 0.0
    return [
        {"name": "quota_utilisation", "value": round(achieved / QUOTA_RATE, 2), "unit": "x R",
         "baseline": f"R = {QUOTA_RATE:.0f}/s enforced by the simulator",
         "target": ">= 0.9",
         "detail": f"{accepted} of {QUOTA_EMAILS} sent in {elapsed:.1f} s: {achieved:.1f}/s"},
        {"name": "quota_throttle_failures", "value": failed, "unit": "messages",
         "baseline": f"{QUOTA_EMAILS} emails", "target": "0"},
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
            "detail": f"{records} records; {calls_per_second / rate:.1f} moto round trips "
                      "per record"}
