"""Port contract fixtures: each port's fixture is parametrized over its in-memory fake and its
AWS adapter (DynamoDB, SQS, SNS and Lambda's event source mappings on moto in-process; SES
behind botocore's Stubber and behind the local SES simulator; the local Lambda stand-in), so
one set of tests pins both. Only the simulator and the stand-in open a socket, on loopback;
every other connection is refused."""

from __future__ import annotations

import io
import itertools
import socket
import threading
import zipfile
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.stub import Stubber
from moto import mock_aws

from mailroom.adapters.dynamodb import (
    DynamoCounters,
    DynamoGuardLevels,
    DynamoMessageStore,
    DynamoSendingSwitch,
    DynamoSuppressionStore,
)
from mailroom.adapters.gates import ConfigurationSetGate, ConsumerGate
from mailroom.adapters.ses import SesMailer
from mailroom.adapters.sns import SnsPublisher
from mailroom.adapters.sqs import SqsSendQueue
from mailroom.templates import TemplateCatalog
from mailroom_dev.local.lambda_api import EventSourceMapping, LambdaApi
from mailroom_dev.local.resources import create_resources
from mailroom_dev.local.ses_simulator import SesSimulator
from tests.contract.probes import (
    FakePublisherProbe,
    FakeQueueProbe,
    SesProbe,
    SqsQueueProbe,
    SubscribedQueueProbe,
    recording,
)
from tests.fakes import (
    FakeCounters,
    FakeGate,
    FakeGuardLevels,
    FakeMailer,
    FakeMessageStore,
    FakePublisher,
    FakeSendingSwitch,
    FakeSendQueue,
    FakeSuppressionStore,
)
from tests.integration.conftest import aws_environment  # noqa: F401  (autouse fixture)

REGION = "us-east-1"
CONFIGURATION_SET = "mailroom-contract"
TEMPLATE_PREFIX = "Contract-"
# One try per call, as the production SES client: the tests pin what SES is sent.
NO_RETRIES = Config(retries={"total_max_attempts": 1, "mode": "standard"})



@pytest.fixture(autouse=True)
def loopback_ports(monkeypatch: pytest.MonkeyPatch) -> set[int]:
    """The loopback ports a test may connect to: the simulator adds its own."""
    allowed: set[int] = set()
    connect = socket.socket.connect

    def only_allowed(sock: socket.socket, address: Any) -> None:
        if isinstance(address, tuple) and address[:2] in {("127.0.0.1", port)
                                                          for port in allowed}:
            return connect(sock, address)
        raise RuntimeError(f"contract tests connect only to the SES simulator, not {address}")

    monkeypatch.setattr(socket.socket, "connect", only_allowed)
    return allowed


@pytest.fixture
def resources() -> Iterator[Any]:
    """Every table, queue and topic on moto, created as the local stack creates them."""
    with mock_aws():
        yield create_resources(boto3.client("dynamodb", region_name=REGION),
                               boto3.client("sqs", region_name=REGION),
                               boto3.client("sns", region_name=REGION))


# --- DynamoDB-backed ports ---------------------------------------------------------------
@pytest.fixture(params=["fake", "dynamodb"])
def message_store(request: pytest.FixtureRequest) -> Any:
    if request.param == "fake":
        return FakeMessageStore()
    return DynamoMessageStore(request.getfixturevalue("resources").messages_table)


@pytest.fixture(params=["fake", "dynamodb"])
def suppression_store(request: pytest.FixtureRequest) -> Any:
    if request.param == "fake":
        return FakeSuppressionStore()
    return DynamoSuppressionStore(request.getfixturevalue("resources").suppressions_table)


@pytest.fixture(params=["fake", "dynamodb"])
def sending_switch(request: pytest.FixtureRequest) -> Any:
    if request.param == "fake":
        return FakeSendingSwitch()
    return DynamoSendingSwitch(request.getfixturevalue("resources").control_table)


@pytest.fixture(params=["fake", "dynamodb"])
def guard_levels(request: pytest.FixtureRequest) -> Any:
    if request.param == "fake":
        return FakeGuardLevels()
    return DynamoGuardLevels(request.getfixturevalue("resources").control_table)


