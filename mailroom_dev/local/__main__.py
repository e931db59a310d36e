"""`python -m mailroom_dev.local`: run the local stack in the foreground until Ctrl-C."""

from __future__ import annotations

import argparse
import json
import logging
import os
import shlex
import signal
import sys
import threading
import warnings
from pathlib import Path
from typing import Any

from . import logs
from .stack import LocalStack, LocalStackOptions, PortInUse

TRY_IT_RECIPIENT = "success@simulator.amazonses.com"


def try_it(config: dict[str, Any], example_data: dict[str, Any]) -> str:
    """The short "try it" shown once the stack is ready: a curl that sends, and one that
    follows the message."""
    api, key = config["api_url"], config["api_key"]
    body = json.dumps({"to": TRY_IT_RECIPIENT, "template": "welcome", "data": example_data})
    return "\n".join([
        "",
        f"Mailroom is running locally. API: {api}   API key: {key}",
        "",
        "Try it:",
        f"  curl -sS -X POST {api}/v1/emails \\",
        f"    -H 'x-api-key: {key}' -H 'content-type: application/json' \\",
        f"    -d {shlex.quote(body)}",
        "",
        "then follow it (use the id from the answer):",
        f"  curl -sS {api}/v1/emails/<id> -H 'x-api-key: {key}'",
        "",
        "Also: bounce@, complaint@, ooto@, suppressionlist@simulator.amazonses.com.",
        f"Console (outbox, timelines, templates): {config['console_url']}",
        f"Rendered mail: {config['outbox_dir']}   Events apps receive: `mailroom tail`",
        "Ctrl-C stops everything.",
        "",
    ])


def welcome_example() -> dict[str, Any]:
    from mailroom.templates import TemplateCatalog

    catalog = TemplateCatalog.load()
    if "welcome" in catalog and catalog.get("welcome").example:
        return dict(catalog.get("welcome").example)
    return {"name": "Ada", "action_url": "https://example.com/start"}


def run(options: LocalStackOptions, *, quiet: bool = False, verbose: bool = False) -> int:
    """Start the stack, print how to use it, wait for SIGINT/SIGTERM, stop cleanly.
    `verbose`: the handlers' own logs and metrics, as configure_logging set them up."""
    stopping = threading.Event()

    def request_stop(signum: int, _frame: Any) -> None:
        stopping.set()

    previous = {sig: signal.signal(sig, request_stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    stack = LocalStack(options)
    started = False
    try:
        try:
            config = stack.start()
        except PortInUse as error:
            print(f"error: {error}", file=sys.stderr)
            return 1
        except ModuleNotFoundError as error:
            print(f"error: cannot load a handler ({error}). Run `make dev` from the "
                  "repository root after the set-up.", file=sys.stderr)
            return 1
        started = True
        logs.attach(verbose)  # the handlers are loaded now
        if not quiet:
            print(try_it(config, welcome_example()), flush=True)
        print(f"ready: {stack.state_file}", flush=True)
        # The signal handler runs in this thread; waking now and then lets it run even when
        # the signal landed on another of the stack's threads.
        while not stopping.wait(timeout=0.5):
            pass
        print("stopping…", flush=True)
        return 0
    finally:
        stack.stop()
        if started:
            print("stopped: local.json removed.", flush=True)
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m mailroom_dev.local", description=__doc__)
    parser.add_argument("--api-port", type=int, help="default 3000 or MAILROOM_API_PORT; 0 = any")
    parser.add_argument("--aws-port", type=int, help="default 4566 or MAILROOM_AWS_PORT; 0 = any")
    parser.add_argument("--simulator-port", type=int, help="SES simulator; default any free port")
    parser.add_argument("--console-port", type=int,
                        help="the console; default 8025 or MAILROOM_CONSOLE_PORT; 0 = any")
    parser.add_argument("--state-dir", type=Path, help="where local.json, outbox/ live "
                        "(default ./.mailroom or MAILROOM_STATE_DIR)")
    parser.add_argument("--max-send-rate", type=float, help="SES simulator rate (default 14/s)")
    parser.add_argument("--event-delay", type=float, help="seconds between SES events")
    parser.add_argument("--quiet", action="store_true", help="no 'try it' banner")
    parser.add_argument("--verbose", action="store_true",
                        help="the handlers' Powertools JSON logs and metrics (EMF) instead "
                        "of short lines, and every SES event published")
    args = parser.parse_args(argv)
    overrides = {
        key: value
        for key, value in (
            ("api_port", args.api_port),
            ("aws_port", args.aws_port),
            ("simulator_port", args.simulator_port),
            ("console_port", args.console_port),
            ("state_dir", args.state_dir),
            ("max_send_rate", args.max_send_rate),
            ("event_delay", args.event_delay),
        )
        if value is not None
    }
    configure_logging(verbose=args.verbose)
    return run(LocalStackOptions.from_env(**overrides), quiet=args.quiet, verbose=args.verbose)


def configure_logging(verbose: bool) -> None:
    """One short line for each request, send and SES event, from the emulators and the
    handlers alike (mailroom_dev/local/logs.py); with --verbose the handlers' Powertools
    JSON and their metrics (EMF) instead, and every event the SES simulator publishes.
    Runs before the stack starts: the stack hands these variables to the handlers."""
    logs.install(verbose)
    logging.getLogger("mailroom_dev.local").setLevel(logging.INFO)
    # INFO: the handlers log what they did at INFO (a developer's setting wins).
    os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "INFO")
    if verbose:
        os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "false")
        logging.getLogger(logs.SES_LOGGER).setLevel(logging.DEBUG)
    # Invocations that add no metric (health checks, refusals) are expected.
    warnings.filterwarnings("ignore", message="No application metrics to publish")
    for noisy in ("werkzeug", "botocore", "boto3", "urllib3"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


if __name__ == "__main__":
    sys.exit(main())
