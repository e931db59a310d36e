"""Sender authentication set up by the stack: a custom MAIL FROM domain on the identity; with
a hosted zone its MX and SPF records (and DMARC when asked for) in Route 53; without one, a
stack output for every record to add, a recommended DMARC included."""

from __future__ import annotations

from typing import Any

import pytest

from mailroom import sender_auth

from .conftest import synth_template

pytestmark = pytest.mark.infra

DOMAIN = "mail.example.org"
ZONE = {"hosted_zone_id": "Z0123456789EXAMPLE", "hosted_zone_name": "example.org"}


@pytest.fixture(scope="module")
def without_zone() -> dict[str, Any]:
    return synth_template(sender_domain=DOMAIN)


@pytest.fixture(scope="module")
def with_zone_and_dmarc() -> dict[str, Any]:
    return synth_template(sender_domain=DOMAIN, mail_from_subdomain="mf", dmarc_policy="reject",
                          dmarc_rua="reports@example.org", **ZONE)


@pytest.fixture(scope="module")
def at_zone_apex() -> dict[str, Any]:
    return synth_template(sender_domain="example.org", **ZONE)


def of_type(template: dict[str, Any], type_: str) -> list[dict[str, Any]]:
    return [r["Properties"] for r in template["Resources"].values() if r["Type"] == type_]


def records(template: dict[str, Any], type_: str) -> dict[str, dict[str, Any]]:
    return {r["Name"]: r for r in of_type(template, "AWS::Route53::RecordSet")
            if r["Type"] == type_ and isinstance(r["Name"], str)}


def output_text(template: dict[str, Any], name: str) -> str:
    """An output's value with CloudFormation's pseudo parameters written as <Name>."""
    value = template["Outputs"][name]["Value"]
    if isinstance(value, str):
        return value
    [separator, parts] = value["Fn::Join"]
    return separator.join(p if isinstance(p, str) else f"<{p.get('Ref', p)}>" for p in parts)


def test_the_identity_gets_a_custom_mail_from_that_falls_back_when_its_mx_is_missing(synth):
    [identity] = of_type(synth.raw, "AWS::SES::EmailIdentity")
    assert identity["MailFromAttributes"] == {
        "MailFromDomain": f"bounce.{DOMAIN}", "BehaviorOnMxFailure": "USE_DEFAULT_VALUE"}
    assert synth.raw["Outputs"]["MailFromDomain"]["Value"] == f"bounce.{DOMAIN}"


def test_the_mail_from_subdomain_comes_from_context(with_zone_and_dmarc):
    [identity] = of_type(with_zone_and_dmarc, "AWS::SES::EmailIdentity")
    assert identity["MailFromAttributes"]["MailFromDomain"] == f"mf.{DOMAIN}"


def test_with_a_zone_the_mail_from_mx_and_spf_go_into_it(synth):
    [mx] = records(synth.raw, "MX").values()
    assert mx["Name"] == f"bounce.{DOMAIN}."
    assert mx["HostedZoneId"] == ZONE["hosted_zone_id"]
    [mx_value] = mx["ResourceRecords"]
    assert mx_value == {"Fn::Join": ["", ["10 feedback-smtp.", {"Ref": "AWS::Region"},
                                          ".amazonses.com"]]}
    txt = records(synth.raw, "TXT")
    assert txt[f"bounce.{DOMAIN}."]["ResourceRecords"] == [f'"{sender_auth.MAIL_FROM_SPF}"']


def test_with_a_zone_but_no_dmarc_policy_no_dmarc_record_is_created_only_recommended(synth):
    # A DMARC record may exist already, and a stack deletion would remove one we made.
    assert f"_dmarc.{DOMAIN}." not in records(synth.raw, "TXT")
    assert output_text(synth.raw, "DnsDmarc") == f'_dmarc.{DOMAIN} TXT "v=DMARC1; p=none"'
    # The zone holds the rest: no output asks for DKIM or MAIL FROM records.
    assert not [name for name in synth.raw["Outputs"]
                if name.startswith(("DnsDkim", "DnsMailFrom"))]


