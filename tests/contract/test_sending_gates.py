"""SendingGate contract (mailroom.ports): the sender's consumer (fake, moto's Lambda, the
local stand-in) and the configuration set's sending (fake, the SES simulator) open and close
alike — a change may take a moment, and one in the other direction is waited out."""

from __future__ import annotations

import time
from typing import Any

import pytest


def settled(gate: Any, timeout: float = 3.0) -> bool | None:
    """Its state once it stops changing."""
    deadline = time.monotonic() + timeout
    while (state := gate.is_open()) is None and time.monotonic() < deadline:
        time.sleep(0.05)
    return state


@pytest.fixture
def gate(sending_gate: Any) -> Any:
    return sending_gate


def test_a_gate_starts_open_closes_and_opens_again(gate):
    assert settled(gate) is True

    gate.set_open(False)
    assert settled(gate) is False

    gate.set_open(True)
    assert settled(gate) is True


def test_closing_a_closing_gate_is_harmless(gate):
    gate.set_open(False)
    gate.set_open(False)  # e.g. a second pause, or the guard and an operator at once

    assert settled(gate) is False


def test_opening_right_after_closing_waits_for_the_close_to_finish(gate):
    """A pause and an immediate resume: Lambda refuses an update while the mapping is
    still disabling, and the gate waits for it rather than fail the resume."""
    gate.set_open(False)
    gate.set_open(True)

    assert settled(gate) is True
