"""cdk-nag acknowledgements. Each is made on the narrowest construct it concerns, next to the
decision it accepts, and carries the reason (it lands in validation-report.json)."""

from __future__ import annotations

from aws_cdk import Acknowledgment, Validations
from constructs import IConstruct

PACK = "AwsSolutions"


def acknowledge(scope: IConstruct, rule: str, reason: str) -> None:
    """Acknowledge `rule` (e.g. "L1", "IAM5[Resource::*]") for `scope` and its children."""
    Validations.of(scope).acknowledge(Acknowledgment(id=f"{PACK}::{PACK}-{rule}", reason=reason))
