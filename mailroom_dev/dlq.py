"""Dead letters, for operators (`mailroom dlq show|redrive`): what each dead-letter queue
holds and why, read without taking anything out, and moving it back to its queue.

On AWS a redrive is SQS's own message-move task; moto has no such task, so the local stack
moves the messages itself (receive, send, delete) behind the same interface. A send message
whose record ended `failed` with `retries_exhausted` and that SES never took is reopened as
`queued` first, with a `redriven` timeline entry naming who (DESIGN §2); anything else the
sender finds already sent or finished and drops, so nothing SES took is ever sent again."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from mailroom.models import RETRIES_EXHAUSTED, SendRequest, TimelineEvent, utcnow
from mailroom.ports import MessageStore

# Long enough to page through a queue, short enough that a message read is soon back.
PEEK_VISIBILITY_SECONDS = 10
MOVE_TASK_POLL_SECONDS = 2
MOVE_TASK_TIMEOUT_SECONDS = 600


@dataclass(frozen=True)
class DeadLetter:
    sqs_id: str
    body: str
    first_received: datetime | None
    receives: int
    attributes: dict[str, Any]


def mask(address: str) -> str:
    """ada.lovelace@example.com → a***@example.com: enough to recognise, not to harvest."""
    local, at, domain = address.rpartition("@")
    return f"{local[:1]}***@{domain}" if at else "***"


class DeadLetterQueue:
    def __init__(self, sqs: Any, url: str) -> None:
        self.sqs = sqs
        self.url = url

    @property
    def arn(self) -> str:
        attributes = self.sqs.get_queue_attributes(QueueUrl=self.url, AttributeNames=["QueueArn"])
        return str(attributes["Attributes"]["QueueArn"])

    def count(self) -> int:
        attributes = self.sqs.get_queue_attributes(
            QueueUrl=self.url, AttributeNames=["ApproximateNumberOfMessages",
                                               "ApproximateNumberOfMessagesNotVisible"])
        return sum(int(value) for value in attributes["Attributes"].values())

    def peek(self, limit: int = 100) -> list[DeadLetter]:
        """Up to `limit` messages, oldest first as SQS hands them out; each is made visible
        again at once, so nothing is taken out."""
        letters: dict[str, DeadLetter] = {}
        handles: list[str] = []
        try:
            while len(letters) < limit:
                batch = self.sqs.receive_message(
                    QueueUrl=self.url, MaxNumberOfMessages=min(10, limit - len(letters)),
                    VisibilityTimeout=PEEK_VISIBILITY_SECONDS, WaitTimeSeconds=0,
                    MessageSystemAttributeNames=["All"], MessageAttributeNames=["All"],
                ).get("Messages", [])
                if not batch:
                    break
                for message in batch:
                    handles.append(message["ReceiptHandle"])
                    letters.setdefault(message["MessageId"], _letter(message))
        finally:
            self._release(handles)
        return sorted(letters.values(),
                      key=lambda letter: letter.first_received or datetime.max.replace(tzinfo=UTC))

    def delete(self, wanted: Callable[[DeadLetter], bool]) -> int:
        """Delete the messages `wanted` picks among those the queue holds now; every other
        one is made visible again at once. How many were deleted."""
        held, seen, deleted = self.count(), set[str](), 0
        handles: list[str] = []
        try:
            # A short wait, not none: without it SQS asks only some of its servers, and an
            # empty answer would not mean the rest are all held.
            while len(seen) < held and (batch := self.sqs.receive_message(
                    QueueUrl=self.url, MaxNumberOfMessages=10,
                    VisibilityTimeout=PEEK_VISIBILITY_SECONDS, WaitTimeSeconds=1,
                    MessageSystemAttributeNames=["All"], MessageAttributeNames=["All"],
            ).get("Messages", [])):
                doomed = []
                for message in batch:
                    fresh = message["MessageId"] not in seen
                    seen.add(message["MessageId"])
                    if fresh and wanted(_letter(message)):
                        doomed.append(message["ReceiptHandle"])
                    else:
                        handles.append(message["ReceiptHandle"])
                if doomed:
                    answer = self.sqs.delete_message_batch(QueueUrl=self.url, Entries=[
                        {"Id": str(n), "ReceiptHandle": handle}
                        for n, handle in enumerate(doomed)])
                    deleted += len(answer.get("Successful", []))
        finally:
            self._release(handles)
        return deleted

    def _release(self, handles: list[str]) -> None:
        for start in range(0, len(handles), 10):
            self.sqs.change_message_visibility_batch(QueueUrl=self.url, Entries=[
                {"Id": str(n), "ReceiptHandle": handle, "VisibilityTimeout": 0}
                for n, handle in enumerate(handles[start:start + 10])])


def _letter(message: dict[str, Any]) -> DeadLetter:
    attributes = message.get("Attributes", {})
    first = attributes.get("ApproximateFirstReceiveTimestamp")
    return DeadLetter(
        sqs_id=message["MessageId"], body=message.get("Body", ""),
        first_received=datetime.fromtimestamp(int(first) / 1000, UTC) if first else None,
        receives=int(attributes.get("ApproximateReceiveCount", 0)),
        attributes=message.get("MessageAttributes", {}))


class Redrive(Protocol):
    def move(self, source: DeadLetterQueue, destination_url: str) -> int:
        """Move every message of `source` back to `destination_url`; how many moved."""
        ...


@dataclass(frozen=True)
class MoveTaskRedrive:
    """SQS's message-move task, polled until it ends."""

    sqs: Any
    sleep: Callable[[float], None] = time.sleep
    monotonic: Callable[[], float] = time.monotonic

    def move(self, source: DeadLetterQueue, destination_url: str) -> int:
        source_arn = source.arn
        destination = DeadLetterQueue(self.sqs, destination_url).arn
        self.sqs.start_message_move_task(SourceArn=source_arn, DestinationArn=destination)
        deadline = self.monotonic() + MOVE_TASK_TIMEOUT_SECONDS
        while True:
            [task] = self.sqs.list_message_move_tasks(SourceArn=source_arn,
                                                      MaxResults=1)["Results"]
            if task["Status"] in ("COMPLETED", "FAILED", "CANCELLED"):
                if task["Status"] != "COMPLETED":
                    raise RuntimeError(f"The move task ended {task['Status']}: "
                                       f"{task.get('FailureReason', 'no reason given')}")
                return int(task.get("ApproximateNumberOfMessagesMoved", 0))
            if self.monotonic() >= deadline:
                raise RuntimeError("The move task is still running; check it in the SQS "
                                   "console (ListMessageMoveTasks).")
            self.sleep(MOVE_TASK_POLL_SECONDS)


