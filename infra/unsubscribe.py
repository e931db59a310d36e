"""The unsubscribe links' signing key: a Secrets Manager secret the stack generates, rotated
every `shape.UNSUBSCRIBE_KEY.rotation_days` by the key-rotation function. The api function
signs with AWSCURRENT and also accepts AWSPREVIOUS, so links survive a rotation."""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_iam as iam
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from mailroom import shape

from .functions import Binding, FunctionFactory, resource_statement


class UnsubscribeKey(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, factory: FunctionFactory) -> None:
        super().__init__(scope, construct_id)
        declared = shape.UNSUBSCRIBE_KEY
        # Encrypted with Secrets Manager's AWS-managed key: only our functions read it, and a
        # customer key would add a key policy and KMS calls for nothing.
        self.secret = secretsmanager.Secret(
            self, "Secret",
            description=declared.why,
            generate_secret_string=secretsmanager.SecretStringGenerator(
                password_length=64, exclude_punctuation=True),
            # Losing it only invalidates links already sent; a redeploy makes a new one.
            removal_policy=RemovalPolicy.DESTROY,
        )

        def on_secret(access: shape.Access) -> list[iam.PolicyStatement]:
            return resource_statement("secretsmanager", access, self.secret.secret_arn)

        factory.bind(declared, Binding(identifier=self.secret.secret_arn, statements=on_secret))
        self.rotation = factory.create(self, shape.KEY_ROTATION)
        self.secret.add_rotation_schedule(
            "Rotation", rotation_lambda=self.rotation,
            automatically_after=Duration.days(declared.rotation_days))
