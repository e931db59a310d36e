"""Pause and resume (DESIGN §1). The sending switch is the record of truth: the API answers
503 while it says paused, and the sender checks it before every send. Two gates follow it so a
pause stops mail at once and costs nothing while it lasts: the sender's queue consumer (mail
waits in the queue without being received) and the configuration set's sending (SES refuses
what is already in flight, and the sender puts it back to wait).

A gate that cannot follow (a change under way, an AWS error) never undoes or fails the switch:
the failure is reported, the sender's own check still holds mail back, and `reconcile` — run
on a schedule — brings every gate back in line with the switch."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from .models import SendingState
from .ports import SendingGate, SendingSwitch


def _ignore(gate: SendingGate, error: Exception) -> None:
    return None


@dataclass(frozen=True)
class GatedSwitch:
    """A `SendingSwitch` whose pauses and resumes also close and open the gates."""

    switch: SendingSwitch
    gates: Sequence[SendingGate] = ()
    # Told of each gate that could not follow: the caller logs it.
    on_gate_failure: Callable[[SendingGate, Exception], None] = _ignore

    def state(self, *, fresh: bool = False) -> SendingState:
        return self.switch.state(fresh=fresh)

    def pause(self, state: SendingState) -> bool:
        """Pause unless paused already (the first pause's reason stands). The gates close
        either way, so a repeated pause also closes one left open."""
        paused = self.switch.pause(state)
        self._follow(is_open=False)
        return paused

    def set(self, state: SendingState) -> None:
        """Set the switch first, then the gates: on a resume the sender then finds sending
        enabled by the time its consumer hands it mail again."""
        self.switch.set(state)
        self._follow(is_open=not state.paused)

    def reconcile(self) -> list[str]:
        """Open or close every gate that disagrees with the switch (something re-enabled the
        consumer, a gate failed to follow); the names of the gates moved."""
        wanted = not self.switch.state(fresh=True).paused
        moved = []
        for gate in self.gates:
            try:
                if gate.is_open() is (not wanted):
                    gate.set_open(wanted)
                    moved.append(gate.name)
            except Exception as error:
                self.on_gate_failure(gate, error)
        return moved

    def _follow(self, *, is_open: bool) -> None:
        for gate in self.gates:
            try:
                gate.set_open(is_open)
            except Exception as error:
                self.on_gate_failure(gate, error)


def gated_switch(switch: SendingSwitch, settings: Any, logger: Any) -> GatedSwitch:
    """The switch of a function that pauses, with the deployed gates: the sender's consumer
    and the configuration set, from its settings. A gate that cannot follow is logged as an
    error: mail is held back all the same, and the scheduled check tries again."""
    from .adapters.gates import ConfigurationSetGate, ConsumerGate

    def gate_failed(gate: SendingGate, error: Exception) -> None:
        logger.error(f"{gate.name} did not follow the sending switch ({error}); the "
                     "scheduled check tries again", gate=gate.name, error=str(error))

    return GatedSwitch(
        switch,
        gates=(ConsumerGate(settings.sender_event_source_id,
                            settle_seconds=settings.consumer_settle_seconds),
               ConfigurationSetGate(settings.configuration_set)),
        on_gate_failure=gate_failed)
