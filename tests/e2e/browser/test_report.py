"""`mailroom report --html` in a real browser: on a local stack of its own, a known mix of
mail is sent through the SES mailbox simulator; the page the CLI writes is opened from disk,
and every chart plots exactly the counters `GET /v1/stats` answers — as its data attributes
and as its geometry (each bar's size proportional to its value, the threshold lines on the
same scale) — while the page asks the network for nothing."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import WELCOME, Api, mailroom_cli, running_stack

pytestmark = pytest.mark.e2e
SIMULATOR = "simulator.amazonses.com"
# The mix, and what the counters of simulator mail must then hold.
MIX = {f"success+{n}@{SIMULATOR}": "delivered" for n in range(5)} | {
    f"bounce+{n}@{SIMULATOR}": "bounced" for n in range(2)} | {
    f"complaint@{SIMULATOR}": "complained", f"suppressionlist@{SIMULATOR}": "bounced"}
EXPECTED = {"sent": 9, "delivered": 6, "bounced": 2, "complained": 1, "suppressed": 1,
            "failed": 0}  # the complaint's mail was delivered first
SERIES = tuple(EXPECTED)
DEADLINE = 30


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """A stack of its own, so the counters hold this module's mail and nothing else."""
    yield from running_stack(tmp_path_factory.mktemp("mailroom-report"))


@pytest.fixture(scope="module")
def counted(stack: dict[str, Any]) -> dict[str, Any]:
    """The mix sent and counted: the body of GET /v1/stats once it holds all of it."""
    api = Api(stack)
    status, body = api.call("POST", "/v1/emails/batch", {"emails": [
        {"to": to, "template": "welcome", "data": WELCOME} for to in MIX]})
    assert status == 202, body
    for result, final in zip(body["results"], MIX.values(), strict=True):
        api.follow(result["id"], {final})
    deadline = time.monotonic() + DEADLINE
    while True:
        status, stats = api.call("GET", "/v1/stats?since=7d&traffic=simulator")
        assert status == 200, stats
        if stats["totals"] == EXPECTED or time.monotonic() > deadline:
            return stats
        time.sleep(0.2)


@pytest.fixture(scope="module")
def report_file(stack: dict[str, Any], counted: dict[str, Any],
                tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("report") / "report.html"
    mailroom_cli(stack, "report", "--since", "7d", "--traffic", "simulator", "--html",
                 str(path))
    return path


def marks(page: Any, selector: str) -> list[dict[str, Any]]:
    """Every element `selector` finds: its data attributes and its box on screen."""
    return page.locator(selector).evaluate_all("""elements => elements.map(element => {
        const box = element.getBoundingClientRect();
        return {...element.dataset, top: box.top, bottom: box.bottom, left: box.left,
                width: box.width, height: box.height};
    })""")


def scale_of(bars: list[dict[str, Any]], size: str) -> float:
    """Pixels per unit, the same for every bar of a chart; a bar of 0 has no size."""
    scales = [bar[size] / float(bar["value"]) for bar in bars if float(bar["value"])]
    assert scales, "a chart with nothing to plot"
    for bar in bars:
        assert bar[size] == pytest.approx(float(bar["value"]) * scales[0], abs=0.5), bar
    return scales[0]


def test_the_counters_hold_the_mix_that_was_sent(counted):
    assert counted["totals"] == EXPECTED
    assert counted["traffic"] == "simulator"
    assert [(r["reason"], r["count"]) for r in counted["reasons"]] == [
        ("mailbox_does_not_exist", 2), ("complaint", 1), ("recipient_suppressed", 1)]


def test_the_page_is_self_contained_and_names_its_charts(page, report_file):
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))

    page.goto(report_file.as_uri())

    assert all(url.startswith(("file:", "data:")) for url in requested), requested
    assert page.locator("script").count() == 0
    headings = page.locator("h2").all_inner_texts()
    assert headings == ["Volume and outcomes per day", "Bounce rate per day",
                        "Complaint rate per day", "Failure reasons",
                        "Recipient domains by failures"]
    for chart in ("volume", "bounce-rate", "complaint-rate", "reasons", "domains"):
        assert page.locator(f"svg[data-chart={chart}]").is_visible()


def test_each_day_s_bars_are_the_counters_outcomes_on_one_scale(page, report_file, counted):
    page.goto(report_file.as_uri())

    bars = marks(page, "rect[data-chart=volume]")

    plotted = {(bar["day"], bar["series"]): int(bar["value"]) for bar in bars}
    assert plotted == {(day["day"], series): day[series]
                       for day in counted["days"] for series in SERIES}
    assert sum(int(bar["value"]) for bar in bars if bar["series"] == "sent") == \
        EXPECTED["sent"]
    scale_of(bars, "height")
    assert len({round(bar["bottom"], 1) for bar in bars}) == 1  # one baseline


@pytest.mark.parametrize(("chart", "field"), [("bounce-rate", "bounce_rate"),
                                              ("complaint-rate", "complaint_rate")])
def test_rates_are_plotted_against_the_thresholds_on_the_same_scale(page, report_file, counted,
                                                                    chart, field):
    page.goto(report_file.as_uri())

    bars = marks(page, f"rect[data-chart={chart}]")
    lines = marks(page, f"line[data-chart={chart}]")

    assert {bar["day"]: float(bar["value"]) for bar in bars} == {
        day["day"]: day[field] for day in counted["days"]}
    assert {line["threshold"]: float(line["value"]) for line in lines} == {
        name: counted["thresholds"][name][field] for name in ("warn", "pause", "ses_review")}
    scale = scale_of(bars, "height")
    baseline = bars[0]["bottom"]
    for line in lines:
        height_above_baseline = baseline - (line["top"] + line["height"] / 2)
        assert height_above_baseline == pytest.approx(float(line["value"]) * scale, abs=0.5)


@pytest.mark.parametrize(("chart", "listed", "key", "value"), [
    ("reasons", "reasons", "reason", "count"), ("domains", "domains", "domain", "failures")])
def test_failure_reasons_and_domains_are_bars_as_long_as_their_counts(
        page, report_file, counted, chart, listed, key, value):
    page.goto(report_file.as_uri())

    bars = marks(page, f"rect[data-chart={chart}]")

    assert [(bar["key"], int(bar["value"])) for bar in bars] == [
        (entry[key], entry[value]) for entry in counted[listed]]
    scale_of(bars, "width")
    assert len({round(bar["left"], 1) for bar in bars}) == 1


def test_the_headline_tiles_and_the_actions_say_the_same(page, report_file, counted):
    page.goto(report_file.as_uri())

    assert page.locator("[data-tile=sent] .value").inner_text() == str(EXPECTED["sent"])
    assert page.locator("[data-tile=suppressed] .value").inner_text() == "1"
    actions = page.locator(".actions dd").all_inner_texts()
    assert actions == [reason["action"] for reason in counted["reasons"]]
