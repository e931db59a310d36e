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
    yield from running_stack(tmp_path_factory.mktemp("mailroom-local"))


def running_stack(state_dir: Path, *, module: str = "mailroom_dev.local",
                  environment: dict[str, str] | None = None, verbose: bool = False,
                  **settings: str) -> Iterator[dict[str, Any]]:
    """Start a local stack of its own in `state_dir`, with `settings` as MAILROOM_<NAME>
    environment variables; yields its config until stopped. `module`: what runs it (a test
    harness may wrap `mailroom_dev.local`), with `environment` added to its environment;
    `verbose`: the handlers' JSON logs in <state_dir>/stack.log."""
    log_path = state_dir / "stack.log"
    env = {
        key: value for key, value in os.environ.items()
        if not key.startswith(("AWS_", "MAILROOM_"))
    }
    env.update({f"MAILROOM_{name.upper()}": value for name, value in settings.items()})
    env.update(environment or {})
    # As pytest's `pythonpath` setting does for this process.
    env["PYTHONPATH"] = os.pathsep.join(
        [str(REPO_ROOT / "functions"), str(REPO_ROOT), env.get("PYTHONPATH", "")]
    ).rstrip(os.pathsep)
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", module, "--api-port", "0", "--aws-port", "0",
             "--console-port", "0", "--state-dir", str(state_dir), "--quiet",
             *(["--verbose"] if verbose else [])],
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


DEADLINE = 20  # seconds for a message to reach its final status
WELCOME = {"name": "Ada", "action_url": "https://app.example.com/start"}
STATUS_RANK = {"queued": 0, "sent": 1, "delayed": 2, "delivered": 3, "bounced": 4,
               "rejected": 4, "render_failed": 4, "suppressed": 4, "failed": 4,
               "complained": 5}


class Api:
    def __init__(self, config: dict[str, Any]) -> None:
        self.url = config["api_url"]
        self.key = config["api_key"]

    def call(
        self, method: str, path: str, body: Any = None, *, key: str | None = "default",
        raw: bytes | None = None,
    ) -> tuple[int, Any]:
        headers = {"content-type": "application/json"}
        if key is not None:
            headers["x-api-key"] = self.key if key == "default" else key
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None
                                            else None)
        request = urllib.request.Request(self.url + path, data=data, method=method,
                                         headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                status, payload = response.status, response.read()
        except urllib.error.HTTPError as error:
            status, payload = error.code, error.read()
        return status, json.loads(payload) if payload else None

    def send(self, to: str, template: str = "welcome", data: Any = None) -> tuple[int, Any]:
        return self.call("POST", "/v1/emails", {
            "to": to, "template": template, "data": WELCOME if data is None else data,
        })

    def follow(self, message_id: str, until: set[str]) -> tuple[dict[str, Any], list[str]]:
        """Poll the message until its status is in `until`; returns it and every status
        seen on the way."""
        seen: list[str] = []
        deadline = time.monotonic() + DEADLINE
        while True:
            status, message = self.call("GET", f"/v1/emails/{message_id}")
            assert status == 200, message
            if not seen or seen[-1] != message["status"]:
                seen.append(message["status"])
            if message["status"] in until:
                return message, seen
            if time.monotonic() > deadline:
                pytest.fail(f"{message_id} stayed {message['status']}: {message}")
            time.sleep(0.1)


@pytest.fixture(scope="session")
def api(local_stack: dict[str, Any]) -> Api:
    return Api(local_stack)




def mailroom_cli(config: dict[str, Any], *args: str,
                 check: bool = True) -> subprocess.CompletedProcess[str]:
    """The `mailroom` CLI against this local stack, as a user runs it."""
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("AWS_", "MAILROOM_"))}
    env["MAILROOM_STATE_DIR"] = str(Path(config["outbox_dir"]).parent)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO_ROOT / "functions"), str(REPO_ROOT)])
    return subprocess.run([sys.executable, "-m", "mailroom_dev.cli", *args], cwd=REPO_ROOT,
                          env=env, capture_output=True, text=True, timeout=120, check=check)


def local_aws(config: dict[str, Any], service: str, endpoint: str) -> Any:
    """A boto3 client for one of the local stack's AWS stand-ins (`lambda_url`, ...)."""
    import boto3

    return boto3.client(service, endpoint_url=config[endpoint], region_name=config["region"],
                        aws_access_key_id="local", aws_secret_access_key="local")


def wait_for(check: Any, timeout: float = 30, what: str = "the condition") -> Any:
    """The first truthy answer of `check`, asked every 0.2 s; a test failure after
    `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if result := check():
            return result
        time.sleep(0.2)
    pytest.fail(f"timed out waiting for {what}")
