"""The deployment's shape, as plain data: every function, table, queue, topic and route, with
its limits and the AWS access each function needs (DESIGN §1, §6).

It is the one place these facts are written. The CDK constructs (infra/) build the stack
from it, IAM statements included; the local stack (mailroom_dev/local) creates the same
tables, queues and topics in moto and wires the same handlers; the handlers read their
service names and routes here. CDK-free, so it ships in the Lambda asset. Adding a queue or
a table is one edit here plus the code that uses it."""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator
from dataclasses import dataclass
from enum import StrEnum
from typing import Literal

from .settings import (
    ApiSettings,
    CanarySettings,
    EventsSettings,
    KeyRotationSettings,
    SenderSettings,
    _Settings,
)

SERVICE_PREFIX = "mailroom"
METRICS_NAMESPACE = "Mailroom"
LOG_LEVEL = "INFO"


class Metric(StrEnum):
    """Every metric the functions emit (EMF, dimensioned by function only: a per-template or
    per-domain dimension would cost a series each); the alarms and the dashboard read these."""

    ACCEPTED = "Accepted"  # api: queued for sending
    SENT = "Sent"  # sender: SES took it
    DEFERRED = "Deferred"  # sender: paused or out of quota, back in the queue
    RETRIED = "Retried"  # sender: a transient failure, tried again later
    THROTTLED = "Throttled"  # sender: SES said slow down
    SUPPRESSED = "Suppressed"  # sender: the address was suppressed after acceptance
    FAILED = "Failed"  # sender: ended without SES (retries exhausted, configuration)
    # sender: SES refuses all mail until the account, identity or deployment is fixed
    CONFIGURATION_FAULT = "ConfigurationFault"
    DELIVERED = "Delivered"  # events, from here on
    HARD_BOUNCED = "HardBounced"
    SOFT_BOUNCED = "SoftBounced"
    COMPLAINED = "Complained"
    REJECTED = "Rejected"
    RENDER_FAILED = "RenderFailed"
    UNCONFIRMED = "Unconfirmed"  # the sweep: SES took it, and no outcome came
    SES_EVENTS = "SesEvents"  # events: every SES event applied
    MALFORMED_EVENTS = "MalformedSesRecords"
    SENDING_PAUSED = "SendingPaused"  # events, on its schedule: 1 while paused, else 0
    REPUTATION_WARNING = "ReputationWarning"  # the guard reached its warning level
    REPUTATION_PAUSE = "ReputationPause"  # the guard paused sending
    CANARY_SUCCEEDED = "CanarySucceeded"  # the canary: 1 for a round trip that worked, else 0
    CANARY_LATENCY = "CanaryLatency"  # seconds from accepted to delivered
    KEY_ROTATED = "KeyRotated"  # rotation: the unsubscribe key's new version is current

# AWS's guidance for Lambda consumers of SQS: visibility timeout at least 6x the timeout.
VISIBILITY_TIMEOUT_FACTOR = 6
# SQS's maximum retention: mail waiting out a pause, and dead letters, keep this long.
MAX_RETENTION_SECONDS = 14 * 24 * 3600


# --- storage --------------------------------------------------------------------------------
class Projection(StrEnum):
    ALL = "ALL"
    KEYS_ONLY = "KEYS_ONLY"


@dataclass(frozen=True)
class Index:
    name: str
    partition_key: str
    sort_key: str | None = None
    projection: Projection = Projection.ALL

    @property
    def keys(self) -> tuple[str, ...]:
        return (self.partition_key,) + ((self.sort_key,) if self.sort_key else ())


@dataclass(frozen=True)
class Table:
    """A DynamoDB table: string keys, on demand. `retain`: it outlives the stack."""

    name: str
    partition_key: str
    why: str
    indexes: tuple[Index, ...] = ()
    ttl_attribute: str | None = None
    retain: bool = True
    sort_key: str | None = None

    @property
    def keys(self) -> tuple[str, ...]:
        return (self.partition_key,) + ((self.sort_key,) if self.sort_key else ())

    @property
    def setting(self) -> str:
        """The settings field (and so the environment variable) that holds its name."""
        return f"{self.name}_table"


