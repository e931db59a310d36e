"""Wrap the raw SES events in `events/ses/` in the envelopes the events function receives.

    python events/generate.py

For every `ses/<name>.json` it writes:
  sqs-sns-<name>.json   an SQS batch of one record whose body is the SNS envelope
                        (SNS → SQS, raw message delivery off: what the deployed stack uses)
  sns-<name>.json       an SNS → Lambda invocation (the function subscribed to the topic)
  sqs-raw-<name>.json   an SQS batch of one record whose body is the SES JSON itself
                        (SNS → SQS with raw message delivery on)
Plus sqs-batch-poison.json: a good record and a malformed one in the same batch.

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


def main() -> None:
    for name, event in envelopes().items():
        (HERE / name).write_text(json.dumps(event, indent=2) + "\n")
    print(f"wrote {len(envelopes())} events to {HERE}")


if __name__ == "__main__":
    main()
