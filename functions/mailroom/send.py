"""The send path: one queued message to SES, exactly once.

Exactly-once effect, and the choice made for a crash:
1. A conditional write *claims* the message as a lease (`MessageStore.claim`) before the SES
   call. A redelivered SQS message whose record already has an SES message id is recognised
   and not sent again; one whose lease another worker holds is retried later.
2. After SES answers, the SES message id is recorded (`record_sent`).
3. A crash between 1 and SES: the lease expires (it is shorter than the queue's visibility
   timeout), SQS redelivers, and the message is sent — nothing is lost.
   A crash after SES accepted but before 2: SES still publishes a Send event carrying
   Mailroom's message id as a tag, and the events function records the SES message id from
   it. The lease outlives that path (seconds), so the redelivered message finds the id and
   is not sent again. Only if the events path is down longer than the lease could a message
   go out twice; we prefer that rare duplicate to ever losing a message.
4. SES gave no answer (a read timeout, a dropped connection): it may have accepted the
   message. The claim is kept, not released, and the retry comes after the lease, by when
   the Send event has recorded the id if SES did send it. (botocore's own retries are off
   for the same reason: a blind retry after a timeout could send twice.)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from .addresses import normalize
from .models import (
    RETRIES_EXHAUSTED,
    Failure,
    Notification,
    NotificationType,
    SendRequest,
    Status,
    TimelineEvent,
    utcnow,
)
from .pacing import SendPacer
from .ports import (
    Claim,
    Mailer,
    MessageStore,
    Publisher,
    SendingSwitch,
    SendQueue,
    SuppressionStore,
)
from .sending import ConfigurationFault, MessageBusy, PermanentSendError, TransientSendError

# What apps hear when the sender itself ends a message.
NOTIFICATION_TYPES = {
    Status.SUPPRESSED: NotificationType.SUPPRESSED,
    Status.FAILED: NotificationType.FAILED,
    Status.REJECTED: NotificationType.REJECTED,
    Status.RENDER_FAILED: NotificationType.RENDER_FAILED,
}


# The 24-hour sending quota is used up: check again in 15 minutes (SQS's longest delay),
# without spending the message's attempts.
QUOTA_RECHECK_SECONDS = 900
# A message received while Mailroom is paused goes back to the queue as a fresh message, so
# waiting never uses up its receives and never ends in the DLQ. A pause turns the sender's
# consumer off, so it then waits unreceived and goes out as soon as a resume turns it on;
# the delay only spaces receives while the consumer is still turning off.
PAUSED_REQUEUE_SECONDS = 5
# SES itself refuses (its account-level pause) while Mailroom is not paused: nothing will
# tell the sender when that ends, so look again at SQS's longest delay.
SES_PAUSED_RECHECK_SECONDS = 900


class SendResult(StrEnum):
    SENT = "sent"
    DEFERRED = "deferred"  # paused or out of quota: back in the queue, tried again later
    DUPLICATE = "duplicate"  # already sent or already finished: nothing to do
    SUPPRESSED = "suppressed"
    FAILED = "failed"  # permanent failure, recorded


@dataclass(frozen=True)
class Sender:
    messages: MessageStore
    suppressions: SuppressionStore
    mailer: Mailer
    publisher: Publisher
    pacer: SendPacer | None = None
    queue: SendQueue | None = None
    switch: SendingSwitch | None = None
    lease: timedelta = timedelta(seconds=60)
    throttle_retries: int = 3
    clock: Callable[[], datetime] = field(default=utcnow)
    # Told of each configuration fault SES answers with (MAIL FROM not verified, account
    # suspended, ...): the handler logs and counts it; the hook for requesting a pause.
    on_configuration_fault: Callable[[ConfigurationFault], None] | None = None

    def send(self, request: SendRequest,
             time_left: Callable[[], float] | None = None) -> SendResult:
        """Send one message. `time_left`: seconds this invocation may still spend waiting for
        a send slot (None: no limit). Raises `TransientSendError` when an attempt failed and
        should be retried later, `MessageBusy` when it was not this worker's turn."""
        if self.switch and self.queue and self.switch.state().paused:
            return self._defer(request, PAUSED_REQUEUE_SECONDS)
        claim = self.messages.claim(request.id, self.clock(), self.lease)
        if claim in (Claim.ALREADY_SENT, Claim.FINISHED):
            return SendResult.DUPLICATE
        if claim is Claim.IN_FLIGHT:
            raise MessageBusy("Another worker is sending this message; checking later.")
        if claim is Claim.MISSING:
            raise MessageBusy(f"No record of message {request.id} yet.")

        suppression = self.suppressions.get(normalize(request.to), self.clock(),
                                            request.category)
        if suppression is not None:
            self._finish(request, Status.SUPPRESSED, Failure(
                reason="recipient_suppressed",
                action="The address was suppressed after this message was accepted "
                       f"({suppression.reason.value}); reach the user another way.",
                diagnostic=f"suppressed: {suppression.reason.value} since "
                           f"{suppression.created_at.isoformat()}",
            ))
            return SendResult.SUPPRESSED

        try:
            ses_message_id = self._send_paced(request, time_left)
        except TransientSendError as error:
            if error.ambiguous:
                raise  # keep the claim: SES may have it, and its Send event will tell
            self.messages.release(request.id)
            if error.quota and self.queue:
                return self._defer(request, QUOTA_RECHECK_SECONDS)
            if error.fault is not None:
                self._note_fault(request, error.fault)
            if error.paused and self.queue:
                # Mailroom's own pause closes the configuration set too: read the switch
                # afresh to tell it from SES's.
                ours = self.switch is not None and self.switch.state(fresh=True).paused
                return self._defer(
                    request, PAUSED_REQUEUE_SECONDS if ours else SES_PAUSED_RECHECK_SECONDS)
            raise
        except PermanentSendError as error:
            self._finish(request, error.status, error.failure)
            return SendResult.FAILED
        except Exception:
            self.messages.release(request.id)  # failed before SES could take it: retry soon
            raise
        # When SES answered, not when the record is written: SES's own events are stamped
        # from its acceptance, and the timeline reads in the order things happened.
        sent_at = self.clock()
        self._record_wait(request, sent_at)
        self.messages.record_sent(request.id, ses_message_id, sent_at)
        return SendResult.SENT

    def _record_wait(self, request: SendRequest, now: datetime) -> None:
        """A message accepted before the last resume and sent `now`, after it waited out that
        pause: one `deferred` entry per pause says from when to when."""
        state = self.switch.state() if self.switch else None
        if (state is None or state.paused or state.since is None
                or state.previous_pause_since is None or request.queued_at is None
                or request.queued_at >= state.since):
            return
        waited_from = max(request.queued_at, state.previous_pause_since)
        self.messages.apply_event(request.id, TimelineEvent(
            type="deferred", at=now,
            key=f"deferred#paused#{state.previous_pause_since.isoformat()}",
            detail={"reason": "paused", "from": waited_from.isoformat(),
                    "to": now.isoformat()}))

    def _send_paced(self, request: SendRequest, time_left: Callable[[], float] | None) -> str:
        """On throttling, slow down and try again here rather than fail: the pacer halves
        its rate, so the retry waits its (longer) turn. Other transient errors, and
        throttling that outlasts `throttle_retries`, go back to SQS for a later attempt."""
        for attempt in range(self.throttle_retries + 1):
            max_wait = time_left() if time_left else None
            if self.pacer and not self.pacer.acquire(max_wait):
                raise TransientSendError("No send slot before this invocation ends.",
                                         throttled=True)
            try:
                ses_message_id = self.mailer.send(request)
            except TransientSendError as error:
                if not (self.pacer and error.throttled) or attempt == self.throttle_retries:
                    raise
                self.pacer.throttled()
                continue
            if self.pacer:
                self.pacer.succeeded()
            return ses_message_id
        raise AssertionError("unreachable")  # pragma: no cover

    def _note_fault(self, request: SendRequest, fault: ConfigurationFault) -> None:
        """The message's timeline says why it waits (once per reason); the hook hears it."""
        self.messages.apply_event(request.id, TimelineEvent(
            type="deferred", at=self.clock(), key=f"deferred#{fault.reason}",
            detail={"reason": fault.reason, "action": fault.action,
                    "diagnostic": fault.diagnostic}))
        if self.on_configuration_fault is not None:
            self.on_configuration_fault(fault)

    def _defer(self, request: SendRequest, seconds: int) -> SendResult:
        assert self.queue is not None
        self.queue.enqueue([request], delay_seconds=seconds)
        return SendResult.DEFERRED

    def give_up(self, request: SendRequest, attempts: int, error: Exception) -> None:
        """The last attempt failed transiently: record it before SQS moves the message to
        the dead-letter queue, so its status says what happened and what to do."""
        self._finish(request, Status.FAILED, Failure(
            reason=RETRIES_EXHAUSTED,
            action="SES kept failing temporarily; the message is in the send dead-letter "
                   "queue. Check SES health and quotas, then move it back with "
                   "`mailroom dlq redrive send` (it is reopened and sent once).",
            diagnostic=f"{attempts} attempts; last error: {error}",
        ))

    def _finish(self, request: SendRequest, status: Status, failure: Failure) -> None:
        """Tell the app, then record: if recording fails the retry tells the app again with
        the same notification id (subscribers deduplicate), so the news is never lost."""
        now = self.clock()
        self.publisher.publish([Notification(
            id=f"{request.id}:{status.value}",
            type=NOTIFICATION_TYPES[status],
            occurred_at=now,
            message_id=request.id,
            recipient=request.to,
            template=request.template,
            tags=request.tags,
            status=status,
            failure=failure,
        )])
        self.messages.apply_event(
            request.id,
            TimelineEvent(type=status.value, at=now, key=f"{status.value}#{request.id}",
                          detail={"reason": failure.reason}),
            status=status,
            failure=failure,
        )