# Keys only: an index projecting ALL copies every timeline write (doubling the messages'
# write units, make bench), and most SES events carry Mailroom's id as a tag anyway.
MESSAGES_BY_SES_ID = Index("by_ses_message_id", partition_key="ses_message_id",
                           projection=Projection.KEYS_ONLY)
# Sparse: only mail SES took and no outcome has reached yet carries `awaiting_hour` (the
# hour it was sent), so the sweep finds what is overdue without a scan.
MESSAGES_AWAITING_OUTCOME = Index("awaiting_outcome", partition_key="awaiting_hour",
                                  sort_key="sent_at", projection=Projection.KEYS_ONLY)
# Sparse: only suppression items carry `reason`, so soft-bounce counters never show up.
SUPPRESSIONS_BY_REASON = Index("by_reason", partition_key="reason", sort_key="created_at")
# Sparse: only category entries carry `address`, so an address's categories are one Query.
# ALL: those entries are few and written rarely (an unsubscribe), and the Query reads them whole.
SUPPRESSIONS_BY_ADDRESS = Index("by_address", partition_key="address", sort_key="category")

MESSAGES = Table(
    "messages", partition_key="id", indexes=(MESSAGES_BY_SES_ID, MESSAGES_AWAITING_OUTCOME),
    why="Each message's status and timeline; SES events find theirs by SES message id.")
SUPPRESSIONS = Table(
    "suppressions", partition_key="email",
    indexes=(SUPPRESSIONS_BY_REASON, SUPPRESSIONS_BY_ADDRESS),
    ttl_attribute="ttl",
    why="The suppression list (global and per-category entries) and soft-bounce counts; "
        "`ttl` expires the temporary ones. "
        "Losing it would mean mailing addresses that bounced or complained.")
CONTROL = Table(
    "control", partition_key="name",
    why="Small operational state such as the sending switch: a paused account stays "
        "paused across a redeploy.")
IDEMPOTENCY = Table(
    "idempotency", partition_key="id", ttl_attribute="expiration", retain=False,
    why="Powertools idempotency records (its layout: key `id`, TTL `expiration`); "
        "disposable by design.")
COUNTERS = Table(
    "counters", partition_key="hour_shard", sort_key="counter", ttl_attribute="ttl",
    retain=False,
    why="Hourly outcome counts for the reputation guard and the reports, sharded so busy "
        "hours are not throttled; `ttl` drops them after the longest report range. Derived "
        "and expiring: a new stack counts afresh, so a retained copy would be an orphan.")
TABLES = (MESSAGES, SUPPRESSIONS, CONTROL, IDEMPOTENCY, COUNTERS)


# --- functions' limits (read by the queues below) -------------------------------------------
API_TIMEOUT_SECONDS = 15  # API Gateway gives up at 29 s anyway
# Bounds one SQS batch of 10 SES calls with backoff on throttling.
SENDER_TIMEOUT_SECONDS = 60
EVENTS_TIMEOUT_SECONDS = 60
MEMORY_MB = 512  # CPU scales with memory; 512 MB keeps pydantic's cold start short


# --- messaging ------------------------------------------------------------------------------
@dataclass(frozen=True)
class Queue:
    """An SQS queue with its dead-letter queue, encrypted and TLS-only."""

    name: str
    consumer_timeout_seconds: int
    why: str
    max_receive_count: int = 8  # tries before a message goes to its DLQ
    retention_seconds: int = MAX_RETENTION_SECONDS
    dlq_retention_seconds: int = MAX_RETENTION_SECONDS

    @property
    def visibility_timeout_seconds(self) -> int:
        return self.consumer_timeout_seconds * VISIBILITY_TIMEOUT_FACTOR

    @property
    def dlq_name(self) -> str:
        return f"{self.name}-dlq"

    @property
    def setting(self) -> str:
        return f"{self.name.replace('-', '_')}_queue_url"


