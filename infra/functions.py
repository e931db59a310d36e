"""The one function factory: every Mailroom Lambda is built here, the same way, from its
declaration in `mailroom.shape`.

Each function gets the shared code asset, the Powertools layer, JSON logs into its own log
group with a retention, X-Ray active tracing, and its own role whose only permissions are
the statements its declared access turns into (plus writing its logs and traces). Each
construct that owns a resource binds it here (`bind`), saying what its name is at runtime and
which IAM statements an access to it takes; the environment is built from the function's
settings model, so it names exactly its variables."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from aws_cdk import Aws, Duration, RemovalPolicy
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as sources
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_ssm as ssm
from constructs import Construct

from mailroom import shape

from . import config
from .bundling import function_code
from .nag import acknowledge


@dataclass(frozen=True)
class Binding:
    """A shape resource as deployed: its runtime name (what the function's setting holds)
    and the IAM statements one declared access to it takes."""

    identifier: str
    statements: Callable[[shape.Access], list[iam.PolicyStatement]]
    queue: sqs.IQueue | None = None  # for an event source reading it


class FunctionFactory(Construct):
    """Holds what all functions share (code asset, Powertools layer, retention) and the
    bindings of the resources they use."""

    def __init__(
        self, scope: Construct, construct_id: str, *, log_retention: logs.RetentionDays
    ) -> None:
        super().__init__(scope, construct_id)
        self._log_retention = log_retention
        self._bindings: dict[shape.Resource, Binding] = {}
        self.roles: dict[str, iam.Role] = {}  # by function name, once created
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

    def bind(self, resource: shape.Resource, binding: Binding) -> None:
        self._bindings[resource] = binding

    def statements(self, spec: shape.Function) -> list[iam.PolicyStatement]:
        """Every statement the function's declared access takes."""
        return [statement for access in spec.access
                for statement in self.bound(access.resource).statements(access)]

    def bound(self, resource: shape.Resource) -> Binding:
        if resource not in self._bindings:
            raise ValueError(f"{resource.name} is used before its construct bound it")
        return self._bindings[resource]

    def create(
        self,
        scope: Construct,
        spec: shape.Function,
        *,
        settings: Mapping[str, object] = {},
        max_concurrency: int | None = None,
    ) -> lambda_.Function:
        """The function `spec` declares. `settings`: values for its settings model's fields
        that are not resource names (those come from the bindings); the rest take the
        model's defaults. Unknown fields and missing required ones fail synth."""
        resource_names = {setting: self.bound(resource).identifier
                          for setting, resource in spec.wired_settings.items()}
        settings_environment = spec.settings.environment(**resource_names, **settings)
        title = spec.name.capitalize()
        log_group = logs.LogGroup(
            scope,
            f"{title}Logs",
            retention=self._log_retention,
            removal_policy=RemovalPolicy.DESTROY,
        )
        role = iam.Role(
            scope,
            f"{title}Role",
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
                "Access": iam.PolicyDocument(statements=self.statements(spec)),
            },
        )
        self.roles[spec.name] = role
        # No reserved concurrency: new accounts have only 10 concurrent executions and
        # reserving any fails the deploy there; the SQS event sources' maximum concurrency
        # caps the consumers instead. No Lambda DLQ either: the SQS-triggered functions
        # dead-letter through their queue's redrive policy (a Lambda DLQ only applies to
        # asynchronous invokes), and the api function is invoked synchronously.
        function = lambda_.Function(
            scope,
            f"{title}Function",
            description=spec.description,
            code=self._code,
            handler=spec.handler,
            runtime=config.RUNTIME,
            architecture=config.ARCHITECTURE,
            memory_size=spec.memory_mb,
            timeout=Duration.seconds(spec.timeout_seconds),
            role=role,
            layers=[self._powertools],
            log_group=log_group,
            logging_format=lambda_.LoggingFormat.JSON,
            # Same level as Powertools' LOG_LEVEL, so Lambda's filter and the logger agree.
            application_log_level_v2=lambda_.ApplicationLogLevel(shape.LOG_LEVEL),
            system_log_level_v2=lambda_.SystemLogLevel.WARN,
            tracing=lambda_.Tracing.ACTIVE,  # adds xray:PutTraceSegments to the role
            environment={
                **settings_environment,
                # What Powertools reads, on top of the settings model's names.
                "POWERTOOLS_SERVICE_NAME": spec.service,
                "POWERTOOLS_METRICS_NAMESPACE": shape.METRICS_NAMESPACE,
                "LOG_LEVEL": shape.LOG_LEVEL,
            },
        )
        for schedule in spec.schedules:
            task = schedule.task.title().replace("_", "")
            events.Rule(
                scope, f"{title}{task}Schedule",
                description=schedule.why,
                schedule=events.Schedule.rate(Duration.minutes(schedule.every_minutes)),
                targets=[targets.LambdaFunction(
                    function, event=events.RuleTargetInput.from_object(schedule.event))],
            )
        if spec.event_source is not None:
            source = spec.event_source
            queue = self.bound(source.queue).queue
            assert queue is not None, f"{source.queue.name} is bound without its queue"
            # Partial batch failures: one failed record retries alone, not its whole batch.
            # Maximum concurrency caps the fleet (the sender's never outruns SES's rate).
            # `enabled` is left unset, so a deploy never touches a mapping a pause disabled.
            event_source = sources.SqsEventSource(
                queue,
                batch_size=source.batch_size,
                max_batching_window=Duration.seconds(source.max_batching_window_seconds)
                if source.max_batching_window_seconds else None,
                report_batch_item_failures=True,
                max_concurrency=max_concurrency or source.max_concurrency,
            )
            function.add_event_source(event_source)
            mapping_arn = stack_arn(
                "lambda", f"event-source-mapping:{event_source.event_source_mapping_id}")

            def on_mapping(access: shape.Access) -> list[iam.PolicyStatement]:
                return resource_statement("lambda", access, mapping_arn)

            self.bind(shape.Consumer(spec.name), Binding(
                identifier=event_source.event_source_mapping_id, statements=on_mapping))
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


def resource_statement(
    service: str, access: shape.Access, *resources: str
) -> list[iam.PolicyStatement]:
    """Exactly the declared actions, on exactly these resources."""
    return [iam.PolicyStatement(actions=[f"{service}:{action}" for action in access.actions],
                                resources=list(resources))]
