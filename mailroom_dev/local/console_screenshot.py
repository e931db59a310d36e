"""`python -m mailroom_dev.local.console_screenshot [--output docs/console.png]`: the README's
picture of the local console, taken the way the browser tests drive it. It starts a local
stack of its own (ephemeral ports, a temporary state folder), sends a few emails through the
API, waits for their outcomes, opens the console in headless Chromium and saves a
screenshot with a bounced message open."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

from mailroom_dev.templates_build import REPO_ROOT

CHROMIUM = os.environ.get("MAILROOM_CHROMIUM", "/usr/bin/chromium")
DEFAULT_OUTPUT = REPO_ROOT / "docs" / "console.png"
WIDTH, HEIGHT = 1440, 960
ORDER = {"name": "Ada", "order_id": "A-10042", "total": "$51.00", "items": [
    {"name": "Analytical Engine poster", "quantity": 1, "price": "$24.00"},
    {"name": "Punched-card notebook", "quantity": 3, "price": "$9.00"}]}
# What the picture shows: each outcome the simulator offers, the bounce opened.
MAIL = [
    ("success@simulator.amazonses.com", "welcome",
     {"name": "Grace", "action_url": "https://app.example.com/start"}),
    ("complaint@simulator.amazonses.com", "password_reset",
     {"name": "Alan", "reset_url": "https://app.example.com/reset/x1", "expires_in_minutes": 30}),
    ("ada@example.com", "order_confirmation", ORDER),
    ("bounce@simulator.amazonses.com", "order_confirmation", ORDER),
]
OPENED = "bounce@simulator.amazonses.com"
SETTLED = {"delivered", "bounced", "complained"}


def _api(config: dict[str, Any], method: str, path: str, body: Any = None) -> Any:
    request = urllib.request.Request(
        config["api_url"] + path, method=method,
        data=json.dumps(body).encode() if body is not None else None,
        headers={"x-api-key": config["api_key"], "content-type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


def _send_and_settle(config: dict[str, Any], timeout: float = 60) -> None:
    ids = []
    for to, template, data in MAIL:
        ids.append(_api(config, "POST", "/v1/emails",
                        {"to": to, "template": template, "data": data})["id"])
        time.sleep(0.3)  # distinct times in the list
    deadline = time.monotonic() + timeout
    for message_id in ids:
        while _api(config, "GET", f"/v1/emails/{message_id}")["status"] not in SETTLED:
            if time.monotonic() > deadline:
                raise SystemExit(f"{message_id} did not settle in {timeout} s")
            time.sleep(0.2)
    # Complaints come after the delivery: give the last events a moment.
    time.sleep(1)


def take(output: Path) -> Path:
    from playwright.sync_api import sync_playwright

    from .stack import LocalStack, LocalStackOptions

    if not Path(CHROMIUM).is_file():
        raise SystemExit(f"No chromium at {CHROMIUM}: sudo apt-get install chromium")
    with tempfile.TemporaryDirectory(prefix="mailroom-screenshot-") as state_dir, \
            LocalStack(LocalStackOptions(state_dir=Path(state_dir), api_port=0, aws_port=0,
                                         console_port=0, write_state_file=False)) as stack:
        _send_and_settle(stack.config)
        with sync_playwright() as playwright:
            args = ["--no-sandbox"] if os.geteuid() == 0 else []
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=args)
            page = browser.new_page(viewport={"width": WIDTH, "height": HEIGHT})
            page.goto(stack.config["console_url"])
            page.locator("#outbox-list li", has_text=OPENED).click()
            page.locator("#failure").wait_for()
            page.locator("#timeline li[data-type=bounce]").wait_for()
            page.wait_for_timeout(800)  # the frame's content
            output.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(output))
            browser.close()
    return output


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    args = parser.parse_args(argv)
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # moto's request lines
    print(f"Wrote {take(args.output)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
