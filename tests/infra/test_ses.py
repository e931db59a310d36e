"""SES: identity with Easy DKIM (records in Route 53), configuration set, event destination,
and one SES template per compiled template."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.infra

EVENT_TYPES = {
    "send",
    "delivery",
    "bounce",
    "complaint",
    "reject",
    "renderingFailure",
    "deliveryDelay",
}


def test_configuration_set_tracks_reputation(synth):
    [config_set] = synth.resources("AWS::SES::ConfigurationSet").values()
    assert config_set["Properties"]["ReputationOptions"] == {"ReputationMetricsEnabled": True}


def test_every_outcome_event_goes_to_the_ses_events_topic(synth):
    [destination] = synth.resources("AWS::SES::ConfigurationSetEventDestination").values()
    props = destination["Properties"]["EventDestination"]
    assert props["Enabled"] is True
    assert set(props["MatchingEventTypes"]) == EVENT_TYPES
    topic_id = props["SnsDestination"]["TopicARN"]["Ref"]
    assert synth.raw["Resources"][topic_id]["Type"] == "AWS::SNS::Topic"
    assert synth.raw["Outputs"]["SesEventsTopicArn"]["Value"] == {"Ref": topic_id}


def test_sender_domain_is_an_identity_with_easy_dkim_and_the_configuration_set(synth):
    [identity] = synth.resources("AWS::SES::EmailIdentity").values()
    props = identity["Properties"]
    assert props["EmailIdentity"] == "mail.example.org"
    assert props.get("DkimAttributes", {}).get("SigningEnabled", True) is True
    assert "ConfigurationSetAttributes" in props


def test_dkim_records_go_into_the_hosted_zone(synth):
    records = synth.resources("AWS::Route53::RecordSet")
    cnames = [r["Properties"] for r in records.values() if r["Properties"]["Type"] == "CNAME"]
    assert len(cnames) == 3
    assert all(c["HostedZoneId"] == "Z0123456789EXAMPLE" for c in cnames)


def test_each_compiled_template_is_an_ses_template(synth, compiled_templates):
    if not compiled_templates:
        pytest.skip("functions/mailroom/compiled_templates.json not built yet")
    deployed = {
        t["Properties"]["Template"]["TemplateName"]: t["Properties"]["Template"]
        for t in synth.resources("AWS::SES::Template").values()
    }
    assert set(deployed) == {f"MailroomTest-{name}" for name in compiled_templates}
    for name, body in compiled_templates.items():
        template = deployed[f"MailroomTest-{name}"]
        assert template["SubjectPart"] == body["subject"]
        assert template["HtmlPart"] == body["html"]
        assert template["TextPart"] == body["text"]
