"""`python -m mailroom_dev.report_screenshot [FILE]` (`make screenshots`): the README's picture
of `mailroom report --html` (default docs/report.png), taken with the same headless chromium
the browser tests use.

It starts a local stack of its own, sends today's mail through the API to the reserved test
domain (it counts as real mail), writes the six days before straight into the stack's hourly
counters as the events function would have counted them (a week of history the stack cannot
have), runs `mailroom report --html`, and screenshots the page."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = os.environ.get("MAILROOM_CHROMIUM", "/usr/bin/chromium")
TEST_DOMAIN = "test.mailroom.example"
# Where the past week's failures went: (reason, outcome, domain, share of the day's sends).
PAST_FAILURES = (
    ("mailbox_does_not_exist", "hard_bounce", "gmail.com", 0.012),
    ("mailbox_does_not_exist", "hard_bounce", "outlook.com", 0.008),
    ("domain_does_not_exist", "hard_bounce", "gmial.com", 0.006),
    ("mailbox_full", "soft_bounce", "yahoo.com", 0.008),
    ("recipient_suppressed", "hard_bounce", "hotmail.com", 0.005),
    ("temporary_failure", "soft_bounce", "icloud.com", 0.004),
)
BUSY_HOURS = (9, 13, 17)
DOMAINS = ("gmail.com", "outlook.com", "yahoo.com", "icloud.com", "hotmail.com",
           "proton.me", "gmial.com")


@contextmanager
def local_stack(state_dir: Path) -> Iterator[dict[str, Any]]:
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("AWS_", "MAILROOM_"))}
    env["PYTHONPATH"] = os.pathsep.join([str(REPO_ROOT / "functions"), str(REPO_ROOT)])
    process = subprocess.Popen(
        [sys.executable, "-m", "mailroom_dev.local", "--api-port", "0", "--aws-port", "0",
         "--state-dir", str(state_dir), "--quiet"], cwd=REPO_ROOT, env=env,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        state = state_dir / "local.json"
        deadline = time.monotonic() + 90
        while not state.exists():
            if process.poll() is not None or time.monotonic() > deadline:
                raise SystemExit("the local stack did not start: try `make dev` for its output")
            time.sleep(0.2)
        yield json.loads(state.read_text())
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=30)


def send_today(config: dict[str, Any]) -> list[str]:
    """74 delivered, 3 unknown mailboxes and 1 complaint at the reserved test domain."""
    data = {"name": "Ada", "action_url": "https://app.example.com/start"}
    recipients = ([f"ada+{n}@{TEST_DOMAIN}" for n in range(74)]
                  + [f"bounce+{n}@{TEST_DOMAIN}" for n in range(3)]
                  + [f"complaint@{TEST_DOMAIN}"])
    body = {"emails": [{"to": to, "template": "welcome", "data": data} for to in recipients]}
    request = urllib.request.Request(
        config["api_url"] + "/v1/emails/batch", method="POST", data=json.dumps(body).encode(),
        headers={"x-api-key": config["api_key"], "content-type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return [result["id"] for result in json.loads(response.read())["results"]]


def wait_for_outcomes(config: dict[str, Any], ids: list[str], timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    pending = list(ids)
    while pending and time.monotonic() < deadline:
        request = urllib.request.Request(f"{config['api_url']}/v1/emails/{pending[0]}",
                                         headers={"x-api-key": config["api_key"]})
        with urllib.request.urlopen(request, timeout=30) as response:
            status = json.loads(response.read())["status"]
        if status in ("delivered", "bounced", "complained"):
            pending.pop(0)
        else:
            time.sleep(0.2)


def write_past_week(config: dict[str, Any], now: datetime) -> None:
    """Six days of counts before today, in the shape the events function writes them."""
    import boto3

    from mailroom import shape
    from mailroom.adapters.dynamodb import DynamoCounters
    from mailroom.counting import CountedEvent, Outcome, Traffic

    client = boto3.client("dynamodb", endpoint_url=config["aws_endpoint_url"],
                          region_name=config["region"], aws_access_key_id="local",
                          aws_secret_access_key="local")
    # One shard and a few busy hours a day: the same sums in fewer partitions, so moto's
    # slow queries keep the report quick (a deployed table spreads them over every shard).
    counters = DynamoCounters(shape.COUNTERS.name, client=client, shard=lambda: 0)
    pick = random.Random(11)
    events: list[CountedEvent] = []
    for days_ago in range(6, 0, -1):
        day = (now - timedelta(days=days_ago)).replace(hour=0, minute=0, second=0,
                                                       microsecond=0)
        sends = pick.randint(90, 160)
        hours = [day + timedelta(hours=pick.choice(BUSY_HOURS)) for _ in range(sends)]
        failed = 0
        for reason, outcome, domain, share in PAST_FAILURES:
            for _ in range(round(sends * share * pick.uniform(0.3, 2.0))):
                events.append(CountedEvent(hours[failed], Traffic.REAL, Outcome(outcome),
                                           reason, domain))
                failed += 1
        if days_ago == 3:  # one bad day: a complaint above SES's review threshold
            events.append(CountedEvent(hours[failed], Traffic.REAL, Outcome.COMPLAINT,
                                       "complaint", "yahoo.com"))
        for index, hour in enumerate(hours):
            domain = DOMAINS[index % len(DOMAINS)]
            events.append(CountedEvent(hour, Traffic.REAL, Outcome.SEND, None, domain))
            if index >= failed:
                events.append(CountedEvent(hour, Traffic.REAL, Outcome.DELIVERY, None, domain))
    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(counters.add, events))


def render_report(config: dict[str, Any], state_dir: Path, page: Path) -> None:
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("AWS_", "MAILROOM_"))}
    env["MAILROOM_STATE_DIR"] = str(state_dir)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO_ROOT / "functions"), str(REPO_ROOT)])
    subprocess.run([sys.executable, "-m", "mailroom_dev.cli", "report", "--since", "7d",
                    "--html", str(page), "--json"], cwd=REPO_ROOT, env=env, check=True,
                   stdout=subprocess.DEVNULL)


def screenshot(page_file: Path, out: Path) -> None:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox"] if os.geteuid() == 0 else [])
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.goto(page_file.as_uri())
            out.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(out), full_page=True)
        finally:
            browser.close()


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    out = Path(args[0] if args else REPO_ROOT / "docs" / "report.png").resolve()
    if not Path(CHROMIUM).is_file():
        print(f"No chromium at {CHROMIUM}: sudo apt-get install chromium", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory(prefix="mailroom-report-") as temporary:
        state_dir = Path(temporary) / "state"
        with local_stack(state_dir) as config:
            wait_for_outcomes(config, send_today(config))
            write_past_week(config, datetime.now(UTC))
            page = Path(temporary) / "report.html"
            render_report(config, state_dir, page)
        screenshot(page, out)
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
