"""Keeping under the SES maximum send rate: a token bucket shared by the threads of one
Lambda instance, which slows down when SES throttles and creeps back up on success."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable

# A throttle means a burst got through, not that the rate is wrong: slow down by a quarter
# (not half: the time at the lower rate is what is lost), back to full over 5 successes.
THROTTLED_FACTOR = 0.75


class SendPacer:
    def __init__(self, rate_per_second: float, *, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        if rate_per_second <= 0:
            raise ValueError("rate_per_second must be positive")
        self.max_rate = rate_per_second
        self.rate = self.max_rate
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._next_slot = clock()

    def acquire(self, max_wait: float | None = None) -> bool:
        """Wait for this caller's turn: calls are spaced 1/rate seconds apart. False, without
        waiting or taking a turn, when the turn is further away than `max_wait` seconds."""
        with self._lock:
            now = self._clock()
            slot = max(self._next_slot, now)
            if max_wait is not None and slot - now > max_wait:
                return False
            self._next_slot = slot + 1 / self.rate
        if slot > now:
            self._sleep(slot - now)
        return True

    def throttled(self) -> None:
        with self._lock:
            self.rate = max(self.max_rate / 16, self.rate * THROTTLED_FACTOR)

    def succeeded(self) -> None:
        with self._lock:
            self.rate = min(self.max_rate, self.rate + self.max_rate / 20)


def retry_delay(attempt: int, *, base: float = 30.0, cap: float = 900.0,
                rand: Callable[[], float] = random.random) -> int:
    """Seconds to wait before attempt `attempt + 1`: exponential with full jitter, at least
    one second, capped by SQS's longest visibility extension we want (15 minutes)."""
    ceiling = min(cap, base * 2 ** max(0, attempt - 1))
    return max(1, int(ceiling * rand()))
