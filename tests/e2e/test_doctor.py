"""`mailroom doctor --json` against the local stack, run as a new user runs it: what means
something locally is checked for real (the simulator's account and configuration set, the
events subscription in moto, the DLQs, the API's pause state, the templates), the rest is
skipped with why."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import REPO_ROOT, Api

pytestmark = pytest.mark.e2e


def doctor(local_stack: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("AWS_", "MAILROOM_"))}
    env["MAILROOM_STATE_DIR"] = str(Path(local_stack["outbox_dir"]).parent)
    mailroom = Path(sys.executable).with_name("mailroom")  # .venv/bin/mailroom
    result = subprocess.run(
        [str(mailroom), "doctor", "--json"], cwd=REPO_ROOT,
        env=env, capture_output=True, text=True, timeout=60)
    assert result.stderr == "", result.stderr
    return result.returncode, json.loads(result.stdout)


def test_doctor_checks_the_local_stack_and_skips_what_means_nothing_there(local_stack):
    code, report = doctor(local_stack)

    checks = {check["name"]: check for check in report["checks"]}
    assert all(set(check) == {"name", "status", "detail", "fix"} for check in checks.values())
    assert code == 0, [c for c in checks.values() if c["status"] == "fail"]
    for name in ("account.sending_enabled", "account.send_rate", "account.suppression_list",
                 "pipeline.configuration_set",
                 "pipeline.event_destination", "pipeline.subscription", "pipeline.send_dlq",
                 "pipeline.events_dlq", "pipeline.subscription_dlq", "pipeline.sending",
                 "content.templates",
                 "reputation.mailroom"):
        assert checks[name]["status"] == "pass", checks[name]
    for name in ("identity", "pipeline.send_queue_age", "content.rendering_failures",
                 "reputation.ses_bounce_rate", "pipeline.canary"):
        assert checks[name]["status"] == "skip" and checks[name]["detail"], checks[name]


def test_doctor_says_sending_is_paused_and_why(local_stack, api: Api):
    status, _ = api.call("PUT", "/v1/sending", {"paused": True, "reason": "doctor e2e"})
    assert status == 200
    try:
        code, report = doctor(local_stack)
    finally:
        api.call("PUT", "/v1/sending", {"paused": False, "reason": "doctor e2e done"})

    checks = {check["name"]: check for check in report["checks"]}
    sending = checks["pipeline.sending"]
    assert sending["status"] == "warn" and "doctor e2e" in sending["detail"]
    assert "mailroom sending resume" in sending["fix"]
    # The pause closed the configuration set too: expected while paused, so a warning
    assert checks["pipeline.configuration_set"]["status"] == "warn"
    assert code == 0  # a pause is a warning: nothing is broken
