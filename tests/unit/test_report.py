"""`mailroom report` against a fake API: the window checked before asking, the tables, `--json`
as the API said it, and `--html` one self-contained page whose marks carry the figures."""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from mailroom.counting import CountedEvent, Outcome, Traffic, hour_of
from mailroom.models import utcnow
from mailroom.reputation import ReputationPolicy, Thresholds
from mailroom.stats import stats
from mailroom_dev import report_html
from tests.fakes import FakeCounters
from tests.unit.test_cli import FakeApi, cli, isolated, run  # noqa: F401 (fixture)

POLICY = ReputationPolicy(window=timedelta(hours=24), warn=Thresholds(0.02, 0.0005, 100),
                          pause=Thresholds(0.04, 0.0008, 500))
STATS_PATH = "/v1/stats?since=7d&traffic=real"


def body(now: datetime | None = None, **counts: int) -> dict[str, Any]:
    """A GET /v1/stats body, as the API computes it, for counts of real mail this hour."""
    counters = FakeCounters()
    now = now or utcnow()
    for name, times in counts.items():
        outcome = Outcome(name)
        reason = {"hard_bounce": "mailbox_does_not_exist", "complaint": "complaint"}.get(name)
        for _ in range(times):
            counters.add(CountedEvent(hour_of(now), Traffic.REAL, outcome, reason,
                                      "gmial.com" if reason else "example.com"))
    return stats(counters, POLICY, "7d", now).model_dump(mode="json")


@pytest.fixture
def api(monkeypatch: pytest.MonkeyPatch) -> FakeApi:
    fake = FakeApi()
    fake.target = SimpleNamespace(described_as="the test API")  # type: ignore[attr-defined]
    monkeypatch.setattr(cli.Settings, "api", lambda self: fake)
    return fake


def test_the_report_shows_days_rates_reasons_and_domains(api):
    api.answer("GET", STATS_PATH, body(send=40, delivery=37, hard_bounce=2, complaint=1))

    result = run("report")

    assert result.exit_code == 0, result.output
    assert "40" in result.output and "37" in result.output
    assert "5.0%" in result.output  # 2 of 40 bounced: over the guard's 4% pause
    assert "mailbox_does_not_exist" in result.output
    assert "Check the address with the user" in result.output
    assert "gmial.com" in result.output


def test_a_bad_window_is_a_usage_error_before_any_request(api):
    result = run("report", "--since", "99d")

    assert result.exit_code == 2
    assert "at most 31d" in result.output
    assert api.calls == []


def test_json_prints_the_api_s_body_as_is(api):
    answered = body(send=3, delivery=3)
    api.answer("GET", "/v1/stats?since=24h&traffic=all", answered)

    result = run("report", "--since", "24h", "--traffic", "all", "--json")

    assert json.loads(result.output) == answered


def test_html_writes_one_page_whose_bars_carry_the_figures(api, tmp_path: Path):
    answered = body(send=40, delivery=37, hard_bounce=2, complaint=1)
    api.answer("GET", STATS_PATH, answered)
    page = tmp_path / "out" / "report.html"

    result = run("report", "--html", str(page))

    assert result.exit_code == 0, result.output
    html = page.read_text()
    assert "<script" not in html and "http" not in html.replace("http-equiv", "")
    today = answered["days"][-1]["day"]
    sent = re.search(rf'data-series="sent" data-day="{today}" data-value="(\d+)"', html)
    assert sent and int(sent[1]) == 40
    assert 'data-chart="reasons" data-key="mailbox_does_not_exist" data-value="2"' in html


def test_a_quiet_window_still_renders_every_chart():
    html = report_html.render(body(), source="the test API")

    for chart in ("volume", "bounce-rate", "complaint-rate"):
        assert f'<svg class="chart" data-chart="{chart}"' in html
    assert html.count("No failures in this window.") == 2


@pytest.mark.parametrize(("value", "ceiling"), [(0, 1), (1, 1), (7, 10), (12, 20),
                                                (0.0575, 0.1), (0.0023, 0.0025)])
def test_axes_end_at_a_round_number_at_or_above_the_highest_value(value, ceiling):
    assert report_html.nice_ceiling(value) == pytest.approx(ceiling)


def test_threshold_labels_close_together_are_moved_apart():
    assert report_html._spread([100.0, 99.0, 50.0], gap=13) == [100.0, 87.0, 50.0]