@pytest.fixture(params=["fake", "dynamodb"])
def counters(request: pytest.FixtureRequest) -> Any:
    if request.param == "fake":
        return FakeCounters()
    return DynamoCounters(request.getfixturevalue("resources").counters_table)


# --- the send queue and the notifications topic, each with its probe ---------------------
@pytest.fixture(params=["fake", "sqs"])
def send_queue(request: pytest.FixtureRequest) -> tuple[Any, Any]:
    if request.param == "fake":
        queue = FakeSendQueue()
        return queue, FakeQueueProbe(queue)
    url = request.getfixturevalue("resources").send_queue.url
    return SqsSendQueue(url), SqsQueueProbe(boto3.client("sqs", region_name=REGION), url)


@pytest.fixture(params=["fake", "sns"])
def publisher(request: pytest.FixtureRequest) -> tuple[Any, Any]:
    if request.param == "fake":
        fake = FakePublisher()
        return fake, FakePublisherProbe(fake)
    resources = request.getfixturevalue("resources")
    return (SnsPublisher(resources.notifications_topic_arn),
            SubscribedQueueProbe(boto3.client("sqs", region_name=REGION),
                                 resources.notifications_queue_url))


# --- SES -----------------------------------------------------------------------------------
@pytest.fixture(params=["ses-stubber", "ses-simulator"])
def ses(request: pytest.FixtureRequest) -> Iterator[tuple[SesMailer, SesProbe]]:
    """The SES adapter, configured as a deployment configures it, and what SES received."""
    backend = stubbed_ses if request.param == "ses-stubber" else simulated_ses
    yield from backend(request)


@pytest.fixture(params=["fake", "ses-stubber", "ses-simulator"])
def mailer(request: pytest.FixtureRequest) -> Iterator[Any]:
    if request.param == "fake":
        yield FakeMailer()
        return
    backend = stubbed_ses if request.param == "ses-stubber" else simulated_ses
    for ses_mailer, _probe in backend(request):
        yield ses_mailer


def stubbed_ses(request: pytest.FixtureRequest) -> Iterator[tuple[SesMailer, SesProbe]]:
    """botocore's Stubber: requests are validated against the real SES v2 model and
    serialized as on the wire; each SendEmail is answered with a fresh message id."""
    client = boto3.client("sesv2", region_name=REGION, config=NO_RETRIES)
    probe = SesProbe()
    ids = (f"0100019a-stub-{n:06d}-000000" for n in itertools.count(1))
    with Stubber(client) as stubber:
        def answer_next(model: Any, **_: Any) -> None:
            if model.name == "SendEmail":
                message_id = next(ids)
                probe.answered.append(message_id)
                stubber.add_response("send_email", {"MessageId": message_id})

        def record(model: Any, params: dict[str, Any], **_: Any) -> None:
            if model.name == "SendEmail":
                probe.record(params["body"])

        # Both run ahead of the Stubber's handlers: the answer is queued before the Stubber
        # looks for it, the body recorded before the Stubber answers (and ends) the call.
        client.meta.events.register("provide-client-params.*.*", answer_next)
        client.meta.events.register_first("before-call.*.*", record)
        yield SesMailer(CONFIGURATION_SET, TEMPLATE_PREFIX, client=client), probe
        stubber.assert_no_pending_responses()


class DiscardingSns:
    """The simulator publishes SES events; these tests look at the requests only."""

    def publish(self, **_: Any) -> dict[str, Any]:
        return {}


