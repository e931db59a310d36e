"""SendingSwitch contract (mailroom.ports): the fake and the DynamoDB switch alike."""

from __future__ import annotations

from datetime import UTC, datetime

from mailroom.models import SendingState

NOW = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
LATER = datetime(2026, 11, 1, 14, 30, tzinfo=UTC)


def test_sending_is_enabled_until_someone_pauses_it(sending_switch):
    assert sending_switch.state() == SendingState()
    assert sending_switch.state().paused is False


def test_a_pause_reads_back_with_its_reason_since_and_source(sending_switch):
    paused = SendingState(paused=True, reason="bounce rate 4.2%", since=NOW,
                          source="reputation_guard")

    sending_switch.set(paused)

    assert sending_switch.state() == paused


def test_resuming_replaces_the_pause_and_records_when_it_began(sending_switch):
    sending_switch.set(SendingState(paused=True, reason="maintenance", since=NOW,
                                    source="api", by="ada"))
    resumed = SendingState(paused=False, reason="done", since=LATER, source="api")

    sending_switch.set(resumed)

    assert sending_switch.state(fresh=True) == resumed.model_copy(
        update={"previous_pause_since": NOW})  # `by` of the pause is gone with it


def test_a_resume_of_a_running_system_keeps_the_record_of_the_last_pause(sending_switch):
    sending_switch.set(SendingState(paused=True, since=NOW, source="api"))
    sending_switch.set(SendingState(paused=False, since=LATER, source="api"))

    sending_switch.set(SendingState(paused=False, reason="again", since=LATER, source="api"))

    state = sending_switch.state(fresh=True)
    assert (state.reason, state.previous_pause_since) == ("again", NOW)


def test_a_new_pause_forgets_the_last_one(sending_switch):
    sending_switch.set(SendingState(paused=True, since=NOW, source="api"))
    sending_switch.set(SendingState(paused=False, since=LATER, source="api"))

    assert sending_switch.pause(SendingState(paused=True, since=LATER, source="api"))

    assert sending_switch.state(fresh=True).previous_pause_since is None


def test_a_pause_takes_only_when_sending_runs(sending_switch):
    first = SendingState(paused=True, reason="bounce rate 4.2%", since=NOW,
                         source="reputation_guard")
    second = SendingState(paused=True, reason="again", since=NOW, source="reputation_guard")

    assert sending_switch.pause(first) is True
    assert sending_switch.pause(second) is False
    assert sending_switch.state().reason == "bounce rate 4.2%"  # the first pause stands


def test_after_a_resume_a_pause_takes_again(sending_switch):
    sending_switch.set(SendingState(paused=True, reason="x", since=NOW, source="api"))
    sending_switch.set(SendingState(paused=False, since=NOW, source="api"))

    assert sending_switch.pause(SendingState(paused=True, reason="y", since=NOW,
                                             source="reputation_guard")) is True


def test_the_guards_level_changes_once_per_change(guard_levels):
    assert guard_levels.move("warning", NOW) is True
    assert guard_levels.move("warning", NOW) is False  # a concurrent handler: nothing to do
    assert guard_levels.move("ok", NOW) is True
    assert guard_levels.move("warning", NOW) is True
