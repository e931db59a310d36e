"""Runs a handler the way Lambda does: one invocation at a time per function (one warm
container), with a context object that has the attributes Powertools reads."""

from __future__ import annotations

import importlib
import logging
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .resources import ACCOUNT_ID, REGION

log = logging.getLogger("mailroom_dev.local")

Handler = Callable[[dict[str, Any], Any], Any]


@dataclass
class FakeLambdaContext:
    function_name: str
    timeout_seconds: int = 60
    memory_limit_in_mb: int = 512
    function_version: str = "$LATEST"
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    log_group_name: str = ""
    log_stream_name: str = "local"
    _deadline: float = field(default=0.0, repr=False)

    def __post_init__(self) -> None:
        self.log_group_name = self.log_group_name or f"/aws/lambda/{self.function_name}"
        self._deadline = time.monotonic() + self.timeout_seconds

    @property
    def invoked_function_arn(self) -> str:
        return f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:{self.function_name}"

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


class LambdaFunction:
    """A handler given as "module.attribute", imported on first use so that the environment
    (endpoints, table names) is in place before the handler module reads it."""

    def __init__(self, name: str, handler_path: str, timeout_seconds: int = 60,
                 memory_mb: int = 512) -> None:
        self.name = name
        self.handler_path = handler_path
        self.timeout_seconds = timeout_seconds
        self.memory_mb = memory_mb
        self._handler: Handler | None = None
        # Powertools resolvers and batch processors keep per-invocation state on module
        # globals, so invocations of one function must not overlap, exactly as in one
        # Lambda container.
        self._lock = threading.Lock()

    @classmethod
    def from_callable(cls, name: str, handler: Handler) -> LambdaFunction:
        function = cls(name, handler_path="<callable>")
        function._handler = handler
        return function

    def load(self) -> Handler:
        if self._handler is None:
            module_name, _, attribute = self.handler_path.rpartition(".")
            self._handler = getattr(importlib.import_module(module_name), attribute)
        return self._handler

    def invoke(self, event: dict[str, Any]) -> Any:
        handler = self.load()
        with self._lock:
            context = FakeLambdaContext(self.name, timeout_seconds=self.timeout_seconds,
                                        memory_limit_in_mb=self.memory_mb)
            return handler(event, context)
