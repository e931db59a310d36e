"""Wrap the raw SES events in `events/ses/` in the envelopes the events function receives.

    python events/generate.py

For every `ses/<name>.json` it writes:
  sqs-sns-<name>.json   an SQS batch of one record whose body is the SNS envelope
                        (SNS → SQS, raw message delivery off: what the deployed stack uses)
  sns-<name>.json       an SNS → Lambda invocation (the function subscribed to the topic)
  sqs-raw-<name>.json   an SQS batch of one record whose body is the SES JSON itself
                        (SNS → SQS with raw message delivery on)
Plus sqs-batch-poison.json: a good record and a malformed one in the same batch; api-*.json:
API Gateway (REST, proxy) requests for the api function; sqs-send-batch.json: a send-queue
batch for the sender function.

Ids are derived from the file name, so running it again changes nothing unless `ses/` did.
Use the files with `sam local invoke -t cdk.out/Mailroom.template.json -e events/<file>`.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
SES_DIR = HERE / "ses"
REGION = "eu-west-1"
ACCOUNT = "123456789012"
TOPIC_ARN = f"arn:aws:sns:{REGION}:{ACCOUNT}:mailroom-ses-events"
QUEUE_ARN = f"arn:aws:sqs:{REGION}:{ACCOUNT}:mailroom-events"
SUBSCRIPTION_ARN = f"{TOPIC_ARN}:5f0c2b7e-8a4d-4f1e-9b3c-2d6e7f8a9b0c"
_NAMESPACE = uuid.UUID("0f5e8a52-3c1d-4b7a-9e2f-6a8b0c1d2e3f")
_CERT_URL = f"https://sns.{REGION}.amazonaws.com/SimpleNotificationService-example.pem"


def _id(*parts: str) -> str:
    return str(uuid.uuid5(_NAMESPACE, "/".join(parts)))


def _sent_at(ses: dict[str, Any]) -> str:
    return ses["mail"]["timestamp"]


def sns_envelope(name: str, message: str, timestamp: str) -> dict[str, Any]:
    """The JSON SNS puts in an SQS body when raw message delivery is off."""
    message_id = _id("sns", name)
    return {
        "Type": "Notification",
        "MessageId": message_id,
        "TopicArn": TOPIC_ARN,
        "Message": message,
        "Timestamp": timestamp,
        "SignatureVersion": "1",
        "Signature": "EXAMPLE" + hashlib.sha256(message.encode()).hexdigest(),
        "SigningCertURL": _CERT_URL,
        "UnsubscribeURL": (
            f"https://sns.{REGION}.amazonaws.com/?Action=Unsubscribe"
            f"&SubscriptionArn={SUBSCRIPTION_ARN}"
        ),
    }


def sqs_record(name: str, body: str, timestamp_ms: int) -> dict[str, Any]:
    return {
        "messageId": _id("sqs", name),
        "receiptHandle": "AQEB" + hashlib.sha256(("rh" + name).encode()).hexdigest(),
        "body": body,
        "attributes": {
            "ApproximateReceiveCount": "1",
            "SentTimestamp": str(timestamp_ms),
            "SenderId": "AIDAIT2UOQQY3AUEKVGXU",
            "ApproximateFirstReceiveTimestamp": str(timestamp_ms + 12),
        },
        "messageAttributes": {},
        "md5OfBody": hashlib.md5(body.encode()).hexdigest(),  # SQS's checksum, not security
        "eventSource": "aws:sqs",
        "eventSourceARN": QUEUE_ARN,
        "awsRegion": REGION,
    }


def sns_lambda_record(name: str, message: str, timestamp: str) -> dict[str, Any]:
    """One record of an SNS → Lambda invocation (note SNS's different key casing here)."""
    envelope = sns_envelope(name, message, timestamp)
    return {
        "EventSource": "aws:sns",
        "EventVersion": "1.0",
        "EventSubscriptionArn": SUBSCRIPTION_ARN,
        "Sns": {
            "Type": envelope["Type"],
            "MessageId": envelope["MessageId"],
            "TopicArn": TOPIC_ARN,
            "Subject": None,
            "Message": message,
            "Timestamp": timestamp,
            "SignatureVersion": "1",
            "Signature": envelope["Signature"],
            "SigningCertUrl": _CERT_URL,
            "UnsubscribeUrl": envelope["UnsubscribeURL"],
            "MessageAttributes": {},
        },
    }


def _millis(name: str) -> int:
    # Stable, plausible SentTimestamp (22 Nov 2026) per sample.
    return 1_763_806_530_000 + int(hashlib.sha256(name.encode()).hexdigest()[:6], 16)


def envelopes() -> dict[str, Any]:
    """File name → Lambda event, for every sample in ses/."""
    files: dict[str, Any] = {}
    for path in sorted(SES_DIR.glob("*.json")):
        name = path.stem
        ses = json.loads(path.read_text())
        message = json.dumps(ses, separators=(",", ":"))
        timestamp = _sent_at(ses)
        sns_body = json.dumps(sns_envelope(name, message, timestamp), indent=2)
        files[f"sqs-sns-{name}.json"] = {
            "Records": [sqs_record(name, sns_body, _millis(name))]
        }
        files[f"sns-{name}.json"] = {"Records": [sns_lambda_record(name, message, timestamp)]}
        files[f"sqs-raw-{name}.json"] = {
            "Records": [sqs_record("raw-" + name, message, _millis(name))]
        }
    good = files["sqs-sns-delivery.json"]["Records"][0]
    poison = sqs_record("poison", '{"Type": "Notification", "Message": "not json {"}', 0)
    files["sqs-batch-poison.json"] = {"Records": [good, poison]}
    return files


API_KEY = "EXAMPLEd0cf4b1e9a8c7d6e5f4a3b2c1d0e9f8a7b6"
SEND_QUEUE_ARN = f"arn:aws:sqs:{REGION}:{ACCOUNT}:mailroom-send"
WELCOME = {"to": "success@simulator.amazonses.com", "template": "welcome",
           "data": {"name": "Ada", "action_url": "https://app.example.com/start"}}


def api_request(name: str, method: str, path: str, body: Any = None,
                headers: dict[str, str] | None = None) -> dict[str, Any]:
    """An API Gateway REST API proxy-integration event, as the `/v1/{proxy+}` resource
    delivers it (the public routes come through their own resources)."""
    public = path in ("/v1/health", "/v1/openapi.json")
    headers = {"Host": "abc123.execute-api.eu-west-1.amazonaws.com", "User-Agent": "curl/8.5",
               "Accept": "*/*", **({} if public else {"x-api-key": API_KEY}),
               **({"Content-Type": "application/json"} if body is not None else {}),
               **(headers or {})}
    resource = path if public else "/v1/{proxy+}"
    return {
        "resource": resource,
        "path": path,
        "httpMethod": method,
        "headers": headers,
        "multiValueHeaders": {key: [value] for key, value in headers.items()},
        "queryStringParameters": None,
        "multiValueQueryStringParameters": None,
        "pathParameters": None if public else {"proxy": path.removeprefix("/v1/")},
        "stageVariables": None,
        "requestContext": {
            "resourcePath": resource, "httpMethod": method, "path": f"/prod{path}",
            "stage": "prod", "accountId": ACCOUNT, "apiId": "abc123",
            "requestId": _id("api", name), "requestTimeEpoch": 1_763_806_530_000,
            "protocol": "HTTP/1.1", "domainName": headers["Host"],
            "identity": {"sourceIp": "198.51.100.7", "userAgent": headers["User-Agent"],
                         "apiKey": None if public else API_KEY},
        },
        "body": None if body is None else json.dumps(body),
        "isBase64Encoded": False,
    }


def api_requests() -> dict[str, Any]:
    return {
        "api-post-email.json": api_request("post", "POST", "/v1/emails", WELCOME,
                                           {"Idempotency-Key": "signup-ada-42"}),
        "api-post-email-missing-data.json": api_request(
            "missing", "POST", "/v1/emails", {**WELCOME, "data": {"name": "Ada"}}),
        "api-post-email-batch.json": api_request("batch", "POST", "/v1/emails/batch", {
            "emails": [WELCOME, {**WELCOME, "to": "bounce@simulator.amazonses.com"}]}),
        "api-get-email.json": api_request(
            "get", "GET", "/v1/emails/6f1c2d3e-4a5b-4c6d-8e7f-8091a2b3c4d5"),
        "api-get-suppression.json": api_request(
            "suppression", "GET", "/v1/suppressions/bounce@simulator.amazonses.com"),
        "api-health.json": api_request("health", "GET", "/v1/health"),
    }


def send_batch() -> dict[str, Any]:
    """Two queued emails, as the api function puts them on the send queue."""
    records = []
    for index, to in enumerate(("success@simulator.amazonses.com",
                                "bounce@simulator.amazonses.com")):
        body = json.dumps({"id": _id("message", str(index)), "to": to,
                           "from": "Acme <no-reply@mail.example.com>", "reply_to": [],
                           "template": "welcome", "data": WELCOME["data"], "tags": {}})
        record = sqs_record(f"send-{index}", body, _millis(f"send-{index}"))
        records.append({**record, "eventSourceARN": SEND_QUEUE_ARN})
    return {"Records": records}


def all_events() -> dict[str, Any]:
    return {**envelopes(), **api_requests(), "sqs-send-batch.json": send_batch()}


def main() -> None:
    files = all_events()
    for name, event in files.items():
        (HERE / name).write_text(json.dumps(event, indent=2) + "\n")
    print(f"wrote {len(files)} events to {HERE}")


if __name__ == "__main__":
    main()
