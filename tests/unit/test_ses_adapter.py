"""The SES v2 adapter against botocore's Stubber, which validates every request against the
real SES v2 service model — so the request shape is the one SES accepts."""

from __future__ import annotations

import boto3
import pytest
from botocore.stub import Stubber

from mailroom.adapters.ses import SesMailer
from mailroom.models import SendRequest, Status
from mailroom.sending import PermanentSendError, TransientSendError

REQUEST = SendRequest(id="m-1", to="ada@example.com", from_address="Acme <no-reply@x.com>",
                      reply_to=["help@x.com"], template="welcome",
                      data={"name": "Ada", "action_url": "https://x.com/a"},
                      tags={"campaign": "onboarding"})


@pytest.fixture
def stubbed():
    client = boto3.client("sesv2", region_name="us-east-1", aws_access_key_id="k",
                          aws_secret_access_key="s")
    with Stubber(client) as stubber:
        yield SesMailer("mailroom-events", template_prefix="Mailroom-", client=client), stubber
        stubber.assert_no_pending_responses()


def test_send_uses_the_stored_template_the_configuration_set_and_the_message_tag(stubbed):
    mailer, stubber = stubbed
    stubber.add_response("send_email", {"MessageId": "0100-abc"}, {
        "FromEmailAddress": "Acme <no-reply@x.com>",
        "Destination": {"ToAddresses": ["ada@example.com"]},
        "ReplyToAddresses": ["help@x.com"],
        "Content": {"Template": {"TemplateName": "Mailroom-welcome",
                                 "TemplateData": '{"name": "Ada", "action_url": "https://x.com/a"}'}},
        "EmailTags": [{"Name": "mailroom_id", "Value": "m-1"},
                      {"Name": "campaign", "Value": "onboarding"}],
        "ConfigurationSetName": "mailroom-events",
    })

    assert mailer.send(REQUEST) == "0100-abc"


@pytest.mark.parametrize(("code", "http", "throttled", "quota"), [
    ("TooManyRequestsException", 429, True, False),
    ("LimitExceededException", 400, False, True),
    ("InternalFailure", 500, False, False),
    ("ServiceUnavailable", 503, False, False),
])
def test_throttling_quota_and_server_errors_are_transient(stubbed, code, http, throttled,
                                                          quota):
    mailer, stubber = stubbed
    stubber.add_client_error("send_email", service_error_code=code, http_status_code=http)

    with pytest.raises(TransientSendError) as caught:
        mailer.send(REQUEST)
    assert (caught.value.throttled, caught.value.quota) == (throttled, quota)
    assert caught.value.ambiguous is False


@pytest.mark.parametrize(("code", "status", "reason"), [
    ("MessageRejected", Status.REJECTED, "rejected"),
    ("SomethingNew", Status.FAILED, "send_failed"),
])
def test_errors_retrying_cannot_fix_are_permanent_with_a_reason(stubbed, code, status, reason):
    mailer, stubber = stubbed
    stubber.add_client_error("send_email", service_error_code=code,
                             service_message="details from SES", http_status_code=400)

    with pytest.raises(PermanentSendError) as caught:
        mailer.send(REQUEST)
    assert (caught.value.status, caught.value.failure.reason) == (status, reason)
    assert "details from SES" in caught.value.failure.diagnostic


@pytest.mark.parametrize(("code", "reason"), [
    ("MailFromDomainNotVerifiedException", "mail_from_not_verified"),
    ("AccountSuspendedException", "account_suspended"),
    ("NotFoundException", "ses_resource_missing"),
])
def test_identity_account_and_deployment_faults_are_waits_with_what_to_fix(stubbed, code,
                                                                           reason):
    # Every message would fail the same way: no one message's permanent failure.
    mailer, stubber = stubbed
    stubber.add_client_error("send_email", service_error_code=code,
                             service_message="details from SES", http_status_code=400)

    with pytest.raises(TransientSendError) as caught:
        mailer.send(REQUEST)
    fault = caught.value.fault
    assert caught.value.paused is True
    assert fault is not None and fault.reason == reason
    assert fault.diagnostic == f"{code}: details from SES"
    assert "Mail waits" in fault.action


def test_sending_paused_in_ses_is_a_wait_not_a_failure(stubbed):
    mailer, stubber = stubbed
    stubber.add_client_error("send_email", service_error_code="SendingPausedException",
                             service_message="Sending paused for this configuration set",
                             http_status_code=400)

    with pytest.raises(TransientSendError) as caught:
        mailer.send(REQUEST)
    assert (caught.value.paused, caught.value.quota, caught.value.throttled) == (
        True, False, False)


def test_the_account_send_rate_comes_from_get_account(stubbed):
    mailer, stubber = stubbed
    stubber.add_response("get_account", {"SendQuota": {
        "Max24HourSend": 50000.0, "MaxSendRate": 14.0, "SentLast24Hours": 10.0}})

    assert mailer.max_send_rate() == 14.0


class TimingOutClient:
    def send_email(self, **params):
        from botocore.exceptions import ReadTimeoutError

        raise ReadTimeoutError(endpoint_url="https://email.us-east-1.amazonaws.com")


def test_a_read_timeout_is_transient_and_ambiguous():
    mailer = SesMailer("mailroom-events", client=TimingOutClient())

    with pytest.raises(TransientSendError) as caught:
        mailer.send(REQUEST)
    assert caught.value.ambiguous is True


def test_botocore_never_retries_send_email_on_its_own(monkeypatch):
    for name, value in {"AWS_DEFAULT_REGION": "us-east-1", "AWS_ACCESS_KEY_ID": "k",
                        "AWS_SECRET_ACCESS_KEY": "s", "AWS_EC2_METADATA_DISABLED": "true"}.items():
        monkeypatch.setenv(name, value)
    mailer = SesMailer("mailroom-events")  # its own client, as in Lambda

    assert mailer.client.meta.config.retries["total_max_attempts"] == 1


def test_the_account_suppression_list_is_read_page_by_page_in_mailroom_s_words():
    from datetime import UTC, datetime

    import boto3
    from botocore.stub import Stubber

    from mailroom.adapters.ses import SesAccountSuppressions
    from mailroom.models import SuppressionReason

    client = boto3.client("sesv2", region_name="us-east-1", aws_access_key_id="x",
                          aws_secret_access_key="x")
    at = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)
    with Stubber(client) as stubber:
        stubber.add_response("list_suppressed_destinations", {
            "SuppressedDestinationSummaries": [
                {"EmailAddress": "Ada@Example.com", "Reason": "BOUNCE", "LastUpdateTime": at}],
            "NextToken": "2"}, {})
        stubber.add_response("list_suppressed_destinations", {
            "SuppressedDestinationSummaries": [
                {"EmailAddress": "bob@example.com", "Reason": "COMPLAINT", "LastUpdateTime": at}]},
            {"NextToken": "2"})
        stubber.add_client_error("delete_suppressed_destination", "NotFoundException",
                                 http_status_code=404,
                                 expected_params={"EmailAddress": "cy@example.com"})
        stubber.add_response("delete_suppressed_destination", {},
                             {"EmailAddress": "ada@example.com"})
        account = SesAccountSuppressions(client)

        assert list(account.entries()) == [
            ("ada@example.com", SuppressionReason.HARD_BOUNCE, at),
            ("bob@example.com", SuppressionReason.COMPLAINT, at)]
        assert account.remove("cy@example.com") is False
        assert account.remove("ada@example.com") is True
        stubber.assert_no_pending_responses()
