"""What SES refuses, the simulator refuses, as boto3 sees it: SES has no SMTPUTF8, so an
address with a non-ASCII local part (or a domain not in Punycode) is a 400
BadRequestException, and nothing is sent, written or published."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from mailroom_dev.local.ses_simulator import SesSimulator
from tests.integration import test_ses_simulator as base

CONFIG_SET, PREFIX, SENDER = base.CONFIG_SET, base.PREFIX, base.SENDER
send_template = base.send_template
# The simulator test module's fixtures: a moto server, a subscribed queue, the simulator.
moto_url, events_queue, simulator, ses = (
    base.moto_url, base.events_queue, base.simulator, base.ses)


def assert_bad_request(raised: pytest.ExceptionInfo[ClientError]) -> None:
    response = raised.value.response
    assert response["Error"]["Code"] == "BadRequestException"
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 400


@pytest.mark.parametrize("to", ["zoë@example.com", "Zoë <josé@example.com>", "用户@example.com"])
def test_a_non_ascii_local_part_in_to_is_a_bad_request(
    ses: Any, simulator: SesSimulator, tmp_path: Path, to: str
) -> None:
    with pytest.raises(ClientError) as raised:
        send_template(ses, to)

    assert_bad_request(raised)
    assert "SMTPUTF8" in raised.value.response["Error"]["Message"]
    assert simulator.sends == []
    assert not (tmp_path / "outbox").exists()
    assert simulator.dispatcher.pending() == 0


def test_a_non_ascii_local_part_in_bcc_is_a_bad_request(ses: Any) -> None:
    with pytest.raises(ClientError) as raised:
        ses.send_email(
            FromEmailAddress=SENDER,
            Destination={"ToAddresses": ["ada@example.com"], "BccAddresses": ["zoë@example.com"]},
            Content={"Simple": {"Subject": {"Data": "Hi"}, "Body": {"Text": {"Data": "Hi"}}}},
            ConfigurationSetName=CONFIG_SET,
        )

    assert_bad_request(raised)


def test_a_non_ascii_local_part_in_from_is_a_bad_request(
    ses: Any, simulator: SesSimulator
) -> None:
    with pytest.raises(ClientError) as raised:
        ses.send_email(
            FromEmailAddress="Zoë <zoë@acme.example.com>",
            Destination={"ToAddresses": ["ada@example.com"]},
            Content={"Simple": {"Subject": {"Data": "Hi"}, "Body": {"Text": {"Data": "Hi"}}}},
            ConfigurationSetName=CONFIG_SET,
        )

    assert_bad_request(raised)
    assert simulator.sends == []


def test_a_non_ascii_domain_is_a_bad_request_until_punycode(
    ses: Any, simulator: SesSimulator
) -> None:
    with pytest.raises(ClientError) as raised:
        send_template(ses, "ada@exämple.com")

    assert_bad_request(raised)
    assert "Punycode" in raised.value.response["Error"]["Message"]
    message_id = send_template(ses, "ada@xn--exmple-cua.com")
    assert [send.message_id for send in simulator.sends] == [message_id]


def test_an_encoded_non_ascii_display_name_is_accepted(
    ses: Any, simulator: SesSimulator
) -> None:
    response = ses.send_email(
        FromEmailAddress="=?utf-8?q?Zo=C3=AB?= <no-reply@acme.example.com>",
        Destination={"ToAddresses": ["ada@example.com"]},
        Content={"Template": {"TemplateName": f"{PREFIX}hello",
                              "TemplateData": '{"name": "Ada", "url": "https://x.example"}'}},
        ConfigurationSetName=CONFIG_SET,
    )

    assert response["MessageId"]
    assert len(simulator.sends) == 1
