"""Two requests with the same idempotency key and body at the same moment, in two Lambda
instances: one sends; the other gets the first answer, or 409 "still being processed,
retry" while the first is under way. The mail goes out once."""

from __future__ import annotations

import threading
import time
from dataclasses import replace
from typing import Any

import pytest

from handlers import api
from handlers.api.dependencies import Dependencies, idempotent_accept
from mailroom.settings import ApiSettings
from tests.integration.lambda_events import LambdaContext, api_event
from tests.integration.test_api_contract import WELCOME, queued_count

KEY = "race-1"


class HeldQueue:
    """Enqueues only once released, so a second request arrives while the first is in
    flight, however slow the machine."""

    def __init__(self, queue: Any, started: threading.Event, release: threading.Event) -> None:
        self.queue, self.started, self.release = queue, started, release

    def enqueue(self, requests: Any, delay_seconds: int = 0) -> None:
        self.started.set()
        assert self.release.wait(10)
        self.queue.enqueue(requests, delay_seconds)


class FirstRequest:
    def __init__(self) -> None:
        self.started, self.release = threading.Event(), threading.Event()
        self.answers: list[Any] = []


def instance(held: FirstRequest | None = None) -> Dependencies:
    """One Lambda instance's dependencies; with `held`, its send waits to be released."""
    deps = Dependencies.from_settings(ApiSettings())  # type: ignore[call-arg]
    if held is None:
        return deps
    acceptor = replace(deps.acceptor,
                       queue=HeldQueue(deps.acceptor.queue, held.started, held.release))
    table = ApiSettings().idempotency_table  # type: ignore[call-arg]
    return replace(deps, acceptor=acceptor, idempotent_accept=idempotent_accept(table, acceptor))


def send(deps: Dependencies) -> tuple[int, str]:
    import json

    response = api.handler(api_event("POST", "/v1/emails", WELCOME,
                                     headers={"Idempotency-Key": KEY}), LambdaContext(),
                           deps=deps)
    return response["statusCode"], json.loads(response["body"])


@pytest.fixture
def first_in_flight(api_env):
    """The first request, held in flight until the test releases it."""
    first = FirstRequest()
    thread = threading.Thread(target=lambda: first.answers.append(send(instance(first))))
    thread.start()
    assert first.started.wait(10)
    yield first
    first.release.set()
    thread.join(10)


def test_a_request_racing_one_in_flight_is_told_to_retry(first_in_flight, api_env):
    status, body = send(instance())

    assert (status, body["error"]["code"]) == (409, "idempotency_conflict")
    assert "retry" in body["error"]["message"]


def test_once_the_first_is_done_the_same_request_gets_its_answer_and_nothing_more_is_sent(
        first_in_flight, api_env):
    first_in_flight.release.set()
    deadline = time.monotonic() + 10
    while not first_in_flight.answers and time.monotonic() < deadline:
        time.sleep(0.05)
    [(first_status, first_body)] = first_in_flight.answers

    status, body = send(instance())

    assert first_status == status == 202
    assert body["id"] == first_body["id"]
    assert queued_count(api_env) == 1
