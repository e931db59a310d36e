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
imported.four@example.com,unsubscribed,,left the digest,news
imported.five@example.com,,,,Not A Category
"""


def test_an_import_reports_each_row_and_a_second_import_adds_nothing(local_stack, tmp_path):
    source = tmp_path / "suppressions.csv"
    source.write_text(CSV, encoding="utf-8")

    first = mailroom_cli(local_stack, "suppressions", "import", str(source), "--json",
                         check=False)

    summary = json.loads(first.stdout)
    assert first.returncode == 1  # some rows were invalid
    assert (summary["added"], summary["exists"]) == (5, 0)
    assert [row["line"] for row in summary["invalid"]] == [4, 8]
    assert "category" in summary["invalid"][1]["error"]
    again = json.loads(mailroom_cli(local_stack, "suppressions", "import", str(source),
                                    "--json", check=False).stdout)
    assert (again["added"], again["exists"]) == (0, 5)

    exported = tmp_path / "export.csv"
    mailroom_cli(local_stack, "suppressions", "export", str(exported))
    rows = {row["email"]: row for row in csv.DictReader(io.StringIO(exported.read_text()))}
    assert rows["imported.one@example.com"]["note"] == "from the old ESP"
    assert rows["imported.two@example.com"]["expires_at"].startswith("2099-01-01")
    assert rows["imported.three@example.com"]["reason"] == "hard_bounce"  # carried over
    assert rows["imported.four@example.com"]["category"] in ("digest", "news")
    digest = tmp_path / "digest.csv"
    mailroom_cli(local_stack, "suppressions", "export", str(digest), "--category", "digest")
    assert [(row["email"], row["category"]) for row in csv.DictReader(
        io.StringIO(digest.read_text()))] == [("imported.four@example.com", "digest")]
    # An export imports as it is, somewhere else or here again: nothing new.
    back = json.loads(mailroom_cli(local_stack, "suppressions", "import", str(exported),
                                   "--json", check=False).stdout)
    assert back["added"] == 0, back
    # The stack is shared: other tests' entries are in the export too. This test's rows at
    # least all import back.
    assert [row for row in back["invalid"] if row["email"].startswith("imported.")] == [], back
    shown = json.loads(mailroom_cli(local_stack, "suppressions", "get",
                                    "imported.four@example.com", "--json").stdout)
    assert shown["reason"] is None  # no entry for all mail
    assert sorted((c["category"], c["reason"]) for c in shown["categories"]) == [
        ("digest", "manual"), ("news", "unsubscribed")]


def test_ses_s_account_list_comes_in_and_a_removal_clears_it_there_too(local_stack):
    from .conftest import Api

    api = Api(local_stack)
    message_id = api.send("bounce+sync@simulator.amazonses.com")[1]["id"]
    api.follow(message_id, until={"bounced"})  # SES puts a hard bounce on its account list

    synced = json.loads(mailroom_cli(local_stack, "suppressions", "import-ses",
                                     "--json").stdout)

    assert synced["on_ses_list"] >= 2  # the bounce, and the simulator's suppressionlist@
    listed = api.call("GET", "/v1/suppressions/suppressionlist%40simulator.amazonses.com")[1]
    assert (listed["reason"], listed["source"]) == ("hard_bounce", "ses-account")

    removed = mailroom_cli(local_stack, "suppressions", "remove",
                           "bounce+sync@simulator.amazonses.com")
    assert removed.returncode == 0
    again = json.loads(mailroom_cli(local_stack, "suppressions", "import-ses",
                                    "--json").stdout)
    assert again["on_ses_list"] == synced["on_ses_list"] - 1  # gone from SES's list too
    assert api.call("GET", "/v1/suppressions/bounce%2Bsync%40simulator.amazonses.com")[0] == 404
