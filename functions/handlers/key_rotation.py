"""Key rotation λ: Secrets Manager's four rotation steps for the unsubscribe links' key.

createSecret puts a fresh random key as AWSPENDING; setSecret and testSecret have nothing to
do (no other system holds the key); finishSecret makes it AWSCURRENT, and Secrets Manager
moves the key it replaces to AWSPREVIOUS, which still verifies links already sent."""

from __future__ import annotations

import secrets
from functools import cache
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

from mailroom import shape
from mailroom.settings import KeyRotationSettings

logger = Logger(service=shape.KEY_ROTATION.service)
metrics = Metrics(namespace=shape.METRICS_NAMESPACE, service=shape.KEY_ROTATION.service)
KEY_BYTES = 48


@cache
def settings() -> KeyRotationSettings:
    return KeyRotationSettings()  # type: ignore[call-arg]


@cache
def client() -> Any:
    import boto3

    return boto3.client("secretsmanager")


@logger.inject_lambda_context
@metrics.log_metrics
def handler(event: dict[str, Any], context: Any, secretsmanager: Any = None) -> None:
    secretsmanager = secretsmanager or client()
    secret_id, token, step = event["SecretId"], event["ClientRequestToken"], event["Step"]
    if secret_id != settings().unsubscribe_key_secret_arn:
        raise ValueError("This function rotates the unsubscribe key only")
    versions = secretsmanager.describe_secret(SecretId=secret_id).get("VersionIdsToStages", {})
    if "AWSCURRENT" in versions.get(token, ()):
        logger.info("This version is already current: nothing to do", step=step)
        return
    if step == "createSecret":
        try:
            secretsmanager.get_secret_value(SecretId=secret_id, VersionId=token)
        except secretsmanager.exceptions.ResourceNotFoundException:
            # A retried step finds its key already there and keeps it.
            secretsmanager.put_secret_value(
                SecretId=secret_id, ClientRequestToken=token,
                SecretString=secrets.token_urlsafe(KEY_BYTES), VersionStages=["AWSPENDING"])
    elif token not in versions:
        raise ValueError("The rotation's version is not a version of this secret")
    elif step == "finishSecret":
        current = next(version for version, stages in versions.items()
                       if "AWSCURRENT" in stages)
        secretsmanager.update_secret_version_stage(
            SecretId=secret_id, VersionStage="AWSCURRENT", MoveToVersionId=token,
            RemoveFromVersionId=current)
        metrics.add_metric(name=shape.Metric.KEY_ROTATED, unit=MetricUnit.Count, value=1)
    elif step not in ("setSecret", "testSecret"):
        raise ValueError(f"Unknown rotation step {step}")
    logger.info(f"rotation step {step} done")