@dataclass(frozen=True)
class CopyingRedrive:
    """Receive, send to the destination, delete: for the local stack (moto has no move
    task). The body and message attributes go across unchanged. Like the move task, it moves
    what the queue held when it began: a message that fails again and comes back while it
    runs stays for the next redrive."""

    sqs: Any

    def move(self, source: DeadLetterQueue, destination_url: str) -> int:
        moved, held = 0, source.count()
        while moved < held and (batch := self.sqs.receive_message(
                QueueUrl=source.url, MaxNumberOfMessages=min(10, held - moved),
                WaitTimeSeconds=0,
                VisibilityTimeout=60, MessageAttributeNames=["All"]).get("Messages", [])):
            entries = [{"Id": str(n), "MessageBody": message["Body"],
                        **({"MessageAttributes": message["MessageAttributes"]}
                           if message.get("MessageAttributes") else {})}
                       for n, message in enumerate(batch)]
            sent = self.sqs.send_message_batch(QueueUrl=destination_url, Entries=entries)
            done = {entry["Id"] for entry in sent.get("Successful", [])}
            self.sqs.delete_message_batch(QueueUrl=source.url, Entries=[
                {"Id": str(n), "ReceiptHandle": message["ReceiptHandle"]}
                for n, message in enumerate(batch) if str(n) in done])
            moved += len(done)
            if len(done) < len(batch):
                raise RuntimeError(f"{len(batch) - len(done)} messages could not be sent back; "
                                   "they stay in the dead-letter queue.")
        return moved


