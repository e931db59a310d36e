"""Sending: the send queue (+DLQ) and the sender function, the only caller of SES."""

from __future__ import annotations

from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda_event_sources as sources
from constructs import Construct

from . import config
from .config import MailroomConfig, SenderSettings
from .functions import FunctionFactory, FunctionSpec, stack_arn
from .nag import acknowledge
from .notifications import Notifications
from .queues import QueueWithDlq
from .ses import Ses
from .storage import Storage


class Sending(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        cfg: MailroomConfig,
        factory: FunctionFactory,
        storage: Storage,
        notifications: Notifications,
        ses: Ses,
    ) -> None:
        super().__init__(scope, construct_id)
        self.queues = QueueWithDlq(self, "Queue", consumer_timeout=config.SENDER_TIMEOUT)
        values: dict[str, object] = dict(
            messages_table=storage.messages.table_name,
            suppressions_table=storage.suppressions.table_name,
            control_table=storage.control.table_name,
            configuration_set=ses.configuration_set.configuration_set_name,
            notifications_topic_arn=notifications.topic.topic_arn,
            template_prefix=cfg.template_prefix,
            send_queue_url=self.queues.queue.queue_url,  # to back off via message visibility
            fleet_concurrency=cfg.sender_max_concurrency,  # each instance paces rate / fleet
            max_receive_count=config.MAX_RECEIVE_COUNT,  # last attempt records the failure
            **({} if cfg.max_send_rate is None else {"max_send_rate": cfg.max_send_rate}),
        )
        _check_lease(int(values.get(  # type: ignore[call-overload]
            "lease_seconds", SenderSettings.model_fields["lease_seconds"].default)))
        self.function = factory.create(
            self,
            FunctionSpec(
                name="sender",
                handler="handlers.sender.handler",
                settings=SenderSettings,
                settings_values=values,
                timeout=config.SENDER_TIMEOUT,
                description="Sends queued messages through SES",
                statements=[
                    # Claim a message (a conditional update), then record the outcome.
                    Storage.statement(storage.messages, ["GetItem", "UpdateItem"]),
                    # Re-check suppression right before sending.
                    Storage.statement(storage.suppressions, ["GetItem"]),
                    # While sending is paused, a message goes back to the queue to wait.
                    Storage.statement(storage.control, ["GetItem"]),
                    self.queues.send_statement(),
                    *self._ses_statements(cfg, ses),
                    *notifications.publish_statements(),
                ],
            ),
        )
        role = self.function.role
        assert role is not None  # the factory gives every function its own role
        # On the role: its inline policy holds the SES statements (the X-Ray wildcard in
        # its DefaultPolicy has its own acknowledgement in the factory).
        acknowledge(
            role,
            "IAM5[Resource::*]",
            "ses:GetAccount, which reads the account's send quota so the fleet paces itself "
            "below it, supports no resource-level permissions.",
        )
        acknowledge(
            role,
            "IAM5[Resource::arn:<AWS::Partition>:ses:<AWS::Region>:<AWS::AccountId>:identity/*]",
            "SES authorises SendEmail against each identity involved, and in the sandbox "
            "that includes every verified recipient address, so the identity cannot be "
            "pinned; the statement is instead limited by ses:FromAddress to the allowed "
            "senders, to this stack's configuration set and to its templates.",
        )
        acknowledge(
            role,
            f"IAM5[Resource::arn:<AWS::Partition>:ses:<AWS::Region>:<AWS::AccountId>:"
            f"template/{cfg.template_prefix}*]",
            "Exactly this stack's SES templates, which share the stack's name prefix; the "
            "set changes whenever a template is added under templates/.",
        )
        # Partial batch failures: one throttled send retries alone, not its whole batch.
        # Maximum concurrency caps the fleet so it never outruns the account's SES rate.
        self.function.add_event_source(
            sources.SqsEventSource(
                self.queues.queue,
                batch_size=config.SQS_BATCH_SIZE,
                report_batch_item_failures=True,
                max_concurrency=cfg.sender_max_concurrency,
            )
        )

    @staticmethod
    def _ses_statements(cfg: MailroomConfig, ses: Ses) -> list[iam.PolicyStatement]:
        # SES authorises SendEmail against every identity involved: the sender's, and in the
        # sandbox each verified recipient's too, so the identity ARN cannot be pinned to
        # the domain. What is pinned instead is who may appear as From (ses:FromAddress),
        # the configuration set, and this stack's templates.
        from_patterns = sorted(
            sender if "@" in sender else f"*@{sender}" for sender in cfg.allowed_senders
        )
        send = iam.PolicyStatement(
            actions=["ses:SendEmail"],
            resources=[
                stack_arn("ses", "identity/*"),
                stack_arn(
                    "ses", f"configuration-set/{ses.configuration_set.configuration_set_name}"
                ),
                stack_arn("ses", f"template/{cfg.template_prefix}*"),
            ],
            conditions={"StringLike": {"ses:FromAddress": from_patterns}},
        )
        # GetAccount reads the account's send quota to pace the fleet; it has no resource.
        account = iam.PolicyStatement(actions=["ses:GetAccount"], resources=["*"])
        return [send, account]


def _check_lease(lease_seconds: int) -> None:
    """A claim must outlive one invocation (else a slow send could be claimed twice) and
    expire before the message is visible again (else the retry finds it still claimed)."""
    timeout = config.SENDER_TIMEOUT.to_seconds()
    visibility = timeout * config.VISIBILITY_TIMEOUT_FACTOR
    if not timeout < lease_seconds < visibility:
        raise ValueError(
            f"SenderSettings.lease_seconds={lease_seconds} must lie between the sender "
            f"timeout ({timeout}s) and the send queue's visibility timeout ({visibility}s)"
        )
