"""Starts the local stack once per test session, as a user would (`python -m
mailroom_dev.local`), on ephemeral loopback ports and with its own state directory, so it
can run beside a developer's `make dev` and beside other test runs.

A subprocess rather than in-process: moto keeps its state in module globals that the
in-process `mock_aws` tests reset, and the handlers read their endpoints from the
environment once; a separate process keeps both worlds apart."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT = 60  # seconds: imports, moto, tables, first handler load
STOP_TIMEOUT = 20


@pytest.fixture(scope="session")
def local_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """The stack's config, as written to local.json (api_url, api_key, outbox_dir, ...)."""
    state_dir = tmp_path_factory.mktemp("mailroom-local")
    log_path = state_dir / "stack.log"
    env = {
        key: value for key, value in os.environ.items()
        if not key.startswith(("AWS_", "MAILROOM_"))
    }
    # As pytest's `pythonpath` setting does for this process.
    env["PYTHONPATH"] = os.pathsep.join(
        [str(REPO_ROOT / "functions"), str(REPO_ROOT), env.get("PYTHONPATH", "")]
    ).rstrip(os.pathsep)
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "mailroom_dev.local", "--api-port", "0", "--aws-port", "0",
             "--state-dir", str(state_dir), "--quiet"],
            cwd=REPO_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
        )
    try:
        config = _wait_until_ready(process, state_dir / "local.json", log_path)
        yield config
    finally:
        _stop(process)
    assert not (state_dir / "local.json").exists(), "a clean stop removes local.json"


def _wait_until_ready(
    process: subprocess.Popen[bytes], state_file: Path, log_path: Path
) -> dict[str, Any]:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"the local stack exited ({process.returncode}):\n"
                        f"{log_path.read_text(errors='replace')[-4000:]}")
        if state_file.exists():
            config: dict[str, Any] = json.loads(state_file.read_text())
            if _healthy(config["api_url"]):
                return config
        time.sleep(0.2)
    pytest.fail(f"the local stack was not ready in {START_TIMEOUT} s:\n"
                f"{log_path.read_text(errors='replace')[-4000:]}")


def _healthy(api_url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{api_url}/v1/health", timeout=5) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGINT)  # what Ctrl-C does
    try:
        process.wait(timeout=STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
        pytest.fail("the local stack did not stop on SIGINT")
