#!/usr/bin/env python3
"""CDK app: builds the Mailroom stack from context (cdk.json, `-c key=value`) and the
environment. Makes no AWS calls at synth, so `cdk synth` works offline.

Context keys: stack_name, sender_domain, from_address, allowed_senders, hosted_zone_id,
hosted_zone_name, mail_from_subdomain, dmarc_policy, dmarc_rua, sender_max_concurrency,
events_max_concurrency, max_send_rate, api_rate_limit, api_burst_limit, nag (false skips the
cdk-nag AwsSolutions checks)."""

from __future__ import annotations

import os
import sys

import aws_cdk as cdk
from cdk_nag import AwsSolutionsChecks

from infra.config import MailroomConfig
from infra.stack import MailroomStack

app = cdk.App()
cfg = MailroomConfig.from_context(app.node.try_get_context)
if cfg.is_placeholder_domain:
    print(
        f"WARNING: no sender domain given; using the placeholder {cfg.sender_domain}. "
        "Deploy with `-c sender_domain=your.domain` (or -c from_address=...).",
        file=sys.stderr,
    )

MailroomStack(
    app,
    cfg=cfg,
    # Account and region from the CLI's profile when there is one; env-agnostic otherwise.
    env=cdk.Environment(
        account=os.environ.get("CDK_DEFAULT_ACCOUNT"), region=os.environ.get("CDK_DEFAULT_REGION")
    ),
)
if str(app.node.try_get_context("nag")).lower() != "false":
    cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app))
app.synth()
