"""The table of SES event kinds (mailroom.ses_events.EVENT_KINDS): one row per kind, each
subscribed kind backed by a sample SES event in events/ses/."""

from __future__ import annotations

import json
from pathlib import Path

from mailroom.ses_events import (
    EVENT_KINDS,
    SUBSCRIBED_KINDS,
    SesEventKind,
    parse_ses_notification,
)

SAMPLES = Path(__file__).resolve().parents[2] / "events" / "ses"


def sample_kinds() -> set[SesEventKind]:
    return {event.kind for path in SAMPLES.glob("*.json")
            for event in parse_ses_notification(json.loads(path.read_text()))}


def test_every_kind_has_a_row() -> None:
    assert set(EVENT_KINDS) == set(SesEventKind)


def test_every_kind_the_configuration_set_subscribes_to_has_a_sample() -> None:
    assert set(SUBSCRIBED_KINDS) <= sample_kinds()


def test_every_kind_that_moves_the_status_tells_the_apps() -> None:
    for kind, row in EVENT_KINDS.items():
        assert (row.status is None) == (row.notification is None), kind


def test_only_kinds_that_move_the_status_explain_a_failure() -> None:
    explaining = {kind for kind, row in EVENT_KINDS.items() if row.explains_failure}

    assert explaining == {SesEventKind.BOUNCE, SesEventKind.COMPLAINT, SesEventKind.REJECT,
                          SesEventKind.RENDERING_FAILURE}
    assert all(EVENT_KINDS[kind].status is not None for kind in explaining)


def test_opens_and_clicks_are_not_subscribed_to() -> None:
    assert SesEventKind.OPEN not in SUBSCRIBED_KINDS
    assert SesEventKind.CLICK not in SUBSCRIBED_KINDS
