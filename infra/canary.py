"""The canary: a scheduled function that sends one tagged email through the public API and
checks the previous one's round trip (mailroom.canary). It reads the API key's value from API
Gateway at run time, so the key is in neither the template nor the environment."""

from __future__ import annotations

from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from mailroom import shape

from .functions import FunctionFactory


class CanaryCheck(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, factory: FunctionFactory,
                 api_url: str) -> None:
        super().__init__(scope, construct_id)
        self.function: lambda_.Function = factory.create(
            self, shape.CANARY, settings={"api_url": api_url})
