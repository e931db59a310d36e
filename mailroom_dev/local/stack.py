"""The local stack: moto for SQS, SNS and DynamoDB, the SES simulator, the API Gateway
emulator and the SQS pollers, wired like the CDK stack and running the same handler code.

One LocalStack per process: moto keeps its state in module globals, and the handlers read
their endpoints from the environment once. Tests that need it alongside other moto tests
start it in a subprocess (`python -m mailroom_dev.local`)."""

from __future__ import annotations

import json
import logging
import os
import secrets
import socket
import string
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from mailroom import shape
from mailroom.settings import ENV_PREFIX

from . import resources as names
from .apigateway import ApiGatewayEmulator
from .console import DEFAULT_CONSOLE_PORT, Console
from .httpserver import LOOPBACK
from .lambda_api import EventSourceMapping, LambdaApi
from .lambda_runtime import LambdaFunction
from .pollers import ScheduledInvoker, SqsPoller
from .resources import Resources, create_resources
from .ses_simulator import DEFAULT_EVENT_DELAY, DEFAULT_MAX_SEND_RATE, SesSimulator

log = logging.getLogger("mailroom_dev.local")

DEFAULT_API_PORT = 3000
DEFAULT_AWS_PORT = 4566
STATE_FILE = "local.json"
# The handlers' environment, in the shape `sam local invoke --env-vars` reads (its
# "Parameters" apply to every function); `mailroom invoke` reads it too.
ENV_VARS_FILE = "env-vars.json"
API_KEY_FILE = "api_key"

# Dummy credentials: moto and the simulator accept any signature, and explicit ones keep a
# developer's real AWS profile from ever being used by the local stack.
DUMMY_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "mailroom-local", "AWS_SECRET_ACCESS_KEY": "local"}


class PortInUse(RuntimeError):
    pass


@dataclass
class LocalStackOptions:
    state_dir: Path = field(default_factory=lambda: Path.cwd() / ".mailroom")
    api_port: int = DEFAULT_API_PORT  # 0 picks a free port
    aws_port: int = DEFAULT_AWS_PORT
    simulator_port: int = 0
    console_port: int = DEFAULT_CONSOLE_PORT
    region: str = names.REGION
    api_key: str | None = None  # None: the stable key kept in <state_dir>/api_key
    max_send_rate: float = DEFAULT_MAX_SEND_RATE
    event_delay: float = DEFAULT_EVENT_DELAY
    write_state_file: bool = True

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None, **overrides: Any) -> LocalStackOptions:
        """Options from MAILROOM_API_PORT, MAILROOM_AWS_PORT, MAILROOM_SIM_PORT,
        MAILROOM_CONSOLE_PORT, MAILROOM_SIM_MAX_SEND_RATE and MAILROOM_STATE_DIR. (Not
        MAILROOM_API_KEY: the CLI reads that for a deployed stack, whose key must not leak
        into the local one.)"""
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for key, variable, kind in (
            ("api_port", "MAILROOM_API_PORT", int),
            ("aws_port", "MAILROOM_AWS_PORT", int),
            ("simulator_port", "MAILROOM_SIM_PORT", int),
            ("console_port", "MAILROOM_CONSOLE_PORT", int),
            ("max_send_rate", "MAILROOM_SIM_MAX_SEND_RATE", float),
            ("state_dir", "MAILROOM_STATE_DIR", Path),
        ):
            if env.get(variable):
                values[key] = kind(env[variable])
        values.update(overrides)
        return cls(**values)


