"""What `make dev` prints while mail goes through: one short line per step, naming the
function and the message; no Powertools JSON, no metric documents."""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

import pytest

from mailroom_dev.local.logs import short_id
from tests.e2e.conftest import Api

pytestmark = pytest.mark.e2e


def printed(local_stack: dict[str, Any]) -> list[str]:
    # The stack's stdout and stderr, kept beside its outbox (see conftest.local_stack).
    log = Path(local_stack["outbox_dir"]).parent / "stack.log"
    return log.read_text(encoding="utf-8", errors="replace").splitlines()


def test_each_step_of_a_send_is_one_short_line(api: Api, local_stack) -> None:
    # Given an email sent through the API and delivered
    status, answer = api.send("success+output@simulator.amazonses.com")
    assert status == 202, answer
    api.follow(answer["id"], until={"delivered"})
    message = re.escape(short_id(answer["id"]))

    # Then each function said what it did to it, one line each
    expected = [
        rf"api      POST /v1/emails 202 \(\d+ ms\)  {message}  queued",
        rf"ses      {message}  accepted as \S+",
        rf"sender   {message}  sent",
        rf"events   {message}  send → sent",
        rf"events   {message}  delivery → delivered",
    ]
    deadline = time.monotonic() + 5  # the last line may follow the status by a moment
    while True:
        lines = [line[9:] for line in printed(local_stack) if re.match(r"\d\d:\d\d:\d\d ", line)]
        missing = [pattern for pattern in expected
                   if not any(re.fullmatch(pattern, line) for line in lines)]
        if not missing or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert not missing, "\n".join(printed(local_stack)[-40:])
    # And nothing in the handlers' JSON
    assert not [line for line in printed(local_stack) if line.startswith("{")]
