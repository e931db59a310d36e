"""The reputation guard on the local stack, as a new user tries it with the README: mail to
the test domain's bouncing mailbox pushes the bounce rate over the pause level; sending
pauses with the figures in the reason; a resume accepts them and mail flows again."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from .conftest import Api, running_stack

pytestmark = pytest.mark.e2e
TEST_DOMAIN = "test.mailroom.example"
SENDS, BOUNCES = 20, 2  # 10% bounces, over 4% from 20 sends (the volume lowered for the test)


@pytest.fixture(scope="module")
def guarded_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    yield from running_stack(tmp_path_factory.mktemp("mailroom-guard"),
                             reputation_pause_min_sends="20", reputation_warn_min_sends="10")


def wait_for(check, timeout: float = 30) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if result := check():
            return result
        time.sleep(0.2)
    pytest.fail("timed out")


def test_a_burst_of_bounces_pauses_sending_until_a_person_resumes(guarded_stack) -> None:
    api = Api(guarded_stack)
    ids = [api.send(f"bounce+{i}@{TEST_DOMAIN}")[1]["id"] for i in range(BOUNCES)]
    ids += [api.send(f"ada+{i}@{TEST_DOMAIN}")[1]["id"] for i in range(SENDS - BOUNCES)]
    for message_id in ids[:BOUNCES]:
        api.follow(message_id, until={"bounced"})

    state = wait_for(lambda: (s := api.call("GET", "/v1/sending")[1])["paused"] and s)

    assert state["source"] == "reputation_guard"
    assert "10.00%" in state["reason"] and f"{BOUNCES} of {SENDS}" in state["reason"]
    status, figures = api.call("GET", "/v1/reputation")
    assert (status, figures["state"], figures["sends"], figures["bounces"]) == (
        200, "paused", SENDS, BOUNCES)
    assert api.send(f"ada@{TEST_DOMAIN}")[0] == 503

    api.call("PUT", "/v1/sending", {"paused": False, "reason": "bounces explained"})

    status, accepted = api.send(f"ada+after@{TEST_DOMAIN}")
    assert status == 202
    api.follow(accepted["id"], until={"delivered"})
    time.sleep(2)  # the guard checks again after the next outcomes
    assert api.call("GET", "/v1/sending")[1]["paused"] is False  # figures accepted
    assert api.call("GET", "/v1/reputation")[1]["state"] == "ok"
