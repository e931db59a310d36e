"""The HTML report (`mailroom report --html FILE`): one self-contained page drawn from the
body of `GET /v1/stats` — inline CSS and SVG built here, no script, no font or image from
anywhere, so it opens offline and can be mailed or archived as it is.

Every plotted mark carries its figure in data attributes (`data-chart`, `data-series`,
`data-day` or `data-key`, `data-value`), and its size is that figure times one scale per
chart, starting from zero: what the browser test checks against the counters."""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from html import escape
from typing import Any

# The day chart's series: each a field of a day in GET /v1/stats, in the order drawn.
OUTCOME_SERIES = (
    ("sent", "Sent", "#3b82f6"),
    ("delivered", "Delivered", "#10b981"),
    ("bounced", "Bounced", "#ef4444"),
    ("complained", "Complained", "#a855f7"),
    ("suppressed", "Suppressed", "#f59e0b"),
    ("failed", "Failed", "#475569"),
)
# The threshold lines of the rate charts, from the body's `thresholds`.
THRESHOLD_LINES = (
    ("warn", "guard warns", "#f59e0b"),
    ("pause", "guard pauses", "#ef4444"),
    ("ses_review", "SES reviews", "#111827"),
)
RATE_CHARTS = (
    ("bounce-rate", "bounce_rate", "Bounce rate per day",
     "Hard bounces ÷ sends, as SES counts them"),
    ("complaint-rate", "complaint_rate", "Complaint rate per day", "Complaints ÷ sends"),
)
FONT = ("system-ui, -apple-system, 'Segoe UI', Roboto, 'Helvetica Neue', Arial, "
        "sans-serif")


def render(stats: dict[str, Any], *, source: str) -> str:
    """The page for one GET /v1/stats body; `source`: which Mailroom it was read from."""
    days = stats["days"]
    first, last = days[0]["day"] if days else "", days[-1]["day"] if days else ""
    traffic = {"real": "Real mail", "simulator": "SES mailbox simulator mail",
               "canary": "The canary's mail", "all": "All mail"}[stats["traffic"]]
    sections = [
        _tiles(stats),
        _card("volume", "Volume and outcomes per day",
              "Each day's sends and what became of them (UTC days)",
              _day_chart(days), legend=_legend(OUTCOME_SERIES), wide=True),
        *[_card(chart, title, subtitle, _rate_chart(chart, field, days, stats["thresholds"]),
                legend=_legend(THRESHOLD_LINES, lines=True))
          for chart, field, title, subtitle in RATE_CHARTS],
        _card("reasons", "Failure reasons", "Commonest first, with what to do about each",
              _bar_list("reasons", [(r["reason"], r["reason"].replace("_", " "), r["count"],
                                     f"{r['count']:,}") for r in stats["reasons"]],
                        "#ef4444")
              + _actions(stats["reasons"])),
        _card("domains", "Recipient domains by failures",
              "Where mail fails most: often a typo'd domain or one that blocks you",
              _bar_list("domains", [(d["domain"], d["domain"], d["failures"],
                                     f"{d['failures']:,} of {d['sent']:,} sent "
                                     f"({d['failure_rate']:.1%})")
                                    for d in stats["domains"]], "#a855f7")),
    ]
    other = {name: sent for name, sent in stats.get("other_traffic_sent", {}).items() if sent}
    note = ("Not included: " + ", ".join(f"{sent} sends to the {name}"
                                         for name, sent in other.items())
            + " (mailroom report --traffic all)." if other else "")
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Mailroom report: {escape(_span(first, last))}</title>
<style>{_CSS}</style>
</head>
<body>
<main>
<header>
  <h1>Mailroom report</h1>
  <p class="subtitle">{escape(traffic)} · {escape(_span(first, last))} (UTC) · read
  {escape(_moment(stats["until"]))} from {escape(source)}</p>
