"""Mailer contract (mailroom.ports): what every mailer answers — the fake, and the SES
adapter behind botocore's Stubber and behind the local SES simulator — and the SendEmail
request SES receives from the adapter, as on the wire."""

from __future__ import annotations

import json

from mailroom.models import MESSAGE_ID_TAG, SendRequest
from tests.contract.conftest import CONFIGURATION_SET, TEMPLATE_PREFIX

WELCOME = SendRequest(id="m-1", to="ada@example.com",
                      from_address="Acme <no-reply@mail.example.com>",
                      reply_to=["help@example.com"], template="welcome",
                      data={"name": "Ada", "action_url": "https://app.example.com/start"},
                      tags={"campaign": "onboarding", "audience": "new"})


def test_sending_answers_a_message_id_of_its_own_per_message(mailer):
    first = mailer.send(WELCOME)
    second = mailer.send(WELCOME.model_copy(update={"id": "m-2"}))

    assert isinstance(first, str) and first
    assert first != second


def test_the_answer_is_the_message_id_ses_gave(ses):
    mailer, probe = ses

    assert mailer.send(WELCOME) == probe.answered[-1]


def test_ses_receives_the_stored_template_under_the_prefix_with_its_data(ses):
    mailer, probe = ses

    mailer.send(WELCOME)

    [received] = probe.requests
    assert received["Content"] == {"Template": {
        "TemplateName": f"{TEMPLATE_PREFIX}welcome",
        "TemplateData": json.dumps(WELCOME.data)}}
    assert json.loads(received["Content"]["Template"]["TemplateData"]) == WELCOME.data


def test_ses_receives_the_sender_the_recipient_and_the_configuration_set(ses):
    mailer, probe = ses

    mailer.send(WELCOME)

    [received] = probe.requests
    assert received["FromEmailAddress"] == "Acme <no-reply@mail.example.com>"
    assert received["Destination"] == {"ToAddresses": ["ada@example.com"]}
    assert received["ConfigurationSetName"] == CONFIGURATION_SET


def test_ses_receives_the_mailroom_id_tag_first_then_the_callers_tags(ses):
    mailer, probe = ses

    mailer.send(WELCOME)

    [received] = probe.requests
    assert received["EmailTags"] == [{"Name": MESSAGE_ID_TAG, "Value": "m-1"},
                                     {"Name": "audience", "Value": "new"},
                                     {"Name": "campaign", "Value": "onboarding"}]


def test_ses_receives_the_reply_to_addresses_only_when_there_are_some(ses):
    mailer, probe = ses

    mailer.send(WELCOME)
    mailer.send(WELCOME.model_copy(update={"id": "m-2", "reply_to": []}))

    with_reply_to, without = probe.requests
    assert with_reply_to["ReplyToAddresses"] == ["help@example.com"]
    assert "ReplyToAddresses" not in without
