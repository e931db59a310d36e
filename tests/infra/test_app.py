"""app.py and its context: synth works offline out of the box, context shapes the stack."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from infra.config import PLACEHOLDER_DOMAIN, MailroomConfig

pytestmark = pytest.mark.infra

REPO = Path(__file__).resolve().parents[2]


def test_defaults_derive_from_the_sender_domain():
    cfg = MailroomConfig.from_context({"sender_domain": "Mail.Example.org"}.get)
    assert cfg.stack_name == "Mailroom"
    assert cfg.sender_domain == "mail.example.org"
    assert cfg.from_address == "no-reply@mail.example.org"
    assert cfg.allowed_senders == ("mail.example.org",)
    assert cfg.template_prefix == "Mailroom-"
    assert cfg.sender_max_concurrency == 2


def test_sender_domain_comes_from_from_address_when_not_given():
    cfg = MailroomConfig.from_context({"from_address": "hello@shop.example"}.get)
    assert cfg.sender_domain == "shop.example"
    assert cfg.from_address == "hello@shop.example"


def test_a_from_address_with_a_display_name_works_as_the_readme_shows():
    cfg = MailroomConfig.from_context({"sender_domain": "mail.example.com",
                                       "from_address": "Acme <no-reply@mail.example.com>"}.get)
    assert cfg.from_address == "Acme <no-reply@mail.example.com>"
    assert MailroomConfig.from_context(
        {"from_address": "Acme <no-reply@Mail.Example.com>"}.get).sender_domain == \
        "mail.example.com"


def test_allowed_senders_are_lower_cased_as_the_runtime_compares_them():
    cfg = MailroomConfig.from_context({"sender_domain": "mail.example.com",
                                       "allowed_senders": "Mail.Example.com,CEO@Example.com"}.get)
    assert cfg.allowed_senders == ("mail.example.com", "ceo@example.com")


def test_without_a_domain_the_placeholder_is_used():
    cfg = MailroomConfig.from_context({}.get)
    assert cfg.sender_domain == PLACEHOLDER_DOMAIN
    assert cfg.is_placeholder_domain


def test_a_from_address_the_allowed_senders_do_not_cover_is_refused():
    # The sender's IAM policy would refuse every send from it.
    with pytest.raises(ValueError, match="allowed_senders"):
        MailroomConfig.from_context(
            {"from_address": "hello@shop.example", "allowed_senders": "other.example"}.get
        )


def test_sqs_maximum_concurrency_below_two_is_refused():
    with pytest.raises(ValueError):
        MailroomConfig.from_context({"sender_max_concurrency": "1"}.get)


def test_app_synthesizes_offline_with_a_warning_when_no_domain_is_given(tmp_path):
    # Given no context at all (as a fresh clone), When app.py runs as `cdk synth` would
    env = {
        **os.environ,
        "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20",
        "CDK_OUTDIR": str(tmp_path),
        "CDK_CONTEXT_JSON": json.dumps({"aws:cdk:bundling-stacks": []}),
    }
    env.pop("CDK_DEFAULT_ACCOUNT", None)
    result = subprocess.run(
        [sys.executable, "app.py"], cwd=REPO, env=env, capture_output=True, text=True, timeout=240
    )
    # Then it succeeds (cdk-nag included), warns, and writes the template
    assert result.returncode == 0, result.stderr[-4000:]
    assert "WARNING: no sender domain given" in result.stderr
    template = json.loads((tmp_path / "Mailroom.template.json").read_text())
    [identity] = [
        r for r in template["Resources"].values() if r["Type"] == "AWS::SES::EmailIdentity"
    ]
    assert identity["Properties"]["EmailIdentity"] == PLACEHOLDER_DOMAIN