SEND_QUEUE = Queue(
    "send", consumer_timeout_seconds=SENDER_TIMEOUT_SECONDS,
    why="Accepted mail waiting for the sender; it waits out a pause here for up to 14 days.")
EVENTS_QUEUE = Queue(
    "ses-events", consumer_timeout_seconds=EVENTS_TIMEOUT_SECONDS,
    why="SES events between SNS and the events function, so they batch, retry and "
        "dead-letter instead of being lost.")
QUEUES = (SEND_QUEUE, EVENTS_QUEUE)


@dataclass(frozen=True)
class DeadLetters:
    """A queue's dead-letter queue, as something a function writes to itself: a message no
    retry could ever apply goes there at once, with why in `DEAD_LETTER_REASON`."""

    queue: Queue

    @property
    def name(self) -> str:
        return self.queue.dlq_name

    @property
    def setting(self) -> str:
        return f"{self.queue.name.replace('-', '_')}_dlq_url"


EVENTS_DEAD_LETTERS = DeadLetters(EVENTS_QUEUE)
# The message attributes of a dead letter a function wrote itself: a short code and the
# reason in words, as it logged them (`mailroom dlq show` prints them).
DEAD_LETTER_REASON = "mailroom_reason"
DEAD_LETTER_DETAIL = "mailroom_detail"


@dataclass(frozen=True)
class Topic:
    """An SNS topic encrypted with the stack's key. `queues`: subscribed, raw delivery off
    (the subscriber reads the SNS envelope)."""

    name: str
    display_name: str
    why: str
    queues: tuple[Queue, ...] = ()

    @property
    def setting(self) -> str:
        return f"{self.name.replace('-', '_')}_topic_arn"


SES_EVENTS_TOPIC = Topic(
    "ses-events", "Mailroom SES events", queues=(EVENTS_QUEUE,),
    why="Where the configuration set publishes every SES event.")
NOTIFICATIONS_TOPIC = Topic(
    "notifications", "Mailroom notifications",
    why="One normalised event per message outcome, for apps to subscribe to.")
TOPICS = (SES_EVENTS_TOPIC, NOTIFICATIONS_TOPIC)


@dataclass(frozen=True)
class SesSending:
    """Sending through SES with this stack's configuration set and templates."""

    name: str = "ses"
    setting: str = "configuration_set"


SES = SesSending()


@dataclass(frozen=True)
class Consumer:
    """A function's SQS event source mapping, as something another function switches: a
    pause turns the sender's off so mail waits in its queue, a resume turns it back on."""

    function: str

    @property
    def name(self) -> str:
        return f"{self.function}-consumer"

    @property
    def setting(self) -> str:
        return f"{self.function}_event_source_id"


SENDER_CONSUMER = Consumer("sender")


@dataclass(frozen=True)
class ApiKey:
    """The API's key, kept by API Gateway: a function that calls the API reads its value
    from there, so it is never in a template or an environment in clear."""

    name: str = "api-key"
    setting: str = "api_key_id"


API_KEY = ApiKey()

# An unsubscribe link is good this long (RFC 8058 links must outlive the mail in an inbox).
UNSUBSCRIBE_TOKEN_DAYS = 90


@dataclass(frozen=True)
class Secret:
    """A Secrets Manager secret the stack generates and rotates every `rotation_days`; a
    function reads it at run time, so it is in neither the template nor an environment."""

    name: str
    why: str
    rotation_days: int

    @property
    def setting(self) -> str:
        return f"{self.name.replace('-', '_')}_secret_arn"


UNSUBSCRIBE_KEY = Secret(
    "unsubscribe-key", rotation_days=UNSUBSCRIBE_TOKEN_DAYS,
    why="Signs one-click unsubscribe links. The previous key still verifies after a rotation, "
        "and a link lives no longer than one rotation period, so no link breaks early.")
SECRETS = (UNSUBSCRIBE_KEY,)

Resource = Table | Queue | DeadLetters | Topic | SesSending | Consumer | ApiKey | Secret


