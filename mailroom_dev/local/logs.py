"""What the local stack prints: one short line for each thing that happens, saying which
function (or the SES simulator) it happened in and to which message:

    09:12:03 api      POST /v1/emails 202 (41 ms)  7f3c1a2b…  queued
    09:12:04 sender   7f3c1a2b…  sent
    09:12:05 events   7f3c1a2b…  delivery → delivered

The handlers are left as they are. Each Powertools logger keeps its JSON formatter (it holds
the keys the handler appends); only the stream its handler writes to changes, to one that
reads each JSON record back and logs it again as such a line. With --verbose the handlers
print their JSON, and their metrics (EMF), as they do in Lambda."""

from __future__ import annotations

import importlib
import io
import json
import logging
import textwrap
import threading
from typing import Any

from aws_lambda_powertools import Metrics
from aws_lambda_powertools.metrics.functions import is_metrics_disabled

from mailroom import shape
from mailroom.models import MESSAGE_ID_TAG

# LogRecord attributes a line is made of; the emulators pass them with `extra=about(...)`.
SOURCE = "source"
MESSAGE_ID = "message_id"
SES = "ses"
# The handlers' lines are logged again here, beside the emulators' "mailroom_dev.local".
HANDLERS_LOGGER = "mailroom_dev.local.handlers"
# The SES simulator's: each event it publishes is a DEBUG line, shown only with --verbose
# (the events function says what each one did).
SES_LOGGER = "mailroom_dev.local.ses"
ID_LENGTH = 8

_FUNCTION_NAMES = {spec.service: spec.name for spec in shape.FUNCTIONS}
# What every record carries about its invocation rather than what happened: Powertools' own
# keys, the Lambda context, the ids (shown in a column of their own), the SES event the
# message already names.
_CONTEXT_KEYS = frozenset({
    "level", "location", "message", "timestamp", "service", "sampling_rate", "xray_trace_id",
    "cold_start", "function_name", "function_memory_size", "function_arn",
    "function_request_id", "correlation_id", "exception", "exception_name", "stack_trace",
    "message_id", "mailroom_id", "ses_message_id", "ses_event_type",
})


def about(source: str, message_id: str | None = None) -> dict[str, Any]:
    """`extra=` for a log call: the function the line is about (its name or its service
    name) or "ses", and the message's id if there is one."""
    return {SOURCE: _FUNCTION_NAMES.get(source, source), MESSAGE_ID: message_id}


def about_mail(tags: dict[str, list[str]]) -> dict[str, Any]:
    """`extra=` for the SES simulator's lines about an email: its tags name the message."""
    return about(SES, next(iter(tags.get(MESSAGE_ID_TAG) or []), None))


def short_id(value: str) -> str:
    """Enough of an id to tell messages apart on screen."""
    return value if len(value) <= ID_LENGTH else value[:ID_LENGTH] + "…"


def describe(record: dict[str, Any]) -> tuple[int, str | None, str]:
    """A Powertools JSON log record as (level, message id, text). The text is the message
    and its `reason`; warnings and errors also show every other key of their own, and the
    traceback if they carry one."""
    level = logging.getLevelNamesMapping().get(str(record.get("level")), logging.INFO)
    message_id = record.get("message_id") or record.get("mailroom_id")
    details = [str(record["reason"])] if record.get("reason") else []
    if level >= logging.WARNING:
        details += [f"{key}={value if isinstance(value, str) else json.dumps(value)}"
                    for key, value in record.items()
                    if key not in _CONTEXT_KEYS and key != "reason"]
    text = str(record.get("message", ""))
    if details:
        text += f" ({'; '.join(details)})"
    if record.get("exception"):
        text += "\n" + textwrap.indent(str(record["exception"]), "    ")
    return level, message_id, text


class HandlerLines(io.TextIOBase):
    """Where a handler's Powertools logger writes instead of stdout: every JSON record
    becomes a line of the local stack's log. The api's INFO lines are held back and joined
    to the request line the API Gateway emulator logs once the invocation is over."""

    def __init__(self, function: str) -> None:
        self.function = _FUNCTION_NAMES.get(function, function)
        self._log = logging.getLogger(HANDLERS_LOGGER)
        self._partial = ""

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        *lines, self._partial = (self._partial + text).split("\n")
        for line in filter(str.strip, lines):
            self._relog(line)
        return len(text)

    def _relog(self, line: str) -> None:
        try:
            record = json.loads(line)
        except ValueError:
            record = None
        if not isinstance(record, dict):  # not Powertools' JSON: show it as it is
            self._log.info("%s", line, extra=about(self.function))
            return
        level, message_id, text = describe(record)
        if self.function == shape.API.name and level < logging.WARNING:
            _hold(f"{short_id(message_id)}  {text}" if message_id else text)
            return
        self._log.log(level, "%s", text, extra=about(self.function, message_id))


