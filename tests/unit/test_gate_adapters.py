"""The gate adapters' requests, validated by botocore's Stubber against the real Lambda and
SES v2 models (moto lacks PutConfigurationSetSendingOptions), and how the consumer gate
waits out a state change Lambda refuses to interrupt."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from botocore.stub import Stubber

from mailroom.adapters.gates import ConfigurationSetGate, ConsumerGate

MAPPING = "6f1c2b9a-4d3e-4f5a-8b7c-1d2e3f4a5b6c"


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def lambda_client() -> Iterator[tuple[Any, Stubber]]:
    client = boto3.client("lambda", region_name="us-east-1",
                          aws_access_key_id="x", aws_secret_access_key="x")
    with Stubber(client) as stubber:
        yield client, stubber
        stubber.assert_no_pending_responses()


def consumer(client: Any, clock: Clock, settle_seconds: float = 2.0) -> ConsumerGate:
    return ConsumerGate(MAPPING, client=client, settle_seconds=settle_seconds,
                        sleep=clock.sleep, clock=clock)


def mapping_in(stubber: Stubber, state: str) -> None:
    stubber.add_response("get_event_source_mapping", {"UUID": MAPPING, "State": state},
                         {"UUID": MAPPING})


def conflict(stubber: Stubber, enabled: bool) -> None:
    stubber.add_client_error("update_event_source_mapping", "ResourceConflictException",
                             http_status_code=409,
                             expected_params={"UUID": MAPPING, "Enabled": enabled})


@pytest.mark.parametrize(("state", "reads_as"), [
    ("Enabled", True), ("Disabled", False),
    ("Enabling", None), ("Disabling", None), ("Updating", None), ("Creating", None),
])
def test_the_consumer_reads_open_closed_or_changing(lambda_client, state, reads_as):
    client, stubber = lambda_client
    mapping_in(stubber, state)

    assert consumer(client, Clock()).is_open() is reads_as


def test_closing_disables_the_mapping(lambda_client):
    client, stubber = lambda_client
    mapping_in(stubber, "Enabled")
    stubber.add_response("update_event_source_mapping",
                         {"UUID": MAPPING, "State": "Disabling"},
                         {"UUID": MAPPING, "Enabled": False})

    consumer(client, Clock()).set_open(False)


@pytest.mark.parametrize(("state", "wanted"), [
    ("Disabled", False), ("Disabling", False), ("Enabled", True), ("Enabling", True)])
def test_a_mapping_already_there_or_on_its_way_is_left_alone(lambda_client, state, wanted):
    client, stubber = lambda_client
    mapping_in(stubber, state)  # and no update: the Stubber would refuse one

    consumer(client, Clock()).set_open(wanted)


def test_a_resume_during_a_disable_waits_for_it_then_enables(lambda_client):
    client, stubber = lambda_client
    clock = Clock()
    mapping_in(stubber, "Updating")
    conflict(stubber, True)
    mapping_in(stubber, "Disabled")
    stubber.add_response("update_event_source_mapping", {"UUID": MAPPING, "State": "Enabling"},
                         {"UUID": MAPPING, "Enabled": True})

    consumer(client, clock).set_open(True)

    assert clock.now == 0.5


def test_a_change_that_outlasts_the_settle_time_is_raised(lambda_client):
    client, stubber = lambda_client
    clock = Clock()
    for _ in range(3):
        mapping_in(stubber, "Updating")
        conflict(stubber, False)

    with pytest.raises(ClientError, match="ResourceConflictException"):
        consumer(client, clock, settle_seconds=1.0).set_open(False)
    assert clock.now == 1.0


def test_other_errors_are_raised_at_once(lambda_client):
    client, stubber = lambda_client
    mapping_in(stubber, "Enabled")
    stubber.add_client_error("update_event_source_mapping", "AccessDeniedException",
                             http_status_code=403)

    with pytest.raises(ClientError, match="AccessDenied"):
        consumer(client, Clock()).set_open(False)


def test_the_configuration_sets_sending_is_read_and_set():
    client = boto3.client("sesv2", region_name="us-east-1",
                          aws_access_key_id="x", aws_secret_access_key="x")
    gate = ConfigurationSetGate("mailroom-prod", client=client)
    with Stubber(client) as stubber:
        stubber.add_response("get_configuration_set",
                             {"ConfigurationSetName": "mailroom-prod",
                              "SendingOptions": {"SendingEnabled": False}},
                             {"ConfigurationSetName": "mailroom-prod"})
        stubber.add_response("get_configuration_set", {"ConfigurationSetName": "mailroom-prod"},
                             {"ConfigurationSetName": "mailroom-prod"})
        stubber.add_response("put_configuration_set_sending_options", {},
                             {"ConfigurationSetName": "mailroom-prod", "SendingEnabled": True})

        assert gate.is_open() is False
        assert gate.is_open() is True  # no SendingOptions: SES's default, enabled
        gate.set_open(True)
        stubber.assert_no_pending_responses()


def test_no_client_is_made_until_a_gate_is_used(monkeypatch):
    made = []
    monkeypatch.setattr(boto3, "client", lambda *args, **kwargs: made.append(args))

    ConsumerGate(MAPPING)
    ConfigurationSetGate("mailroom-prod")

    assert made == []
