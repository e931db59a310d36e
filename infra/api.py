"""The HTTP API: API Gateway REST API (API key + usage plan) → api function.

The api function validates, records and enqueues; it never calls SES (DESIGN §1)."""

from __future__ import annotations

import json

from aws_cdk import Aws, RemovalPolicy, Stack
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from constructs import Construct

from mailroom import shape

from .config import MailroomConfig
from .functions import Binding, FunctionFactory, resource_statement
from .gateway_errors import GATEWAY_ERRORS
from .nag import acknowledge


class Api(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        cfg: MailroomConfig,
        factory: FunctionFactory,
    ) -> None:
        super().__init__(scope, construct_id)
        access_logs = logs.LogGroup(
            self, "AccessLogs", retention=cfg.log_retention, removal_policy=RemovalPolicy.DESTROY
        )
        self.rest_api = apigw.RestApi(
            self,
            "RestApi",
            rest_api_name=Stack.of(self).stack_name,
            description="Mailroom transactional email API",
            endpoint_types=[apigw.EndpointType.REGIONAL],
            api_key_source_type=apigw.ApiKeySourceType.HEADER,
            # No account-wide CloudWatch role (AWS::ApiGateway::Account is a per-account
            # singleton that other stacks may own); access logs need none.
            cloud_watch_role=False,
            deploy_options=apigw.StageOptions(
                stage_name=shape.API_STAGE,
                tracing_enabled=True,
                access_log_destination=apigw.LogGroupLogDestination(access_logs),
                access_log_format=apigw.AccessLogFormat.json_with_standard_fields(
                    caller=False,
                    http_method=True,
                    ip=True,
                    protocol=True,
                    request_time=True,
                    resource_path=True,
                    response_length=True,
                    status=True,
                    user=False,
                ),
                # The stage-wide ceiling also covers the key-less routes.
                throttling_rate_limit=cfg.api_rate_limit,
                throttling_burst_limit=cfg.api_burst_limit,
            ),
        )
        # Built from the API's id and the declared stage, not `url` (which names the
        # deployment, and so the methods, and so this function: a cycle).
        own_url = (f"https://{self.rest_api.rest_api_id}.execute-api.{Aws.REGION}."
                   f"{Aws.URL_SUFFIX}/{shape.API_STAGE}")
        self.function = factory.create(
            self,
            shape.API,
            settings=dict(allowed_senders=list(cfg.allowed_senders), default_from=cfg.from_address,
                          api_url=own_url, unsubscribe_mailto=cfg.unsubscribe_mailto or ""),
        )
        for error in GATEWAY_ERRORS:
            self.rest_api.add_gateway_response(
                f"Gateway{error.response_type.title().replace('_', '')}",
                type=getattr(apigw.ResponseType, error.response_type),
                status_code=str(error.status) if error.status else None,
                templates={"application/json": json.dumps(error.body)},
            )

        # Checks required parameters and, where a model is attached, bodies; the body size
        # limit itself is API Gateway's fixed 10 MB plus the handler's own (413).
        validator = self.rest_api.add_request_validator(
            "RequestValidator", validate_request_body=True, validate_request_parameters=True
        )
        # No extra Lambda permissions for the console's test-invoke stage.
        integration = apigw.LambdaIntegration(self.function, proxy=True, allow_test_invoke=False)
        # Every route under /v1 needs the key, through one proxy resource; the public routes
        # (DESIGN §4) get resources of their own without it.
        v1 = self.rest_api.root.resource_for_path(shape.API_PREFIX)
        v1.add_resource("{proxy+}").add_method(
            "ANY", integration, api_key_required=True, request_validator=validator
        )
        for path in sorted({route.openapi_path for route in shape.ROUTES.public}):
            resource = self.rest_api.root.resource_for_path(path)
            methods = sorted({route.method for route in shape.ROUTES.public
                              if route.openapi_path == path})
            # Its other methods reach the function too, which answers 405 with the right
            # Allow header rather than the gateway's "Missing Authentication Token".
            for method in (*methods, "ANY"):
                resource.add_method(method, integration, api_key_required=False,
                                    request_validator=validator)

        self.api_key = self.rest_api.add_api_key("ApiKey", description="Mailroom default key")
        plan = self.rest_api.add_usage_plan(
            "UsagePlan",
            name=f"{Stack.of(self).stack_name}-default",
            throttle=apigw.ThrottleSettings(
                rate_limit=cfg.api_rate_limit, burst_limit=cfg.api_burst_limit
            ),
            api_stages=[
                apigw.UsagePlanPerApiStage(api=self.rest_api, stage=self.rest_api.deployment_stage)
            ],
        )
        plan.add_api_key(self.api_key)
        key_arn = (f"arn:{Aws.PARTITION}:apigateway:{Aws.REGION}::/apikeys/"
                   f"{self.api_key.key_id}")

        def on_key(access: shape.Access) -> list[iam.PolicyStatement]:
            return resource_statement("apigateway", access, key_arn)

        factory.bind(shape.API_KEY, Binding(identifier=self.api_key.key_id, statements=on_key))
        self._acknowledge()
        role = self.function.role
        assert role is not None
        acknowledge(
            role, "IAM5[Resource::*]",
            "ses:DeleteSuppressedDestination, which takes an address removed from Mailroom's "
            "list off SES's account-level list too, supports no resource-level permissions.")

    def _acknowledge(self) -> None:
        stage = self.rest_api.deployment_stage
        auth = (
            "Authentication is the contract's API key (DESIGN §4): API Gateway checks "
            "x-api-key against the usage plan before the function runs. Callers are "
            "backend services, not end users, so there is no user pool; /v1/health and "
            "/v1/openapi.json are public by contract."
        )
        acknowledge(self.rest_api, "APIG4", auth)
        acknowledge(self.rest_api, "COG4", auth)
        acknowledge(
            stage,
            "APIG6",
            "Execution logging needs the account-wide API Gateway CloudWatch role "
            "(AWS::ApiGateway::Account, one per account and region) which Mailroom must not "
            "take over from other stacks. Every request is in the JSON access log, and the "
            "api function logs each one with its correlation id.",
        )
        acknowledge(
            stage,
            "APIG3",
            "A WAF web ACL is a fixed monthly cost and Mailroom has nothing always-on. "
            "Every /v1 route but two public read-only ones needs an API key; the usage plan "
            "and the stage throttle requests. Associate a web ACL with the stage if needed.",
        )

    @property
    def base_url(self) -> str:
        """Without the trailing slash, like the local stack's, so clients append /v1/…"""
        return (
            f"https://{self.rest_api.rest_api_id}.execute-api.{Aws.REGION}.{Aws.URL_SUFFIX}/"
            f"{shape.API_STAGE}"
        )
