"""`mailroom doctor`'s checks, every pass / warn / fail / skip branch, against botocore's
Stubber (which validates each request and canned answer against the real service model), a
fake DNS resolver and a fake API. No sockets."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from mailroom import sender_auth
from mailroom.ses_events import SUBSCRIBED_KINDS
from mailroom.templates import TemplateCatalog
from mailroom_dev import doctor
from mailroom_dev.doctor import Deployment, DnsLookupError, Doctor, Status

NOW = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
DOMAIN = "mail.example.org"
MAIL_FROM = f"bounce.{DOMAIN}"
REGION = "eu-west-1"
TOPIC = "arn:aws:sns:eu-west-1:123456789012:Mailroom-SesEventsTopic"
SEND_DLQ = "https://sqs.eu-west-1.amazonaws.com/123456789012/Mailroom-SendDlq"
EVENTS_DLQ = "https://sqs.eu-west-1.amazonaws.com/123456789012/Mailroom-EventsDlq"
SUBSCRIPTION_DLQ = "https://sqs.eu-west-1.amazonaws.com/123456789012/Mailroom-SubscriptionDlq"
DEPLOYED = Deployment.from_stack_outputs({
    "SenderDomain": DOMAIN, "MailFromDomain": MAIL_FROM,
    "DefaultFrom": f"Acme <no-reply@{DOMAIN}>", "ConfigurationSetName": "Mailroom-Set",
    "TemplatePrefix": "Mailroom-", "SesEventsTopicArn": TOPIC,
    "SendQueueUrl": "https://sqs.eu-west-1.amazonaws.com/123456789012/Mailroom-Send",
    "SendDlqUrl": SEND_DLQ, "EventsDlqUrl": EVENTS_DLQ, "SubscriptionDlqUrl": SUBSCRIPTION_DLQ,
}, REGION)
LOCAL = replace(DEPLOYED, local=True)
TOKENS = ["tok1", "tok2", "tok3"]
REPUTATION = {"window_hours": 24, "sends": 1000, "bounces": 5, "complaints": 0,
              "bounce_rate": 0.005, "complaint_rate": 0.0, "state": "ok",
              "thresholds": {"warn": {"bounce_rate": 0.02, "complaint_rate": 0.0005,
                                      "min_sends": 100},
                             "pause": {"bounce_rate": 0.04, "complaint_rate": 0.0008,
                                       "min_sends": 500}}}


class FakeResolver:
    """DNS answers by (name, type); a DnsLookupError as the answer is raised."""

    def __init__(self, records: dict[tuple[str, str], Any] | None = None) -> None:
        self.records = dict(records or {})

    def lookup(self, name: str, rdtype: str) -> list[str]:
        answer = self.records.get((name, rdtype), [])
        if isinstance(answer, Exception):
            raise answer
        return list(answer)


def healthy_dns() -> dict[tuple[str, str], Any]:
    records: dict[tuple[str, str], Any] = {
        (f"{token}._domainkey.{DOMAIN}", "CNAME"): [f"{token}.dkim.amazonses.com"]
        for token in TOKENS
    }
    records[(MAIL_FROM, "MX")] = [f"10 feedback-smtp.{REGION}.amazonses.com"]
    records[(MAIL_FROM, "TXT")] = ["v=spf1 include:amazonses.com ~all"]
    records[(f"_dmarc.{DOMAIN}", "TXT")] = ["v=DMARC1; p=reject"]
    return records


class FakeApi:
    def __init__(self, answers: dict[str, Any]) -> None:
        self.answers = answers

    def __call__(self, path: str) -> Any:
        answer = self.answers[path]
        if isinstance(answer, Exception):
            raise answer
        return answer


@dataclass
class Aws:
    sesv2: Any
    sqs: Any
    sns: Any
    cloudwatch: Any
    stubbers: dict[str, Stubber]

    def __getitem__(self, service: str) -> Stubber:
        return self.stubbers[service]

    def doctor(self, deployment: Deployment = DEPLOYED, *, api: dict[str, Any] | None = None,
               resolver: FakeResolver | None = None, cloudwatch: bool = True) -> Doctor:
        return Doctor(deployment=deployment, sesv2=self.sesv2, sqs=self.sqs, sns=self.sns,
                      api=FakeApi(api or {}), cloudwatch=self.cloudwatch if cloudwatch else None,
                      resolver=resolver, now=lambda: NOW)


@pytest.fixture
def aws() -> Iterator[Aws]:
    clients = {service: boto3.client(service, region_name=REGION, aws_access_key_id="k",
                                     aws_secret_access_key="s")
               for service in ("sesv2", "sqs", "sns", "cloudwatch")}
    stubbers = {service: Stubber(client) for service, client in clients.items()}
    for stubber in stubbers.values():
        stubber.activate()
    yield Aws(**clients, stubbers=stubbers)
    for stubber in stubbers.values():
        stubber.assert_no_pending_responses()
        stubber.deactivate()


def by_name(checks: list[doctor.Check]) -> dict[str, doctor.Check]:
    return {check.name: check for check in checks}


# --- account -----------------------------------------------------------------------------------

ACCOUNT = {
    "ProductionAccessEnabled": True, "SendingEnabled": True, "EnforcementStatus": "HEALTHY",
    "SendQuota": {"Max24HourSend": 50000.0, "MaxSendRate": 14.0, "SentLast24Hours": 100.0},
    "SuppressionAttributes": {"SuppressedReasons": ["BOUNCE", "COMPLAINT"]},
}


def account_checks(aws: Aws, changes: dict[str, Any], deployment: Deployment = DEPLOYED):
    aws["sesv2"].add_response("get_account", {**ACCOUNT, **changes}, {})
    return by_name(doctor.account_checks(aws.doctor(deployment)))


def test_a_healthy_account_passes_every_account_check(aws):
    checks = account_checks(aws, {})
    assert {name: c.status for name, c in checks.items()} == {
        name: Status.PASS for name in ("account.production_access", "account.sending_enabled",
                                       "account.enforcement", "account.quota",
                                       "account.send_rate", "account.suppression_list")}
    assert checks["account.quota"].detail.startswith("100 of 50000 sent")


@pytest.mark.parametrize(("changes", "name", "status", "words"), [
    ({"ProductionAccessEnabled": False}, "account.production_access", Status.WARN,
     "only to verified addresses"),
    ({"SendingEnabled": False}, "account.sending_enabled", Status.FAIL, "no mail goes out"),
    ({"EnforcementStatus": "PROBATION"}, "account.enforcement", Status.WARN, "probation"),
    ({"EnforcementStatus": "SHUTDOWN"}, "account.enforcement", Status.FAIL, "cannot send"),
    ({"SendQuota": {"Max24HourSend": 1000.0, "MaxSendRate": 14.0, "SentLast24Hours": 850.0}},
     "account.quota", Status.WARN, "nearly used up"),
    ({"SendQuota": {"Max24HourSend": 1000.0, "MaxSendRate": 14.0, "SentLast24Hours": 1000.0}},
     "account.quota", Status.FAIL, "used up: new mail waits"),
    ({"SendQuota": {"Max24HourSend": -1.0, "MaxSendRate": 14.0, "SentLast24Hours": 7.0}},
     "account.quota", Status.PASS, "no daily limit"),
    ({"SuppressionAttributes": {"SuppressedReasons": ["BOUNCE"]}}, "account.suppression_list",
     Status.WARN, "ignores complaints"),
])
def test_each_account_problem_is_reported_with_a_fix(aws, changes, name, status, words):
    check = account_checks(aws, changes)[name]
    assert check.status is status
    assert words in check.detail
    assert (check.fix != "") is (status is not Status.PASS)


@pytest.mark.parametrize(("configured", "status"), [(None, Status.PASS), (10.0, Status.PASS),
                                                    (20.0, Status.FAIL)])
def test_the_stacks_configured_rate_may_not_exceed_the_accounts(aws, configured, status):
    check = account_checks(aws, {}, replace(DEPLOYED, max_send_rate=configured))[
        "account.send_rate"]
    assert check.status is status
    if status is Status.FAIL:
        assert "-c max_send_rate=14" in check.fix


def test_an_unreadable_account_is_one_failure_naming_the_permission(aws):
    aws["sesv2"].add_client_error("get_account", service_error_code="AccessDeniedException",
                                  service_message="not allowed", http_status_code=403)
    [check] = doctor.account_checks(aws.doctor())
    assert check.status is Status.FAIL
    assert "AccessDeniedException: not allowed" in check.detail
    assert "ses:GetAccount" in check.fix


# --- identity ------------------------------------------------------------------------------

IDENTITY = {
    "IdentityType": "DOMAIN", "VerifiedForSendingStatus": True, "VerificationStatus": "SUCCESS",
    "DkimAttributes": {"SigningEnabled": True, "Status": "SUCCESS", "Tokens": TOKENS,
                       "SigningHostedZone": "dkim.amazonses.com"},
    "MailFromAttributes": {"MailFromDomain": MAIL_FROM, "MailFromDomainStatus": "SUCCESS",
                           "BehaviorOnMxFailure": "USE_DEFAULT_VALUE"},
}


def identity_checks(aws: Aws, changes: dict[str, Any] | None = None,
                    dns: dict[tuple[str, str], Any] | None = None,
                    deployment: Deployment = DEPLOYED) -> dict[str, doctor.Check]:
    # A change to None leaves the attribute out, as SES does when it is not set up.
    answer = {key: value for key, value in {**IDENTITY, **(changes or {})}.items()
              if value is not None}
    aws["sesv2"].add_response("get_email_identity", answer,
                              {"EmailIdentity": deployment.sender_domain})
    resolver = FakeResolver(healthy_dns() if dns is None else dns)
    return by_name(doctor.identity_checks(aws.doctor(deployment, resolver=resolver)))


def test_a_fully_authenticated_identity_passes_every_identity_check(aws):
    checks = identity_checks(aws)
    assert [(c.name, c.status) for c in checks.values()] == [
        (name, Status.PASS) for name in (
            "identity.verified", "identity.dkim", "identity.dkim_dns", "identity.mail_from",
            "identity.mail_from_dns", "identity.dmarc", "identity.alignment")]
    assert "p=reject" in checks["identity.dmarc"].detail


def test_a_missing_identity_fails_and_stops_there(aws):
    aws["sesv2"].add_client_error("get_email_identity", service_error_code="NotFoundException",
                                  http_status_code=404)
    [check] = doctor.identity_checks(aws.doctor(resolver=FakeResolver()))
    assert (check.name, check.status) == ("identity.verified", Status.FAIL)
    assert f"{DOMAIN} is not an SES identity in {REGION}" in check.detail


@pytest.mark.parametrize(("changes", "name", "status"), [
    ({"VerifiedForSendingStatus": False, "VerificationStatus": "PENDING"},
     "identity.verified", Status.FAIL),
    ({"DkimAttributes": {**IDENTITY["DkimAttributes"], "Status": "PENDING"}},
     "identity.dkim", Status.WARN),
    ({"DkimAttributes": {**IDENTITY["DkimAttributes"], "Status": "FAILED"}},
     "identity.dkim", Status.FAIL),
    ({"DkimAttributes": {**IDENTITY["DkimAttributes"], "SigningEnabled": False}},
     "identity.dkim", Status.FAIL),
    ({"MailFromAttributes": None}, "identity.mail_from", Status.WARN),
    ({"MailFromAttributes": {**IDENTITY["MailFromAttributes"], "MailFromDomainStatus": "PENDING"}},
     "identity.mail_from", Status.WARN),
    ({"MailFromAttributes": {**IDENTITY["MailFromAttributes"], "MailFromDomainStatus": "FAILED"}},
     "identity.mail_from", Status.WARN),
    ({"MailFromAttributes": {**IDENTITY["MailFromAttributes"], "MailFromDomainStatus": "FAILED",
                             "BehaviorOnMxFailure": "REJECT_MESSAGE"}},
     "identity.mail_from", Status.FAIL),
])
def test_each_identity_state_ses_reports_has_its_verdict_and_fix(aws, changes, name, status):
    check = identity_checks(aws, changes)[name]
    assert check.status is status
    assert check.fix


def test_a_dkim_cname_that_does_not_resolve_is_named_with_the_record_to_add(aws):
    dns = healthy_dns()
    del dns[(f"tok2._domainkey.{DOMAIN}", "CNAME")]
    check = identity_checks(aws, dns=dns)["identity.dkim_dns"]
    assert check.status is Status.FAIL
    assert "1 of 3" in check.detail
    assert check.fix == f"Add: tok2._domainkey.{DOMAIN} CNAME tok2.dkim.amazonses.com"


def test_a_failing_dns_lookup_is_a_warning_not_a_verdict(aws):
    dns = healthy_dns()
    dns[(f"tok1._domainkey.{DOMAIN}", "CNAME")] = DnsLookupError("timed out")
    check = identity_checks(aws, dns=dns)["identity.dkim_dns"]
    assert check.status is Status.WARN and "timed out" in check.detail


@pytest.mark.parametrize(("missing", "added"), [
    ("MX", f"{MAIL_FROM} MX 10 feedback-smtp.{REGION}.amazonses.com"),
    ("TXT", f'{MAIL_FROM} TXT "v=spf1 include:amazonses.com ~all"'),
])
def test_a_missing_mail_from_record_is_named_with_the_record_to_add(aws, missing, added):
    dns = healthy_dns()
    del dns[(MAIL_FROM, missing)]
    check = identity_checks(aws, dns=dns)["identity.mail_from_dns"]
    assert check.status is Status.WARN
    assert check.fix == f"Add: {added}"


def test_an_mx_to_another_region_is_not_taken_for_ses(aws):
    dns = healthy_dns()
    dns[(MAIL_FROM, "MX")] = ["10 feedback-smtp.us-east-1.amazonses.com"]
    check = identity_checks(aws, dns=dns)["identity.mail_from_dns"]
    assert check.status is Status.WARN and "found 10 feedback-smtp.us-east-1" in check.detail


def test_dmarc_falls_back_to_the_organisational_domain_from_the_public_suffix_list(aws):
    # co.uk is a public suffix, so the organisational domain of mail.example.co.uk is
    # example.co.uk, and its sp= is the policy for subdomains.
    domain = "mail.example.co.uk"
    deployment = replace(DEPLOYED, sender_domain=domain, default_from=f"no-reply@{domain}",
                         mail_from_domain=f"bounce.{domain}")
    dns = {("_dmarc.example.co.uk", "TXT"): ["v=DMARC1; p=reject; sp=quarantine"]}
    check = identity_checks(aws, {"MailFromAttributes": None}, dns, deployment)["identity.dmarc"]
    assert check.status is Status.PASS
    assert "at example.co.uk (organisational domain): p=quarantine" in check.detail


def test_no_dmarc_record_anywhere_warns_with_the_recommended_record(aws):
    dns = healthy_dns()
    del dns[(f"_dmarc.{DOMAIN}", "TXT")]
    check = identity_checks(aws, dns=dns)["identity.dmarc"]
    assert check.status is Status.WARN
    assert f'_dmarc.{DOMAIN} TXT "v=DMARC1; p=none"' in check.fix


def test_a_dmarc_record_without_a_valid_policy_warns(aws):
    dns = {**healthy_dns(), (f"_dmarc.{DOMAIN}", "TXT"): ["v=DMARC1; rua=mailto:x@y.z"]}
    assert identity_checks(aws, dns=dns)["identity.dmarc"].status is Status.WARN


def test_a_default_from_outside_the_identity_fails_alignment(aws):
    deployment = replace(DEPLOYED, default_from="hello@other.example")
    check = identity_checks(aws, deployment=deployment)["identity.alignment"]
    assert check.status is Status.FAIL and "SES refuses" in check.detail


def test_strict_dkim_alignment_with_a_subdomain_from_leaves_only_spf(aws):
    deployment = replace(DEPLOYED, default_from=f"no-reply@news.{DOMAIN}")
    dns = {**healthy_dns(), (f"_dmarc.{DOMAIN}", "TXT"): ["v=DMARC1; p=reject; adkim=s"]}
    check = identity_checks(aws, dns=dns, deployment=deployment)["identity.alignment"]
    assert check.status is Status.WARN and "SPF only" in check.detail


def test_strict_dkim_and_spf_alignment_with_a_subdomain_from_fails(aws):
    deployment = replace(DEPLOYED, default_from=f"no-reply@news.{DOMAIN}")
    dns = {**healthy_dns(),
           (f"_dmarc.{DOMAIN}", "TXT"): ["v=DMARC1; p=reject; adkim=s; aspf=s"]}
    check = identity_checks(aws, dns=dns, deployment=deployment)["identity.alignment"]
    assert check.status is Status.FAIL and "DMARC fails" in check.detail


def test_locally_identity_checks_are_one_skip_that_says_why(aws):
    [check] = doctor.identity_checks(aws.doctor(LOCAL, resolver=FakeResolver()))
    assert check.status is Status.SKIP and "no identities" in check.detail


# --- pipeline ------------------------------------------------------------------------------

SUBSCRIBED = [kind.name for kind in SUBSCRIBED_KINDS]
ENABLED = {"sending": "enabled", "reason": None, "since": None, "source": None, "by": None}
PAUSED = {"sending": "paused", "reason": "bounce rate 4.2%", "since": "2026-11-01T11:00:00Z",
          "source": "reputation_guard", "by": None}


def pipeline_checks(aws: Aws, *, sending: Any = ENABLED, config_set_enabled: bool = True,
                    destination: dict[str, Any] | None = None,
                    subscription_arn: str = f"{TOPIC}:abc",
                    dlq_counts: tuple[int, int, int] = (0, 0, 0),
                    oldest_age: float | None = 3.0, canary: float | None = 1.0,
                    deployment: Deployment = DEPLOYED) -> dict[str, doctor.Check]:
    ses, sqs = aws["sesv2"], aws["sqs"]
    ses.add_response("get_configuration_set", {
        "ConfigurationSetName": "Mailroom-Set",
        "SendingOptions": {"SendingEnabled": config_set_enabled}},
        {"ConfigurationSetName": "Mailroom-Set"})
    ses.add_response("get_configuration_set_event_destinations", {"EventDestinations": [
        destination or {"Name": "ToSesEventsTopic", "Enabled": True,
                        "MatchingEventTypes": SUBSCRIBED, "SnsDestination": {"TopicArn": TOPIC}},
    ]}, {"ConfigurationSetName": "Mailroom-Set"})
    aws["sns"].add_response("list_subscriptions_by_topic", {"Subscriptions": [
        {"SubscriptionArn": subscription_arn, "Protocol": "sqs", "TopicArn": TOPIC,
         "Endpoint": "arn:aws:sqs:eu-west-1:123456789012:Mailroom-Events"}]}, {"TopicArn": TOPIC})
    dlqs = (SEND_DLQ, EVENTS_DLQ, SUBSCRIPTION_DLQ)[:3 if deployment.subscription_dlq_url else 2]
    for url, count in zip(dlqs, dlq_counts[:len(dlqs)], strict=True):
        sqs.add_response("get_queue_attributes", {"Attributes": {
            "ApproximateNumberOfMessages": str(count),
            "ApproximateNumberOfMessagesNotVisible": "0"}}, {
            "QueueUrl": url, "AttributeNames": ["ApproximateNumberOfMessages",
                                                "ApproximateNumberOfMessagesNotVisible"]})
    points = [] if oldest_age is None else [
        {"Timestamp": NOW - timedelta(minutes=10), "Maximum": 1.0},
        {"Timestamp": NOW - timedelta(minutes=5), "Maximum": oldest_age}]
    aws["cloudwatch"].add_response("get_metric_statistics", {"Datapoints": points}, {
        "Namespace": "AWS/SQS", "MetricName": "ApproximateAgeOfOldestMessage",
        "Dimensions": [{"Name": "QueueName", "Value": "Mailroom-Send"}],
        "StartTime": NOW - timedelta(minutes=15), "EndTime": NOW, "Period": 300,
        "Statistics": ["Maximum"]})
    aws["cloudwatch"].add_response("get_metric_statistics", {"Datapoints": [] if canary is None
                                                             else [{"Timestamp": NOW,
                                                                    "Minimum": canary}]}, {
        "Namespace": "Mailroom", "MetricName": "CanarySucceeded",
        "Dimensions": [{"Name": "service", "Value": "mailroom-canary"}],
        "StartTime": NOW - timedelta(hours=1), "EndTime": NOW, "Period": 300,
        "Statistics": ["Minimum"]})
    return by_name(doctor.pipeline_checks(aws.doctor(deployment, api={"/v1/sending": sending})))


def test_a_healthy_pipeline_passes_every_pipeline_check(aws):
    checks = pipeline_checks(aws)
    assert {name: c.status for name, c in checks.items()} == {
        name: Status.PASS for name in (
            "pipeline.configuration_set", "pipeline.event_destination", "pipeline.subscription",
            "pipeline.send_dlq", "pipeline.events_dlq", "pipeline.subscription_dlq",
            "pipeline.send_queue_age", "pipeline.sending", "pipeline.canary")}


@pytest.mark.parametrize(("succeeded", "status"), [(0.0, Status.FAIL), (None, Status.SKIP)])
def test_the_canarys_last_result_fails_or_is_skipped_when_there_is_none(aws, succeeded,
                                                                        status):
    check = pipeline_checks(aws, canary=succeeded)["pipeline.canary"]
    assert check.status is status
    if status is Status.FAIL:
        assert "mailroom canary run" in check.fix


def test_a_configuration_set_that_stopped_sending_fails_unless_mailroom_is_paused(aws):
    assert pipeline_checks(aws, config_set_enabled=False)[
        "pipeline.configuration_set"].status is Status.FAIL


def test_while_paused_the_stopped_configuration_set_and_old_mail_are_warnings(aws):
    checks = pipeline_checks(aws, sending=PAUSED, config_set_enabled=False, oldest_age=7200)
    assert checks["pipeline.configuration_set"].status is Status.WARN
    assert checks["pipeline.send_queue_age"].status is Status.WARN
    sending = checks["pipeline.sending"]
    assert sending.status is Status.WARN
    assert "reputation_guard" in sending.detail and "bounce rate 4.2%" in sending.detail
    assert "mailroom sending resume" in sending.fix


def test_an_event_destination_missing_an_event_type_mailroom_needs_fails_naming_it(aws):
    partial = {"Name": "ToSesEventsTopic", "Enabled": True,
               "MatchingEventTypes": [t for t in SUBSCRIBED if t != "BOUNCE"],
               "SnsDestination": {"TopicArn": TOPIC}}
    check = pipeline_checks(aws, destination=partial)["pipeline.event_destination"]
    assert check.status is Status.FAIL and "leaves out BOUNCE" in check.detail


@pytest.mark.parametrize("destination", [
    {"Name": "ToSesEventsTopic", "Enabled": False, "MatchingEventTypes": SUBSCRIBED,
     "SnsDestination": {"TopicArn": TOPIC}},
    {"Name": "Elsewhere", "Enabled": True, "MatchingEventTypes": SUBSCRIBED,
     "SnsDestination": {"TopicArn": TOPIC + "-other"}},
])
def test_a_disabled_or_misdirected_event_destination_fails(aws, destination):
    assert pipeline_checks(aws, destination=destination)[
        "pipeline.event_destination"].status is Status.FAIL


def test_an_unconfirmed_subscription_fails(aws):
    check = pipeline_checks(aws, subscription_arn="PendingConfirmation")["pipeline.subscription"]
    assert check.status is Status.FAIL and "pending confirmation" in check.detail


def test_dead_letters_fail_with_how_to_read_them(aws):
    checks = pipeline_checks(aws, dlq_counts=(3, 0, 1))
    assert checks["pipeline.send_dlq"].status is Status.FAIL
    assert "3 message(s)" in checks["pipeline.send_dlq"].detail
    assert checks["pipeline.send_dlq"].fix.endswith("then `mailroom dlq redrive send`.")
    assert checks["pipeline.events_dlq"].status is Status.PASS
    subscription = checks["pipeline.subscription_dlq"]
    assert subscription.status is Status.FAIL
    assert "`mailroom dlq show subscription`" in subscription.fix
    assert "SQS cannot redrive" in subscription.fix


def test_a_stack_without_a_subscription_dlq_output_skips_that_check(aws):
    older = replace(DEPLOYED, subscription_dlq_url=None)
    check = pipeline_checks(aws, deployment=older)["pipeline.subscription_dlq"]
    assert check.status is Status.SKIP and "SubscriptionDlqUrl" in check.detail


@pytest.mark.parametrize(("age", "status"), [(None, Status.PASS), (600, Status.WARN),
                                             (7200, Status.FAIL)])
def test_the_send_queues_oldest_message_age_says_whether_the_sender_keeps_up(aws, age, status):
    assert pipeline_checks(aws, oldest_age=age)["pipeline.send_queue_age"].status is status


def test_an_api_that_cannot_say_whether_sending_is_paused_fails(aws):
    from mailroom_dev.cli import CliError

    check = pipeline_checks(aws, sending=CliError("Cannot reach the API"))["pipeline.sending"]
    assert check.status is Status.FAIL and "Cannot reach the API" in check.detail


def test_a_missing_configuration_set_fails(aws):
    aws["sesv2"].add_client_error("get_configuration_set", service_error_code="NotFoundException",
                                  http_status_code=404)
    check = doctor._configuration_set(aws.doctor(), ENABLED)
    assert check.status is Status.FAIL and "does not exist" in check.detail


# --- content -------------------------------------------------------------------------------


def stub_templates(aws: Aws, changed: str | None = None, missing: str | None = None) -> None:
    catalog = {t.ses_name("Mailroom-"): t for t in TemplateCatalog.load()}
    deployed = sorted(name for name in catalog if name != missing)
    aws["sesv2"].add_response("list_email_templates", {
        "TemplatesMetadata": [{"TemplateName": name} for name in deployed]}, {"PageSize": 100})
    for name in deployed:
        template = catalog[name]
        html = template.html + ("<!-- edited in the console -->" if name == changed else "")
        aws["sesv2"].add_response("get_email_template", {"TemplateName": name, "TemplateContent": {
            "Subject": template.subject, "Html": html, "Text": template.text}},
            {"TemplateName": name})


def test_deployed_templates_equal_to_the_compiled_ones_pass(aws):
    stub_templates(aws)
    check = doctor._templates(aws.doctor())
    assert check.status is Status.PASS
    assert f"All {len(list(TemplateCatalog.load()))} SES templates" in check.detail


def test_a_template_changed_in_ses_or_missing_fails_naming_it(aws):
    stub_templates(aws, changed="Mailroom-welcome", missing="Mailroom-password_reset")
    check = doctor._templates(aws.doctor())
    assert check.status is Status.FAIL
    assert "missing: Mailroom-password_reset" in check.detail
    assert "different from the compiled ones: Mailroom-welcome" in check.detail


@pytest.mark.parametrize(("sums", "status"), [([], Status.PASS), ([2.0, 1.0], Status.WARN)])
def test_recent_rendering_failures_warn(aws, sums, status):
    aws["cloudwatch"].add_response("get_metric_statistics", {"Datapoints": [
        {"Timestamp": NOW - timedelta(hours=1), "Sum": s} for s in sums]}, {
        "Namespace": "AWS/SES", "MetricName": "RenderingFailure",
        "StartTime": NOW - timedelta(hours=24), "EndTime": NOW, "Period": 86400,
        "Statistics": ["Sum"]})
    check = doctor._rendering_failures(aws.doctor())
    assert check.status is status
    if status is Status.WARN:
        assert check.detail.startswith("3 rendering failure(s)")


def test_locally_the_cloudwatch_checks_are_skipped(aws):
    checks = by_name([doctor._rendering_failures(aws.doctor(LOCAL, cloudwatch=False)),
                      doctor._send_queue_age(aws.doctor(LOCAL, cloudwatch=False), ENABLED)])
    assert {c.status for c in checks.values()} == {Status.SKIP}


# --- reputation ----------------------------------------------------------------------------


def reputation_checks(aws: Aws, figures: dict[str, Any],
                      ses_rates: tuple[float | None, float | None]) -> dict[str, doctor.Check]:
    for metric, rate in zip(("Reputation.BounceRate", "Reputation.ComplaintRate"), ses_rates,
                            strict=True):
        points = [] if rate is None else [{"Timestamp": NOW, "Maximum": rate}]
        aws["cloudwatch"].add_response("get_metric_statistics", {"Datapoints": points}, {
            "Namespace": "AWS/SES", "MetricName": metric, "Dimensions": [],
            "StartTime": NOW - timedelta(hours=24), "EndTime": NOW, "Period": 300,
            "Statistics": ["Maximum"]})
    return by_name(doctor.reputation_checks(aws.doctor(api={"/v1/reputation": figures})))


@pytest.mark.parametrize(("state", "status"), [("ok", Status.PASS), ("warning", Status.WARN),
                                               ("paused", Status.FAIL)])
def test_mailroom_reputation_state_maps_to_a_verdict(aws, state, status):
    checks = reputation_checks(aws, {**REPUTATION, "state": state}, (0.001, 0.0))
    assert checks["reputation.mailroom"].status is status


@pytest.mark.parametrize(("rates", "bounce", "complaint"), [
    ((0.01, 0.0001), Status.PASS, Status.PASS),
    ((0.03, 0.0006), Status.WARN, Status.WARN),
    ((0.05, 0.001), Status.FAIL, Status.FAIL),
    ((None, None), Status.SKIP, Status.SKIP),
])
def test_ses_reputation_metrics_are_held_against_the_guards_thresholds(aws, rates, bounce,
                                                                       complaint):
    checks = reputation_checks(aws, REPUTATION, rates)
    assert checks["reputation.ses_bounce_rate"].status is bounce
    assert checks["reputation.ses_complaint_rate"].status is complaint


# --- the whole run and its report ----------------------------------------------------------


def test_the_report_is_the_contracts_shape_and_any_failure_is_a_failed_run():
    checks = [doctor.passed("a", "fine"), doctor.failed("b", "broken", "mend it"),
              doctor.skipped("c", "not here")]
    assert doctor.report(checks) == {"checks": [
        {"name": "a", "status": "pass", "detail": "fine", "fix": ""},
        {"name": "b", "status": "fail", "detail": "broken", "fix": "mend it"},
        {"name": "c", "status": "skip", "detail": "not here", "fix": ""}]}
    assert doctor.any_failed(checks)
    assert not doctor.any_failed([c for c in checks if c.status is not Status.FAIL])


def test_the_organisational_domain_comes_from_the_shipped_public_suffix_list():
    assert doctor.organisational_domain("a.b.example.co.uk") == "example.co.uk"
    assert doctor.organisational_domain("mail.example.org") == "example.org"
    assert doctor.organisational_domain("co.uk") is None


def test_sender_auth_records_read_as_a_person_types_them():
    assert sender_auth.dkim_record(DOMAIN, "t1").line == (
        f"t1._domainkey.{DOMAIN} CNAME t1.dkim.amazonses.com")
    assert sender_auth.dmarc_value("quarantine", "reports@example.org") == (
        "v=DMARC1; p=quarantine; rua=mailto:reports@example.org")


def test_a_group_that_breaks_on_an_unexpected_answer_fails_alone_and_the_rest_still_run(aws):
    # Given an API whose reputation answer lacks its thresholds, the local stack otherwise
    aws["sesv2"].add_response("get_account", ACCOUNT, {})
    for _ in range(2):
        aws["sqs"].add_response("get_queue_attributes", {"Attributes": {
            "ApproximateNumberOfMessages": "0", "ApproximateNumberOfMessagesNotVisible": "0"}})
    aws["sesv2"].add_response("get_configuration_set", {"ConfigurationSetName": "Mailroom-Set"})
    aws["sesv2"].add_response("get_configuration_set_event_destinations", {
        "EventDestinations": []})
    aws["sns"].add_response("list_subscriptions_by_topic", {"Subscriptions": []})
    stub_templates(aws)
    broken = aws.doctor(LOCAL, api={"/v1/sending": ENABLED, "/v1/reputation": {"state": "ok"}},
                        cloudwatch=False)

    checks = by_name(broken.run())

    assert checks["reputation"].status is Status.FAIL
    assert "KeyError" in checks["reputation"].detail
    assert checks["account.sending_enabled"].status is Status.PASS
    assert checks["content.templates"].status is Status.PASS
