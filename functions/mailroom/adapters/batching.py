"""Batch calls to AWS: chunk the requests to the service's limit per call, and send again,
after a capped exponential pause, the part the service left unprocessed or failed for a
reason a retry can fix (throttling, a server fault). Whatever still fails is raised."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

Request = TypeVar("Request")
Result = TypeVar("Result")


class BatchIncomplete(RuntimeError):
    """Some requests of a batch call did not go through; the message says which and why."""


@dataclass(frozen=True)
class Backoff:
    """How long to keep trying: `attempts` calls per chunk, pausing base·2ⁿ seconds (at most
    `max_seconds`) in between. `sleep` is injectable so tests need not wait."""

    attempts: int = 8
    base_seconds: float = 0.05
    max_seconds: float = 1.0
    sleep: Callable[[float], None] = time.sleep

    def pauses(self) -> Iterator[float]:
        """The pause before each retry (so one fewer than `attempts`)."""
        for retry in range(self.attempts - 1):
            yield min(self.max_seconds, self.base_seconds * 2 ** retry)


DEFAULT_BACKOFF = Backoff()


@dataclass
class Answer(Generic[Request, Result]):
    """What one batch call did with its chunk."""

    results: list[Result] = field(default_factory=list)
    retry: list[Request] = field(default_factory=list)  # unprocessed, or failed retryably
    retry_reasons: list[str] = field(default_factory=list)  # why, when the service says
    refused: list[str] = field(default_factory=list)  # failures no retry can fix, described


def call_in_batches(
    requests: Sequence[Request],
    limit: int,
    call: Callable[[list[Request]], Answer[Request, Result]],
    *,
    what: str,
    backoff: Backoff,
) -> list[Result]:
    """Send `requests` `limit` at a time through `call`; return every result. Raises
    `BatchIncomplete` once every chunk has had its attempts, if anything was refused or is
    still unprocessed — so the requests that could go through did."""
    total: Answer[Request, Result] = Answer()
    for start in range(0, len(requests), limit):
        answer = _call_with_retries(list(requests[start:start + limit]), call, backoff)
        total.results += answer.results
        total.refused += answer.refused
        total.retry += answer.retry
        total.retry_reasons += answer.retry_reasons
    if total.refused or total.retry:
        raise BatchIncomplete(_describe(total, len(requests), what, backoff.attempts))
    return total.results


def _call_with_retries(
    chunk: list[Request],
    call: Callable[[list[Request]], Answer[Request, Result]],
    backoff: Backoff,
) -> Answer[Request, Result]:
    total: Answer[Request, Result] = Answer()
    pauses = backoff.pauses()
    while True:
        answer = call(chunk)
        total.results += answer.results
        total.refused += answer.refused
        chunk = answer.retry
        pause = next(pauses, None) if chunk else None
        if pause is None:
            total.retry, total.retry_reasons = chunk, answer.retry_reasons
            return total
        backoff.sleep(pause)


def _describe(answer: Answer[Any, Any], total: int, what: str, attempts: int) -> str:
    problems = []
    if answer.refused:
        problems.append(f"{len(answer.refused)} refused ({'; '.join(answer.refused)})")
    if answer.retry:
        reasons = f" ({'; '.join(answer.retry_reasons)})" if answer.retry_reasons else ""
        problems.append(f"{len(answer.retry)} still failing after {attempts} attempts{reasons}")
    failed = len(answer.refused) + len(answer.retry)
    return f"{failed} of {total} {what} did not go through: {', '.join(problems)}."


def failed_entries(entries: Sequence[dict[str, Any]],
                   response: dict[str, Any]) -> Answer[dict[str, Any], Any]:
    """The `Failed` list of an SNS PublishBatch or SQS SendMessageBatch response, split into
    entries to send again (the service's fault) and refusals (`SenderFault`: the entry
    itself is wrong, so sending it again cannot help)."""
    by_id = {entry["Id"]: entry for entry in entries}
    answer: Answer[dict[str, Any], Any] = Answer()
    for failure in response.get("Failed", []):
        if failure.get("SenderFault"):
            answer.refused.append(
                f"entry {failure['Id']}: {failure.get('Message') or failure['Code']}")
        else:
            answer.retry.append(by_id[failure["Id"]])
            answer.retry_reasons.append(
                f"entry {failure['Id']}: {failure.get('Message') or failure['Code']}")
    return answer
