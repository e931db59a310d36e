"""Logs never carry a recipient's address or the API key: the handlers' JSON logs of a send
that is delivered, one that bounces and one that complains — with the suppression lookups an
operator makes after them — searched for both, in verbose mode at DEBUG."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import Api, running_stack

pytestmark = pytest.mark.e2e

RECIPIENTS = ("success+private@simulator.amazonses.com",
              "bounce+private@simulator.amazonses.com",
              "complaint+private@simulator.amazonses.com")


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    state_dir = tmp_path_factory.mktemp("mailroom-logs")
    for config in running_stack(state_dir, verbose=True,
                                environment={"POWERTOOLS_LOG_LEVEL": "DEBUG",
                                             "PYTHONUNBUFFERED": "1"}):
        yield {**config, "log": state_dir / "stack.log"}


def json_logs(path: Path) -> list[tuple[str, dict[str, Any]]]:
    """Each line that is a JSON object, as written and parsed."""
    lines = []
    for line in path.read_text(errors="replace").splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict):
            lines.append((line, record))
    return lines


def test_the_logs_of_a_send_a_bounce_and_a_complaint_hold_no_address_and_no_key(stack):
    api = Api(stack)
    ids = []
    for to in RECIPIENTS:
        status, accepted = api.send(to)
        assert status == 202, accepted
        ids.append(accepted["id"])
    for message_id, final in zip(ids, ({"delivered"}, {"bounced"}, {"complained"}),
                                 strict=True):
        api.follow(message_id, until=final)
    for to in RECIPIENTS[1:]:
        assert api.call("GET", f"/v1/suppressions/{to}")[0] == 200
    api.send(RECIPIENTS[1])  # refused: suppressed

    logs = json_logs(stack["log"])
    services = {record.get("service") for _, record in logs}
    assert {"mailroom-api", "mailroom-sender", "mailroom-events"} <= services
    assert all(any(message_id in line for line, _ in logs) for message_id in ids)
    leaks = [line for line, _ in logs
             if stack["api_key"] in line
             or any(address in line.lower() for address in RECIPIENTS)
             or any(address.split("@")[0] in line.lower() for address in RECIPIENTS)]
    assert leaks == []
