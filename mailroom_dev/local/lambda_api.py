"""A Lambda API stand-in for event source mappings — GetEventSourceMapping,
UpdateEventSourceMapping (`Enabled`) and ListEventSourceMappings — and Invoke of the local
functions, in Lambda's REST-JSON protocol, so the production gate adapter and the CLI run
unchanged through boto3 (`AWS_ENDPOINT_URL_LAMBDA`). moto has the same calls, but with an
enabled mapping it tries to run the function in Docker on every message; here the local
pollers are the mappings and honour the state this holds.

Like Lambda, a change is not instant: an update leaves the mapping `Enabling` or `Disabling`
until its poller takes it up (between two receives), and an update in the middle of a change
is refused with ResourceConflictException."""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from .httpserver import JsonRequestHandler, LoopbackServer, Served
from .resources import ACCOUNT_ID, REGION

log = logging.getLogger("mailroom_dev.local")

MAPPINGS_PATH = "/2015-03-31/event-source-mappings"
FUNCTIONS_PATH = "/2015-03-31/functions/"
MAX_REQUEST_BYTES = 64 * 1024
_SETTLED = {True: "Enabled", False: "Disabled"}
_CHANGING = {True: "Enabling", False: "Disabling"}


class LambdaError(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


@dataclass
class EventSourceMapping:
    """One function's SQS event source mapping; its poller asks `settle` before each
    receive."""

    uuid: str
    function_name: str
    queue_arn: str
    batch_size: int
    region: str = REGION
    state: str = "Enabled"
    last_modified: float = field(default_factory=time.time)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def update(self, enabled: bool) -> None:
        with self._lock:
            if self.state in _CHANGING.values():
                raise LambdaError(
                    409, "ResourceConflictException",
                    "The operation cannot be performed at this time. The event source mapping "
                    f"is currently in {self.state} state. Please try again later.")
            if self.state != _SETTLED[enabled]:
                self.state = _CHANGING[enabled]
                self.last_modified = time.time()

    def settle(self) -> bool:
        """The poller takes up a change under way; True if it may receive."""
        with self._lock:
            for wanted, changing in _CHANGING.items():
                if self.state == changing:
                    self.state = _SETTLED[wanted]
                    log.info("the %s function's event source mapping is %s",
                             self.function_name, self.state.lower())
            return self.state == "Enabled"

    def describe(self) -> dict[str, Any]:
        return {
            "UUID": self.uuid,
            "EventSourceArn": self.queue_arn,
            "FunctionArn": f"arn:aws:lambda:{self.region}:{ACCOUNT_ID}:function:"
                           f"{self.function_name}",
            "EventSourceMappingArn": f"arn:aws:lambda:{self.region}:{ACCOUNT_ID}:"
                                     f"event-source-mapping:{self.uuid}",
            "BatchSize": self.batch_size,
            "State": self.state,
            "StateTransitionReason": "USER_INITIATED",
            "LastModified": self.last_modified,
            "FunctionResponseTypes": ["ReportBatchItemFailures"],
        }


class LambdaApi(Served):
    """Serves the mappings on loopback; `url` goes into AWS_ENDPOINT_URL_LAMBDA."""

    def __init__(self, mappings: list[EventSourceMapping], port: int = 0) -> None:
        self.mappings = {mapping.uuid: mapping for mapping in mappings}
        # By function name; each has `invoke(event) -> response` (LambdaFunction).
        self.functions: dict[str, Any] = {}
        self._server = LoopbackServer(_LambdaRequestHandler, port, app=self)

    def mapping(self, mapping_id: str) -> EventSourceMapping:
        if mapping_id not in self.mappings:
            raise LambdaError(404, "ResourceNotFoundException",
                              "The resource you requested does not exist.")
        return self.mappings[mapping_id]

    def invoke(self, name: str, payload: Any) -> tuple[Any, bool]:
        """The function's response, and whether it raised (Lambda's FunctionError)."""
        if name not in self.functions:
            raise LambdaError(404, "ResourceNotFoundException",
                              f"Function not found: {name}")
        try:
            return self.functions[name].invoke(payload), False
        except Exception as error:
            log.exception("invoking %s failed", name)
            return {"errorMessage": str(error), "errorType": type(error).__name__}, True

    def handle(self, method: str, path: str, query: dict[str, list[str]],
               payload: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        if path == MAPPINGS_PATH and method == "GET":
            function = next(iter(query.get("FunctionName", [])), None)
            return 200, {"EventSourceMappings": [
                mapping.describe() for mapping in self.mappings.values()
                if function in (None, mapping.function_name)]}
        if path.startswith(MAPPINGS_PATH + "/"):
            mapping = self.mapping(unquote(path.removeprefix(MAPPINGS_PATH + "/")))
            if method == "GET":
                return 200, mapping.describe()
            if method == "PUT":
                enabled = payload.get("Enabled")
                if enabled is not None and not isinstance(enabled, bool):
                    raise LambdaError(400, "InvalidParameterValueException",
                                      "Enabled must be a boolean.")
                if enabled is not None:
                    mapping.update(enabled)
                return 202, mapping.describe()
        raise LambdaError(404, "UnknownOperationException",
                          f"{method} {path} is not simulated: the local Lambda stand-in answers "
                          "Get, Update and ListEventSourceMappings.")


class _LambdaRequestHandler(JsonRequestHandler):
    server_version = "mailroom-local-lambda"

    def do_GET(self) -> None:
        request_id = str(uuid.uuid4())
        url = urlsplit(self.path)
        api: LambdaApi = self.server.app  # type: ignore[attr-defined]
        try:
            body = self.read_body(MAX_REQUEST_BYTES)
            payload = json.loads(body) if body.strip() else {}
            if not isinstance(payload, dict):
                raise LambdaError(400, "InvalidParameterValueException",
                                  "The request body must be a JSON object.")
            path = url.path.rstrip("/")
            if self.command == "POST" and path.startswith(FUNCTIONS_PATH) \
                    and path.endswith("/invocations"):
                name = unquote(path.removeprefix(FUNCTIONS_PATH).removesuffix("/invocations"))
                result, failed = api.invoke(name, payload)
                return self.send_json(200, result, [("x-amzn-RequestId", request_id)]
                                      + ([("X-Amz-Function-Error", "Unhandled")]
                                         if failed else []))
            status, result = api.handle(self.command, path, parse_qs(url.query), payload)
        except LambdaError as error:
            return self.send_json(error.status, {"Type": "User", "message": error.message},
                                  [("x-amzn-ErrorType", error.code),
                                   ("x-amzn-RequestId", request_id)])
        except Exception as error:  # malformed JSON and the like: the caller's fault
            return self.send_json(400, {"Type": "User", "message": f"Malformed request: {error}"},
                                  [("x-amzn-ErrorType", "InvalidRequestContentException"),
                                   ("x-amzn-RequestId", request_id)])
        self.send_json(status, result, [("x-amzn-RequestId", request_id)])

    do_PUT = do_POST = do_DELETE = do_GET