</header>
{"".join(sections)}
<footer>
  <p>Rates are fractions of sends. The reputation guard warns from
  {stats["thresholds"]["warn"]["min_sends"]} and pauses from
  {stats["thresholds"]["pause"]["min_sends"]} sends in its window; SES reviews an account
  from {percent(stats["thresholds"]["ses_review"]["bounce_rate"])} bounces or
  {percent(stats["thresholds"]["ses_review"]["complaint_rate"])} complaints.
  {escape(note)}</p>
</footer>
</main>
</body>
</html>
"""


# --- pieces --------------------------------------------------------------------------------
def _tiles(stats: dict[str, Any]) -> str:
    totals, rates, thresholds = stats["totals"], stats["rates"], stats["thresholds"]
    tiles = [
        ("sent", "Sent", f"{totals['sent']:,}", "", ""),
        ("delivered", "Delivered", f"{totals['delivered']:,}",
         f"{percent(rates['delivery_rate'])} of sends", ""),
        ("bounce-rate", "Bounce rate", percent(rates["bounce_rate"]),
         f"pause at {percent(thresholds['pause']['bounce_rate'])}",
         _level(rates["bounce_rate"], thresholds, "bounce_rate")),
        ("complaint-rate", "Complaint rate", percent(rates["complaint_rate"]),
         f"pause at {percent(thresholds['pause']['complaint_rate'])}",
         _level(rates["complaint_rate"], thresholds, "complaint_rate")),
        ("suppressed", "Suppressed", f"{totals['suppressed']:,}",
         f"{percent(rates['suppression_rate'])} of sends", ""),
        ("failed", "Failed", f"{totals['failed']:,}", "rejected or not rendered", ""),
    ]
    return '<section class="tiles">' + "".join(
        f'<div class="tile {level}" data-tile="{name}"><span class="label">{label}</span>'
        f'<span class="value">{escape(value)}</span><span class="hint">{escape(hint)}</span>'
        "</div>" for name, label, value, hint, level in tiles) + "</section>"


def _level(rate: float, thresholds: dict[str, Any], field: str) -> str:
    if rate >= thresholds["pause"][field]:
        return "bad"
    return "warn" if rate >= thresholds["warn"][field] else "good"


def _card(chart: str, title: str, subtitle: str, body: str, *, legend: str = "",
          wide: bool = False) -> str:
    return (f'<section class="card{" wide" if wide else ""}" data-chart-card="{chart}">'
            f'<h2 id="{chart}-title">{escape(title)}</h2>'
            f'<p class="subtitle">{escape(subtitle)}</p>{legend}{body}</section>')


def _legend(entries: Sequence[tuple[str, str, str]], *, lines: bool = False) -> str:
    swatch = "line" if lines else "swatch"
    return '<ul class="legend">' + "".join(
        f'<li><span class="{swatch}" style="--color:{color}"></span>{escape(label)}</li>'
        for _, label, color in entries) + "</ul>"


def _actions(reasons: list[dict[str, Any]]) -> str:
    if not reasons:
        return ""
    return '<dl class="actions">' + "".join(
        f'<dt>{escape(r["reason"].replace("_", " ").capitalize())}</dt>'
        f'<dd>{escape(r["action"])}</dd>' for r in reasons) + "</dl>"


# --- charts --------------------------------------------------------------------------------
@dataclass(frozen=True)
class Frame:
    """A vertical chart's plot area, in SVG units: values from 0 at `bottom` up to `top`."""

    width: float
    height: float
    left: float = 56
    right: float = 16
    top: float = 16
    bottom_margin: float = 34

    @property
    def bottom(self) -> float:
        return self.height - self.bottom_margin

    @property
    def plot_width(self) -> float:
        return self.width - self.left - self.right

    @property
    def plot_height(self) -> float:
        return self.bottom - self.top


