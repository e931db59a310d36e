"""`mailroom invoke FUNCTION EVENT.json`: one handler run in this process with a sample event
(from `events/`), against the running local stack — what `sam local invoke` does, without
Docker. The handler gets exactly the environment the local stack gives its own functions
(`.mailroom/env-vars.json`, which `sam local invoke --env-vars` reads as well), so its tables,
queues, topics and SES are the stack's."""

from __future__ import annotations

import contextlib
import json
import os
import sys
from pathlib import Path
from typing import Any

from mailroom import shape


class InvokeError(Exception):
    """What keeps the invocation from running, in plain words."""


def find_function(name: str) -> shape.Function:
    """A function of the shape by its name (`sender`) or its service name (`mailroom-sender`)."""
    for spec in shape.FUNCTIONS:
        if name in (spec.name, spec.service):
            return spec
    known = ", ".join(spec.name for spec in shape.FUNCTIONS)
    raise InvokeError(f"There is no function {name!r}: use one of {known}.")


def read_event(path: Path) -> dict[str, Any]:
    try:
        event = json.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise InvokeError(f"Cannot read {path}: {error.strerror}.") from None
    except ValueError as error:
        raise InvokeError(f"{path} is not valid JSON: {error}.") from None
    if not isinstance(event, dict):
        raise InvokeError(f"{path} must hold one JSON object: a Lambda event.")
    return event


def read_environment(env_vars_file: Path) -> dict[str, str]:
    """The handlers' environment from an `--env-vars` file: its "Parameters", the variables
    every function gets."""
    try:
        document = json.loads(env_vars_file.read_text(encoding="utf-8"))
    except OSError:
        raise InvokeError(f"{env_vars_file} is missing: is `make dev` running, and recent "
                          "enough to write it?") from None
    except ValueError as error:
        raise InvokeError(f"{env_vars_file} is not valid JSON: {error}.") from None
    return {str(key): str(value) for key, value in document.get("Parameters", {}).items()}


def run_handler(spec: shape.Function, event: dict[str, Any],
                environment: dict[str, str]) -> Any:
    """Invoke the handler once, as Lambda would, and return what it returned. The handler's
    own output (Powertools logs) goes to stderr, so stdout holds only the answer."""
    from mailroom_dev.local.lambda_runtime import LambdaFunction

    # Before the handler module is imported: it reads its settings from the environment.
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS"):
        os.environ.pop(name, None)  # never real AWS from a local invocation
    os.environ.update(environment)
    function = LambdaFunction(spec.service, spec.handler, spec.timeout_seconds,
                              memory_mb=spec.memory_mb)
    with contextlib.redirect_stdout(sys.stderr):
        return function.invoke(event)
