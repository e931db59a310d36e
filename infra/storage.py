"""DynamoDB tables: on-demand (nothing always-on), point-in-time recovery, encrypted."""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import RemovalPolicy
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from constructs import Construct

from mailroom.adapters.dynamodb import REASON_INDEX, SES_MESSAGE_ID_INDEX

# Index names come from the adapter that queries them: one name, one place.
MESSAGES_BY_SES_ID = SES_MESSAGE_ID_INDEX
SUPPRESSIONS_BY_REASON = REASON_INDEX


def _table(
    scope: Construct, construct_id: str, *, key: str, ttl: str | None, removal: RemovalPolicy
) -> dynamodb.Table:
    return dynamodb.Table(
        scope,
        construct_id,
        partition_key=dynamodb.Attribute(name=key, type=dynamodb.AttributeType.STRING),
        billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
        point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
            point_in_time_recovery_enabled=True
        ),
        # AWS-managed KMS key: encrypted with a key in the account, no key policy to keep.
        encryption=dynamodb.TableEncryption.AWS_MANAGED,
        time_to_live_attribute=ttl,
        removal_policy=removal,
    )


class Storage(Construct):
    def __init__(self, scope: Construct, construct_id: str) -> None:
        super().__init__(scope, construct_id)
        # The message history and the suppression list outlive the stack: losing the
        # suppression list would mean mailing addresses that bounced or complained.
        self.messages = _table(self, "Messages", key="id", ttl=None, removal=RemovalPolicy.RETAIN)
        # The events function finds a message from the SES message id in each event.
        self.messages.add_global_secondary_index(
            index_name=MESSAGES_BY_SES_ID,
            partition_key=dynamodb.Attribute(
                name="ses_message_id", type=dynamodb.AttributeType.STRING
            ),
            projection_type=dynamodb.ProjectionType.ALL,
        )

        # `ttl` expires soft-bounce suppressions and soft-bounce counters.
        self.suppressions = _table(
            self, "Suppressions", key="email", ttl="ttl", removal=RemovalPolicy.RETAIN
        )
        # Sparse: only suppression items carry `reason`, so counters never show up in lists.
        self.suppressions.add_global_secondary_index(
            index_name=SUPPRESSIONS_BY_REASON,
            partition_key=dynamodb.Attribute(name="reason", type=dynamodb.AttributeType.STRING),
            sort_key=dynamodb.Attribute(name="created_at", type=dynamodb.AttributeType.STRING),
            projection_type=dynamodb.ProjectionType.ALL,
        )

        # Small operational state, e.g. the sending switch (paused or not). Kept with the
        # stack's data: a paused account must stay paused across a redeploy.
        self.control = _table(
            self, "Control", key="name", ttl=None, removal=RemovalPolicy.RETAIN
        )

        # Powertools idempotency layout: key `id`, TTL `expiration`. Disposable by design.
        self.idempotency = _table(
            self, "Idempotency", key="id", ttl="expiration", removal=RemovalPolicy.DESTROY
        )

    @staticmethod
    def statement(
        table: dynamodb.ITable, actions: Sequence[str], *, index: str | None = None
    ) -> iam.PolicyStatement:
        """Exactly these DynamoDB actions on one table (and one of its indexes, for Query)."""
        resources = [table.table_arn]
        if index:
            resources.append(f"{table.table_arn}/index/{index}")
        return iam.PolicyStatement(
            actions=[f"dynamodb:{action}" for action in actions], resources=resources
        )
