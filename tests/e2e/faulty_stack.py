"""`python -m tests.e2e.faulty_stack`: the local stack (same arguments) with the faults no
emulator offers, injected through botocore's event hooks on every client the handlers
create in the stack's process:

- DynamoDB throttling: every `throttle_every`-th UpdateItem is answered
  ProvisionedThroughputExceededException on every attempt, so it outlasts botocore's own
  retries and reaches our code (at most `throttle_max` of them); every
  `throttle_once_every`-th is throttled once only, which botocore's retry absorbs.
- A sender invocation dies: after SES accepted the `die_at_send`-th SendEmail, and before
  the send is recorded, that invocation stops dead. Nothing of it reaches AWS any more (no
  record, no release, no visibility change, no batch response); its batch comes back when
  the visibility timeout ends — after `reappear_seconds` here instead of the queue's 6
  minutes, so the test need not wait them out.

The plan comes as JSON in MAILROOM_TEST_FAULT_PLAN; what fired is written as JSON to
MAILROOM_TEST_FAULT_REPORT, so a test can check its faults happened."""

from __future__ import annotations

import itertools
import json
import os
import sys
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import botocore.session
from botocore.awsrequest import AWSResponse

PLAN_ENV = "MAILROOM_TEST_FAULT_PLAN"
REPORT_ENV = "MAILROOM_TEST_FAULT_REPORT"
# botocore's legacy retries give DynamoDB 10 attempts over about 25 s; 3 attempts keep a
# call that outlasts them short, and the behaviour is the same.
MAX_ATTEMPTS = "3"
# The sender's batch runs in threads named so (handlers/sender.py's executor).
SENDER_THREAD_PREFIX = "send"


@dataclass(frozen=True)
class Plan:
    throttle_every: int = 0  # 0: never
    throttle_max: int = 0
    throttle_once_every: int = 0
    die_at_send: int = 0  # 0: nobody dies
    reappear_seconds: int = 2


@dataclass
class Report:
    throttled_calls: list[str] = field(default_factory=list)  # outlasting the retries
    throttled_attempts: int = 0
    throttled_once: int = 0
    died_after_ses_accepted: list[str] = field(default_factory=list)  # SES message ids
    batches_died: int = 0


class _Body:
    def __init__(self, data: bytes) -> None:
        self._data = data

    def stream(self, **_: Any) -> Any:
        yield self._data


class InvocationDied(BaseException):
    """Not an Exception: no handler code may catch it, as none could catch a crash."""


