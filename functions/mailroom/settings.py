"""One settings model per function: the single source of its environment variable names.

The CDK function factory sets exactly these names (an infra test checks it) and the local
stack sets the same ones, so a name never drifts between infra and runtime."""

from __future__ import annotations

from functools import lru_cache
from typing import Annotated

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

ENV_PREFIX = "MAILROOM_"


class _Settings(BaseSettings):
    # Each function reads one of these models: its validator is built when first used.
    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, frozen=True, defer_build=True)

    @classmethod
    def env_names(cls) -> set[str]:
        """Environment variable names this function reads."""
        return {f"{ENV_PREFIX}{name}".upper() for name in cls.model_fields}

    @classmethod
    def environment(cls, **values: object) -> dict[str, str]:
        """The environment that configures this model: the given values, the model's own
        defaults for the rest (so a default is written once, here), keyed by the env names.
        Lists become comma-separated, booleans lower-case, as pydantic-settings reads them.
        An unknown or missing required field fails now, not in a handler."""
        unknown = set(values) - set(cls.model_fields)
        if unknown:
            raise ValueError(f"{cls.__name__} has no fields {sorted(unknown)}")
        env: dict[str, str] = {}
        for name, spec in cls.model_fields.items():
            if name in values:
                value = values[name]
            elif not spec.is_required():
                value = spec.get_default(call_default_factory=True)
            else:
                raise ValueError(f"{cls.__name__}.{name} needs a value")
            if isinstance(value, list | tuple | set):
                value = ",".join(str(item) for item in value)
            elif isinstance(value, bool):
                value = str(value).lower()
            env[f"{ENV_PREFIX}{name}".upper()] = str(value)
        return env


class _StoreSettings(_Settings):
    """The functions that read and write messages and suppressions."""

    messages_table: str
    suppressions_table: str


class _ReputationSettings(_StoreSettings):
    """The reputation guard's thresholds (DESIGN §2), read by the events function that acts
    on them and by the api function that reports them. Rates are fractions: 0.04 is 4%."""

    reputation_window_hours: int = 24
    reputation_warn_bounce_rate: float = 0.02
    reputation_warn_complaint_rate: float = 0.0005
    reputation_warn_min_sends: int = 100
    reputation_pause_bounce_rate: float = 0.04
    reputation_pause_complaint_rate: float = 0.0008
    reputation_pause_min_sends: int = 500


class _ControlSettings(_ReputationSettings):
    """What pausing and resuming touch besides the switch (DESIGN §1): the sender's queue
    consumer and the configuration set. Read by the functions that pause: the api function
    for an operator, the events function for the guard."""

    control_table: str
    configuration_set: str
    sender_event_source_id: str
    # How long a pause or resume waits for the consumer to finish a state change under way
    # (Lambda refuses an update while the mapping is Enabling or Disabling).
    consumer_settle_seconds: float = 5.0


def _split_csv(value: object) -> object:
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


class ApiSettings(_ControlSettings):
    idempotency_table: str
    counters_table: str
    send_queue_url: str
    # Addresses or domains `from` may use; the first address is the default sender.
    allowed_senders: Annotated[list[str], NoDecode] = Field(default_factory=list)
    default_from: str
    # Look up MX/A records of recipient domains before accepting (cached). Off by default:
    # it adds a DNS round trip to the accept path.
    check_deliverability: bool = False
    notifications_topic_arn: str  # email.unsubscribed
    # One-click unsubscribe: the links point at the API's public URL (ending in its stage)
    # and are signed with the secret's key; a mailto target is offered too when set.
    api_url: str
    unsubscribe_key_secret_arn: str
    unsubscribe_mailto: str = ""  # empty: none

    _split_allowed_senders = field_validator("allowed_senders", mode="before")(_split_csv)


class SenderSettings(_StoreSettings):
    configuration_set: str
    control_table: str
    notifications_topic_arn: str
    template_prefix: str = ""
    # Sends per second across the whole fleet; 0 reads the account's limit from SES GetAccount.
    max_send_rate: float = 0
    # Concurrent SES calls within one SQS batch.
    send_concurrency: int = 10
    # Lambda instances the SQS event source may run at once (its maximum concurrency): each
    # instance paces itself at max_send_rate / fleet_concurrency.
    fleet_concurrency: int = 2
    send_queue_url: str
    # Must equal the send queue's redrive maxReceiveCount: on that attempt a message that
    # still fails is recorded as failed before SQS moves it to the dead-letter queue.
    max_receive_count: int = 8
    # Exponential backoff between attempts, with full jitter: attempt n waits up to
    # base * 2^(n-1) seconds (capped at 15 minutes). With 8 attempts a message rides out
    # about half an hour of SES trouble before it is dead-lettered.
    retry_base_seconds: float = 30
    # How long a claim on a message lasts: longer than one invocation, shorter than the
    # queue's visibility timeout (see mailroom.send).
    lease_seconds: int = 90


class EventsSettings(_ControlSettings):
    notifications_topic_arn: str
    ses_events_dlq_url: str  # a malformed record goes here at once, with its reason
    # The guard reads the counters at most this often per container.
    reputation_check_seconds: int = 60
    counters_table: str
    soft_bounce_threshold: int = 3
    soft_bounce_window_days: int = 7
    soft_bounce_suppression_days: int = 14
    # Mail SES took with no outcome this long after is `unconfirmed` (the sweep, hourly).
    sweep_settled_hours: int = 24
    # How far behind the settled window's edge each sweep looks, so missed runs catch up.
    sweep_lookback_hours: int = 48


class KeyRotationSettings(_Settings):
    # The one secret it rotates: an event naming another is refused.
    unsubscribe_key_secret_arn: str


class CanarySettings(_Settings):
    """The canary: one tagged email through the public API per run, checked the next run."""

    control_table: str
    notifications_topic_arn: str
    api_url: str  # the API's base URL, ending in its stage
    api_key_id: str  # the key's value is read from API Gateway, never kept in the environment
    canary_template: str = "welcome"  # sent with its own sample data


@lru_cache
def api_settings() -> ApiSettings:
    return ApiSettings()  # type: ignore[call-arg]


@lru_cache
def sender_settings() -> SenderSettings:
    return SenderSettings()  # type: ignore[call-arg]


@lru_cache
def events_settings() -> EventsSettings:
    return EventsSettings()  # type: ignore[call-arg]


@lru_cache
def canary_settings() -> CanarySettings:
    return CanarySettings()  # type: ignore[call-arg]
