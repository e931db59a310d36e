"""What the api function works with: its Powertools utilities and one frozen Dependencies,
built once per container from its settings. The handler puts the Dependencies in the
resolver's context for each invocation; the routers read them from there."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.event_handler.router import APIGatewayRouter

from handlers.observability import tracer_for
from mailroom import shape
from mailroom.accept import Acceptor, EmailRequest
from mailroom.pausing import gated_switch
from mailroom.ports import (
    AccountSuppressionList,
    Counters,
    MessageStore,
    Publisher,
    SendingSwitch,
    SigningKeys,
    SuppressionStore,
)
from mailroom.reputation import ReputationPolicy
from mailroom.settings import ApiSettings, api_settings

logger = Logger(service=shape.API.service)
tracer = tracer_for(shape.API.service)
metrics = Metrics(namespace=shape.METRICS_NAMESPACE, service=shape.API.service)
IDEMPOTENCY_HOURS = 24


@dataclass(frozen=True)
class Dependencies:
    """What the api function works with, built once per container."""

    acceptor: Acceptor
    messages: MessageStore
    suppressions: SuppressionStore
    switch: SendingSwitch
    counters: Counters
    account_suppressions: AccountSuppressionList
    reputation: ReputationPolicy
    # `acceptor.accept` behind Powertools idempotency (see idempotent_accept).
    idempotent_accept: Any
    signing_keys: SigningKeys  # the unsubscribe links'
    publisher: Publisher  # email.unsubscribed

    @classmethod
    def from_settings(cls, settings: ApiSettings) -> Dependencies:
        import boto3

        from mailroom.adapters.dynamodb import (
            DynamoCounters,
            DynamoMessageStore,
            DynamoSendingSwitch,
            DynamoSuppressionStore,
        )
        from mailroom.adapters.secrets import SecretsManagerKeys
        from mailroom.adapters.ses import SesAccountSuppressions
        from mailroom.adapters.sns import SnsPublisher
        from mailroom.adapters.sqs import SqsSendQueue
        from mailroom.templates import TemplateCatalog
        from mailroom.unsubscribe import UnsubscribeLinks

        # One client per service, shared by every adapter: each client built costs init time.
        dynamodb = boto3.client("dynamodb")
        messages = DynamoMessageStore(settings.messages_table, dynamodb)
        suppressions = DynamoSuppressionStore(settings.suppressions_table, dynamodb)
        switch = gated_switch(DynamoSendingSwitch(settings.control_table, dynamodb), settings,
                              logger)
        signing_keys = SecretsManagerKeys(settings.unsubscribe_key_secret_arn)
        acceptor = Acceptor(
            messages=messages,
            suppressions=suppressions,
            queue=SqsSendQueue(settings.send_queue_url),
            catalog=TemplateCatalog.load(),
            default_from=settings.default_from,
            allowed_senders=settings.allowed_senders,
            check_deliverability=settings.check_deliverability,
            switch=switch,
            unsubscribe_links=UnsubscribeLinks(settings.api_url, signing_keys,
                                               settings.unsubscribe_mailto),
        )
        return cls(acceptor=acceptor, messages=messages, suppressions=suppressions,
                   switch=switch, counters=DynamoCounters(settings.counters_table, dynamodb),
                   account_suppressions=SesAccountSuppressions(),
                   reputation=ReputationPolicy.from_settings(settings),
                   idempotent_accept=idempotent_accept(settings.idempotency_table, acceptor,
                                                       dynamodb),
                   signing_keys=signing_keys,
                   publisher=SnsPublisher(settings.notifications_topic_arn))


@cache
def dependencies() -> Dependencies:
    return Dependencies.from_settings(api_settings())


def current(router: APIGatewayRouter) -> Dependencies:
    """This invocation's dependencies, as the handler handed them to the resolver."""
    deps: Dependencies = router.context["deps"]
    return deps


def idempotent_accept(table_name: str, acceptor: Acceptor, dynamodb: Any = None) -> Any:
    """`acceptor.accept` behind Powertools idempotency: same key and body → the first
    answer; same key, other body → IdempotencyValidationError."""
    from aws_lambda_powertools.utilities.idempotency import (
        DynamoDBPersistenceLayer,
        IdempotencyConfig,
        idempotent_function,
    )

    config = IdempotencyConfig(
        event_key_jmespath="key",
        payload_validation_jmespath="body",
        expires_after_seconds=IDEMPOTENCY_HOURS * 3600,
    )

    @idempotent_function(data_keyword_argument="keyed", config=config,
                         persistence_store=DynamoDBPersistenceLayer(table_name=table_name,
                                                                boto3_client=dynamodb))
    def accept(keyed: dict[str, Any]) -> dict[str, str]:
        return acceptor.accept(EmailRequest.model_validate(keyed["body"]))

    accept.config = config  # type: ignore[attr-defined]
    return accept