# --- functions ------------------------------------------------------------------------------
@dataclass(frozen=True)
class Access:
    """Exactly these actions (IAM names without the service prefix) on one resource, and
    on one of its indexes for a Query. The function's settings get the resource's name."""

    resource: Resource
    actions: tuple[str, ...]
    why: str
    index: Index | None = None


# The least maximum concurrency an SQS event source accepts.
MIN_MAX_CONCURRENCY = 2


@dataclass(frozen=True)
class EventSource:
    """Lambda's SQS event source mapping, with partial batch failures reported."""

    queue: Queue
    batch_size: int = 10
    max_batching_window_seconds: int = 0
    # Consumers at once (SQS maximum concurrency); a deploy may raise it.
    max_concurrency: int = MIN_MAX_CONCURRENCY


@dataclass(frozen=True)
class Schedule:
    """An invocation on a timer (EventBridge in the stack, a thread locally) with a fixed
    event the handler recognises."""

    every_minutes: int
    task: str  # the event is {"mailroom_task": task}
    why: str

    @property
    def event(self) -> dict[str, str]:
        return {SCHEDULED_TASK_KEY: self.task}


SCHEDULED_TASK_KEY = "mailroom_task"


@dataclass(frozen=True)
class Function:
    name: str
    handler: str
    settings: type[_Settings]
    timeout_seconds: int
    description: str
    access: tuple[Access, ...]
    memory_mb: int = MEMORY_MB
    event_source: EventSource | None = None
    schedules: tuple[Schedule, ...] = ()

    @property
    def service(self) -> str:
        """The Powertools service name: logs, traces and the metrics' `service` dimension."""
        return f"{SERVICE_PREFIX}-{self.name}"

    @property
    def output_name(self) -> str:
        """The stack output with the deployed function's name (the CLI invokes it)."""
        return f"{self.name.capitalize()}FunctionName"

    @property
    def wired_settings(self) -> dict[str, Resource]:
        """Settings fields that name a resource this function uses."""
        return {access.resource.setting: access.resource for access in self.access}


REPUTATION_CHECK = Schedule(
    10, "reputation_check", "A quiet hour still confirms or clears the reputation guard's "
                            "level; the pause's gates are brought in line with the switch.")
SWEEP = Schedule(60, "sweep", "Mail SES took with no outcome after the settled window is "
                              "marked unconfirmed: the feedback path may be broken.")
CANARY_RUN = Schedule(15, "canary", "The whole path, checked end to end: a broken hop is "
                                    "found within two runs.")

# Who pauses (the api function for an operator, the events function for the guard) also
# stops the sender's consumer and SES's configuration set, and a resume starts both again.
PAUSE_ACCESS = (
    Access(SENDER_CONSUMER, ("GetEventSourceMapping", "UpdateEventSourceMapping"),
           "A pause stops the sender taking mail off its queue; a resume restarts it."),
    Access(SES, ("GetConfigurationSet", "PutConfigurationSetSendingOptions"),
           "A pause stops the configuration set sending; a resume re-enables it."),
)

