"""The API Gateway and send-queue samples in events/ (the ones `sam local invoke` uses) are
answered by the real handlers as their names say."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mailroom.adapters.dynamodb import DynamoMessageStore
from mailroom.models import Message, SendRequest, Status, utcnow
from tests.fakes import FakeMailer
from tests.integration.lambda_events import LambdaContext

EVENTS = Path(__file__).resolve().parents[2] / "events"


def sample(name: str) -> dict:
    return json.loads((EVENTS / name).read_text())


@pytest.mark.parametrize(("name", "status"), [
    ("api-post-email.json", 202),
    ("api-post-email-missing-data.json", 422),
    ("api-post-email-batch.json", 202),
    ("api-get-email.json", 404),
    ("api-get-suppression.json", 404),
    ("api-health.json", 200),
])
def test_each_api_sample_gets_the_answer_its_name_promises(function_env, name, status):
    from handlers import api

    response = api.handler(sample(name), LambdaContext())

    assert response["statusCode"] == status, response["body"]


def test_the_send_queue_sample_is_sent(function_env, messages_table):
    from handlers import sender
    from mailroom.settings import SenderSettings

    mailer = FakeMailer()
    deps = sender.Dependencies.from_settings(SenderSettings(), mailer=mailer)
    store = DynamoMessageStore(messages_table)
    batch = sample("sqs-send-batch.json")
    for record in batch["Records"]:
        request = SendRequest.model_validate_json(record["body"])
        now = utcnow()
        store.create(Message(id=request.id, status=Status.QUEUED, to=request.to,
                             from_address=request.from_address, template=request.template,
                             created_at=now, updated_at=now))

    response = sender.handler(batch, LambdaContext(), deps=deps)

    assert response == {"batchItemFailures": []}
    assert sorted(r.to for r in mailer.sent) == ["bounce@simulator.amazonses.com",
                                                 "success@simulator.amazonses.com"]
