"""Least privilege that still works: every AWS call each handler makes on its real paths
(run here on moto) is allowed by the IAM policy the stack gives its function. moto does not
enforce IAM, so without this a missing action would only show up as AccessDenied in AWS.
(SES itself is replaced by a fake mailer here; the sender's SES statements have their own
tests in test_functions.py.)"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

import boto3
import botocore.client
import pytest

from tests.fakes import FakeMailer
from tests.infra.conftest import actions_of
from tests.integration.conftest import (  # noqa: F401  (fixtures)
    aws,
    aws_environment,
    aws_stand_ins,
    function_env,
    resources,
)
from tests.integration.lambda_events import LambdaContext, api_event, sqs_event

pytestmark = pytest.mark.infra

EVENTS = Path(__file__).resolve().parents[2] / "events"
WELCOME = {"to": "ada@example.com", "template": "welcome",
           "data": {"name": "Ada", "action_url": "https://app.example.com/start"}}
# The IAM action that authorises an API operation, where the names differ.
IAM_ACTION = {
    "sqs:SendMessageBatch": "sqs:SendMessage",
    "sns:PublishBatch": "sns:Publish",
    "sesv2:SendEmail": "ses:SendEmail",
    "sesv2:GetAccount": "ses:GetAccount",
    "email:DeleteSuppressedDestination": "ses:DeleteSuppressedDestination",
}


@pytest.fixture
def calls(monkeypatch) -> Iterator[dict[str, set[str]]]:
    """The IAM actions called, per handler module currently running (set by `running`)."""
    recorded: dict[str, set[str]] = defaultdict(set)
    real = botocore.client.BaseClient._make_api_call

    def recording(self, operation_name, api_params):
        service = self.meta.service_model.signing_name or self.meta.service_model.service_name
        action = f"{self.meta.service_model.endpoint_prefix}:{operation_name}"
        action = IAM_ACTION.get(action, f"{service}:{operation_name}")
        recorded[recording.current].add(action)
        return real(self, operation_name, api_params)

    recording.current = "setup"
    monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", recording)
    yield recorded, recording


def run_api(module) -> None:
    def call(method, path, body=None, headers=None, query=None):
        return module.handler(api_event(method, path, body, headers, query), LambdaContext())

    call("GET", "/v1/health")
    accepted = json.loads(call("POST", "/v1/emails", WELCOME)["body"])
    call("POST", "/v1/emails", WELCOME, headers={"Idempotency-Key": "k-1"})
    call("POST", "/v1/emails/batch", {"emails": [WELCOME, {**WELCOME, "idempotency_key": "k2"}]})
    call("GET", f"/v1/emails/{accepted['id']}")
    call("PUT", "/v1/suppressions/bob@example.com", {"reason": "manual"})
    call("GET", "/v1/suppressions/bob@example.com")
    call("GET", "/v1/suppressions", query={"reason": "manual"})
    call("GET", "/v1/suppressions")
    call("DELETE", "/v1/suppressions/bob@example.com")
    call("PUT", "/v1/sending", {"paused": True})
    call("GET", "/v1/sending")
    call("PUT", "/v1/sending", {"paused": False})
    call("GET", "/v1/reputation")
    call("GET", "/v1/stats", query={"since": "24h"})


def run_sender(sender, api, recording, resources) -> None:  # noqa: F811
    """A sent message, a transient failure (backs off), an address suppressed after it was
    accepted (published), then a message that waits while sending is paused (requeued)."""
    from mailroom.sending import TransientSendError
    from mailroom.settings import SenderSettings

    def api_call(method, path, body=None):
        recording.current = "handlers.api.handler"
        api.handler(api_event(method, path, body), LambdaContext())

    def sender_batch():
        recording.current = "test"
        sqs = boto3.client("sqs", region_name="us-east-1")
        messages = sqs.receive_message(QueueUrl=resources.send_queue.url,
                                       MaxNumberOfMessages=10, AttributeNames=["All"])["Messages"]
        mailer = FakeMailer()
        mailer.failures["fails@example.com"] = TransientSendError("InternalFailure")
        recording.current = "handlers.sender.handler"
        # A fresh container each time, so the sending switch is read afresh.
        deps = sender.Dependencies.from_settings(SenderSettings(), mailer=mailer)
        sender.handler(sqs_event(messages, resources.send_queue.arn), LambdaContext(),
                       deps=deps)

    for to in ("ok@example.com", "fails@example.com", "late@example.com"):
        api_call("POST", "/v1/emails", {**WELCOME, "to": to})
    api_call("PUT", "/v1/suppressions/late@example.com", {"reason": "manual"})
    sender_batch()
    api_call("POST", "/v1/emails", {**WELCOME, "to": "waits@example.com"})
    api_call("PUT", "/v1/sending", {"paused": True})
    sender_batch()


def run_events(module) -> None:
    module.dependencies.cache_clear()
    for sample in ("sqs-sns-send.json", "sqs-sns-delivery.json",
                   "sqs-sns-bounce-permanent-general.json",
                   "sqs-sns-bounce-transient-mailboxfull.json", "sqs-sns-complaint-abuse.json"):
        module.handler(json.loads((EVENTS / sample).read_text()), LambdaContext())
    from mailroom.shape import EVENTS as EVENTS_FUNCTION

    for schedule in EVENTS_FUNCTION.schedules:  # the guard's check and the gates' reconcile
        module.handler(schedule.event, LambdaContext())


def test_every_call_each_function_makes_is_allowed_by_its_role(
        synth, calls, function_env, aws_stand_ins, resources):  # noqa: F811
    from handlers import api, events, sender

    recorded, recording = calls
    recording.current = "handlers.api.handler"
    api.dependencies.cache_clear()
    run_api(api)
    recording.current = "test"
    boto3.client("sqs", region_name="us-east-1").purge_queue(QueueUrl=resources.send_queue.url)
    run_sender(sender, api, recording, resources)
    recording.current = "handlers.events.handler"
    run_events(events)
    for module in (api, sender, events):
        module.dependencies.cache_clear()

    for handler in ("handlers.api.handler", "handlers.sender.handler",
                    "handlers.events.handler"):
        allowed = actions_of(synth.role_statements(handler))
        assert recorded[handler], f"{handler} made no AWS call: the scenario is broken"
        missing = recorded[handler] - allowed
        assert not missing, f"{handler} calls {sorted(missing)} but its role does not allow it"