def _day_chart(days: list[dict[str, Any]]) -> str:
    frame = Frame(width=1100, height=320)
    # At least 5, so a quiet window's axis still counts in whole mails.
    ceiling = nice_ceiling(max([day[s] for day in days for s, _, _ in OUTCOME_SERIES] + [5]))
    scale = frame.plot_height / ceiling
    slot = frame.plot_width / max(len(days), 1)
    bar = min(slot * 0.8 / len(OUTCOME_SERIES), 22)
    marks = []
    for index, day in enumerate(days):
        group_left = frame.left + index * slot + (slot - bar * len(OUTCOME_SERIES)) / 2
        for n, (series, label, color) in enumerate(OUTCOME_SERIES):
            value = day[series]
            height = value * scale
            marks.append(
                f'<rect class="bar" data-chart="volume" data-series="{series}" '
                f'data-day="{day["day"]}" data-value="{value}" x="{group_left + n * bar:.3f}" '
                f'y="{frame.bottom - height:.3f}" width="{bar * 0.9:.3f}" '
                f'height="{height:.3f}" fill="{color}" rx="2">'
                f"<title>{_day_label(day['day'])}: {value:,} {label.lower()}</title></rect>")
    labels = _day_labels(days, frame, slot)
    return _svg("volume", frame, _y_axis(frame, ceiling, _count) + "".join(marks) + labels)


def _rate_chart(chart: str, field: str, days: list[dict[str, Any]],
                thresholds: dict[str, Any]) -> str:
    frame = Frame(width=540, height=260, right=96)
    highest = max([day[field] for day in days] + [thresholds["ses_review"][field]])
    ceiling = nice_ceiling(highest * 1.15)
    scale = frame.plot_height / ceiling
    slot = frame.plot_width / max(len(days), 1)
    bar = min(slot * 0.6, 36)
    marks = []
    for index, day in enumerate(days):
        value = day[field]
        height = value * scale
        color = {"good": "#3b82f6", "warn": "#f59e0b", "bad": "#ef4444"}[
            _level(value, thresholds, field)]
        marks.append(
            f'<rect class="bar" data-chart="{chart}" data-series="{field}" '
            f'data-day="{day["day"]}" data-value="{value!r}" '
            f'x="{frame.left + index * slot + (slot - bar) / 2:.3f}" '
            f'y="{frame.bottom - height:.3f}" width="{bar:.3f}" height="{height:.3f}" '
            f'fill="{color}" rx="2"><title>{_day_label(day["day"])}: {percent(value)} '
            f"({day['sent']:,} sends)</title></rect>")
    label_ys = _spread([frame.bottom - thresholds[name][field] * scale + 4
                        for name, _, _ in THRESHOLD_LINES], gap=13)
    for (name, label, color), label_y in zip(THRESHOLD_LINES, label_ys, strict=True):
        value = thresholds[name][field]
        y = frame.bottom - value * scale
        marks.append(
            f'<line class="threshold" data-chart="{chart}" data-threshold="{name}" '
            f'data-value="{value!r}" x1="{frame.left}" x2="{frame.left + frame.plot_width}" '
            f'y1="{y:.3f}" y2="{y:.3f}" stroke="{color}" stroke-width="1.5" '
            f'stroke-dasharray="6 4"><title>{label} at {percent(value)}</title></line>'
            f'<text class="threshold-label" x="{frame.left + frame.plot_width + 6}" '
            f'y="{label_y:.3f}" fill="{color}">{escape(label)} {percent(value)}</text>')
    return _svg(chart, frame, _y_axis(frame, ceiling, percent) + "".join(marks)
                + _day_labels(days, frame, slot))