API = Function(
    "api", "handlers.api.handler", ApiSettings, API_TIMEOUT_SECONDS,
    "Mailroom HTTP API: validate, record, enqueue",
    access=(
        Access(MESSAGES, ("BatchWriteItem", "GetItem", "UpdateItem"),
               "New messages are written in batches; one the queue refused is closed with "
               "an update."),
        Access(SUPPRESSIONS,
               ("BatchGetItem", "GetItem", "UpdateItem", "DeleteItem", "Query", "Scan"),
               "Suppression lookups (batched) and the manual list; listing by reason "
               "queries the sparse index, listing all scans.",
               index=SUPPRESSIONS_BY_REASON),
        Access(SUPPRESSIONS, ("Query",), "An address's category entries (GET one address).",
               index=SUPPRESSIONS_BY_ADDRESS),
        Access(CONTROL, ("GetItem", "PutItem"),
               "The sending switch: read on requests, set by PUT /v1/sending."),
        *PAUSE_ACCESS,
        Access(IDEMPOTENCY, ("GetItem", "PutItem", "UpdateItem", "DeleteItem"),
               "Powertools idempotency's record lifecycle."),
        Access(SEND_QUEUE, ("SendMessage",), "Enqueue (SendMessageBatch is SendMessage)."),
        Access(SES, ("DeleteSuppressedDestination",),
               "An address removed from Mailroom's list comes off SES's account list too."),
        Access(UNSUBSCRIBE_KEY, ("GetSecretValue",),
               "Sign unsubscribe links at accept; verify them when a recipient uses one."),
        Access(NOTIFICATIONS_TOPIC, ("Publish",), "email.unsubscribed, when one is used."),
        Access(COUNTERS, ("BatchGetItem", "Query"),
               "Reputation and stats: totals in batched reads; the breakdown by reason and "
               "domain queries each hour's shards."),
    ),
)
SENDER = Function(
    "sender", "handlers.sender.handler", SenderSettings, SENDER_TIMEOUT_SECONDS,
    "Sends queued messages through SES",
    event_source=EventSource(SEND_QUEUE),
    access=(
        Access(MESSAGES, ("GetItem", "UpdateItem"),
               "Claim a message (a conditional update), then record the outcome."),
        Access(SUPPRESSIONS, ("GetItem",), "Re-check suppression right before sending."),
        Access(CONTROL, ("GetItem",), "While sending is paused, mail goes back to wait."),
        Access(SEND_QUEUE, ("SendMessage", "ChangeMessageVisibility"),
               "Back off through visibility; a paused message re-enters as a fresh one."),
        Access(NOTIFICATIONS_TOPIC, ("Publish",), "Suppressed and failed sends."),
        Access(SES, ("SendEmail", "GetAccount"),
               "Send with the stack's templates and configuration set; read the quota."),
    ),
)
EVENTS = Function(
    "events", "handlers.events.handler", EventsSettings, EVENTS_TIMEOUT_SECONDS,
    "Applies SES events: message timeline, suppressions, notifications",
    event_source=EventSource(EVENTS_QUEUE),
    schedules=(REPUTATION_CHECK, SWEEP),
    access=(
        Access(MESSAGES, ("GetItem", "UpdateItem", "Query"),
               "Find a message by SES message id, append to its timeline, move its status.",
               index=MESSAGES_BY_SES_ID),
        Access(MESSAGES, ("Query",), "The sweep finds mail awaiting an outcome.",
               index=MESSAGES_AWAITING_OUTCOME),
        Access(SUPPRESSIONS, ("GetItem", "UpdateItem"),
               "Suppress and count soft bounces: conditional updates on the address's item."),
        Access(EVENTS_DEAD_LETTERS, ("SendMessage",),
               "A malformed record, which no retry can apply, goes to the DLQ at once with "
               "its reason."),
        Access(NOTIFICATIONS_TOPIC, ("Publish",), "One notification per outcome."),
        Access(COUNTERS, ("UpdateItem", "BatchGetItem"),
               "Count each new outcome with atomic adds; the guard reads the window's totals."),
        Access(CONTROL, ("GetItem", "PutItem", "UpdateItem"),
               "The reputation guard reads the switch, pauses it (a conditional put) and "
               "records its level (a conditional update)."),
        *PAUSE_ACCESS,
    ),
)
CANARY = Function(
    "canary", "handlers.canary.handler", CanarySettings, 30,
    "Sends one tagged email through the API and checks the last one's round trip",
    memory_mb=256,
    schedules=(CANARY_RUN,),
    access=(
        Access(CONTROL, ("GetItem", "PutItem"), "Remember the last canary message."),
        Access(API_KEY, ("GET",), "Read the key's value to call the API like an app."),
        Access(NOTIFICATIONS_TOPIC, ("Publish",), "A failed round trip, naming the hop."),
    ),
)
KEY_ROTATION = Function(
    "rotation", "handlers.key_rotation.handler", KeyRotationSettings, 30,
    "Rotates the unsubscribe links' signing key (Secrets Manager's four rotation steps)",
    memory_mb=128,
    access=(
        Access(UNSUBSCRIBE_KEY, ("DescribeSecret", "GetSecretValue", "PutSecretValue",
                                 "UpdateSecretVersionStage"),
               "Create the next key as AWSPENDING and make it AWSCURRENT."),
    ),
)
FUNCTIONS = (API, SENDER, EVENTS, CANARY, KEY_ROTATION)