class Faults:
    def __init__(self, plan: Plan, report_path: Path | None) -> None:
        self.plan = plan
        self.report = Report()
        self._report_path = report_path
        self._lock = threading.Lock()
        self._updates = itertools.count(1)
        self._sends = itertools.count(1)
        self._victims: set[str] = set()  # botocore invocation ids, across attempts
        self._throttled_once: set[str] = set()
        self.dying = threading.Event()

    # -- DynamoDB ------------------------------------------------------------------------

    def throttle(self, request: Any, **_: Any) -> AWSResponse | None:
        retries = request.context.get("retries", {})
        call, attempt = retries.get("invocation-id", ""), retries.get("attempt", 1)
        with self._lock:
            if attempt == 1:
                number = next(self._updates)
                plan = self.plan
                if (plan.throttle_every and number % plan.throttle_every == 0
                        and len(self.report.throttled_calls) < plan.throttle_max):
                    self._victims.add(call)
                    self.report.throttled_calls.append(json.loads(request.body)["TableName"])
                elif plan.throttle_once_every and number % plan.throttle_once_every == 0:
                    self._throttled_once.add(call)
                    self.report.throttled_once += 1
                    self._save()
                    return _throttled(request.url)
            if call not in self._victims:
                return None
            self.report.throttled_attempts += 1
            self._save()
        return _throttled(request.url)

    # -- the sender dying ----------------------------------------------------------------

    def after_send(self, parsed: dict[str, Any], **_: Any) -> None:
        """Counts the sends SES accepted (after-call also follows an error answer)."""
        if not (threading.current_thread().name.startswith(SENDER_THREAD_PREFIX)
                and parsed.get("MessageId")):
            return
        with self._lock:
            if next(self._sends) != self.plan.die_at_send:
                return
            self.report.died_after_ses_accepted.append(parsed["MessageId"])
            self._save()
        self.dying.set()
        raise InvocationDied("the sender invocation died after SES accepted")

    def refuse_if_dead(self, **_: Any) -> None:
        """Once the invocation died, none of its threads gets to AWS any more."""
        if self.dying.is_set() and threading.current_thread().name.startswith(
                SENDER_THREAD_PREFIX):
            raise InvocationDied("this invocation is dead")

    def died(self, event: dict[str, Any]) -> None:
        """What SQS does after an invocation died: nothing, until the visibility timeout
        ends. (Shortened to `reappear_seconds`.)"""
        time.sleep(1)  # threads of the dead invocation still running meet `dying`
        self.dying.clear()
        sqs = botocore.session.get_session().create_client("sqs")
        for record in event["Records"]:
            queue_url = sqs.get_queue_url(
                QueueName=record["eventSourceARN"].rsplit(":", 1)[1])["QueueUrl"]
            sqs.change_message_visibility(QueueUrl=queue_url,
                                          ReceiptHandle=record["receiptHandle"],
                                          VisibilityTimeout=self.plan.reappear_seconds)
        with self._lock:
            self.report.batches_died += 1
            self._save()

    def _save(self) -> None:
        if self._report_path is not None:
            partial = self._report_path.with_suffix(".partial")
            partial.write_text(json.dumps(asdict(self.report)))
            partial.replace(self._report_path)


def _throttled(url: str) -> AWSResponse:
    body = json.dumps({
        "__type": "com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException",
        "message": "The level of configured provisioned throughput for the table was "
                   "exceeded. (injected by tests/e2e/faulty_stack.py)",
    }).encode()
    return AWSResponse(url, 400, {"x-amzn-RequestId": "injected-throttle",
                                  "Content-Type": "application/x-amz-json-1.0"}, _Body(body))


def install(faults: Faults) -> None:
    from mailroom import shape
    from mailroom_dev.local.lambda_runtime import LambdaFunction

    create_client = botocore.session.Session.create_client

    def create_client_with_faults(self: Any, service_name: str, *args: Any,
                                  **kwargs: Any) -> Any:
        client = create_client(self, service_name, *args, **kwargs)
        events = client.meta.events
        if service_name == "dynamodb":
            events.register("before-send.dynamodb.UpdateItem", faults.throttle)
        if service_name == "sesv2":
            events.register("after-call.sesv2.SendEmail", faults.after_send)
        events.register(f"before-call.{client.meta.service_model.service_id.hyphenize()}",
                        faults.refuse_if_dead)
        return client

    botocore.session.Session.create_client = create_client_with_faults  # type: ignore[method-assign]

    invoke = LambdaFunction.invoke

    def invoke_or_die(self: LambdaFunction, event: dict[str, Any]) -> Any:
        try:
            return invoke(self, event)
        except InvocationDied:
            if self.name != shape.SENDER.service:
                raise
            faults.died(event)
            # The poller treats it as a failed invocation: it deletes nothing.
            raise RuntimeError("the invocation died (injected)") from None

    LambdaFunction.invoke = invoke_or_die  # type: ignore[method-assign]


def main() -> int:
    plan = Plan(**json.loads(os.environ.get(PLAN_ENV) or "{}"))
    report = os.environ.get(REPORT_ENV)
    os.environ["AWS_MAX_ATTEMPTS"] = MAX_ATTEMPTS
    install(Faults(plan, Path(report) if report else None))
    from mailroom_dev.local.__main__ import main as run_local_stack

    return run_local_stack(sys.argv[1:])


if __name__ == "__main__":
    sys.exit(main())
