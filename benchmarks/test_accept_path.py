"""The accept path's cost: AWS calls per email and how cheaply the API handler imports.

Targets (issue: send path): at most 3 AWS calls per accepted email; the handler module
imports without building clients or loading Jinja2/pybars."""

from __future__ import annotations

import subprocess
import sys
from collections import Counter
from pathlib import Path

import botocore.client
import pytest

from tests.integration.lambda_events import LambdaContext, api_event

ROOT = Path(__file__).resolve().parents[1]
WELCOME = {"to": "ada@example.com", "template": "welcome",
           "data": {"name": "Ada", "action_url": "https://app.example.com/start"}}
MAX_CALLS_PER_EMAIL = 3


@pytest.fixture
def aws_calls(monkeypatch) -> Counter:
    calls: Counter = Counter()
    real = botocore.client.BaseClient._make_api_call

    def counting(self, operation_name, api_params):
        calls[f"{self.meta.service_model.service_name}.{operation_name}"] += 1
        return real(self, operation_name, api_params)

    monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", counting)
    return calls


@pytest.fixture
def api(api_env):
    from handlers import api as module

    module.handler(api_event("GET", "/v1/health"), LambdaContext())  # build clients first
    return module


def test_aws_calls_per_accepted_email(api, aws_calls, benchmark):
    def accept_one():
        response = api.handler(api_event("POST", "/v1/emails", WELCOME), LambdaContext())
        assert response["statusCode"] == 202

    aws_calls.clear()
    accept_one()
    per_email = sum(aws_calls.values())
    print(f"\nAWS calls per accepted email: {per_email} {dict(aws_calls)}")
    benchmark.extra_info["aws_calls_per_email"] = per_email
    benchmark.pedantic(accept_one, rounds=20, iterations=1)
    assert per_email <= MAX_CALLS_PER_EMAIL


def test_aws_calls_per_email_with_an_idempotency_key(api, aws_calls, benchmark):
    """Reported, not held to the target: Powertools idempotency adds its own two writes
    (the in-progress record and the stored answer)."""
    keys = iter(range(1_000_000))

    def accept_keyed():
        headers = {"Idempotency-Key": f"key-{next(keys)}"}
        response = api.handler(api_event("POST", "/v1/emails", WELCOME, headers=headers),
                               LambdaContext())
        assert response["statusCode"] == 202

    aws_calls.clear()
    accept_keyed()
    per_email = sum(aws_calls.values())
    print(f"\nAWS calls per accepted email with an idempotency key: {per_email} "
          f"{dict(aws_calls)}")
    benchmark.extra_info["aws_calls_per_email"] = per_email
    benchmark.pedantic(accept_keyed, rounds=20, iterations=1)


def test_aws_calls_per_email_in_a_batch_of_100(api, aws_calls, benchmark):
    body = {"emails": [{**WELCOME, "to": f"user{i}@example.com"} for i in range(100)]}

    def accept_batch():
        response = api.handler(api_event("POST", "/v1/emails/batch", body), LambdaContext())
        assert response["statusCode"] == 202

    aws_calls.clear()
    accept_batch()
    per_email = sum(aws_calls.values()) / 100
    print(f"\nAWS calls per email in a batch of 100: {per_email} {dict(aws_calls)}")
    benchmark.extra_info["aws_calls_per_email"] = per_email
    benchmark.pedantic(accept_batch, rounds=3, iterations=1)
    assert per_email <= MAX_CALLS_PER_EMAIL


def _import_seconds(module: str) -> float:
    code = ("import sys, time; sys.path.insert(0, 'functions'); t = time.perf_counter(); "
            f"import {module}; print(time.perf_counter() - t)")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                         text=True, check=True)
    return float(out.stdout.strip())


@pytest.mark.parametrize("module", ["handlers.api", "handlers.sender", "handlers.events"])
def test_handler_import_time(module, benchmark):
    """Cold-start import cost, each in a fresh interpreter (botocore dominates)."""
    seconds = benchmark.pedantic(_import_seconds, args=(module,), rounds=5, iterations=1)
    print(f"\nimport {module}: {seconds * 1000:.0f} ms")
    heavy = subprocess.run(
        [sys.executable, "-c", "import sys; sys.path.insert(0, 'functions'); "
         f"import {module}; print(sorted(m for m in ('jinja2', 'pybars', 'email_validator') "
         "if m in sys.modules))"],
        cwd=ROOT, capture_output=True, text=True, check=True).stdout.strip()
    assert heavy == "[]", f"{module} imports {heavy} at import time; import them lazily"
