"""The one function factory: every Mailroom Lambda is built here, the same way.

Each function gets the shared code asset, the Powertools layer, JSON logs into its own log
group with a retention, X-Ray active tracing, and its own role whose only permissions are
the inline statements the caller passes (plus writing its logs and traces). The environment
is built from the function's settings model, so it names exactly its variables."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from aws_cdk import Aws, Duration, RemovalPolicy
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_ssm as ssm
from constructs import Construct

from . import config
from .bundling import function_code
from .config import ENV_PREFIX
from .nag import acknowledge


@dataclass(frozen=True)
class FunctionSpec:
    name: str  # "api", "sender", "events"; the Powertools service is mailroom-<name>
    handler: str
    settings: Any  # a mailroom.settings model: the source of the environment's names
    # Values for the model's fields; the rest take the model's defaults (settings_env).
    settings_values: Mapping[str, object]
    statements: Sequence[iam.PolicyStatement]
    timeout: Duration
    description: str


class FunctionFactory(Construct):
    """Holds what all functions share (code asset, Powertools layer, retention)."""

    def __init__(
        self, scope: Construct, construct_id: str, *, log_retention: logs.RetentionDays
    ) -> None:
        super().__init__(scope, construct_id)
        self._log_retention = log_retention
        self._code = function_code(config.ARCHITECTURE, config.RUNTIME)
        # The public Powertools layer, resolved by CloudFormation at deploy time from AWS's
        # SSM parameter (a template parameter, so synth makes no AWS call) — pinned to the
        # version uv.lock tests against, so production runs what the tests ran.
        layer_arn = ssm.StringParameter.value_for_string_parameter(
            self,
            f"/aws/service/powertools/python/{config.ARCHITECTURE.name}/"
            f"{config.RUNTIME.name}/{config.POWERTOOLS_VERSION}",
        )
        self._powertools = lambda_.LayerVersion.from_layer_version_arn(
            self, "PowertoolsLayer", layer_arn
        )

    def create(self, scope: Construct, spec: FunctionSpec) -> lambda_.Function:
        # Exactly the model's names: unknown fields and missing required ones fail synth.
        settings_environment = settings_env(spec.settings, **spec.settings_values)
        log_group = logs.LogGroup(
            scope,
            f"{spec.name.capitalize()}Logs",
            retention=self._log_retention,
            removal_policy=RemovalPolicy.DESTROY,
        )
        role = iam.Role(
            scope,
            f"{spec.name.capitalize()}Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description=f"Mailroom {spec.name} function",
            # Inline only (no AWSLambdaBasicExecutionRole): logs go to this group alone.
            inline_policies={
                "Logs": iam.PolicyDocument(
                    statements=[
                        iam.PolicyStatement(
                            actions=["logs:CreateLogStream", "logs:PutLogEvents"],
                            resources=[log_group.log_group_arn],
                        )
                    ]
                ),
                "Access": iam.PolicyDocument(statements=list(spec.statements)),
            },
        )
        # No reserved concurrency: new accounts have only 10 concurrent executions and
        # reserving any fails the deploy there; the SQS event sources' maximum concurrency
        # caps the consumers instead. No Lambda DLQ either: the SQS-triggered functions
        # dead-letter through their queue's redrive policy (a Lambda DLQ only applies to
        # asynchronous invokes), and the api function is invoked synchronously.
        function = lambda_.Function(
            scope,
            f"{spec.name.capitalize()}Function",
            description=spec.description,
            code=self._code,
            handler=spec.handler,
            runtime=config.RUNTIME,
            architecture=config.ARCHITECTURE,
            memory_size=config.MEMORY_MB,
            timeout=spec.timeout,
            role=role,
            layers=[self._powertools],
            log_group=log_group,
            logging_format=lambda_.LoggingFormat.JSON,
            # Same level as Powertools' LOG_LEVEL, so Lambda's filter and the logger agree.
            application_log_level_v2=lambda_.ApplicationLogLevel(config.LOG_LEVEL),
            system_log_level_v2=lambda_.SystemLogLevel.WARN,
            tracing=lambda_.Tracing.ACTIVE,  # adds xray:PutTraceSegments to the role
            environment={
                **settings_environment,
                # What Powertools reads, on top of the settings model's names.
                "POWERTOOLS_SERVICE_NAME": f"mailroom-{spec.name}",
                "POWERTOOLS_METRICS_NAMESPACE": config.POWERTOOLS_METRICS_NAMESPACE,
                "LOG_LEVEL": config.LOG_LEVEL,
            },
        )
        acknowledge(
            function,
            "L1",
            f"Pinned to {config.RUNTIME.name} on purpose: the version uv.lock resolves and the "
            "tests run on, with a Powertools layer published for it; Lambda supports it until "
            "2028. Bump it in infra/config.py together with the lock file, not implicitly.",
        )
        acknowledge(
            role.node.find_child("DefaultPolicy"),
            "IAM5[Resource::*]",
            "xray:PutTraceSegments and xray:PutTelemetryRecords, added by active tracing, "
            "support no resource-level permissions; the SQS consume grants here are on "
            "their queue ARN.",
        )
        return function


def stack_arn(service: str, resource: str) -> str:
    """An ARN in the deploying account and region. Pseudo parameters rather than
    Stack.format_arn, so the ARN (and the cdk-nag finding ids that quote it) read the same
    whether or not the stack's environment is known at synth."""
    return f"arn:{Aws.PARTITION}:{service}:{Aws.REGION}:{Aws.ACCOUNT_ID}:{resource}"


def settings_env(settings: Any, **values: object) -> dict[str, str]:
    """The environment for a settings model: the given values, the model's own defaults for
    the rest (so a default is written once, in the model), keyed by the model's env names.
    Lists become comma-separated, booleans lower-case, as pydantic-settings reads them."""
    fields = settings.model_fields
    unknown = set(values) - set(fields)
    if unknown:
        raise ValueError(f"{settings.__name__} has no fields {sorted(unknown)}")
    env: dict[str, str] = {}
    for name, field in fields.items():
        if name in values:
            value = values[name]
        elif not field.is_required():
            value = field.get_default(call_default_factory=True)
        else:
            raise ValueError(f"{settings.__name__}.{name} needs a value")
        if isinstance(value, list | tuple):
            value = ",".join(str(v) for v in value)
        elif isinstance(value, bool):
            value = str(value).lower()
        env[f"{ENV_PREFIX}{name}".upper()] = str(value)
    return env
