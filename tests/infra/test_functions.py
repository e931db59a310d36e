"""The function factory: environment names from the settings models, one way to build every
function, and least-privilege roles."""

from __future__ import annotations

import pytest

from mailroom.settings import ApiSettings, EventsSettings, SenderSettings
from tests.infra.conftest import actions_of

pytestmark = pytest.mark.infra

POWERTOOLS_ENV = {"POWERTOOLS_SERVICE_NAME", "POWERTOOLS_METRICS_NAMESPACE", "LOG_LEVEL"}
FUNCTIONS = {
    "handlers.api.handler": ApiSettings,
    "handlers.sender.handler": SenderSettings,
    "handlers.events.handler": EventsSettings,
}


@pytest.mark.parametrize(("handler", "settings"), FUNCTIONS.items())
def test_environment_names_are_exactly_the_settings_models(synth, handler, settings):
    _, fn = synth.function(handler)
    names = set(fn["Properties"]["Environment"]["Variables"])
    assert names == settings.env_names() | POWERTOOLS_ENV


def test_sender_gets_the_template_prefix_and_the_fleet_limits(synth):
    _, fn = synth.function("handlers.sender.handler")
    env = fn["Properties"]["Environment"]["Variables"]
    assert env["MAILROOM_TEMPLATE_PREFIX"] == "MailroomTest-"
    assert env["MAILROOM_FLEET_CONCURRENCY"] == "3"  # == the event source's max concurrency
    assert env["MAILROOM_MAX_RECEIVE_COUNT"] == "8"  # == the send queue's redrive limit


def test_api_gets_the_allowed_senders_and_the_default_from(synth):
    _, fn = synth.function("handlers.api.handler")
    env = fn["Properties"]["Environment"]["Variables"]
    assert env["MAILROOM_ALLOWED_SENDERS"] == "mail.example.org,alerts@example.org"
    assert env["MAILROOM_DEFAULT_FROM"] == "no-reply@mail.example.org"


@pytest.mark.parametrize("handler", FUNCTIONS)
def test_every_function_is_built_the_same_way(synth, handler):
    _, fn = synth.function(handler)
    props = fn["Properties"]
    assert props["Runtime"] == "python3.12"
    assert props["Architectures"] == ["arm64"]
    assert props["TracingConfig"] == {"Mode": "Active"}
    assert props["LoggingConfig"]["LogFormat"] == "JSON"
    assert props["LoggingConfig"]["ApplicationLogLevel"] == "INFO"
    assert props["Environment"]["Variables"]["LOG_LEVEL"] == "INFO"
    # The Powertools layer comes from AWS's public SSM parameter, resolved at deploy time,
    # at the version the project locks (and so tests) — not whatever is latest that day.
    import importlib.metadata

    locked = importlib.metadata.version("aws-lambda-powertools")
    [layer] = props["Layers"]
    parameter = synth.raw["Parameters"][layer["Ref"]]
    assert parameter["Default"] == f"/aws/service/powertools/python/arm64/python3.12/{locked}"


def test_every_function_logs_to_its_own_group_with_a_retention(synth):
    groups = synth.resources("AWS::Logs::LogGroup")
    for handler in FUNCTIONS:
        _, fn = synth.function(handler)
        group = groups[fn["Properties"]["LoggingConfig"]["LogGroup"]["Ref"]]
        assert group["Properties"]["RetentionInDays"] == 30


def test_roles_carry_no_managed_policies(synth):
    for role in synth.resources("AWS::IAM::Role").values():
        assert "ManagedPolicyArns" not in role["Properties"]


def test_only_the_sender_may_send_email(synth):
    assert "ses:SendEmail" in actions_of(synth.role_statements("handlers.sender.handler"))
    pausing = {"ses:GetConfigurationSet", "ses:PutConfigurationSetSendingOptions"}
    for handler, expected in (("handlers.api.handler",
                               pausing | {"ses:DeleteSuppressedDestination"}),
                              ("handlers.events.handler", pausing)):
        ses_actions = {a for a in actions_of(synth.role_statements(handler))
                       if a.startswith("ses:")}
        assert ses_actions == expected


def test_those_who_pause_switch_exactly_the_senders_consumer_and_configuration_set(synth):
    sender_id, _ = synth.function("handlers.sender.handler")
    [mapping_id] = [k for k, m in synth.resources("AWS::Lambda::EventSourceMapping").items()
                    if m["Properties"]["FunctionName"]["Ref"] == sender_id]
    [(set_id, _)] = synth.resources("AWS::SES::ConfigurationSet").items()
    for handler in ("handlers.api.handler", "handlers.events.handler"):
        statements = synth.role_statements(handler)
        [consumer] = [s for s in statements
                      if s["Action"] == ["lambda:GetEventSourceMapping",
                                         "lambda:UpdateEventSourceMapping"]]
        assert {"Ref": mapping_id} in consumer["Resource"]["Fn::Join"][1]
        [configuration_set] = [s for s in statements
                               if "ses:PutConfigurationSetSendingOptions" in s["Action"]]
        assert {"Ref": set_id} in configuration_set["Resource"]["Fn::Join"][1]
        _, fn = synth.function(handler)
        env = fn["Properties"]["Environment"]["Variables"]
        assert env["MAILROOM_SENDER_EVENT_SOURCE_ID"] == {"Ref": mapping_id}
        assert env["MAILROOM_CONFIGURATION_SET"] == {"Ref": set_id}


def test_a_deploy_never_undoes_a_pause(synth):
    """Neither the consumer's Enabled nor the configuration set's SendingOptions is in the
    template, so an update leaves what a pause set (DESIGN §1)."""
    for mapping in synth.resources("AWS::Lambda::EventSourceMapping").values():
        assert "Enabled" not in mapping["Properties"]
    for configuration_set in synth.resources("AWS::SES::ConfigurationSet").values():
        assert "SendingOptions" not in configuration_set["Properties"]


def test_sender_may_only_send_from_the_allowed_senders(synth):
    [send] = [
        s
        for s in synth.role_statements("handlers.sender.handler")
        if s["Action"] == "ses:SendEmail"
    ]
    assert send["Condition"] == {
        "StringLike": {"ses:FromAddress": ["*@mail.example.org", "alerts@example.org"]}
    }


def test_api_enqueues_but_never_consumes(synth):
    actions = actions_of(synth.role_statements("handlers.api.handler"))
    assert "sqs:SendMessage" in actions
    assert not {"sqs:ReceiveMessage", "sqs:DeleteMessage"} & actions


def test_sender_events_and_api_publish_notifications(synth):
    # the api: email.unsubscribed, when a recipient uses a one-click link
    for handler in ("handlers.sender.handler", "handlers.events.handler",
                    "handlers.api.handler"):
        assert "sns:Publish" in actions_of(synth.role_statements(handler))


def test_no_function_gets_wildcard_dynamodb_actions(synth):
    for handler in FUNCTIONS:
        actions = actions_of(synth.role_statements(handler))
        assert not {a for a in actions if a.startswith("dynamodb:") and "*" in a}
        assert "dynamodb:DeleteTable" not in actions