def test_with_a_zone_and_dmarc_policy_the_dmarc_record_is_created(with_zone_and_dmarc):
    dmarc = records(with_zone_and_dmarc, "TXT")[f"_dmarc.{DOMAIN}."]
    assert dmarc["HostedZoneId"] == ZONE["hosted_zone_id"]
    assert dmarc["ResourceRecords"] == ['"v=DMARC1; p=reject; rua=mailto:reports@example.org"']
    assert "DnsDmarc" not in with_zone_and_dmarc["Outputs"]


def test_without_a_zone_no_record_is_created_and_each_is_an_output(without_zone):
    assert of_type(without_zone, "AWS::Route53::RecordSet") == []
    outputs = without_zone["Outputs"]
    assert output_text(without_zone, "DnsMailFromMx") == (
        f"bounce.{DOMAIN} MX 10 feedback-smtp.<AWS::Region>.amazonses.com")
    assert output_text(without_zone, "DnsMailFromSpf") == (
        f'bounce.{DOMAIN} TXT "v=spf1 include:amazonses.com ~all"')
    assert output_text(without_zone, "DnsDmarc") == f'_dmarc.{DOMAIN} TXT "v=DMARC1; p=none"'
    assert "Recommended" in outputs["DnsDmarc"]["Description"]
    for n in (1, 2, 3):
        [name, separator, value] = outputs[f"DnsDkim{n}"]["Value"]["Fn::Join"][1]
        assert name == {"Fn::GetAtt": [name["Fn::GetAtt"][0], f"DkimDNSTokenName{n}"]}
        assert separator == " CNAME "
        assert value == {"Fn::GetAtt": [name["Fn::GetAtt"][0], f"DkimDNSTokenValue{n}"]}


def test_without_a_zone_a_dmarc_policy_shapes_the_recommended_record():
    template = synth_template(sender_domain=DOMAIN, dmarc_policy="quarantine")
    assert output_text(template, "DnsDmarc") == f'_dmarc.{DOMAIN} TXT "v=DMARC1; p=quarantine"'


def test_at_the_zone_apex_each_record_is_written_once(at_zone_apex):
    # CDK writes DKIM and MAIL FROM records itself for an identity at the zone's apex.
    [mx] = records(at_zone_apex, "MX").values()
    assert mx["Name"] == "bounce.example.org."
    assert len(records(at_zone_apex, "TXT")) == 1
    cnames = [r for r in of_type(at_zone_apex, "AWS::Route53::RecordSet")
              if r["Type"] == "CNAME"]
    assert len(cnames) == 3


@pytest.mark.parametrize("context, message", [
    ({"dmarc_policy": "strict"}, "dmarc_policy"),
    ({"dmarc_rua": "reports@example.org"}, "dmarc_rua needs dmarc_policy"),
    ({"mail_from_subdomain": "bounce_box"}, "not a DNS name"),
])
def test_bad_sender_authentication_context_is_refused_at_synth(context, message):
    from infra.config import MailroomConfig

    with pytest.raises(ValueError, match=message):
        MailroomConfig.from_context({"sender_domain": DOMAIN, **context}.get)


def test_mailroom_doctor_finds_every_name_it_needs_in_the_stack_outputs(synth):
    from mailroom_dev.doctor import Deployment

    outputs = {name: output["Value"] for name, output in synth.raw["Outputs"].items()}
    deployment = Deployment.from_stack_outputs(outputs, "eu-west-1")  # KeyError if one lacks
    assert deployment.default_from == synth.cfg.from_address
    assert deployment.mail_from_domain == f"bounce.{DOMAIN}"
    assert deployment.max_send_rate is None  # not configured: the sender follows SES


def test_a_configured_send_rate_is_an_output_doctor_compares_with_the_account():
    template = synth_template(sender_domain=DOMAIN, max_send_rate="12.5")
    assert template["Outputs"]["MaxSendRate"]["Value"] == "12.5"
