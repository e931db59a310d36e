"""The send path: exactly-once effect, suppression re-check, error classification."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from mailroom.models import Failure, Message, SendRequest, Status, Suppression, SuppressionReason
from mailroom.pacing import SendPacer
from mailroom.send import Sender, SendResult
from mailroom.sending import MessageBusy, PermanentSendError, TransientSendError
from tests.fakes import FakeMailer, FakeMessageStore, FakePublisher, FakeSuppressionStore

NOW = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def sender(clock) -> Sender:
    return Sender(messages=FakeMessageStore(), suppressions=FakeSuppressionStore(),
                  mailer=FakeMailer(), publisher=FakePublisher(),
                  lease=timedelta(seconds=90), clock=clock)


def queued(sender: Sender, to: str = "ada@example.com") -> SendRequest:
    request = SendRequest(id=f"msg-{to}", to=to, from_address="no-reply@mail.example.com",
                          template="welcome", data={"name": "Ada", "action_url": "u"},
                          tags={"campaign": "onboarding"})
    sender.messages.create(Message(id=request.id, status=Status.QUEUED, to=to,
                                   from_address=request.from_address, template="welcome",
                                   created_at=NOW, updated_at=NOW))
    return request


def test_a_queued_message_is_sent_and_its_ses_id_recorded(sender):
    request = queued(sender)

    assert sender.send(request) is SendResult.SENT

    message = sender.messages.get(request.id)
    assert message.status is Status.SENT
    assert message.ses_message_id == "0100019a-fake-000001"
    assert [event.type for event in message.events] == ["sent"]


def test_sent_is_stamped_when_ses_answered_not_when_the_record_is_written(sender, clock):
    from mailroom.models import SendingState

    answered_at = NOW + timedelta(seconds=2)

    def ses_answers() -> None:
        clock.now = answered_at
        return None

    class SlowSwitch:  # a read that takes 5 s, between the answer and the record
        def state(self, fresh: bool = False) -> SendingState:
            clock.now += timedelta(seconds=5)
            return SendingState(paused=False)

    sender = replace(sender, switch=SlowSwitch())
    request = queued(sender)
    sender.mailer.failures[request.to] = ses_answers

    assert sender.send(request) is SendResult.SENT

    [sent] = sender.messages.get(request.id).events
    assert sent.at == answered_at


def test_the_same_queue_message_delivered_twice_calls_ses_once(sender):
    request = queued(sender)

    sender.send(request)
    second = sender.send(request)

    assert second is SendResult.DUPLICATE
    assert len(sender.mailer.sent) == 1


def test_a_message_claimed_by_a_live_worker_is_retried_later_not_sent(sender, clock):
    request = queued(sender)
    sender.messages.claim(request.id, clock(), timedelta(seconds=90))

    with pytest.raises(MessageBusy):
        sender.send(request)
    assert sender.mailer.sent == []


def test_a_worker_that_crashed_after_claiming_is_recovered_once_its_lease_expires(sender, clock):
    request = queued(sender)
    sender.messages.claim(request.id, clock(), timedelta(seconds=90))  # then it crashed
    clock.now = NOW + timedelta(seconds=91)

    assert sender.send(request) is SendResult.SENT
    assert len(sender.mailer.sent) == 1


def test_an_ses_id_recorded_from_the_send_event_prevents_a_second_send(sender, clock):
    # SES accepted it, the worker crashed before recording, the Send event recorded the id.
    request = queued(sender)
    sender.messages.claim(request.id, clock(), timedelta(seconds=90))
    sender.messages.record_sent(request.id, "ses-from-event", clock())
    clock.now = NOW + timedelta(seconds=91)

    assert sender.send(request) is SendResult.DUPLICATE
    assert sender.mailer.sent == []


def test_an_address_suppressed_after_acceptance_ends_suppressed_without_ses(sender):
    request = queued(sender)
    sender.suppressions.put(Suppression(email="ada@example.com",
                                        reason=SuppressionReason.COMPLAINT,
                                        created_at=NOW, source="ses"))

    assert sender.send(request) is SendResult.SUPPRESSED

    message = sender.messages.get(request.id)
    assert message.status is Status.SUPPRESSED
    assert message.failure.reason == "recipient_suppressed"
    assert sender.mailer.sent == []
    assert [n.type for n in sender.publisher.published] == ["email.suppressed"]


def test_a_transient_failure_releases_the_claim_so_the_retry_can_send(sender):
    request = queued(sender)
    attempts = iter([TransientSendError("TooManyRequestsException", throttled=True), None])
    sender.mailer.failures[request.to] = lambda: next(attempts)

    with pytest.raises(TransientSendError):
        sender.send(request)
    assert sender.send(request) is SendResult.SENT
    assert sender.messages.get(request.id).status is Status.SENT


def test_a_permanent_failure_is_recorded_with_its_reason_and_published(sender):
    request = queued(sender)
    failure = Failure(reason="rejected", action="Check the content.",
                      diagnostic="MessageRejected: Email address is not verified.")
    sender.mailer.failures[request.to] = PermanentSendError(Status.REJECTED, failure)

    assert sender.send(request) is SendResult.FAILED

    message = sender.messages.get(request.id)
    assert message.status is Status.REJECTED
    assert message.failure == failure
    notification = sender.publisher.published[0]
    assert (notification.type, notification.message_id) == ("email.rejected", request.id)
    assert notification.tags == {"campaign": "onboarding"}


def test_giving_up_after_the_last_attempt_records_why_and_where_the_message_is(sender):
    request = queued(sender)

    sender.give_up(request, 5, TransientSendError("InternalFailure: boom"))

    message = sender.messages.get(request.id)
    assert message.status is Status.FAILED
    assert message.failure.reason == "retries_exhausted"
    assert "dead-letter queue" in message.failure.action
    assert [n.type for n in sender.publisher.published] == ["email.failed"]


class InstantPacer(SendPacer):
    def __init__(self) -> None:
        super().__init__(10, sleep=lambda seconds: None)


def test_throttling_slows_down_and_retries_in_place_instead_of_failing(sender):
    sender = replace(sender, pacer=InstantPacer())
    request = queued(sender)
    throttles = iter([TransientSendError("TooManyRequestsException", throttled=True)] * 2)
    sender.mailer.failures[request.to] = lambda: next(throttles, None)

    assert sender.send(request) is SendResult.SENT
    assert sender.pacer.rate < 10  # slowed down, recovering


def test_throttling_that_outlasts_the_in_place_retries_goes_back_to_the_queue(sender):
    sender = replace(sender, pacer=InstantPacer())
    request = queued(sender)
    sender.mailer.failures[request.to] = TransientSendError("TooManyRequestsException",
                                                            throttled=True)

    with pytest.raises(TransientSendError):
        sender.send(request)
    assert sender.messages.get(request.id).status is Status.QUEUED


def test_while_sending_is_paused_a_message_waits_in_the_queue_without_using_its_attempts(
        sender):
    from mailroom.models import SendingState
    from mailroom.send import PAUSED_REQUEUE_SECONDS
    from tests.fakes import FakeSendingSwitch, FakeSendQueue

    sender = replace(sender, switch=FakeSendingSwitch(), queue=FakeSendQueue())
    sender.switch.set(SendingState(paused=True, reason="maintenance"))
    request = queued(sender)

    assert sender.send(request) is SendResult.DEFERRED

    assert sender.mailer.sent == []
    assert [(r.id, d) for r, d in zip(sender.queue.sent, sender.queue.delays, strict=True)] == [
        (request.id, PAUSED_REQUEUE_SECONDS)]
    assert sender.messages.get(request.id).status is Status.QUEUED

    sender.switch.set(SendingState(paused=False))
    assert sender.send(request) is SendResult.SENT


def test_no_answer_from_ses_keeps_the_claim_so_a_quick_retry_cannot_send_twice(sender, clock):
    request = queued(sender)
    sender.mailer.failures[request.to] = TransientSendError("ReadTimeoutError", ambiguous=True)

    with pytest.raises(TransientSendError):
        sender.send(request)
    del sender.mailer.failures[request.to]

    with pytest.raises(MessageBusy):  # still claimed: SES's Send event may yet arrive
        sender.send(request)
    clock.now = NOW + timedelta(seconds=91)  # the lease lapsed and no Send event came
    assert sender.send(request) is SendResult.SENT


def test_a_used_up_daily_quota_defers_the_message_without_spending_an_attempt(sender):
    from mailroom.send import QUOTA_RECHECK_SECONDS
    from tests.fakes import FakeSendQueue

    sender = replace(sender, queue=FakeSendQueue())
    request = queued(sender)
    sender.mailer.failures[request.to] = TransientSendError("LimitExceededException",
                                                            quota=True)

    assert sender.send(request) is SendResult.DEFERRED

    assert sender.queue.delays == [QUOTA_RECHECK_SECONDS]
    assert sender.messages.get(request.id).status is Status.QUEUED
    assert request.id not in sender.messages.leases  # the copy can be claimed later


@pytest.mark.parametrize(("mailroom_paused", "expected_delay"), [
    (True, "PAUSED_REQUEUE_SECONDS"),  # our pause closed the configuration set: back soon
    (False, "SES_PAUSED_RECHECK_SECONDS"),  # SES's own pause: nothing says when it ends
])
def test_sending_paused_in_ses_defers_the_message_without_using_its_attempts(
        sender, mailroom_paused, expected_delay):
    from mailroom import send
    from mailroom.models import SendingState
    from tests.fakes import FakeSendingSwitch, FakeSendQueue

    switch = FakeSendingSwitch()
    sender = replace(sender, queue=FakeSendQueue(), switch=switch)
    request = queued(sender)

    def paused_meanwhile() -> Exception:
        # The pause lands between the sender's check and its SES call.
        switch.current = SendingState(paused=mailroom_paused)
        return TransientSendError("SendingPausedException", paused=True)

    sender.mailer.failures[request.to] = paused_meanwhile

    assert sender.send(request) is SendResult.DEFERRED

    assert sender.queue.delays == [getattr(send, expected_delay)]
    assert send.PAUSED_REQUEUE_SECONDS < send.SES_PAUSED_RECHECK_SECONDS
    assert sender.messages.get(request.id).status is Status.QUEUED


def paused_sender(sender: Sender, clock: Clock) -> Sender:
    from tests.fakes import FakeSendingSwitch, FakeSendQueue

    return replace(sender, switch=FakeSendingSwitch(), queue=FakeSendQueue())


def test_mail_that_waited_out_a_pause_gets_one_deferred_entry_from_when_to_when(sender, clock):
    from mailroom.models import SendingState

    sender = paused_sender(sender, clock)
    request = queued(sender).model_copy(update={"queued_at": NOW})
    paused_at, resumed_at = NOW + timedelta(minutes=5), NOW + timedelta(hours=2)
    sender.switch.set(SendingState(paused=True, since=paused_at))
    clock.now = paused_at + timedelta(seconds=1)
    assert sender.send(request) is SendResult.DEFERRED
    assert sender.send(request) is SendResult.DEFERRED  # received again while paused

    sender.switch.set(SendingState(paused=False, since=resumed_at))
    clock.now = resumed_at + timedelta(seconds=3)
    assert sender.send(request) is SendResult.SENT

    events = sender.messages.get(request.id).events
    assert [event.type for event in events] == ["deferred", "sent"]
    assert events[0].detail == {"reason": "paused", "from": paused_at.isoformat(),
                                "to": clock.now.isoformat()}


def test_mail_accepted_during_the_pause_waited_from_its_acceptance(sender, clock):
    from mailroom.models import SendingState

    sender = paused_sender(sender, clock)
    paused_at, accepted_at = NOW, NOW + timedelta(seconds=4)  # before the API saw the pause
    sender.switch.set(SendingState(paused=True, since=paused_at))
    request = queued(sender).model_copy(update={"queued_at": accepted_at})
    sender.switch.set(SendingState(paused=False, since=NOW + timedelta(minutes=1)))
    clock.now = NOW + timedelta(minutes=2)

    assert sender.send(request) is SendResult.SENT

    deferred = sender.messages.get(request.id).events[0]
    assert deferred.detail["from"] == accepted_at.isoformat()


def test_mail_accepted_after_a_resume_or_sent_before_any_pause_has_no_deferred_entry(
        sender, clock):
    from mailroom.models import SendingState

    sender = paused_sender(sender, clock)
    never_paused = queued(sender, "a@example.com").model_copy(update={"queued_at": NOW})
    assert sender.send(never_paused) is SendResult.SENT

    sender.switch.set(SendingState(paused=True, since=NOW))
    sender.switch.set(SendingState(paused=False, since=NOW + timedelta(minutes=1)))
    later = queued(sender, "b@example.com").model_copy(
        update={"queued_at": NOW + timedelta(minutes=2)})
    assert sender.send(later) is SendResult.SENT

    for request in (never_paused, later):
        assert [e.type for e in sender.messages.get(request.id).events] == ["sent"]

def test_a_configuration_fault_defers_the_message_says_why_and_tells_the_hook(sender):
    from mailroom.send import SES_PAUSED_RECHECK_SECONDS
    from mailroom.sending import ConfigurationFault
    from tests.fakes import FakeSendQueue

    heard: list[ConfigurationFault] = []
    sender = replace(sender, queue=FakeSendQueue(), on_configuration_fault=heard.append)
    request = queued(sender)
    fault = ConfigurationFault(reason="mail_from_not_verified", action="Publish the MX.",
                               diagnostic="MailFromDomainNotVerifiedException: not verified")
    sender.mailer.failures[request.to] = TransientSendError(str(fault), fault=fault)

    # When SES refuses it twice for the same reason
    assert sender.send(request) is SendResult.DEFERRED
    assert sender.send(request) is SendResult.DEFERRED

    # Then it waits (queued, not failed, its attempts unspent; nothing will say when it is
    # fixed, so it looks again at SQS's longest delay) and its timeline says why, once
    message = sender.messages.get(request.id)
    assert message.status is Status.QUEUED and message.failure is None
    assert sender.queue.delays == [SES_PAUSED_RECHECK_SECONDS, SES_PAUSED_RECHECK_SECONDS]
    waits = [e for e in message.events if e.type == "deferred"]
    assert [e.detail["reason"] for e in waits] == ["mail_from_not_verified"]
    assert heard == [fault, fault]
    # And once fixed, it goes out
    del sender.mailer.failures[request.to]
    assert sender.send(request) is SendResult.SENT


def test_a_send_slot_past_the_invocations_end_is_not_waited_for(sender):
    sender = replace(sender, pacer=SendPacer(0.5, sleep=lambda seconds: None))  # every 2 s
    first, second = queued(sender, "a@example.com"), queued(sender, "b@example.com")

    assert sender.send(first, time_left=lambda: 1.0) is SendResult.SENT
    with pytest.raises(TransientSendError):
        sender.send(second, time_left=lambda: 1.0)
    assert sender.messages.get(second.id).status is Status.QUEUED