# --- what each queue's dead letters are --------------------------------------------------
def send_reason(letter: DeadLetter, lookup: Callable[[str], dict[str, Any] | None]
                ) -> dict[str, Any]:
    """A send message: its id, masked recipient, and the failure Mailroom recorded."""
    try:
        request = SendRequest.model_validate_json(letter.body)
    except ValueError:
        return {"reason": "unreadable", "action": "Not a send message: delete it by hand."}
    message = lookup(request.id) or {}
    failure = message.get("failure") or {}
    return {"message_id": request.id, "to": mask(request.to),
            "status": message.get("status", "unknown"),
            "reason": failure.get("reason", "no failure recorded"),
            "action": failure.get("action", "")}


MALFORMED_ACTION = ("Nothing will ever apply it: `mailroom dlq delete events --malformed` "
                    "deletes such records.")


def letter_ids(letter: DeadLetter) -> set[str]:
    """What `dlq delete` knows a dead letter by: its SQS message id, and a send message's
    Mailroom id."""
    try:
        body = json.loads(letter.body)
    except ValueError:
        body = None
    message_id = body.get("id") if isinstance(body, dict) else None
    return {letter.sqs_id, *([message_id] if isinstance(message_id, str) else [])}


def events_reason(letter: DeadLetter) -> dict[str, Any]:
    """An SES event record: why the events function refused it, as it logged it — kept on
    the message when the function dead-lettered it itself (a malformed record)."""
    from mailroom.ses_events import MalformedSesEvent, parse_sqs_body
    from mailroom.shape import DEAD_LETTER_DETAIL, DEAD_LETTER_REASON

    recorded = {name: value.get("StringValue", "") for name, value in letter.attributes.items()}
    if recorded.get(DEAD_LETTER_REASON) == "malformed":
        return {"reason": "malformed", "action": f"{recorded.get(DEAD_LETTER_DETAIL)}. "
                                                 f"{MALFORMED_ACTION}"}
    try:
        events = parse_sqs_body(letter.body)
    except MalformedSesEvent as error:
        return {"reason": "malformed", "action": f"{error}. {MALFORMED_ACTION}"}
    kinds = ", ".join(sorted({event.kind.value for event in events})) or "no SES event"
    return {"reason": "failed_to_apply",
            "action": f"A well-formed {kinds} record that failed every try (see the events "
                      "function's log for this record): fix the cause, then redrive it."}


def subscription_reason(letter: DeadLetter) -> dict[str, Any]:
    try:
        kind = json.loads(json.loads(letter.body)["Message"]).get("eventType", "?")
    except (ValueError, KeyError, TypeError, AttributeError):
        kind = "?"
    return {"reason": "not_delivered_by_sns",
            "action": f"An SES {kind} event SNS could not deliver to the events queue: fix "
                      "the queue's policy or key, then move it back by hand (README)."}


def reopen_exhausted(letters: list[DeadLetter], messages: MessageStore, by: str,
                     clock: Callable[[], datetime] = utcnow) -> Iterator[str]:
    """Reopen each send message that failed every retry and that SES never took; the ids
    reopened."""
    for letter in letters:
        try:
            request = SendRequest.model_validate_json(letter.body)
        except ValueError:
            continue
        event = TimelineEvent(type="redriven", at=clock(), key=f"redriven#{letter.sqs_id}",
                              detail={"by": by, "reason": RETRIES_EXHAUSTED})
        if messages.reopen(request.id, event):
            yield request.id
