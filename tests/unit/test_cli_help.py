"""The CLI as a new user meets it in an 80-column terminal: every command's help names what
each option takes (no `<str>`-style type placeholders), fits the width, and every command a
script may run offers --json."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
import typer

from mailroom_dev import cli

# What typer prints when nothing says what an option takes: `<str>`, `<bool>`, `<list[str]>`.
PLACEHOLDER = re.compile(r"<[a-z][\w\[\], |]*>")
# Commands whose output is not data: `dev` runs the stack in the foreground (its machine-
# readable output is .mailroom/local.json).
NO_JSON = {("dev",)}


def commands(group=None, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], object]]:
    group = group or typer.main.get_command(cli.app)
    for name, command in group.commands.items():
        if getattr(command, "commands", None):
            yield from commands(command, (*path, name))
        else:
            yield (*path, name), command


ALL = sorted(path for path, _ in commands())


def help_text(monkeypatch, capsys, *path: str) -> str:
    monkeypatch.setenv("COLUMNS", "80")
    monkeypatch.setattr("sys.argv", ["mailroom", *path, "--help"])
    with pytest.raises(SystemExit) as exited:
        cli.main()
    assert exited.value.code in (0, None)
    return capsys.readouterr().out


@pytest.mark.parametrize("path", [(), *ALL], ids=lambda path: " ".join(path) or "mailroom")
def test_help_has_no_type_placeholders_and_fits_80_columns(monkeypatch, capsys, path):
    text = help_text(monkeypatch, capsys, *path)

    assert not PLACEHOLDER.findall(text), text
    assert max(len(line) for line in text.splitlines()) <= 80, text


def test_options_say_what_they_take(monkeypatch, capsys):
    text = help_text(monkeypatch, capsys, "send")

    for option, metavar in (("--to", "ADDRESS"), ("--template", "NAME"), ("--data", "JSON"),
                            ("--data-file", "FILE"), ("--timeout", "SECONDS")):
        assert re.search(rf"{option}\s+{metavar}\b", text), (option, text)


def test_a_command_list_shows_each_docstring_as_one_paragraph(monkeypatch, capsys):
    text = help_text(monkeypatch, capsys)

    # `sweep`'s docstring spans two source lines; the listing wraps it at the width only.
    lines = [line.strip("│ ") for line in text.splitlines()]
    sweep = next(index for index, line in enumerate(lines) if line.startswith("sweep "))
    assert lines[sweep].startswith("sweep         Mark mail SES took but reported nothing")
    assert "now rather than at the next" in " ".join(lines[sweep:sweep + 3])


@pytest.mark.parametrize("path", [p for p in ALL if p not in NO_JSON], ids=" ".join)
def test_every_command_offers_json(path):
    command = dict(commands())[path]

    assert any("--json" in param.opts for param in command.params), path