def simulated_ses(request: pytest.FixtureRequest) -> Iterator[tuple[SesMailer, SesProbe]]:
    """The local SES simulator on loopback, holding the shipped templates under the prefix:
    a wrong template name or configuration set is refused as SES refuses it."""
    simulator = SesSimulator(
        sns=DiscardingSns(),
        ses_events_topic_arn=f"arn:aws:sns:{REGION}:123456789012:ses-events",
        configuration_set=CONFIGURATION_SET,
        outbox_dir=request.getfixturevalue("tmp_path") / "outbox",
        catalog=TemplateCatalog.load(),
        template_prefix=TEMPLATE_PREFIX,
        event_delay=0.0,
    )
    probe = SesProbe()
    simulator.send_email = recording(probe, simulator.send_email)  # type: ignore[method-assign]
    request.getfixturevalue("loopback_ports").add(simulator.port)
    simulator.start()
    try:
        client = boto3.client("sesv2", endpoint_url=simulator.url, region_name=REGION,
                              config=NO_RETRIES)
        yield SesMailer(CONFIGURATION_SET, TEMPLATE_PREFIX, client=client), probe
    finally:
        simulator.stop()


# --- the gates a pause closes ------------------------------------------------------------
@pytest.fixture(params=["fake", "consumer-moto", "consumer-local",
                        "configuration-set-simulator"])
def sending_gate(request: pytest.FixtureRequest) -> Iterator[Any]:
    """The sender's event source mapping on moto's Lambda (nothing is sent to its queue, so
    moto never tries to run the function) and on the local stack's stand-in (its changes
    taken up in the background, as the local pollers take them up); the configuration set's
    sending on the SES simulator."""
    if request.param == "fake":
        yield FakeGate("fake")
    elif request.param == "consumer-moto":
        resources = request.getfixturevalue("resources")
        yield ConsumerGate(moto_mapping(resources.send_queue.arn), settle_seconds=3)
    elif request.param == "consumer-local":
        yield from local_lambda_gate(request)
    else:
        yield from simulated_configuration_set_gate(request)


def moto_mapping(queue_arn: str) -> str:
    iam = boto3.client("iam", region_name=REGION)
    role = iam.create_role(RoleName="sender", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    code = io.BytesIO()
    with zipfile.ZipFile(code, "w") as archive:
        archive.writestr("handler.py", "def handler(event, context):\n    return None\n")
    client = boto3.client("lambda", region_name=REGION)
    client.create_function(FunctionName="sender", Runtime="python3.12", Role=role,
                           Handler="handler.handler", Code={"ZipFile": code.getvalue()})
    return str(client.create_event_source_mapping(EventSourceArn=queue_arn,
                                                  FunctionName="sender")["UUID"])


def local_lambda_gate(request: pytest.FixtureRequest) -> Iterator[ConsumerGate]:
    mapping = EventSourceMapping(uuid="3f0e2a55-9b1c-4d7e-8f00-5e9d3c2b1a07",
                                 function_name="mailroom-sender",
                                 queue_arn=f"arn:aws:sqs:{REGION}:123456789012:send",
                                 batch_size=10)
    api = LambdaApi([mapping])
    request.getfixturevalue("loopback_ports").add(api._server.port)
    api.start()
    stop = threading.Event()

    def poller() -> None:  # takes changes up between receives, like SqsPoller
        while not stop.wait(0.2):
            mapping.settle()

    thread = threading.Thread(target=poller, daemon=True)
    thread.start()
    try:
        client = boto3.client("lambda", endpoint_url=api.url, region_name=REGION,
                              config=NO_RETRIES)
        yield ConsumerGate(mapping.uuid, client=client, settle_seconds=3)
    finally:
        stop.set()
        thread.join()
        api.stop()


def simulated_configuration_set_gate(
        request: pytest.FixtureRequest) -> Iterator[ConfigurationSetGate]:
    simulator = SesSimulator(
        sns=DiscardingSns(), ses_events_topic_arn=f"arn:aws:sns:{REGION}:123456789012:e",
        configuration_set=CONFIGURATION_SET,
        outbox_dir=request.getfixturevalue("tmp_path") / "outbox")
    request.getfixturevalue("loopback_ports").add(simulator.port)
    simulator.start()
    try:
        client = boto3.client("sesv2", endpoint_url=simulator.url, region_name=REGION,
                              config=NO_RETRIES)
        yield ConfigurationSetGate(CONFIGURATION_SET, client=client)
    finally:
        simulator.stop()
