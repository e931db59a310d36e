"""What the canary talks to: the public API over HTTPS (with the key API Gateway keeps), and
its memory of the last message (one item in the control table)."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from datetime import datetime
from functools import cached_property
from typing import Any

import boto3

from .dynamodb.codec import from_item, to_item

TIMEOUT_SECONDS = 10


class ApiRefused(Exception):
    pass


class HttpCanaryApi:
    def __init__(self, api_url: str, api_key_id: str, apigateway: Any = None) -> None:
        self.api_url = api_url.rstrip("/")
        self.api_key_id = api_key_id
        self._apigateway = apigateway

    @cached_property
    def key(self) -> str:
        """The key's value, read once per container from API Gateway."""
        apigateway = self._apigateway or boto3.client("apigateway")
        return str(apigateway.get_api_key(apiKey=self.api_key_id, includeValue=True)["value"])

    def send(self, request: dict[str, Any]) -> str:
        return str(self._call("POST", "/v1/emails", request)["id"])

    def get(self, message_id: str) -> dict[str, Any]:
        answer: dict[str, Any] = self._call("GET", f"/v1/emails/{message_id}")
        return answer

    def _call(self, method: str, path: str, body: Any = None) -> Any:
        request = urllib.request.Request(
            self.api_url + path, method=method,
            data=json.dumps(body).encode() if body is not None else None,
            headers={"x-api-key": self.key, "content-type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:
                return json.loads(response.read())
        except urllib.error.HTTPError as error:
            raise ApiRefused(f"{method} {path}: HTTP {error.code} "
                             f"{error.read()[:300].decode(errors='replace')}") from None
        except (urllib.error.URLError, TimeoutError) as error:
            raise ApiRefused(f"{method} {path}: {getattr(error, 'reason', error)}") from None


class DynamoCanaryStore:
    KEY = {"name": {"S": "canary"}}

    def __init__(self, table_name: str, client: Any = None) -> None:
        self.table_name = table_name
        self.client = client or boto3.client("dynamodb")

    def last(self) -> tuple[str, datetime] | None:
        item = self.client.get_item(TableName=self.table_name, Key=self.KEY,
                                    ConsistentRead=True).get("Item")
        if not item:
            return None
        data = from_item(item)
        return str(data["message_id"]), datetime.fromisoformat(data["sent_at"])

    def remember(self, message_id: str, sent_at: datetime) -> None:
        self.client.put_item(TableName=self.table_name, Item=to_item(
            {"name": "canary", "message_id": message_id, "sent_at": sent_at.isoformat()}))
