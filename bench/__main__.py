"""`python -m bench` (`make bench`): measure everything, print one table, write
bench/results.json."""

from __future__ import annotations

import json
import os
import re
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results.json"
README = HERE.parent / "README.md"
FIELDS = ("name", "value", "unit", "baseline", "target")


def meets(value: Any, target: str | None) -> str:
    """✓ / ✗ against a target written as "<= 1.5", ">= 7" or "0"; "-" without one."""
    if target is None:
        return "-"
    match = re.match(r"\s*(<=|>=)?\s*(-?[\d.]+)", target)
    if match is None:
        return "?"
    operator, bound = match.group(1) or "==", float(match.group(2))
    ok = {"<=": value <= bound, ">=": value >= bound, "==": value == bound}[operator]
    return "✓" if ok else "✗"


def table(results: list[dict[str, Any]]) -> str:
    rows = [("figure", "value", "baseline (same run)", "target", "")]
    rows += [(r["name"], f"{r['value']} {r['unit']}", str(r["baseline"]),
              r["target"] or "—", meets(r["value"], r["target"])) for r in results]
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ["| " + " | ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)) + " |"
             for row in rows]
    lines.insert(1, "|" + "|".join("-" * (width + 2) for width in widths) + "|")
    return "\n".join(lines)


def prices_table() -> str:
    from . import prices

    return "\n".join(["| service | price |", "|---|---|",
                      *(f"| {service} | {price} |" for service, price in prices.TABLE)])


def update_readme(results: list[dict[str, Any]], load: float) -> None:
    """The README shows the latest table (and the price table, kept once in prices.py)."""
    text = README.read_text(encoding="utf-8")
    text = re.sub(r"^The latest run \([^)]*\):$",
                  f"The latest run ({time.strftime('%Y-%m-%d')}, a {os.cpu_count()}-core machine, "
                  f"load average {load:.1f} when it began):",
                  text, count=1, flags=re.M)
    for name, body in (("bench table", table(results)), ("bench prices", prices_table())):
        start, end = f"<!-- {name} -->\n", f"\n<!-- /{name} -->"
        before, _, rest = text.partition(start)
        _, _, after = rest.partition(end)
        text = before + start + body + end + after
    README.write_text(text, encoding="utf-8")


def main() -> int:
    import warnings

    from . import coldstart, paths, sending

    # An invocation that counted nothing flushes no metrics; Powertools warns each time.
    warnings.filterwarnings("ignore", message="No application metrics to publish")

    started, load = time.monotonic(), os.getloadavg()[0]
    results: list[dict[str, Any]] = []
    details: dict[str, Any] = {}
    steps: list[tuple[str, Callable[[], Any]]] = [
        ("cold start and memory", coldstart.measure),
        ("AWS requests, DynamoDB units and cost per email", paths.measure),
        ("sender concurrency", lambda: [sending.measure_speedup()]),
        ("SES quota at R = 20/s", sending.measure_quota),
        ("events throughput", lambda: [sending.measure_events()]),
    ]
    for title, step in steps:
        print(f"… {title}", file=sys.stderr, flush=True)
        measured = step()
        if isinstance(measured, tuple):
            measured, extra = measured
            details.update(extra)
        results.extend(measured)
    for result in results:
        if "detail" in result:
            details[result["name"]] = result.pop("detail")
    RESULTS.write_text(json.dumps([{key: r[key] for key in FIELDS} for r in results],
                                  indent=2) + "\n")
    (HERE / "details.json").write_text(json.dumps(details, indent=2, default=str) + "\n")
    update_readme(results, load)
    print(table(results))
    print(f"\n{RESULTS.relative_to(HERE.parent)} written; what each figure is made of in "
          f"bench/details.json; README.md's table updated ({time.monotonic() - started:.0f} s).")
    return 0


if __name__ == "__main__":
    sys.exit(main())
