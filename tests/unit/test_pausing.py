"""Pause and resume through the gated switch: the switch is the record of truth, the gates
follow it, and nothing a gate does can undo or fail a pause."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from mailroom.models import SendingState
from mailroom.pausing import GatedSwitch
from tests.fakes import FakeGate, FakeSendingSwitch

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
PAUSE = SendingState(paused=True, reason="bounce storm", since=NOW, source="api")
RESUME = SendingState(paused=False, reason="explained", since=NOW + timedelta(hours=1))


@pytest.fixture
def gates() -> tuple[FakeGate, FakeGate]:
    return FakeGate("consumer"), FakeGate("configuration set")


@pytest.fixture
def switch(gates) -> GatedSwitch:
    return GatedSwitch(FakeSendingSwitch(), gates)


def test_a_pause_closes_every_gate_and_a_resume_opens_them(switch, gates):
    assert switch.pause(PAUSE) is True
    assert [gate.open for gate in gates] == [False, False]
    assert switch.state().paused

    switch.set(RESUME)
    assert [gate.open for gate in gates] == [True, True]
    assert switch.state().previous_pause_since == NOW  # when the pause it ended began


def test_a_second_pause_keeps_the_first_and_still_closes_a_gate_left_open(switch, gates):
    switch.pause(PAUSE)
    gates[0].open = True  # something turned the consumer back on

    assert switch.pause(PAUSE.model_copy(update={"reason": "again"})) is False

    assert switch.state().reason == "bounce storm"
    assert gates[0].open is False


def test_a_gate_that_fails_neither_fails_nor_undoes_the_pause_and_is_reported(switch, gates):
    failures = []
    switch = GatedSwitch(switch.switch, gates,
                         on_gate_failure=lambda gate, error: failures.append((gate.name,
                                                                              str(error))))
    gates[0].failures.append(RuntimeError("ResourceConflictException"))

    assert switch.pause(PAUSE) is True

    assert switch.state().paused
    assert failures == [("consumer", "ResourceConflictException")]
    assert gates[1].open is False  # the next gate still closed


def test_reconcile_moves_only_gates_that_disagree_with_the_switch(switch, gates):
    switch.pause(PAUSE)
    gates[1].open = True  # re-enabled by hand, or a failed close
    gates[0].open = None  # still turning off: left to finish

    assert switch.reconcile() == ["configuration set"]
    assert gates[1].open is False
    assert gates[0].calls == [False]  # only the pause's own close

    switch.set(RESUME)
    assert switch.reconcile() == []  # all open, as the switch says


def test_reconcile_after_a_failed_resume_reopens_the_gate(switch, gates):
    switch.pause(PAUSE)
    gates[0].failures.append(RuntimeError("still disabling"))
    switch.set(RESUME)
    assert gates[0].open is False

    assert switch.reconcile() == ["consumer"]
    assert gates[0].open is True
