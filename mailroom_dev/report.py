"""`mailroom report`: volume, outcomes and rates per day, the commonest failure reasons with
what to do about each, and the domains that fail most — read from `GET /v1/stats`, so an API
URL and key are all it needs. A terminal table, `--json` (the API's body as is), or `--html
FILE` (mailroom_dev.report_html: one self-contained page of charts)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlencode

from rich.console import Console, Group
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from mailroom.errors import RequestValidationError
from mailroom.models import utcnow
from mailroom.shape import ROUTES
from mailroom.stats import TrafficChoice, window_start

from .report_html import OUTCOME_SERIES, percent, render


class StatsApi(Protocol):
    def call(self, method: str, path: str) -> Any: ...


def since_problem(since: str) -> str | None:
    """What is wrong with `since`, checked here first so a typo is a usage error (exit 2);
    the API checks it again against its own clock."""
    try:
        window_start(since, utcnow())
    except RequestValidationError as refused:
        return refused.message
    return None


def read_stats(api: StatsApi, since: str, traffic: TrafficChoice) -> dict[str, Any]:
    query = urlencode({"since": since, "traffic": traffic.value})
    stats: dict[str, Any] = api.call("GET", f"{ROUTES.get_stats.path}?{query}")
    return stats


def write_html(stats: dict[str, Any], path: Path, *, source: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render(stats, source=source), encoding="utf-8")


def print_report(stats: dict[str, Any], console: Console) -> None:
    console.print(Group(*tables(stats)))
    left_out = {name: sent for name, sent in stats["other_traffic_sent"].items() if sent}
    if left_out:
        console.print("Not included: " + ", ".join(f"{sent} sends to the {name}"
                                                   for name, sent in left_out.items())
                      + " (--traffic all).")


def tables(stats: dict[str, Any]) -> list[Table]:
    built = [_days(stats), _rates(stats), _reasons(stats), _domains(stats)]
    for table in built:
        for column in table.columns:  # a narrow terminal wraps a cell, never cuts it
            column.overflow = "fold"
    return built


def _days(stats: dict[str, Any]) -> Table:
    table = Table(title=f"{stats['traffic'].capitalize()} mail per day (UTC) since "
                        f"{stats['since'][:16].replace('T', ' ')}", title_justify="left")
    table.add_column("day")
    for _, label, _ in OUTCOME_SERIES:
        table.add_column(label.lower(), justify="right")
    table.add_column("bounce rate", justify="right")
    table.add_column("complaint rate", justify="right")
    table.add_column("failures by reason")
    for day in stats["days"]:
        reasons = ", ".join(f"{reason} {count}"
                            for reason, count in day["failures_by_reason"].items())
        table.add_row(day["day"], *(f"{day[series]:,}" for series, _, _ in OUTCOME_SERIES),
                      _rate(day["bounce_rate"], stats, "bounce_rate"),
                      _rate(day["complaint_rate"], stats, "complaint_rate"), escape(reasons))
    table.add_section()
    totals = stats["totals"]
    table.add_row("[b]all days[/]", *(f"[b]{totals[s]:,}[/]" for s, _, _ in OUTCOME_SERIES),
                  _rate(stats["rates"]["bounce_rate"], stats, "bounce_rate"),
                  _rate(stats["rates"]["complaint_rate"], stats, "complaint_rate"), "")
    return table


def _rates(stats: dict[str, Any]) -> Table:
    thresholds = stats["thresholds"]
    table = Table("rate", "over the window", "guard warns", "guard pauses", "SES reviews",
                  title="Rates against the thresholds", title_justify="left")
    table.add_row("delivery", percent(stats["rates"]["delivery_rate"]), "", "", "")
    for field in ("bounce_rate", "complaint_rate"):
        table.add_row(field.split("_")[0], _rate(stats["rates"][field], stats, field),
                      *(percent(thresholds[name][field])
                        for name in ("warn", "pause", "ses_review")))
    table.add_row("suppression", percent(stats["rates"]["suppression_rate"]), "", "", "")
    return table


def _reasons(stats: dict[str, Any]) -> Table:
    table = Table("reason", "failures", "what to do", title="Top failure reasons",
                  title_justify="left")
    for reason in stats["reasons"]:
        table.add_row(reason["reason"], f"{reason['count']:,}", escape(reason["action"]))
    if not stats["reasons"]:
        table.add_row("[green]none[/]", "0", "")
    return table


def _domains(stats: dict[str, Any]) -> Table:
    table = Table("domain", "sent", "failures", "bounced", "complained", "failure rate",
                  title="Top recipient domains by failures", title_justify="left")
    for domain in stats["domains"]:
        table.add_row(escape(domain["domain"]), f"{domain['sent']:,}",
                      f"{domain['failures']:,}", f"{domain['bounced']:,}",
                      f"{domain['complained']:,}", percent(domain["failure_rate"]))
    if not stats["domains"]:
        table.add_row("[green]none[/]", "", "0", "", "", "")
    return table


def _rate(rate: float, stats: dict[str, Any], field: str) -> Text:
    thresholds = stats["thresholds"]
    style = ("red" if rate >= thresholds["pause"][field] else
             "yellow" if rate >= thresholds["warn"][field] else "green")
    return Text(percent(rate), style=style)