def _bar_list(chart: str, rows: list[tuple[str, str, int, str]], color: str) -> str:
    """Horizontal bars: a label, a bar as long as the value, the value in words; `data-key`
    is the row's name in GET /v1/stats."""
    if not rows:
        return f'<p class="empty" data-chart="{chart}">No failures in this window.</p>'
    row_height, label_width, width, value_width = 34, 190, 540, 150
    plot = width - label_width - value_width
    scale = plot / max(value for _, _, value, _ in rows)
    height = row_height * len(rows) + 8
    marks = []
    for index, (key, label, value, words) in enumerate(rows):
        y = 4 + index * row_height
        length = value * scale
        marks.append(
            f'<text class="row-label" x="{label_width - 10}" y="{y + 21}" '
            f'text-anchor="end">{escape(_clip(label, 26))}<title>{escape(label)}</title></text>'
            f'<rect class="track" x="{label_width}" y="{y + 6}" width="{plot}" height="22" '
            f'rx="4"></rect>'
            f'<rect class="bar" data-chart="{chart}" data-key="{escape(key)}" '
            f'data-value="{value}" x="{label_width}" y="{y + 6}" width="{length:.3f}" '
            f'height="22" fill="{color}" rx="4"><title>{escape(label)}: {escape(words)}'
            f"</title></rect>"
            f'<text class="row-value" x="{label_width + plot + 10}" y="{y + 21}">'
            f"{escape(words)}</text>")
    return (f'<svg class="chart" data-chart="{chart}" viewBox="0 0 {width} {height}" '
            f'role="img" aria-labelledby="{chart}-title">{"".join(marks)}</svg>')


def _spread(ys: list[float], *, gap: float) -> list[float]:
    """The same heights, moved up just enough that no two are closer than `gap` (labels of
    lines drawn close together stay readable); in the order given."""
    order = sorted(range(len(ys)), key=lambda i: -ys[i])
    placed = list(ys)
    for previous, index in itertools.pairwise(order):
        placed[index] = min(placed[index], placed[previous] - gap)
    return placed


def _svg(chart: str, frame: Frame, body: str) -> str:
    return (f'<svg class="chart" data-chart="{chart}" data-baseline="{frame.bottom}" '
            f'viewBox="0 0 {frame.width} {frame.height}" role="img" '
            f'aria-labelledby="{chart}-title">{body}</svg>')


def _y_axis(frame: Frame, ceiling: float, label: Any) -> str:
    parts = []
    for tick in ticks(ceiling):
        y = frame.bottom - tick / ceiling * frame.plot_height
        parts.append(f'<line class="grid" x1="{frame.left}" x2="{frame.left + frame.plot_width}"'
                     f' y1="{y:.3f}" y2="{y:.3f}"></line>'
                     f'<text class="tick" x="{frame.left - 8}" y="{y + 4:.3f}" '
                     f'text-anchor="end">{escape(label(tick))}</text>')
    return "".join(parts)


def _day_labels(days: list[dict[str, Any]], frame: Frame, slot: float) -> str:
    every = max(1, math.ceil(len(days) / 10))
    return "".join(
        f'<text class="tick" x="{frame.left + index * slot + slot / 2:.3f}" '
        f'y="{frame.bottom + 20}" text-anchor="middle">{_day_label(day["day"])}</text>'
        for index, day in enumerate(days) if index % every == 0)


# --- numbers and words ---------------------------------------------------------------------
def nice_ceiling(value: float) -> float:
    """The smallest 1, 2, 2.5 or 5 times a power of ten at or above `value` (1 for 0)."""
    if value <= 0:
        return 1
    power = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        if value <= step * power * (1 + 1e-9):
            return step * power
    return 10 * power


def ticks(ceiling: float) -> list[float]:
    """0 to `ceiling` in 4 or 5 even steps."""
    steps = 4 if round(ceiling / 10 ** math.floor(math.log10(ceiling)), 6) == 2 else 5
    return [ceiling * n / steps for n in range(steps + 1)]


def _count(value: float) -> str:
    return f"{value:,.0f}" if value == int(value) else f"{value:,g}"


def percent(rate: float) -> str:
    """A rate as a percentage, with the digits small rates need (0.050%)."""
    if rate == 0:
        return "0%"
    digits = 1 if rate >= 0.01 else 2 if rate >= 0.001 else 3
    return f"{rate * 100:.{digits}f}%"


