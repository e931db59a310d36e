"""Bulk suppression on the local stack, as an operator moving from another ESP does it: a CSV
with good and bad rows, the same file again, and an export that reads back what is there."""

from __future__ import annotations

import csv
import io
import json

import pytest

from .conftest import mailroom_cli

pytestmark = pytest.mark.e2e

CSV = """email,reason,expires_at,note,category
imported.one@example.com,,,from the old ESP,
Imported.Two@Example.com,manual,2099-01-01T00:00:00Z,,
not an address,,,,
imported.three@example.com,hard_bounce,,,
imported.four@example.com,,,,digest
"""


def test_an_import_reports_each_row_and_a_second_import_adds_nothing(local_stack, tmp_path):
    source = tmp_path / "suppressions.csv"
    source.write_text(CSV, encoding="utf-8")

    first = mailroom_cli(local_stack, "suppressions", "import", str(source), "--json",
                         check=False)

    summary = json.loads(first.stdout)
    assert first.returncode == 1  # some rows were invalid
    assert (summary["added"], summary["exists"]) == (2, 0)
    assert [row["line"] for row in summary["invalid"]] == [4, 5, 6]
    assert "categories" in summary["invalid"][2]["error"]
    again = json.loads(mailroom_cli(local_stack, "suppressions", "import", str(source),
                                    "--json", check=False).stdout)
    assert (again["added"], again["exists"]) == (0, 2)

    exported = tmp_path / "export.csv"
    mailroom_cli(local_stack, "suppressions", "export", str(exported))
    rows = {row["email"]: row for row in csv.DictReader(io.StringIO(exported.read_text()))}
    assert rows["imported.one@example.com"]["note"] == "from the old ESP"
    assert rows["imported.two@example.com"]["expires_at"].startswith("2099-01-01")
    assert "imported.three@example.com" not in rows

