"""Failure diagnosis: a reason code and a plain-words action for every failure."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from mailroom.diagnosis import ACTIONS, diagnose
from mailroom.ses_events import SesEvent, SesEventKind

AT = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)


def event(kind: SesEventKind = SesEventKind.BOUNCE, **facts) -> SesEvent:
    return SesEvent(
        kind=kind,
        ses_event_type=kind.value,
        ses_message_id="0100019a-test",
        recipient="someone@example.com",
        occurred_at=AT,
        **facts,
    )


def bounce(bounce_type: str, subtype: str | None, code: str | None = None,
           diagnostic: str | None = None, action: str | None = None) -> SesEvent:
    return event(bounce_type=bounce_type, bounce_subtype=subtype,
                 enhanced_status_code=code, diagnostic_code=diagnostic, dsn_action=action)


@pytest.mark.parametrize(
    ("bounce_event", "reason"),
    [
        (bounce("Permanent", "General", "5.1.1", "smtp; 550 5.1.1 user unknown"),
         "mailbox_does_not_exist"),
        (bounce("Permanent", "General", "5.1.2", "smtp; 550 5.1.2 bad destination system"),
         "domain_does_not_exist"),
        (bounce("Permanent", "NoEmail"), "domain_does_not_exist"),
        (bounce("Permanent", "General", "5.1.10",
                "smtp; 550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient not found"),
         "mailbox_does_not_exist"),
        (bounce("Permanent", "General", "5.4.4", "smtp; 550 5.4.4 Unable to route"),
         "domain_does_not_exist"),
        (bounce("Transient", "MailboxFull"), "mailbox_full"),
        (bounce("Transient", "General", "5.2.2", "smtp; 552 5.2.2 over quota"), "mailbox_full"),
        (bounce("Transient", "General", "4.2.2", "smtp; 452 4.2.2 mailbox full"),
         "mailbox_full"),
        (bounce("Transient", "MessageTooLarge"), "message_too_large"),
        (bounce("Permanent", "General", "5.3.4", "smtp; 552 5.3.4 message too big"),
         "message_too_large"),
        (bounce("Transient", "ContentRejected"), "content_rejected"),
        (bounce("Transient", "AttachmentRejected"), "content_rejected"),
        (bounce("Permanent", "General", "5.7.1", "smtp; 550 5.7.1 rejected by policy"),
         "content_rejected"),
        (bounce("Permanent", "OnAccountSuppressionList", "5.1.1"), "recipient_suppressed"),
        (bounce("Permanent", "Suppressed", "5.1.1"), "recipient_suppressed"),
        (bounce("Transient", "General", "4.4.7", "smtp; 421 4.4.7 Message expired"),
         "temporary_failure"),
        (bounce("Transient", "General", "4.1.2", "smtp; 450 4.1.2 domain lookup timed out"),
         "temporary_failure"),
        (bounce("Permanent", "General", None, "smtp; 550 Requested action not taken: "
                "mailbox unavailable, no such user"), "mailbox_does_not_exist"),
        (bounce("Permanent", "General", None, "smtp; 550 Host or domain name not found"),
         "domain_does_not_exist"),
        (bounce("Permanent", "General", None, "smtp; 554 Message refused as spam"),
         "content_rejected"),
        (bounce("Permanent", "General"), "address_rejected"),
        (bounce("Transient", "General"), "temporary_failure"),
        (bounce("Undetermined", "Undetermined"), "undetermined_bounce"),
        (bounce("Permanent", "UnsubscribedRecipient", "5.0.0"), "unsubscribed"),
        (bounce("Permanent", "General", "4.0.0", action="delayed"), "temporary_failure"),
    ],
    ids=lambda value: value if isinstance(value, str) else None,
)
def test_a_bounce_gets_the_reason_its_facts_support(bounce_event: SesEvent, reason: str) -> None:
    # Given a bounce with these facts, When diagnosed, Then the reason is the specific one
    assert diagnose(bounce_event).reason == reason


def test_a_subtype_ses_decided_wins_over_the_status_code() -> None:
    # Given a MailboxFull bounce whose server quoted a 5.1.1 code
    # When diagnosed, Then SES's classification stands
    assert diagnose(bounce("Transient", "MailboxFull", "5.1.1")).reason == "mailbox_full"


def test_the_status_code_wins_over_the_noemail_subtype() -> None:
    # Given a NoEmail bounce whose server said the mailbox (not the domain) is unknown
    # When diagnosed, Then the more specific status code decides
    assert diagnose(bounce("Permanent", "NoEmail", "5.1.1")).reason == "mailbox_does_not_exist"


def test_a_bounce_failure_carries_the_ses_facts_and_an_action() -> None:
    # Given a hard bounce, When diagnosed
    failure = diagnose(bounce("Permanent", "General", "5.1.1", "smtp; 550 5.1.1 user unknown"))

    # Then the failure keeps bounce type, subtype and diagnostic, and says what to do
    assert failure.bounce_type == "Permanent"
    assert failure.bounce_subtype == "General"
    assert failure.diagnostic == "smtp; 550 5.1.1 user unknown"
    assert failure.action.startswith("Check the address with the user")


@pytest.mark.parametrize(
    ("reason", "words"),
    [
        ("mailbox_does_not_exist", "Check the address with the user"),
        ("domain_does_not_exist", "Check the address with the user"),
        ("mailbox_full", "another channel"),
        ("temporary_failure", "Retry later"),
        ("complaint", "another channel"),
    ],
)
def test_actions_are_plain_words(reason: str, words: str) -> None:
    # Given a reason, Then its action tells the app what to do in plain words
    assert words in ACTIONS[reason]


def test_a_rendering_failure_names_the_variable_to_fix() -> None:
    # Given a Rendering Failure with SES's error message
    message = "Attribute 'order_id' is not present in the rendering data."
    rendering = event(SesEventKind.RENDERING_FAILURE, error_message=message,
                      template="order_confirmation")

    # When diagnosed
    failure = diagnose(rendering)

    # Then the reason is rendering_failed and the action quotes SES's message
    assert failure.reason == "rendering_failed"
    assert failure.action == f"Fix the template data (template order_confirmation): {message}"
    assert failure.diagnostic == message


def test_a_complaint_is_diagnosed_as_complaint() -> None:
    # Given an abuse complaint, When diagnosed, Then the reason is complaint
    failure = diagnose(event(SesEventKind.COMPLAINT, complaint_feedback_type="abuse"))
    assert failure.reason == "complaint"
    assert failure.diagnostic == "abuse"


def test_a_reject_is_a_virus_found_by_ses() -> None:
    # Given a Reject, When diagnosed, Then the reason is rejected and the action names a virus
    failure = diagnose(event(SesEventKind.REJECT, reject_reason="Bad content"))
    assert failure.reason == "rejected"
    assert "virus" in failure.action
    assert failure.diagnostic == "Bad content"


@pytest.mark.parametrize(
    ("facts", "reason"),
    [
        ({"delay_type": "MailboxFull"}, "mailbox_full"),
        ({"delay_type": "TransientCommunicationFailure", "enhanced_status_code": "4.4.1"},
         "temporary_failure"),
        ({"delay_type": "General", "enhanced_status_code": "4.1.1"}, "temporary_failure"),
    ],
)
def test_a_delay_is_temporary_unless_the_mailbox_is_full(facts: dict, reason: str) -> None:
    # Given a DeliveryDelay, When diagnosed, Then it reads as temporary (or a full mailbox)
    assert diagnose(event(SesEventKind.DELIVERY_DELAY, **facts)).reason == reason


def test_a_generic_code_falls_through_to_the_diagnostic_text() -> None:
    # Given a Permanent bounce whose only code is 5.0.0 and whose text says the user is unknown
    generic = bounce("Permanent", "General", "5.0.0", "smtp; 550 Recipient unknown: no such user")

    # When diagnosed, Then the text decides
    assert diagnose(generic).reason == "mailbox_does_not_exist"


def test_plain_unknown_user_words_win_over_a_policy_code() -> None:
    # Given a server that answers an unknown user with 5.7.1
    refused = bounce("Permanent", "General", "5.7.1",
                     "smtp; 550 5.7.1 <jane@example.com>: Recipient address rejected: User unknown")

    # When diagnosed, Then the mailbox does not exist (not a content problem)
    assert diagnose(refused).reason == "mailbox_does_not_exist"


def test_a_policy_code_about_something_else_not_found_stays_a_content_rejection() -> None:
    # Given a 5.7.1 refusal that mentions a missing SPF record, not a user
    refused = bounce("Permanent", "General", "5.7.1",
                     "smtp; 550 5.7.1 SPF record not found for the sender domain")

    # When diagnosed, Then it is still a content (policy) rejection
    assert diagnose(refused).reason == "content_rejected"


@pytest.mark.parametrize(("code", "reason"), [("5.7.1", "content_rejected"),
                                              ("5.3.4", "message_too_large")])
def test_a_permanent_content_refusal_says_the_address_was_suppressed(code: str,
                                                                     reason: str) -> None:
    # Given a Permanent/General bounce whose code says the content was refused
    # When diagnosed
    failure = diagnose(bounce("Permanent", "General", code, f"smtp; 550 {code} refused"))

    # Then the action does not call the address fine, and says how to lift the suppression
    assert failure.reason == reason
    assert "address is fine" not in failure.action
    assert "DELETE /v1/suppressions/{email}" in failure.action


@pytest.mark.parametrize("subtype", ["ContentRejected", "MessageTooLarge"])
def test_a_transient_content_refusal_says_the_address_is_fine(subtype: str) -> None:
    # Given a Transient content bounce (never suppressed), When diagnosed
    failure = diagnose(bounce("Transient", subtype))

    # Then the action says the address is fine
    assert "the address is fine" in failure.action


def test_an_unsubscribed_recipient_is_told_to_stop_this_kind_of_mail() -> None:
    # Given SES's list-management unsubscribe, When diagnosed
    failure = diagnose(bounce("Permanent", "UnsubscribedRecipient"))

    # Then the action says to stop sending them this kind of mail
    assert failure.reason == "unsubscribed"
    assert failure.action == ("The recipient unsubscribed; stop sending them this kind of "
                              "mail.")


def test_a_complaint_on_the_account_suppression_list_is_a_suppressed_recipient() -> None:
    # Given the complaint SES reports for an address on its account-level suppression list
    complaint = event(SesEventKind.COMPLAINT, complaint_subtype="OnAccountSuppressionList")

    # When diagnosed, Then the reason is recipient_suppressed, not a complaint
    assert diagnose(complaint).reason == "recipient_suppressed"