class LocalStack:
    def __init__(self, options: LocalStackOptions | None = None, **overrides: Any) -> None:
        self.options = options or LocalStackOptions(**overrides)
        self.state_dir = Path(self.options.state_dir).resolve()
        self.outbox_dir = self.state_dir / "outbox"
        self.api_key = self.options.api_key or stable_api_key(self.state_dir)
        self.resources: Resources | None = None
        self.config: dict[str, Any] = {}
        self._moto: Any = None
        self._simulator: SesSimulator | None = None
        self._gateway: ApiGatewayEmulator | None = None
        self._lambda_api: LambdaApi | None = None
        self._console: Console | None = None
        self._pollers: list[SqsPoller | ScheduledInvoker] = []
        self._saved_env: dict[str, str | None] = {}
        self._handler_env: dict[str, str] = {}

    def __enter__(self) -> LocalStack:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def state_file(self) -> Path:
        return self.state_dir / STATE_FILE

    def start(self) -> dict[str, Any]:
        """Start everything; returns the config also written to .mailroom/local.json."""
        try:
            self._start()
        except BaseException:
            self.stop()
            raise
        return self.config

    def _start(self) -> None:
        options = self.options
        ensure_port_free(options.aws_port, "MAILROOM_AWS_PORT", "the AWS emulator (moto)")
        ensure_port_free(options.api_port, "MAILROOM_API_PORT", "the API")
        ensure_port_free(options.simulator_port, "MAILROOM_SIM_PORT", "the SES simulator")
        ensure_port_free(options.console_port, "MAILROOM_CONSOLE_PORT", "the console")
        aws_url = self._start_moto(options.aws_port)
        clients = _clients(aws_url, options.region)
        resources = create_resources(clients["dynamodb"], clients["sqs"], clients["sns"],
                                     clients["secretsmanager"])
        # API Gateway keeps the key, as in AWS: the canary reads its value from there.
        key_id = clients["apigateway"].create_api_key(
            name="mailroom-local", value=self.api_key, enabled=True)["id"]
        self.resources = resources = replace(resources, api_key_id=key_id)
        self._simulator = self._start_simulator(clients["sns"], resources)
        self._lambda_api = self._start_lambda_api(resources)
        # Known before the API starts: the canary calls it, and reads its URL at start.
        api_port = options.api_port or free_port()
        # The handlers read endpoints and names from the environment, so it comes first.
        self._handler_env = handler_environment(
            resources, aws_url, self._simulator.url, self._lambda_api.url, options.region,
            api_url=f"http://{LOOPBACK}:{api_port}")
        self._set_environment(self._handler_env)
        self._start_functions(clients["sqs"], resources, api_port)
        self._console = self._start_console()
        self.config = self._describe(aws_url)
        if options.write_state_file:
            self._write_state_file()

    def _start_simulator(self, sns: Any, resources: Resources) -> SesSimulator:
        from mailroom.templates import TemplateCatalog

        self.outbox_dir.mkdir(parents=True, exist_ok=True)
        simulator = SesSimulator(
            sns=sns,
            ses_events_topic_arn=resources.ses_events_topic_arn,
            configuration_set=names.CONFIGURATION_SET,
            outbox_dir=self.outbox_dir,
            catalog=TemplateCatalog.load(),
            template_prefix=names.TEMPLATE_PREFIX,
            region=self.options.region,
            max_send_rate=self.options.max_send_rate,
            event_delay=self.options.event_delay,
            port=self.options.simulator_port,
        )
        simulator.start()
        return simulator

    def _start_console(self) -> Console:
        """The console reads through the api function's own stores, so it starts once the
        handlers' environment is set."""
        from mailroom_dev.templates_build import SOURCE_DIR

        from .console_data import Outbox, Pipeline, TemplatePreviews

        console = Console(Outbox(self.outbox_dir), Pipeline.from_environment(),
                          TemplatePreviews(SOURCE_DIR if SOURCE_DIR.is_dir() else None),
                          port=self.options.console_port)
        console.start()
        return console

    def _start_lambda_api(self, resources: Resources) -> LambdaApi:
        """The event source mappings, one per function with an SQS event source."""
        mappings = [
            EventSourceMapping(uuid=resources.consumers[spec.name], function_name=spec.service,
                               queue_arn=resources.queues[spec.event_source.queue.name].arn,
                               batch_size=spec.event_source.batch_size,
                               region=self.options.region)
            for spec in shape.FUNCTIONS if spec.event_source]
        lambda_api = LambdaApi(mappings)
        lambda_api.start()
        return lambda_api

    def _start_functions(self, sqs: Any, resources: Resources, api_port: int) -> None:
        """Every function the shape declares: the api function behind the API Gateway
        emulator, each function with an SQS event source behind a poller of its queue."""
        assert self._lambda_api is not None
        functions = {spec: LambdaFunction(spec.service, spec.handler, spec.timeout_seconds,
                                          memory_mb=spec.memory_mb)
                     for spec in shape.FUNCTIONS}
        for function in functions.values():
            function.load()  # an import error shows now, not on the first request
        self._lambda_api.functions.update(
            {spec.service: function for spec, function in functions.items()})
        self._gateway = ApiGatewayEmulator(functions[shape.API], self.api_key, port=api_port)
        self._gateway.start()
        self._pollers = [
            SqsPoller(sqs, queue.url, queue.arn, function, self.options.region,
                      batch_size=spec.event_source.batch_size,
                      mapping=self._lambda_api.mapping(resources.consumers[spec.name]))
            for spec, function in functions.items() if spec.event_source
            for queue in [resources.queues[spec.event_source.queue.name]]
        ]
        self._pollers += [
            ScheduledInvoker(function, schedule.event, names.local_schedule_seconds(schedule))
            for spec, function in functions.items() for schedule in spec.schedules
        ]
        for poller in self._pollers:
            poller.start()

    def _write_state_file(self) -> None:
        # Written last and atomically: its presence means "ready". It holds the API key,
        # so only the owner may read it.
        self.state_dir.mkdir(parents=True, exist_ok=True)
        env_vars = self.state_dir / ENV_VARS_FILE
        env_vars.touch(mode=0o600)
        env_vars.write_text(json.dumps({"Parameters": self._handler_env}, indent=2) + "\n",
                            encoding="utf-8")
        partial = self.state_file.with_suffix(".json.partial")
        partial.touch(mode=0o600)
        partial.write_text(json.dumps(self.config, indent=2) + "\n", encoding="utf-8")
        partial.replace(self.state_file)

    def stop(self) -> None:
        """Stop everything, newest first; safe to call twice or after a failed start."""
        if self.options.write_state_file and self.config:
            self.state_file.unlink(missing_ok=True)
            (self.state_dir / ENV_VARS_FILE).unlink(missing_ok=True)
        if self._console is not None:
            self._console.stop()
            self._console = None
        if self._gateway is not None:
            self._gateway.stop()
            self._gateway = None
        for poller in self._pollers:
            poller.request_stop()  # all at once: each may be in a long poll
        for poller in self._pollers:
            poller.stop()
        self._pollers = []
        if self._simulator is not None:
            self._simulator.stop()
            self._simulator = None
        if self._lambda_api is not None:
            self._lambda_api.stop()
            self._lambda_api = None
        if self._moto is not None:
            self._moto.stop()
            self._moto = None
        self._restore_environment()
        self.config = {}

    # -- pieces ------------------------------------------------------------------------

    def _start_moto(self, port: int) -> str:
        from moto.server import ThreadedMotoServer

        self._moto = ThreadedMotoServer(ip_address=LOOPBACK, port=port, verbose=False)
        self._moto.start()
        host, bound_port = self._moto.get_host_and_port()
        return f"http://{host}:{bound_port}"

    def _describe(self, aws_url: str) -> dict[str, Any]:
        assert self.resources and self._gateway and self._simulator and self._console
        r = self.resources
        return {
            "api_url": self._gateway.url,
            "api_key": self.api_key,
            "aws_endpoint_url": aws_url,
            "region": self.options.region,
            "ses_events_topic_arn": r.ses_events_topic_arn,
            "notifications_topic_arn": r.notifications_topic_arn,
            "send_queue_url": r.send_queue.url,
            "outbox_dir": str(self.outbox_dir),
            "env_vars_file": str(self.state_dir / ENV_VARS_FILE),
            "console_url": self._console.url,
            "notifications_queue_url": r.notifications_queue_url,
            "send_dlq_url": r.send_queue.dlq_url,
            "events_queue_url": r.events_queue.url,
            "events_dlq_url": r.events_queue.dlq_url,
            "subscription_dlq_url": r.subscription_dlqs[shape.EVENTS_QUEUE.name],
            "simulator_url": self._simulator.url,
            "lambda_url": self._lambda_api.url if self._lambda_api else None,
            "messages_table": r.messages_table,
            "suppressions_table": r.suppressions_table,
            "idempotency_table": r.idempotency_table,
            "configuration_set": names.CONFIGURATION_SET,
            "template_prefix": names.TEMPLATE_PREFIX,
            "pid": os.getpid(),
            "started_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }

    def _set_environment(self, values: dict[str, str]) -> None:
        for name, value in values.items():
            self._saved_env.setdefault(name, os.environ.get(name))
            os.environ[name] = value
        # A developer's setting must not send local traffic to real AWS endpoints.
        for name in ("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "AWS_PROFILE", "AWS_SESSION_TOKEN"):
            self._saved_env.setdefault(name, os.environ.get(name))
            os.environ.pop(name, None)

    def _restore_environment(self) -> None:
        for name, value in self._saved_env.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        self._saved_env = {}


def handler_environment(
    resources: Resources, aws_url: str, ses_url: str, lambda_url: str, region: str,
    api_url: str,
) -> dict[str, str]:
    """Everything the handlers read from the environment: AWS endpoints and credentials,
    Powertools switches, and every name of the functions' settings models."""
    env = {
        "AWS_ENDPOINT_URL": aws_url,
        "AWS_ENDPOINT_URL_SESV2": ses_url,
        "AWS_ENDPOINT_URL_LAMBDA": lambda_url,
        "AWS_REGION": region,
        "AWS_DEFAULT_REGION": region,
        **DUMMY_CREDENTIALS,
        "POWERTOOLS_METRICS_NAMESPACE": shape.METRICS_NAMESPACE,
        # No X-Ray daemon and no CloudWatch here; logs stay quiet unless asked for.
        "POWERTOOLS_TRACE_DISABLED": "true",
        "POWERTOOLS_METRICS_DISABLED": os.environ.get("POWERTOOLS_METRICS_DISABLED", "true"),
        "POWERTOOLS_LOG_LEVEL": os.environ.get("POWERTOOLS_LOG_LEVEL", "WARNING"),
    }
    env.update(settings_environment(resources, api_url=api_url))
    return env


# Settings the local stack always sets: its own names, and limits that must match its queues.
LOCAL_WIRING: dict[str, object] = {
    "template_prefix": names.TEMPLATE_PREFIX,
    "max_receive_count": shape.SEND_QUEUE.max_receive_count,
    "fleet_concurrency": names.LOCAL_FLEET_CONCURRENCY,
}
# Defaults a developer may override through the environment (MAILROOM_<FIELD>).
LOCAL_DEFAULTS: dict[str, object] = {
    "default_from": names.DEFAULT_FROM,
    "allowed_senders": names.ALLOWED_SENDERS,
    "retry_base_seconds": names.LOCAL_RETRY_BASE_SECONDS,
    # Check the reputation after every batch of outcomes, so trying it is immediate.
    "reputation_check_seconds": 0,
    # Where the canary finds the API; the running stack wires its own.
    "api_url": f"http://{LOOPBACK}:{DEFAULT_API_PORT}",
}


def settings_environment(resources: Resources, **wiring: object) -> dict[str, str]:
    """A value for every variable of every function's settings model. Resource names come
    from the stack, as the CDK function factory sets them; tunables keep a developer's value
    if set, else the local default or the model's own — and a new required setting fails
    loudly here, not in a handler."""
    env: dict[str, str] = {}
    for spec in shape.FUNCTIONS:
        fields = spec.settings.model_fields
        wired: dict[str, object] = {setting: resources.identifier(resource)
                                    for setting, resource in spec.wired_settings.items()}
        wired |= {name: value for name, value in (LOCAL_WIRING | wiring).items()
                  if name in fields}
        tunable = {name: value for name, value in LOCAL_DEFAULTS.items() if name in fields}
        tunable |= {name: os.environ[variable] for name in fields
                    if (variable := f"{ENV_PREFIX}{name}".upper()) in os.environ
                    and os.environ[variable] and name not in wired}
        try:
            function_env = spec.settings.environment(**(tunable | wired))
        except ValueError as error:
            raise RuntimeError(
                f"The local stack has no value for a setting of {spec.name} ({error}): add it "
                "to mailroom_dev/local/stack.py LOCAL_WIRING or LOCAL_DEFAULTS.") from error
        for variable, value in function_env.items():
            if env.setdefault(variable, value) != value:
                raise RuntimeError(f"{variable} differs between functions sharing a process")
    return env


def _clients(endpoint_url: str, region: str) -> dict[str, Any]:
    import boto3

    session = boto3.session.Session(
        aws_access_key_id=DUMMY_CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=DUMMY_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        region_name=region,
    )
    return {
        service: session.client(service, endpoint_url=endpoint_url)
        for service in ("dynamodb", "sqs", "sns", "apigateway", "secretsmanager")
    }


def free_port() -> int:
    """A port nobody listens on now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((LOOPBACK, 0))
        return int(probe.getsockname()[1])


def ensure_port_free(port: int, variable: str, what: str) -> None:
    """Fail with plain words now rather than hang or crash in a server thread later."""
    if port == 0:
        return
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((LOOPBACK, port))
        except OSError:
            raise PortInUse(
                f"Port {port} on {LOOPBACK} is taken, so {what} cannot start. Is another "
                f"`make dev` running? Stop it, or pick another port with {variable}=..."
            ) from None


def stable_api_key(state_dir: Path) -> str:
    """The local API key, generated once and kept in .mailroom/api_key so curl commands and
    app configs keep working across restarts."""
    path = state_dir / API_KEY_FILE
    if path.exists():
        key = path.read_text(encoding="utf-8").strip()
        if key:
            return key
    alphabet = string.ascii_letters + string.digits
    key = "".join(secrets.choice(alphabet) for _ in range(40))  # shaped like an API GW key
    state_dir.mkdir(parents=True, exist_ok=True)
    path.touch(mode=0o600)
    path.write_text(key + "\n", encoding="utf-8")
    return key