# The api handler runs in the thread of the HTTP request that invoked it, so what it said is
# kept per thread until the emulator logs that request.
_held = threading.local()


def _hold(text: str) -> None:
    _held.lines = [*getattr(_held, "lines", []), text]


def _take_held() -> list[str]:
    lines, _held.lines = getattr(_held, "lines", []), []
    return lines


class JoinHeldApiLines(logging.Filter):
    """Adds what the api handler said to the emulator's line about the same request."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, SOURCE, None) == shape.API.name and record.name != HANDLERS_LOGGER:
            record.held = _take_held()
        return True


class LineFormatter(logging.Formatter):
    """`HH:MM:SS source   id…  text`: the source is a function or `ses`, `local` for the rest
    of the stack; warnings and errors say so."""

    def __init__(self) -> None:
        super().__init__(datefmt="%H:%M:%S")

    def format(self, record: logging.LogRecord) -> str:
        source = getattr(record, SOURCE, None) or "local"
        message_id = getattr(record, MESSAGE_ID, None)
        text = record.getMessage()
        if record.levelno >= logging.WARNING:
            text = f"{record.levelname.lower()}: {text}"
        prefix = f"{self.formatTime(record, self.datefmt)} {source:<8} "
        if message_id:
            prefix += f"{short_id(message_id)}  "
        line = "  ".join([prefix + text, *getattr(record, "held", [])])
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        return f"{line}\n{record.exc_text}" if record.exc_text else line


def install(verbose: bool) -> None:
    """The root handler, on stderr, writing every line of the stack as above."""
    handler = logging.StreamHandler()
    handler.setFormatter(LineFormatter())
    if not verbose:
        handler.addFilter(JoinHeldApiLines())
    logging.basicConfig(level=logging.WARNING, handlers=[handler])


def attach(verbose: bool) -> None:
    """Once the stack has loaded the handlers: their metrics kept apart, and, unless
    verbose, their Powertools logs written as short lines."""
    # What a handler's Powertools level lets through is shown (POWERTOOLS_LOG_LEVEL=DEBUG).
    logging.getLogger(HANDLERS_LOGGER).setLevel(logging.DEBUG)
    for spec, module in _handler_modules():
        for metrics in _metrics_of(module):
            own_metric_set(metrics, publish=not is_metrics_disabled())
        if not verbose:
            for handler in logging.getLogger(spec.service).handlers:
                if isinstance(handler, logging.StreamHandler):
                    handler.setStream(HandlerLines(spec.name))


def quiet() -> None:
    """The handlers run in this process without output (benchmarks): warnings and errors
    only, no metrics."""
    for spec, module in _handler_modules():
        logging.getLogger(spec.service).setLevel(logging.WARNING)
        for metrics in _metrics_of(module):
            own_metric_set(metrics, publish=False)


def own_metric_set(metrics: Metrics, publish: bool) -> None:
    """Give one function's Metrics a metric set of its own. Powertools shares one among
    every Metrics of a process (so a function may add metrics from any module); here the
    three functions share a process, and one's flush would publish another's metrics under
    its own service name. Unless `publish`, data points are checked and dropped as they
    come: with metrics disabled Powertools keeps them all, and prints them as a metric
    document (EMF) at the 100th anyway."""
    provider = metrics.provider
    provider.metric_set, provider.metadata_set = {}, {}
    provider.default_dimensions = dict(provider.default_dimensions)
    provider.dimension_set = dict(provider.default_dimensions)
    if publish:
        return
    add_metric = provider.add_metric

    def add_and_forget(*args: Any, **kwargs: Any) -> None:
        add_metric(*args, **kwargs)  # still validated, as in Lambda
        provider.metric_set.clear()

    provider.add_metric = add_and_forget  # type: ignore[method-assign]


def _handler_modules() -> list[tuple[shape.Function, Any]]:
    return [(spec, importlib.import_module(spec.handler.rpartition(".")[0]))
            for spec in shape.FUNCTIONS]


def _metrics_of(module: Any) -> list[Metrics]:
    return [value for value in vars(module).values() if isinstance(value, Metrics)]
