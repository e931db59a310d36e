"""Sending: the send queue (+DLQ) and the sender function, the only caller of SES."""

from __future__ import annotations

from constructs import Construct

from mailroom import shape
from mailroom.settings import SenderSettings

from .config import MailroomConfig
from .functions import FunctionFactory
from .nag import acknowledge
from .queues import QueueWithDlq


class Sending(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        cfg: MailroomConfig,
        factory: FunctionFactory,
    ) -> None:
        super().__init__(scope, construct_id)
        self.queues = QueueWithDlq(self, "Queue", queue=shape.SEND_QUEUE, factory=factory)
        settings: dict[str, object] = dict(
            template_prefix=cfg.template_prefix,
            fleet_concurrency=cfg.sender_max_concurrency,  # each instance paces rate / fleet
            # The last attempt records the failure before SQS dead-letters the message.
            max_receive_count=shape.SEND_QUEUE.max_receive_count,
            **({} if cfg.max_send_rate is None else {"max_send_rate": cfg.max_send_rate}),
        )
        check_lease(SenderSettings.model_fields["lease_seconds"].default)
        self.function = factory.create(
            self, shape.SENDER, settings=settings, max_concurrency=cfg.sender_max_concurrency
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


def check_lease(lease_seconds: int) -> None:
    """A claim must outlive one invocation (else a slow send could be claimed twice) and
    expire before the message is visible again (else the retry finds it still claimed)."""
    timeout = shape.SENDER.timeout_seconds
    visibility = shape.SEND_QUEUE.visibility_timeout_seconds
    if not timeout < lease_seconds < visibility:
        raise ValueError(
            f"SenderSettings.lease_seconds={lease_seconds} must lie between the sender "
            f"timeout ({timeout}s) and the send queue's visibility timeout ({visibility}s)"
        )
