"""DynamoDB tables, as `mailroom.shape` declares them: on-demand (nothing always-on),
point-in-time recovery, encrypted."""

from __future__ import annotations

from functools import partial

from aws_cdk import RemovalPolicy
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from constructs import Construct

from mailroom import shape

from .functions import Binding, FunctionFactory, resource_statement


def _statements(table: dynamodb.Table, access: shape.Access) -> list[iam.PolicyStatement]:
    """The declared actions on the table, and on the index a Query names."""
    index = [f"{table.table_arn}/index/{access.index.name}"] if access.index else []
    return resource_statement("dynamodb", access, table.table_arn, *index)


def _attribute(name: str) -> dynamodb.Attribute:
    return dynamodb.Attribute(name=name, type=dynamodb.AttributeType.STRING)


class Storage(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, factory: FunctionFactory) -> None:
        super().__init__(scope, construct_id)
        self.tables = {table: self._table(table) for table in shape.TABLES}
        for declared, table in self.tables.items():
            factory.bind(declared, Binding(identifier=table.table_name,
                                           statements=partial(_statements, table)))

    def _table(self, table: shape.Table) -> dynamodb.Table:
        construct = dynamodb.Table(
            self,
            table.name.capitalize(),
            partition_key=_attribute(table.partition_key),
            sort_key=_attribute(table.sort_key) if table.sort_key else None,
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            # AWS-managed KMS key: encrypted with a key in the account, no key policy to keep.
            encryption=dynamodb.TableEncryption.AWS_MANAGED,
            time_to_live_attribute=table.ttl_attribute,
            removal_policy=RemovalPolicy.RETAIN if table.retain else RemovalPolicy.DESTROY,
        )
        for index in table.indexes:
            construct.add_global_secondary_index(
                index_name=index.name,
                partition_key=_attribute(index.partition_key),
                sort_key=_attribute(index.sort_key) if index.sort_key else None,
                projection_type=dynamodb.ProjectionType(index.projection.value),
            )
        return construct

    @property
    def messages(self) -> dynamodb.Table:
        return self.tables[shape.MESSAGES]

    @property
    def suppressions(self) -> dynamodb.Table:
        return self.tables[shape.SUPPRESSIONS]