# --- the HTTP API -----------------------------------------------------------------------------
Method = Literal["GET", "POST", "PUT", "DELETE"]


@dataclass(frozen=True)
class Route:
    """A route of the HTTP API; `path` in Powertools' syntax (`<name>` parameters). Every
    route needs the x-api-key header unless `public` (DESIGN §4)."""

    method: Method
    path: str
    operation_id: str
    public: bool = False

    @property
    def openapi_path(self) -> str:
        return self.path.replace("<", "{").replace(">", "}")

    def matches(self, path: str) -> bool:
        """Whether a request path is this route's (parameters match one path segment)."""
        return _path_pattern(self.path).fullmatch(path) is not None


@functools.lru_cache(maxsize=64)
def _path_pattern(path: str) -> re.Pattern[str]:
    return re.compile(re.sub(r"<[^>]+>", "[^/]+", re.escape(path)))


@dataclass(frozen=True)
class Routes:
    send_email: Route = Route("POST", "/v1/emails", "sendEmail")
    send_batch: Route = Route("POST", "/v1/emails/batch", "sendEmailBatch")
    get_email: Route = Route("GET", "/v1/emails/<message_id>", "getEmail")
    list_suppressions: Route = Route("GET", "/v1/suppressions", "listSuppressions")
    get_suppression: Route = Route("GET", "/v1/suppressions/<email>", "getSuppression")
    put_suppression: Route = Route("PUT", "/v1/suppressions/<email>", "putSuppression")
    suppress_batch: Route = Route("POST", "/v1/suppressions/batch", "suppressBatch")
    delete_suppression: Route = Route("DELETE", "/v1/suppressions/<email>",
                                      "deleteSuppression")
    list_templates: Route = Route("GET", "/v1/templates", "listTemplates")
    preview_template: Route = Route("POST", "/v1/templates/<name>/preview", "previewTemplate")
    get_sending: Route = Route("GET", "/v1/sending", "getSending")
    put_sending: Route = Route("PUT", "/v1/sending", "putSending")
    get_reputation: Route = Route("GET", "/v1/reputation", "getReputation")
    get_stats: Route = Route("GET", "/v1/stats", "getStats")
    # One-click unsubscribe (RFC 8058): a signed token in the path stands in for the key.
    unsubscribe_page: Route = Route("GET", "/v1/unsubscribe/<token>", "getUnsubscribe",
                                    public=True)
    unsubscribe: Route = Route("POST", "/v1/unsubscribe/<token>", "unsubscribe", public=True)
    health: Route = Route("GET", "/v1/health", "getHealth", public=True)
    openapi: Route = Route("GET", "/v1/openapi.json", "getOpenApi", public=True)

    def __iter__(self) -> Iterator[Route]:
        return iter(getattr(self, name) for name in self.__dataclass_fields__)

    @property
    def public(self) -> tuple[Route, ...]:
        return tuple(route for route in self if route.public)

    def methods_at(self, path: str) -> tuple[str, ...]:
        """The methods the API has at `path` (none: no such path). A path spelled out by a
        route (`/v1/emails/batch`) is that route's, not a parameter of another's."""
        static = {route.method for route in self if route.path == path}
        return tuple(sorted(static or {route.method for route in self if route.matches(path)}))


ROUTES = Routes()
API_PREFIX = "/v1"
API_STAGE = "prod"

# API Gateway accepts 10 MB; nobody needs that for templated mail.
MAX_REQUEST_BODY_BYTES = 512 * 1024
# SQS accepts 256 KiB per message; keep room for attributes and JSON escaping.
MAX_QUEUE_MESSAGE_BYTES = 240 * 1024
MAX_BATCH_ITEMS = 100
# Suppressions are small: an import is a few requests, not one per address.
MAX_SUPPRESSION_BATCH = 1000
