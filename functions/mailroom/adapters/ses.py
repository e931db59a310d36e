"""SES v2 adapter: sends with the stored template and the configuration set, and turns every
SES error into a `TransientSendError` or a `PermanentSendError` with a plain-words reason."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime
from functools import cached_property
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import (
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    ReadTimeoutError,
)

from ..models import MESSAGE_ID_TAG, Failure, SendRequest, SuppressionReason
from ..sending import (
    CONFIGURATION_FAULTS,
    PAUSED_CODES,
    PERMANENT_FAILURES,
    QUOTA_CODES,
    SERVER_CODES,
    THROTTLING_CODES,
    ConfigurationFault,
    PermanentSendError,
    TransientSendError,
)

# No botocore retries: the sender retries throttling itself (paced) and everything else
# through SQS — and a blind retry after a read timeout could send the same email twice.
_CLIENT_CONFIG = Config(retries={"total_max_attempts": 1, "mode": "standard"},
                        connect_timeout=3, read_timeout=10)


class SesMailer:
    def __init__(self, configuration_set: str, template_prefix: str = "",
                 client: Any = None) -> None:
        self.configuration_set = configuration_set
        self.template_prefix = template_prefix
        self.client = client or boto3.client("sesv2", config=_CLIENT_CONFIG)

    def send(self, request: SendRequest) -> str:
        tags = [{"Name": MESSAGE_ID_TAG, "Value": request.id}]
        tags += [{"Name": name, "Value": value} for name, value in sorted(request.tags.items())]
        params: dict[str, Any] = {
            "FromEmailAddress": request.from_address,
            "Destination": {"ToAddresses": [request.to]},
            "Content": {
                "Template": {
                    "TemplateName": f"{self.template_prefix}{request.template}",
                    "TemplateData": json.dumps(request.data),
                }
            },
            "EmailTags": tags,
            "ConfigurationSetName": self.configuration_set,
        }
        if request.reply_to:
            params["ReplyToAddresses"] = request.reply_to
        if request.headers:
            params["Content"]["Template"]["Headers"] = request.headers
        try:
            return self.client.send_email(**params)["MessageId"]
        except ClientError as error:
            raise classify(error) from error
        except (EndpointConnectionError, ConnectTimeoutError) as error:
            raise TransientSendError(f"Could not reach SES: {error}") from error
        except (ReadTimeoutError, ConnectionClosedError) as error:
            raise TransientSendError(f"No answer from SES: {error}", ambiguous=True) from error

    def max_send_rate(self) -> float:
        """The account's sending rate limit (messages per second)."""
        return float(self.client.get_account()["SendQuota"]["MaxSendRate"])


def classify(error: ClientError) -> Exception:
    code = error.response.get("Error", {}).get("Code", "")
    message = error.response.get("Error", {}).get("Message", "") or str(error)
    status_code = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
    if code in THROTTLING_CODES:
        return TransientSendError(f"{code}: {message}", throttled=True)
    if code in QUOTA_CODES:
        return TransientSendError(f"{code}: {message}", quota=True)
    if code in PAUSED_CODES:
        return TransientSendError(f"{code}: {message}", paused=True)
    if code in SERVER_CODES:
        return TransientSendError(f"{code}: {message}")
    if code in CONFIGURATION_FAULTS:
        reason, action = CONFIGURATION_FAULTS[code]
        return TransientSendError(f"{code}: {message}", fault=ConfigurationFault(
            reason=reason, action=action, diagnostic=f"{code}: {message}"))
    if code in PERMANENT_FAILURES:
        status, reason, action = PERMANENT_FAILURES[code]
        return PermanentSendError(
            status, Failure(reason=reason, action=action, diagnostic=f"{code}: {message}")
        )
    if status_code >= 500:
        return TransientSendError(f"{code or status_code}: {message}")
    if status_code == 429:
        return TransientSendError(f"{code}: {message}", throttled=True)
    return PermanentSendError(
        PERMANENT_FAILURES["BadRequestException"][0],
        Failure(reason="send_failed",
                action="SES refused the message; the diagnostic says why.",
                diagnostic=f"{code}: {message}"),
    )


# SES's reasons for its account-level list, in Mailroom's words.
ACCOUNT_REASONS = {"BOUNCE": SuppressionReason.HARD_BOUNCE,
                   "COMPLAINT": SuppressionReason.COMPLAINT}


class SesAccountSuppressions:
    """The account-level suppression list. Its client is made on first use (a removal is
    rare, and a client costs cold-start time)."""

    def __init__(self, client: Any = None) -> None:
        self._client = client

    @cached_property
    def client(self) -> Any:
        return self._client or boto3.client("sesv2")

    def remove(self, email: str) -> bool:
        try:
            self.client.delete_suppressed_destination(EmailAddress=email)
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") == "NotFoundException":
                return False
            raise
        return True

    def entries(self) -> Iterator[tuple[str, SuppressionReason, datetime]]:
        token: dict[str, str] = {}  # botocore has no paginator for this one
        while True:
            page = self.client.list_suppressed_destinations(**token)
            for summary in page.get("SuppressedDestinationSummaries", []):
                yield (summary["EmailAddress"].lower(), ACCOUNT_REASONS[summary["Reason"]],
                       summary["LastUpdateTime"])
            if not page.get("NextToken"):
                return
            token = {"NextToken": page["NextToken"]}
