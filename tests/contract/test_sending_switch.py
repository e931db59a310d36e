"""SendingSwitch contract (mailroom.ports): the fake and the DynamoDB switch alike."""

from __future__ import annotations

from datetime import UTC, datetime

from mailroom.models import SendingState

NOW = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


def test_sending_is_enabled_until_someone_pauses_it(sending_switch):
    assert sending_switch.state() == SendingState()
    assert sending_switch.state().paused is False


def test_a_pause_reads_back_with_its_reason_since_and_source(sending_switch):
    paused = SendingState(paused=True, reason="bounce rate 4.2%", since=NOW,
                          source="reputation_guard")

    sending_switch.set(paused)

    assert sending_switch.state() == paused


def test_resuming_replaces_the_pause(sending_switch):
    sending_switch.set(SendingState(paused=True, reason="maintenance", since=NOW,
                                    source="api"))
    resumed = SendingState(paused=False, reason="done", since=NOW, source="api")

    sending_switch.set(resumed)

    assert sending_switch.state() == resumed