def _day_label(day: str) -> str:
    return date.fromisoformat(day).strftime("%b %d").replace(" 0", " ")


def _span(first: str, last: str) -> str:
    if not first:
        return "no days"
    if first == last:
        return _day_label(first)
    return f"{_day_label(first)} \N{EN DASH} {_day_label(last)}"


def _moment(moment: str) -> str:
    return datetime.fromisoformat(moment).strftime("%Y-%m-%d %H:%M UTC")


def _clip(text: str, length: int) -> str:
    return text if len(text) <= length else text[:length - 1] + "…"


_CSS = f"""
:root {{ color-scheme: light; --ink: #0f172a; --muted: #64748b; --line: #e2e8f0; }}
* {{ box-sizing: border-box; }}
body {{ margin: 0; background: #f1f5f9; color: var(--ink); font: 15px/1.45 {FONT}; }}
main {{ max-width: 1180px; margin: 0 auto; padding: 32px 24px 48px; display: grid;
       grid-template-columns: 1fr 1fr; gap: 20px; }}
header, footer, .tiles, .wide {{ grid-column: 1 / -1; }}
h1 {{ margin: 0; font-size: 28px; letter-spacing: -0.02em; }}
h2 {{ margin: 0; font-size: 17px; }}
.subtitle {{ margin: 4px 0 0; color: var(--muted); font-size: 13px; }}
.tiles {{ display: grid; grid-template-columns: repeat(6, 1fr); gap: 12px; }}
.tile {{ background: #fff; border-radius: 14px; padding: 14px 16px; display: flex;
        flex-direction: column; box-shadow: 0 1px 2px rgb(15 23 42 / 0.06);
        border-top: 4px solid #cbd5e1; }}
.tile.good {{ border-top-color: #10b981; }} .tile.warn {{ border-top-color: #f59e0b; }}
.tile.bad {{ border-top-color: #ef4444; }}
.tile .label {{ color: var(--muted); font-size: 12px; text-transform: uppercase;
               letter-spacing: 0.06em; }}
.tile .value {{ font-size: 26px; font-weight: 650; margin-top: 2px; }}
.tile .hint {{ color: var(--muted); font-size: 12px; }}
.card {{ background: #fff; border-radius: 16px; padding: 20px 22px;
        box-shadow: 0 1px 3px rgb(15 23 42 / 0.08); min-width: 0; }}
.chart {{ display: block; width: 100%; height: auto; margin-top: 12px; overflow: visible; }}
.chart text {{ font: 12px {FONT}; fill: var(--muted); }}
.chart .row-label {{ fill: var(--ink); font-size: 13px; }}
.chart .threshold-label {{ font-size: 11px; }}
.chart .grid {{ stroke: var(--line); stroke-width: 1; }}
.chart .track {{ fill: #f1f5f9; }}
.chart .bar:hover {{ opacity: 0.8; }}
.legend {{ list-style: none; display: flex; flex-wrap: wrap; gap: 6px 16px; margin: 10px 0 0;
          padding: 0; font-size: 12px; color: var(--muted); }}
.legend li {{ display: flex; align-items: center; gap: 6px; }}
.legend .swatch {{ width: 10px; height: 10px; border-radius: 3px; background: var(--color); }}
.legend .line {{ width: 16px; border-top: 2px dashed var(--color); }}
.actions {{ margin: 14px 0 0; font-size: 13px; }}
.actions dt {{ font-weight: 600; margin-top: 8px; }}
.actions dd {{ margin: 2px 0 0; color: var(--muted); }}
.empty {{ color: var(--muted); margin: 18px 0 6px; }}
footer {{ color: var(--muted); font-size: 12px; }}
@media (max-width: 820px) {{ main {{ grid-template-columns: 1fr; }}
  .tiles {{ grid-template-columns: repeat(2, 1fr); }} }}
"""
