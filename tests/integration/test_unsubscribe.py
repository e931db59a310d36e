"""One-click unsubscribe on moto: the link the accept path signs, the POST that uses it, the
notification apps hear, and the key's rotation keeping old links valid."""

from __future__ import annotations

import json
import uuid

import boto3
import pytest

from mailroom.adapters.secrets import SecretsManagerKeys
from mailroom.models import utcnow
from mailroom.unsubscribe import UnsubscribeToken

from .conftest import REGION, received_notifications
from .lambda_events import LambdaContext, api_event

DIGEST = {"to": "ada@example.com", "template": "weekly_digest", "data": {
    "name": "Ada", "headline": "A good week",
    "stories": [{"title": "Engine", "url": "https://app.example.com/e"}]}}
ONE_CLICK = "List-Unsubscribe=One-Click"


@pytest.fixture
def api(api_env):
    from handlers import api as module

    def call(method, path, body=None, content_type="application/json"):
        event = api_event(method, path, body, headers={"Content-Type": content_type})
        response = module.handler(event, LambdaContext())
        return response["statusCode"], response.get("body")

    return call


def queued_link(api_env) -> str:
    """The List-Unsubscribe link of the one message on the send queue."""
    sqs = boto3.client("sqs", region_name=REGION)
    [message] = sqs.receive_message(QueueUrl=api_env["MAILROOM_SEND_QUEUE_URL"])["Messages"]
    headers = {h["Name"]: h["Value"] for h in json.loads(message["Body"])["headers"]}
    assert headers["List-Unsubscribe-Post"] == ONE_CLICK
    return headers["List-Unsubscribe"].strip("<>")


def test_an_unsubscribe_is_announced_once_and_leaves_other_mail_alone(api, api_env,
                                                                      notifications):
    status, body = api("POST", "/v1/emails", DIGEST)
    assert status == 202, body
    link = queued_link(api_env)
    assert link.startswith(api_env["MAILROOM_API_URL"] + "/v1/unsubscribe/")
    path = link.removeprefix(api_env["MAILROOM_API_URL"])

    for _ in range(2):  # a repeat answers the same and announces nothing again
        assert api("POST", path, ONE_CLICK, "application/x-www-form-urlencoded") == (
            200, json.dumps({"unsubscribed": True, "category": "digest"},
                            separators=(",", ":")))

    [notification] = received_notifications(notifications["queue_url"])
    assert (notification["type"], notification["recipient"], notification["template"]) == (
        "email.unsubscribed", "ada@example.com", "weekly_digest")
    assert notification["suppression"]["category"] == "digest"
    assert api("POST", "/v1/emails", DIGEST)[0] == 422
    assert api("POST", "/v1/emails", {"to": "ada@example.com", "template": "welcome", "data": {
        "name": "Ada", "action_url": "https://app.example.com/"}})[0] == 202


def test_a_link_signed_before_a_rotation_still_works_and_one_never_signed_does_not(
        api, api_env):
    from handlers import key_rotation

    assert api("POST", "/v1/emails", DIGEST)[0] == 202
    path = queued_link(api_env).removeprefix(api_env["MAILROOM_API_URL"])
    secret = api_env["MAILROOM_UNSUBSCRIBE_KEY_SECRET_ARN"]
    client = boto3.client("secretsmanager", region_name=REGION)
    key_rotation.settings.cache_clear()

    # When the key rotates, through the four steps Secrets Manager calls
    version = str(uuid.uuid4())
    for step in ("createSecret", "setSecret", "testSecret", "finishSecret"):
        key_rotation.handler({"SecretId": secret, "ClientRequestToken": version, "Step": step},
                             LambdaContext(), secretsmanager=client)

    # Then the new key is current, the old one previous, and both verify
    keys = SecretsManagerKeys(secret, client)
    current, previous = keys.valid(fresh=True)
    assert current != previous
    token = path.rsplit("/", 1)[1]
    assert UnsubscribeToken.verify(token, [previous], utcnow()).category == "digest"
    assert api("POST", path, ONE_CLICK, "application/x-www-form-urlencoded")[0] == 200
    forged = UnsubscribeToken.verify(token, [previous], utcnow()).sign(b"not our key")
    assert api("POST", f"/v1/unsubscribe/{forged}", ONE_CLICK,
               "application/x-www-form-urlencoded")[0] == 404


def test_the_rotation_refuses_another_secret(api_env):
    from handlers import key_rotation

    key_rotation.settings.cache_clear()
    with pytest.raises(ValueError, match="unsubscribe key only"):
        key_rotation.handler({"SecretId": "arn:aws:secretsmanager:us-east-1:1:secret:other",
                              "ClientRequestToken": "t", "Step": "createSecret"},
                             LambdaContext(), secretsmanager=object())


def test_keys_are_read_once_per_cache_period_unless_fresh(api_env):
    secret = api_env["MAILROOM_UNSUBSCRIBE_KEY_SECRET_ARN"]
    client = boto3.client("secretsmanager", region_name=REGION)
    now = [0.0]
    keys = SecretsManagerKeys(secret, client, clock=lambda: now[0])
    first = keys.current()
    assert keys.valid() == [first]  # no previous version before the first rotation

    client.put_secret_value(SecretId=secret, SecretString="next-key")
    assert keys.current() == first  # cached
    now[0] += 299
    assert keys.current() == first
    now[0] += 1
    assert keys.valid() == [b"next-key", first]
    client.put_secret_value(SecretId=secret, SecretString="after")
    assert keys.valid(fresh=True) == [b"after", b"next-key"]
