"""One synth of the Mailroom stack for all infra tests (each synth takes seconds).

The app gets cdk.json's feature flags, a sender domain inside a hosted zone (so the DKIM
records are synthesized too), and cdk-nag's AwsSolutions checks as a validation plugin.
Asset bundling is skipped: tests pin the template, not the wheels."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")

import aws_cdk as cdk
from aws_cdk.assertions import Template
from cdk_nag import AwsSolutionsChecks

from infra.config import COMPILED_TEMPLATES, MailroomConfig, load_templates
from infra.stack import MailroomStack

REPO = Path(__file__).resolve().parents[2]

CONTEXT = {
    "stack_name": "MailroomTest",
    "sender_domain": "mail.example.org",
    "hosted_zone_id": "Z0123456789EXAMPLE",
    "hosted_zone_name": "example.org",
    "allowed_senders": "mail.example.org,alerts@example.org",
    "sender_max_concurrency": "3",
    "api_rate_limit": "25",
    "api_burst_limit": "50",
    "alarm_email": "ops@example.org",
    "queue_age_alarm_seconds": "1800",
}


@dataclass
class Synth:
    cfg: MailroomConfig
    stack: MailroomStack
    template: Template
    raw: dict[str, Any]
    validation_error: Exception | None
    report: dict[str, Any]

    def resources(self, type_: str) -> dict[str, dict[str, Any]]:
        return {k: r for k, r in self.raw["Resources"].items() if r["Type"] == type_}

    def function(self, handler: str) -> tuple[str, dict[str, Any]]:
        [(logical_id, fn)] = [
            (k, r)
            for k, r in self.resources("AWS::Lambda::Function").items()
            if r["Properties"]["Handler"] == handler
        ]
        return logical_id, fn

    def role_statements(self, handler: str) -> list[dict[str, Any]]:
        """Every statement the function's role grants: inline policies and attached ones."""
        _, fn = self.function(handler)
        role_id = fn["Properties"]["Role"]["Fn::GetAtt"][0]
        role = self.raw["Resources"][role_id]
        statements = [
            s
            for p in role["Properties"].get("Policies", [])
            for s in p["PolicyDocument"]["Statement"]
        ]
        for policy in self.resources("AWS::IAM::Policy").values():
            if {"Ref": role_id} in policy["Properties"]["Roles"]:
                statements += policy["Properties"]["PolicyDocument"]["Statement"]
        return statements


def actions_of(statements: list[dict[str, Any]]) -> set[str]:
    actions: set[str] = set()
    for statement in statements:
        action = statement["Action"]
        actions.update([action] if isinstance(action, str) else action)
    return actions


@pytest.fixture(scope="session")
def synth(tmp_path_factory: pytest.TempPathFactory) -> Synth:
    outdir = tmp_path_factory.mktemp("cdk.out")
    flags = json.loads((REPO / "cdk.json").read_text())["context"]
    app = cdk.App(
        outdir=str(outdir),
        context={**flags, **CONTEXT, "aws:cdk:bundling-stacks": []},
    )
    cfg = MailroomConfig.from_context(app.node.try_get_context)
    stack = MailroomStack(app, cfg=cfg)
    cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    error: Exception | None = None
    try:
        app.synth()
    except Exception as exc:  # ValidationFailed comes through jsii as a RuntimeError
        error = exc
    raw = json.loads((outdir / f"{stack.stack_name}.template.json").read_text())
    report_file = outdir / "validation-report.json"
    report = json.loads(report_file.read_text()) if report_file.exists() else {}
    return Synth(cfg, stack, Template.from_json(raw), raw, error, report)


def synth_template(**context: str) -> dict[str, Any]:
    """A stack synthesized with `context` (and cdk.json's flags), without cdk-nag: for tests
    that compare variants of the context; `synth` is the one cdk-nag checks."""
    flags = json.loads((REPO / "cdk.json").read_text())["context"]
    app = cdk.App(context={**flags, "stack_name": "MailroomTest", **context,
                           "aws:cdk:bundling-stacks": []})
    stack = MailroomStack(app, cfg=MailroomConfig.from_context(app.node.try_get_context))
    return Template.from_stack(stack).to_json()  # type: ignore[no-any-return]


@pytest.fixture(scope="session")
def compiled_templates() -> dict[str, Any]:
    return load_templates(COMPILED_TEMPLATES)
