"""`mailroom`: the operator CLI. Sends mail, follows a message's timeline, manages the
suppression list and lists templates, against the local stack or a deployed one.

Which Mailroom it talks to, first match wins:
  --stack NAME (or MAILROOM_STACK)        a deployed stack: CloudFormation outputs + API key
  MAILROOM_API_URL + MAILROOM_API_KEY     any deployment
  .mailroom/local.json                    the local stack (`make dev`), found from the
                                          current directory upwards or MAILROOM_STATE_DIR
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote, urlencode

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from typer.core import TyperGroup

from mailroom import shape
from mailroom.models import Status
from mailroom.stats import TrafficChoice
from mailroom_dev import templates_cli


class TidyHelp(TyperGroup):
    """The root command: before any help is shown, every option gets a metavar that says
    what it takes (`--to ADDRESS`, not `--to <str>`), arguments lose the type placeholder,
    and docstrings read as paragraphs. Done once here, so every command gets it."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        tidy_help(self)


app = typer.Typer(
    cls=TidyHelp,
    help="Mailroom: transactional email on Amazon SES. Operate a local or deployed stack: "
         "--stack NAME, or MAILROOM_API_URL + MAILROOM_API_KEY, or else the local stack "
         "(`make dev`, found through .mailroom/local.json).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
suppressions_app = typer.Typer(help="Addresses Mailroom will not send to.", no_args_is_help=True)
app.add_typer(suppressions_app, name="suppressions")
sending_app = typer.Typer(help="Pause or resume all sending.", no_args_is_help=True)
app.add_typer(sending_app, name="sending")
canary_app = typer.Typer(help="The self-check of the whole path.", no_args_is_help=True)
app.add_typer(canary_app, name="canary")
app.add_typer(templates_cli.app, name="templates")
dlq_app = typer.Typer(help="Dead letters: what failed and why, and moving it back. Needs AWS "
                           "access (--stack) or the local stack.", no_args_is_help=True)
app.add_typer(dlq_app, name="dlq")

console = Console()
errors = Console(stderr=True)

FINAL_STATUSES = {status.value for status in Status if status.is_final}
# A complaint comes only after a delivery: complained mail was delivered.
DELIVERED_STATUSES = {Status.DELIVERED.value, Status.COMPLAINED.value}
FAILED_STATUSES = FINAL_STATUSES - DELIVERED_STATUSES
STATUS_STYLE = {
    "queued": "yellow", "sent": "cyan", "unconfirmed": "yellow", "delayed": "yellow",
    "delivered": "green", "bounced": "red", "rejected": "red", "render_failed": "red",
    "suppressed": "red", "failed": "red", "complained": "magenta",
}
NO_TARGET = (
    "No local stack found: run `make dev` first (in another terminal). For a deployed stack "
    "pass --stack NAME, or set MAILROOM_API_URL and MAILROOM_API_KEY."
)


class CliError(Exception):
    """A problem the user can fix, said in plain words; no traceback."""

    code = "cli_error"

    def __init__(self, message: str, code: str | None = None) -> None:
        super().__init__(message)
        if code is not None:
            self.code = code  # the API's own, for a check the CLI makes as the API would

    def as_json(self) -> dict[str, Any]:
        """What `--json` prints on stdout for it: the API's error shape."""
        return {"error": {"code": self.code, "message": str(self)}}


class UsageError(CliError):
    """The command was given something it cannot take (DESIGN §3: exit code 2)."""

    exit_code = 2
    code = "usage_error"


# --- help that reads well in 80 columns ------------------------------------------------------

# What an option of each type takes, when its declaration does not say.
METAVARS = {"str": "TEXT", "int": "N", "float": "NUMBER", "path": "PATH", "filename": "FILE",
            "datetime": "DATE"}


def tidy_help(command: Any) -> None:
    """Give `command` and everything under it metavars and paragraph-shaped help."""
    import copy
    import inspect

    if command.help:
        paragraphs = inspect.cleandoc(command.help).split("\n\n")
        command.help = "\n\n".join(" ".join(paragraph.split()) for paragraph in paragraphs)
    for param in command.params:
        choices = getattr(param.type, "choices", None)
        if param.param_type_name == "option":
            if not param.is_flag and param.metavar is None:
                param.metavar = ("|".join(str(c) for c in choices) if choices
                                 else METAVARS.get(param.type.name, param.type.name.upper()))
        elif param.param_type_name == "argument":
            if param.metavar is None:
                param.metavar = (param.name or "").upper()
            # The help's type column: the choices when there are some, else nothing.
            quiet = copy.copy(param.type)
            shown = "|".join(str(c) for c in choices) if choices else ""
            quiet.get_metavar = lambda param, ctx, shown=shown: shown
            param.type = quiet
    for sub in getattr(command, "commands", {}).values():
        tidy_help(sub)


# --- where the API is ----------------------------------------------------------------------


@dataclass
class Target:
    api_url: str
    api_key: str
    described_as: str
    local: dict[str, Any] = field(default_factory=dict)  # local.json, for the local stack


def find_local_state(start: Path | None = None) -> Path | None:
    if state_dir := os.environ.get("MAILROOM_STATE_DIR"):
        candidate = Path(state_dir) / "local.json"
        return candidate if candidate.exists() else None
    directory = (start or Path.cwd()).resolve()
    for folder in (directory, *directory.parents):
        candidate = folder / ".mailroom" / "local.json"
        if candidate.exists():
            return candidate
    return None


def resolve_target(stack: str | None, region: str | None) -> Target:
    if stack:
        return target_from_stack(stack, region)
    url, key = os.environ.get("MAILROOM_API_URL"), os.environ.get("MAILROOM_API_KEY")
    if url and key:
        return Target(url.rstrip("/"), key, f"{url} (MAILROOM_API_URL)")
    if url or key:
        missing = "MAILROOM_API_KEY" if url else "MAILROOM_API_URL"
        raise CliError(f"MAILROOM_API_URL and MAILROOM_API_KEY go together: set {missing} too.")
    state_file = find_local_state()
    if state_file is None:
        raise CliError(NO_TARGET)
    local = json.loads(state_file.read_text(encoding="utf-8"))
    return Target(local["api_url"], local["api_key"], f"the local stack ({state_file})", local)


def target_from_stack(stack: str, region: str | None) -> Target:
    """The API URL and key of a deployed stack, from its CloudFormation outputs."""
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

    try:
        cloudformation = boto3.client("cloudformation", region_name=region)
        described = cloudformation.describe_stacks(StackName=stack)["Stacks"][0]
        outputs = {o["OutputKey"]: o["OutputValue"] for o in described.get("Outputs", [])}
        if "ApiUrl" not in outputs or "ApiKeyId" not in outputs:
            raise CliError(f"Stack {stack} has no ApiUrl/ApiKeyId outputs: is it a Mailroom "
                           "stack, and has `cdk deploy` finished?")
        apigateway = boto3.client("apigateway", region_name=region)
        key = apigateway.get_api_key(apiKey=outputs["ApiKeyId"], includeValue=True)["value"]
    except NoCredentialsError:
        raise CliError("No AWS credentials found: configure a profile (aws configure / "
                       "AWS_PROFILE) to reach a deployed stack.") from None
    except ClientError as error:
        message = error.response.get("Error", {}).get("Message", str(error))
        raise CliError(f"Cannot read stack {stack}: {message}") from None
    except BotoCoreError as error:
        raise CliError(f"Cannot reach AWS: {error}") from None
    url = outputs["ApiUrl"].rstrip("/")
    return Target(url, key, f"stack {stack} ({url})", {"outputs": outputs})


# --- talking to it -------------------------------------------------------------------------


class ApiError(CliError):
    def __init__(self, status: int, payload: Any) -> None:
        error = payload.get("error") if isinstance(payload, dict) else None
        self.payload = payload
        if isinstance(error, dict):
            self.code = str(error.get("code"))
            self.details = error.get("details")
            message = f"{error.get('message')} ({self.code}, HTTP {status})"
            if error.get("details"):
                message += f"\n  details: {json.dumps(error['details'])}"
        else:
            self.code, self.details = "", None
            message = f"HTTP {status}: {payload}"
        super().__init__(message)
        self.status = status

    def as_json(self) -> dict[str, Any]:
        if isinstance(self.payload, dict) and isinstance(self.payload.get("error"), dict):
            return self.payload  # the API's own answer, as it came
        return {"error": {"code": f"http_{self.status}", "message": str(self)}}


class Api:
    def __init__(self, target: Target) -> None:
        self.target = target

    def call(self, method: str, path: str, body: Any = None,
             headers: dict[str, str] | None = None) -> Any:
        request = urllib.request.Request(
            self.target.api_url + path,
            method=method,
            data=json.dumps(body).encode() if body is not None else None,
            headers={"x-api-key": self.target.api_key, "content-type": "application/json",
                     "accept": "application/json", **(headers or {})},
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                raw = response.read()
        except urllib.error.HTTPError as error:
            raw = error.read()
            raise ApiError(error.code, _json_or_text(raw)) from None
        except (urllib.error.URLError, ConnectionError, TimeoutError) as error:
            hint = (" Is `make dev` still running? The state file may be left over from a "
                    "stopped stack." if self.target.local.get("api_url") else "")
            raise CliError(f"Cannot reach {self.target.described_as}: "
                           f"{getattr(error, 'reason', error)}.{hint}") from None
        return _json_or_text(raw) if raw else None


def _json_or_text(raw: bytes) -> Any:
    try:
        return json.loads(raw)
    except ValueError:
        return raw.decode(errors="replace")


@dataclass
class Settings:
    stack: str | None = None
    region: str | None = None
    _api: Api | None = None

    def api(self) -> Api:
        if self._api is None:
            self._api = Api(resolve_target(self.stack, self.region))
        return self._api


def _settings(ctx: typer.Context) -> Settings:
    return ctx.ensure_object(Settings)


@app.callback()
def _main(
    ctx: typer.Context,
    stack: Annotated[str | None, typer.Option(
        envvar="MAILROOM_STACK", metavar="NAME",
        help="A deployed stack's name (reads its outputs).")] = None,
    region: Annotated[str | None, typer.Option(
        "--region", metavar="REGION",
        help="AWS region of --stack (default: your AWS configuration).")] = None,
    wide: Annotated[bool, typer.Option(
        "--wide", help="Never wrap output lines, whatever the terminal's width (for "
                       "copying long ids, or piping).")] = False,
) -> None:
    ctx.obj = Settings(stack=stack, region=region)
    if wide:
        console.width = errors.width = WIDE


# --- commands -------------------------------------------------------------------------------

JsonFlag = Annotated[bool, typer.Option("--json", help="Print the API's JSON as is.")]
# Columns `--wide` gives the output: wider than any line this CLI prints.
WIDE = 1000


@app.command()
def dev(
    api_port: Annotated[int | None, typer.Option(help="Default 3000 (MAILROOM_API_PORT).")] = None,
    aws_port: Annotated[int | None, typer.Option(help="Default 4566 (MAILROOM_AWS_PORT).")] = None,
    state_dir: Annotated[Path | None, typer.Option(help="Default ./.mailroom.")] = None,
    max_send_rate: Annotated[float | None, typer.Option(
        help="SES simulator's send rate per second (default 14, MAILROOM_SIM_MAX_SEND_RATE).",
    )] = None,
    verbose: Annotated[bool, typer.Option(
        help="The handlers' Powertools JSON logs and metrics (EMF) instead of short lines.",
    )] = False,
) -> None:
    """Run the local stack in the foreground (what `make dev` runs). Ctrl-C stops it."""
    from mailroom_dev.local.__main__ import configure_logging, run
    from mailroom_dev.local.stack import LocalStackOptions

    overrides: dict[str, Any] = {
        key: value for key, value in (
            ("api_port", api_port), ("aws_port", aws_port), ("state_dir", state_dir),
            ("max_send_rate", max_send_rate),
        ) if value is not None
    }
    configure_logging(verbose=verbose)
    raise typer.Exit(run(LocalStackOptions.from_env(**overrides), verbose=verbose))


@app.command()
def send(
    ctx: typer.Context,
    to: Annotated[str, typer.Option(metavar="ADDRESS", help="Recipient address.")],
    template: Annotated[str, typer.Option(
        metavar="NAME", help="Template name (see `mailroom templates list`).")],
    data: Annotated[str | None, typer.Option(
        metavar="JSON", help="Template data as a JSON object.")] = None,
    data_file: Annotated[Path | None, typer.Option(
        metavar="FILE", help="Template data from a JSON file ('-' reads stdin).",
        allow_dash=True)] = None,
    from_address: Annotated[str | None, typer.Option(
        "--from", metavar="ADDRESS", help="Sender address.")] = None,
    reply_to: Annotated[list[str] | None, typer.Option(
        metavar="ADDRESS", help="Reply-To; repeatable.")] = None,
    tag: Annotated[list[str] | None, typer.Option(
        metavar="NAME=VALUE", help="A message tag; repeatable.")] = None,
    idempotency_key: Annotated[str | None, typer.Option(
        metavar="KEY", help="Same key + same body within 24 h sends once.")] = None,
    wait: Annotated[bool, typer.Option(
        "--wait", help="Follow the message to its final status; exit code 1 unless it is "
                       "delivered.")] = False,
    timeout: Annotated[float, typer.Option(
        metavar="SECONDS", help="How long --wait waits.")] = 60,
    as_json: JsonFlag = False,
) -> None:
    """Send one templated email. With --wait, the exit code says how it ended: 0 delivered
    (complained mail was delivered too: stderr says so), 1 bounced, rejected, suppressed or
    failed (or still on its way after --timeout)."""
    body: dict[str, Any] = {"to": to, "template": template, "data": _template_data(data, data_file)}
    if from_address:
        body["from"] = from_address
    if reply_to:
        body["reply_to"] = reply_to
    if tag:
        body["tags"] = _tags(tag)
    if idempotency_key:
        body["idempotency_key"] = idempotency_key
    api = _settings(ctx).api()
    accepted = api.call("POST", "/v1/emails", body)
    if as_json and not wait:
        return _print_json(accepted)
    if not as_json:
        console.print(f"Queued [bold]{accepted['id']}[/] to {to} ({template}).")
    if wait:
        message = _follow(api, accepted["id"], quiet=as_json, timeout=timeout)
        _print_json(message) if as_json else _print_message(message)
        _exit_unless_delivered(message, timeout, quiet=as_json)
    else:
        console.print(f"Follow it: [bold]mailroom status {accepted['id']}[/]")


@app.command()
def status(
    ctx: typer.Context,
    message_id: Annotated[str, typer.Argument(metavar="ID", help="The id `send` printed.")],
    wait: Annotated[bool, typer.Option(
        "--wait", help="Wait for the final status; exit code 1 unless it is delivered.",
    )] = False,
    timeout: Annotated[float, typer.Option(
        metavar="SECONDS", help="How long --wait waits.")] = 60,
    as_json: JsonFlag = False,
) -> None:
    """A message's status and its timeline of events."""
    api = _settings(ctx).api()
    message = (_follow(api, message_id, quiet=as_json, timeout=timeout) if wait
               else api.call("GET", f"/v1/emails/{quote(message_id, safe='')}"))
    _print_json(message) if as_json else _print_message(message)
    if wait:
        _exit_unless_delivered(message, timeout, quiet=as_json)


def _exit_unless_delivered(message: dict[str, Any], timeout: float, quiet: bool) -> None:
    """What `--wait` asked for failed unless the mail was delivered: exit code 1 then."""
    status = message["status"]
    if status in DELIVERED_STATUSES:
        if status == Status.COMPLAINED.value and not quiet:
            errors.print(f"{message['id']} was delivered, then complained about: the address "
                         "is suppressed now.", highlight=False)
        return
    if not quiet:
        errors.print(f"{message['id']} {'ended' if status in FINAL_STATUSES else 'is still'}"
                     f" {status}" + ("" if status in FINAL_STATUSES
                                     else f" after {timeout:g} s") + ".", highlight=False)
    raise typer.Exit(1)


@app.command()
def tail(
    ctx: typer.Context,
    follow: Annotated[bool, typer.Option(
        help="Keep waiting for new notifications; --no-follow stops at the first quiet "
             "moment.")] = True,
    as_json: Annotated[bool, typer.Option(
        "--json", help="One notification per line, as the JSON your app receives.",
    )] = False,
) -> None:
    """Print the notifications apps receive, as they happen. Reads through a queue of its
    own, subscribed to the notifications topic while it runs and removed when it stops, so
    it takes nothing from your app or another tail. Needs AWS access (--stack) or the local
    stack."""
    import signal

    from mailroom_dev.tail import TailSubscription

    settings = _settings(ctx)
    access = aws_access(settings, "`mailroom tail` subscribes to the notifications topic, so it")
    subscription = TailSubscription(
        access.client("sqs"), access.client("sns"),
        access.url("notifications_topic_arn", "NotificationsTopicArn"))
    # `kill` stops it as Ctrl-C does (even started in the background, where a shell
    # ignores SIGINT for it): the queue is removed either way.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        try:
            removed = subscription.open()
        except Exception as error:  # the stack went away, or no permission
            raise CliError(f"Cannot subscribe to the notifications topic: {error}") from None
        if not as_json:
            errors.print(f"Notifications from {escape(settings.api().target.described_as)}"
                         + (f" (removed {len(removed)} queue(s) an earlier tail left)"
                            if removed else "") + "; Ctrl-C to stop.", highlight=False)
        while True:
            try:
                bodies = subscription.receive()
            except Exception as error:  # the stack went away under us
                raise CliError(f"Cannot read the notifications: {error}. Is the stack "
                               "(`make dev`) still running?") from None
            for body in bodies:
                _print_notification(body, as_json)
            if not bodies and not follow:
                return
    except KeyboardInterrupt:
        return
    finally:
        # If the stack is gone, its queues went with it; a queue left anyway (AWS
        # unreachable) is removed by the next tail.
        with contextlib.suppress(Exception):
            subscription.close()


@suppressions_app.command("list")
def suppressions_list(
    ctx: typer.Context,
    reason: Annotated[str | None, typer.Option(help=REASONS_HELP)] = None,
    category: CategoryOption = None,
    limit: Annotated[int, typer.Option(help="Items per page.")] = 50,
    cursor: Annotated[str | None, typer.Option(help="From a previous page.")] = None,
    as_json: JsonFlag = False,
) -> None:
    """List suppressed addresses: entries for all mail and for one category alike."""
    query = {key: value for key, value in (("reason", reason), ("category", category),
                                           ("limit", limit), ("cursor", cursor))
             if value is not None}
    page = _settings(ctx).api().call("GET", f"/v1/suppressions?{urlencode(query)}")
    if as_json:
        return _print_json(page)
    print_rows("Suppressions", ("email", "category", "reason", "since", "expires", "source"),
               [(item["email"], item.get("category") or "all mail", item["reason"],
                 item.get("created_at") or "", item.get("expires_at") or "never",
                 item.get("source") or "") for item in page.get("items", [])])
    if page.get("next_cursor"):
        console.print(f"More: mailroom suppressions list --cursor {page['next_cursor']}")


IMPORT_COLUMNS = ("email", "reason", "expires_at", "note", "category")
EXPORT_COLUMNS = ("email", "reason", "created_at", "expires_at", "source", "note", "category")
REASONS_HELP = "hard_bounce, soft_bounce, complaint, manual or unsubscribed."
CategoryOption = Annotated[str | None, typer.Option(
    help="One category of mail (a template's `category`, e.g. digest).")]


@suppressions_app.command("import")
def suppressions_import(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(help="A CSV with a header row: email, and "
                                              "optionally reason, expires_at, note, "
                                              "category.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
) -> None:
    """Suppress every address of a CSV, in batches of 1000. A row with a category stops
    only that category's mail (reason manual, or unsubscribed). An entry already there
    stands, so importing the same file twice adds nothing; an invalid row is reported with
    its line number and written not at all."""
    import csv

    from rich.progress import Progress

    from mailroom.shape import MAX_SUPPRESSION_BATCH

    try:
        with file.open(newline="", encoding="utf-8-sig") as handle:
            reader = csv.DictReader(handle)
            # An export's extra columns (created_at, source) are read past: it imports as is.
            unknown = set(reader.fieldnames or ()) - set(IMPORT_COLUMNS) - set(EXPORT_COLUMNS)
            if "email" not in (reader.fieldnames or ()) or unknown:
                raise CliError(f"{file}: the header must name an `email` column, and only "
                               f"{', '.join(IMPORT_COLUMNS)}" +
                               (f" (not {', '.join(sorted(unknown))})" if unknown else "") + ".")
            rows = [(reader.line_num, row) for row in reader]
    except OSError as error:
        raise CliError(f"Cannot read {file}: {error.strerror}.") from None
    except (csv.Error, UnicodeDecodeError) as error:
        raise CliError(f"{file} is not a readable CSV: {error}.") from None
    summary: dict[str, Any] = {"added": 0, "exists": 0, "invalid": []}
    settings = _settings(ctx)
    api, who = settings.api(), actor(settings)
    with Progress(console=errors, transient=True, disable=len(rows) <= MAX_SUPPRESSION_BATCH
                  ) as progress:
        task = progress.add_task("Importing", total=len(rows))
        for start in range(0, len(rows), MAX_SUPPRESSION_BATCH):
            chunk = rows[start:start + MAX_SUPPRESSION_BATCH]
            entries = [{"actor": who, **{key: value.strip() for key, value in row.items()
                                         if key in IMPORT_COLUMNS and value and value.strip()}}
                       for _line, row in chunk]
            sent_lines = [line for line, _row in chunk]
            if entries:
                results = api.call("POST", "/v1/suppressions/batch",
                                   {"entries": entries})["results"]
                for line, result in zip(sent_lines, results, strict=True):
                    if "error" in result:
                        summary["invalid"].append({
                            "line": line, "email": entries[result["index"]].get("email"),
                            "error": result["error"]["message"]})
                    else:
                        summary[result["status"]] += 1
            progress.advance(task, len(chunk))
    summary["invalid"].sort(key=lambda row: row["line"])
    if as_json:
        _print_json(summary)
    else:
        console.print(f"{summary['added']} added, {summary['exists']} already there, "
                      f"{len(summary['invalid'])} invalid.")
        for row in summary["invalid"]:
            console.print(f"  line {row['line']}: {escape(str(row['email']))}: "
                          f"{escape(row['error'])}")
    if summary["invalid"]:
        raise typer.Exit(1)


@suppressions_app.command("import-ses")
def suppressions_import_ses(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
) -> None:
    """Copy SES's account-level suppression list into Mailroom's, reasons and dates kept.
    Addresses Mailroom already suppresses keep their entry. Needs AWS access."""
    from concurrent.futures import ThreadPoolExecutor

    from mailroom.adapters.dynamodb import DynamoSuppressionStore
    from mailroom.adapters.ses import SesAccountSuppressions
    from mailroom.models import Suppression, utcnow

    settings = _settings(ctx)
    access = aws_access(settings, "`mailroom suppressions import-ses` reads SES's list, so it")
    ses = access.client("sesv2")
    store = DynamoSuppressionStore(access.url("suppressions_table", "SuppressionsTableName"),
                                   client=access.client("dynamodb"))
    now = utcnow()
    entries = [Suppression(email=email, reason=reason, created_at=since, source="ses-account",
                           note="SES account-level suppression list")
               for email, reason, since in SesAccountSuppressions(ses).entries()]
    with ThreadPoolExecutor(max_workers=16) as pool:
        added = sum(pool.map(lambda entry: store.add(entry, now), entries))
    summary = {"on_ses_list": len(entries), "added": added, "exists": len(entries) - added}
    if as_json:
        return _print_json(summary)
    console.print(f"SES's account list holds {len(entries)} address(es): {added} added to "
                  f"Mailroom's list, {len(entries) - added} already there.")
    return None


@suppressions_app.command("export")
def suppressions_export(
    ctx: typer.Context,
    file: Annotated[Path | None, typer.Argument(help="Where to write (default: stdout).")]
    = None,
    reason: Annotated[str | None, typer.Option(
        "--reason", metavar="REASON", help="Only this reason: " + REASONS_HELP)] = None,
    category: Annotated[str | None, typer.Option(
        "--category", metavar="CATEGORY",
        help="Only this category's entries (default: all, global and category).")] = None,
    as_json: Annotated[bool, typer.Option(
        "--json", help='JSON instead of CSV: {"items": [every entry as the API gives it]}.',
    )] = False,
) -> None:
    """Every active entry as CSV (the columns import reads, and more), page by page."""
    import csv
    import io

    out = io.StringIO() if file is not None or as_json else sys.stdout
    writer = csv.DictWriter(out, fieldnames=EXPORT_COLUMNS, extrasaction="ignore",
                            lineterminator="\n")
    writer.writeheader()
    api, cursor, items = _settings(ctx).api(), None, []
    while True:
        query = {key: value for key, value in (("reason", reason), ("category", category),
                                               ("limit", 100), ("cursor", cursor))
                 if value is not None}
        page = api.call("GET", f"/v1/suppressions?{urlencode(query)}")
        for item in page.get("items", []):
            writer.writerow({key: item.get(key) or "" for key in EXPORT_COLUMNS})
            items.append(item)
        cursor = page.get("next_cursor")
        if not cursor:
            break
    count = len(items)
    if as_json:
        document = json.dumps({"items": items}, indent=2)
        out = io.StringIO(document + "\n")
        if file is None:
            print(document)
    if file is not None:
        assert isinstance(out, io.StringIO)
        try:
            file.write_text(out.getvalue(), encoding="utf-8")
        except OSError as error:
            raise CliError(f"Cannot write {file}: {error.strerror}.") from None
        errors.print(f"Wrote {count} entries to {file}.")


@suppressions_app.command("get")
def suppressions_get(ctx: typer.Context, email: str, as_json: JsonFlag = False) -> None:
    """Whether an address is suppressed, and why."""
    try:
        item = _settings(ctx).api().call("GET", _suppression_path(email))
    except ApiError as error:
        if error.status == 404:
            if as_json:
                _print_json(error.as_json())
            else:
                console.print(f"{email} is not suppressed.")
                _print_history((error.details or {}).get("history") or [])
            raise typer.Exit(1) from None
        raise
    if as_json:
        return _print_json(item)
    if item.get("reason"):
        _print_suppression(item)
        _print_history(item.get("history") or [])
    else:
        console.print(f"{email} gets all mail but the categories below.")
        _print_history(item.get("history") or [])
    for entry in item.get("categories") or []:
        _print_suppression(entry)
        _print_history(entry.get("history") or [])


@suppressions_app.command("add")
def suppressions_add(
    ctx: typer.Context,
    email: str,
    note: Annotated[str | None, typer.Option(help="Why, for the next person.")] = None,
    expires_at: Annotated[str | None, typer.Option(
        help="ISO 8601 date-time after which it lapses (default: never).")] = None,
    category: Annotated[str | None, typer.Option(
        help="Stop only this category of mail (e.g. digest); default: all mail.")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Suppress an address by hand (reason `manual`), for all mail or one category."""
    body: dict[str, Any] = {"reason": "manual", "actor": actor(_settings(ctx))}
    for key, value in (("note", note), ("expires_at", expires_at), ("category", category)):
        if value:
            body[key] = value
    item = _settings(ctx).api().call("PUT", _suppression_path(email), body)
    if as_json:
        return _print_json(item)
    console.print(f"Suppressed {email}.")
    if isinstance(item, dict) and item:
        _print_suppression(item)


@suppressions_app.command("remove")
def suppressions_remove(
    ctx: typer.Context,
    email: Annotated[str, typer.Argument(metavar="ADDRESS")],
    category: Annotated[str | None, typer.Option(
        "--category", metavar="CATEGORY",
        help="Remove only this category's entry; default: the entry for all mail (also "
             "off SES's account-level list).")] = None,
    as_json: Annotated[bool, typer.Option(
        "--json", help='Print {"email", "category", "removed"}.')] = False,
) -> None:
    """Let Mailroom send to an address again. Exit code 1 when it was not suppressed."""
    what = f" for {category} mail" if category else ""
    try:
        settings = _settings(ctx)
        query = {"actor": actor(settings), **({"category": category} if category else {})}
        settings.api().call("DELETE", _suppression_path(email) + "?" + urlencode(query))
    except ApiError as error:
        if error.status == 404:
            categories = (error.details or {}).get("categories") or []
            if as_json:
                _print_json({"email": email, "category": category, "removed": False,
                             "categories": categories})
            else:
                console.print(f"{email} was not suppressed{what}.")
                for name in categories:
                    console.print(f"  It is for {name} mail: mailroom suppressions remove "
                                  f"{email} --category {name}")
            raise typer.Exit(1) from None
        raise
    if as_json:
        return _print_json({"email": email, "category": category, "removed": True})
    console.print(f"Removed {email} from the suppression list{what}"
                  + ("." if category else " (and SES's account-level list, if it was there)."))
    return None


@sending_app.command("status")
def sending_status(ctx: typer.Context, as_json: JsonFlag = False) -> None:
    """Whether sending is paused, since when and why."""
    _print_sending(_settings(ctx).api().call("GET", "/v1/sending"), as_json)


@sending_app.command("pause")
def sending_pause(
    ctx: typer.Context,
    reason: Annotated[str, typer.Option(help="Why, shown to API callers.")] = "operator pause",
    as_json: JsonFlag = False,
) -> None:
    """Stop sending: the API answers 503, the sender stops taking mail off its queue and SES
    stops sending; queued mail waits, never dropped."""
    body = {"paused": True, "reason": reason, "actor": actor(_settings(ctx))}
    _print_sending(_settings(ctx).api().call("PUT", "/v1/sending", body), as_json)


@sending_app.command("resume")
def sending_resume(
    ctx: typer.Context,
    reason: Annotated[str | None, typer.Option(help="Why, kept with who resumed.")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Send again: mail that waited starts going out within seconds, at the paced rate."""
    body: dict[str, Any] = {"paused": False, "actor": actor(_settings(ctx))}
    if reason:
        body["reason"] = reason
    _print_sending(_settings(ctx).api().call("PUT", "/v1/sending", body), as_json)


def actor(settings: Settings | None = None) -> str:
    """Who is at the keyboard, recorded with a pause or resume: with --stack, the AWS
    identity the CLI runs as (its ARN); otherwise the local user."""
    import getpass

    if settings is not None and settings.stack:
        import boto3
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            sts = boto3.client("sts", region_name=settings.region)
            return str(sts.get_caller_identity()["Arn"])
        except (BotoCoreError, ClientError):
            pass  # the API call that follows says what is wrong with the credentials
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def _print_sending(state: dict[str, Any], as_json: bool) -> None:
    if as_json:
        return _print_json(state)
    if state["sending"] == "paused":
        console.print(f"Sending is [bold red]paused[/] since {state['since']}: {state['reason']}")
        return None
    console.print("Sending is [bold green]enabled[/].")
    if state.get("since"):
        console.print(f"Last resumed {state['since']}"
                      + (f" by {state['by']}" if state.get("by") else "")
                      + (f": {state['reason']}" if state.get("reason") else "") + ".")
    return None


@app.command("reputation")
def reputation(ctx: typer.Context, as_json: JsonFlag = False) -> None:
    """Bounce and complaint rates over the guard's window, against its thresholds."""
    figures = _settings(ctx).api().call("GET", "/v1/reputation")
    if as_json:
        return _print_json(figures)
    style = {"ok": "green", "warning": "yellow", "paused": "red"}[figures["state"]]
    table = Table("", "rate", "count", "warn at", "pause at",
                  title=f"Reputation over {figures['window_hours']} h (since "
                        f"{figures['since']}): [{style}]{figures['state']}[/]")
    warn, pause = figures["thresholds"]["warn"], figures["thresholds"]["pause"]
    table.add_row("bounces", f"{figures['bounce_rate']:.2%}", str(figures["bounces"]),
                  f"{warn['bounce_rate']:.2%}", f"{pause['bounce_rate']:.2%}")
    table.add_row("complaints", f"{figures['complaint_rate']:.3%}", str(figures["complaints"]),
                  f"{warn['complaint_rate']:.3%}", f"{pause['complaint_rate']:.3%}")
    console.print(table)
    if _after_now(figures["since"]):
        console.print(f"The figures were accepted at the last resume: counting starts again "
                      f"at {figures['since']}.")
    console.print(f"{figures['sends']} sends of real mail (the guard acts from "
                  f"{warn['min_sends']} to warn, {pause['min_sends']} to pause; mail to the SES "
                  "simulator and the canary does not count).")
    return None


@app.command("report")
def report_command(
    ctx: typer.Context,
    since: Annotated[str, typer.Option(
        help="24h, 7d (today and the 6 days before, UTC) or a date (2026-11-24); at most "
             "31 days back.")] = "7d",
    traffic: Annotated[TrafficChoice, typer.Option(
        help="Whose mail: real (what SES and the guard judge), the SES mailbox simulator's, "
             "the canary's, or all.")] = TrafficChoice.REAL,
    html: Annotated[Path | None, typer.Option(
        "--html", help="Also write a self-contained page of charts to this file.")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Volume, outcomes and rates per day, top failure reasons and domains (GET /v1/stats)."""
    from mailroom_dev import report

    if problem := report.since_problem(since):
        raise typer.BadParameter(problem, param_hint="--since")
    api = _settings(ctx).api()
    stats = report.read_stats(api, since, traffic)
    if html is not None:
        report.write_html(stats, html, source=api.target.described_as)
    if as_json:
        return _print_json(stats)
    report.print_report(stats, console)
    if html is not None:
        console.print(f"Wrote {html}")
    return None


@canary_app.command("run")
def canary_run(
    ctx: typer.Context,
    timeout: Annotated[float, typer.Option(help="Seconds to wait for the delivery.")] = 60,
    as_json: Annotated[bool, typer.Option("--json", help="Print the verdict as JSON.")] = False,
) -> None:
    """Send one canary email (to the SES mailbox simulator, tagged so it never counts) and
    follow it to its delivery; if it does not get there, say which hop broke. Exit 1 then."""
    from mailroom.canary import Canary
    from mailroom.templates import TemplateCatalog

    api = _settings(ctx).api()
    template = TemplateCatalog.load().get("welcome")
    canary = Canary(_CliCanaryApi(api), template="welcome", data=dict(template.example))
    with console.status("Following the canary email…"):
        verdict = canary.round_trip(timeout)
    if as_json:
        _print_json(verdict.to_dict())
    elif verdict.healthy:
        console.print(f"[green]Healthy round trip[/]: accepted → sent → delivered in "
                      f"{verdict.latency_seconds:.1f} s ({verdict.message_id}).")
    else:
        console.print(f"[red]Broken at the {verdict.hop} hop[/] (message "
                      f"{verdict.message_id}, {verdict.status}): {verdict.explanation}")
    if not verdict.healthy:
        raise typer.Exit(1)


class _CliCanaryApi:
    def __init__(self, api: Api) -> None:
        self.api = api

    def send(self, request: dict[str, Any]) -> str:
        return str(self.api.call("POST", "/v1/emails", request)["id"])

    def get(self, message_id: str) -> dict[str, Any]:
        answer: dict[str, Any] = self.api.call("GET", f"/v1/emails/{quote(message_id)}")
        return answer


class DlqName(StrEnum):
    send = "send"
    events = "events"
    subscription = "subscription"


# Per dead-letter queue: its URL and its source queue's, in local.json and in stack outputs.
DLQ_LOCATIONS = {
    DlqName.send: (("send_dlq_url", "SendDlqUrl"), ("send_queue_url", "SendQueueUrl")),
    DlqName.events: (("events_dlq_url", "EventsDlqUrl"), ("events_queue_url", "EventsQueueUrl")),
    DlqName.subscription: (("subscription_dlq_url", "SubscriptionDlqUrl"),
                           ("events_queue_url", "EventsQueueUrl")),
}


# The local stack's stand-ins for what moto lacks, by service (local.json keys).
LOCAL_ENDPOINTS = {"sesv2": "simulator_url", "lambda": "lambda_url"}


@dataclass(frozen=True)
class AwsAccess:
    """Direct access to the stack's AWS resources: the deployed ones, or the local stack's."""

    local: bool
    names: dict[str, str]  # local.json keys or stack outputs
    region: str | None

    def client(self, service: str) -> Any:
        import boto3

        if self.local:
            endpoint = self.names[LOCAL_ENDPOINTS.get(service, "aws_endpoint_url")]
            return boto3.client(service, endpoint_url=endpoint, region_name=self.region,
                                aws_access_key_id="mailroom-local",
                                aws_secret_access_key="local")
        return boto3.client(service, region_name=self.region)

    def url(self, local_key: str, output: str) -> str:
        key = local_key if self.local else output
        if not self.names.get(key):
            raise CliError(f"The stack has no {output} output: deploy this version.")
        return self.names[key]


def aws_access(settings: Settings, what: str) -> AwsAccess:
    target = settings.api().target
    if "aws_endpoint_url" in target.local:
        return AwsAccess(True, target.local, target.local.get("region", "us-east-1"))
    if "outputs" in target.local:
        return AwsAccess(False, target.local["outputs"], settings.region)
    raise NeedsAws(f"{what} needs AWS access: pass --stack NAME, or run it against the "
                   "local stack (`make dev`); an API URL and key are not enough.")


@dlq_app.command("show")
def dlq_show(
    ctx: typer.Context,
    queue: Annotated[DlqName, typer.Argument(help="Which dead-letter queue.")] = DlqName.send,
    limit: Annotated[int, typer.Option(help="Show at most this many.")] = 50,
    as_json: Annotated[bool, typer.Option("--json", help="Print as JSON.")] = False,
) -> None:
    """What a dead-letter queue holds and why, oldest first. Nothing is taken out."""
    from mailroom_dev import dlq

    settings = _settings(ctx)
    access = aws_access(settings, "`mailroom dlq show` reads the stack's queues, so it")
    dead = dlq.DeadLetterQueue(access.client("sqs"), access.url(*DLQ_LOCATIONS[queue][0]))
    count, letters = dead.count(), dead.peek(limit)
    rows = [{"sqs_message_id": letter.sqs_id, "receives": letter.receives,
             "first_received": letter.first_received.isoformat()
             if letter.first_received else None, **_dead_letter_reason(queue, letter, settings)}
            for letter in letters]
    if as_json:
        return _print_json({"queue": queue.value, "count": count, "messages": rows})
    if not count:
        console.print(f"The {queue.value} dead-letter queue is empty.")
        return None
    console.print(f"The {queue.value} dead-letter queue holds {count} message(s); oldest "
                  f"first received {rows[0]['first_received'] if rows else 'unknown'}.")
    table = wrapping_table("first received", "message", "to", "reason", "what to do")
    for row in rows:
        table.add_row(row["first_received"] or "", row.get("message_id", row["sqs_message_id"]),
                      row.get("to", ""), row["reason"], row["action"])
    console.print(table)
    return None


def _dead_letter_reason(queue: DlqName, letter: Any, settings: Settings) -> dict[str, Any]:
    from mailroom_dev import dlq

    if queue is DlqName.send:
        def lookup(message_id: str) -> dict[str, Any] | None:
            try:
                found: dict[str, Any] = settings.api().call(
                    "GET", f"/v1/emails/{quote(message_id)}")
                return found
            except ApiError:
                return None

        return dlq.send_reason(letter, lookup)
    if queue is DlqName.events:
        return dlq.events_reason(letter)
    return dlq.subscription_reason(letter)


@dlq_app.command("redrive")
def dlq_redrive(
    ctx: typer.Context,
    queue: Annotated[DlqName, typer.Argument(help="send or events (the subscription's dead "
                                                  "letters move back by hand: README).")]
    = DlqName.send,
    as_json: Annotated[bool, typer.Option(
        "--json", help='Print {"queue", "moved", "left", "reopened"}.')] = False,
) -> None:
    """Move a dead-letter queue's messages back to their queue. Send messages that failed
    every retry are reopened as queued first (a `redriven` entry names you); anything SES
    already took is never sent again."""
    from mailroom.adapters.dynamodb import DynamoMessageStore
    from mailroom_dev import dlq

    if queue is DlqName.subscription:
        raise CliError("SQS cannot redrive a queue SNS feeds: move the subscription's dead "
                       "letters back by hand, as the README's 'Dead letters of the "
                       "subscription' says.")
    settings = _settings(ctx)
    access = aws_access(settings, "`mailroom dlq redrive` moves the stack's queues, so it")
    sqs = access.client("sqs")
    (dlq_keys, source_keys) = DLQ_LOCATIONS[queue]
    dead = dlq.DeadLetterQueue(sqs, access.url(*dlq_keys))
    before = dead.count()
    if not before:
        if as_json:
            return _print_json({"queue": queue.value, "moved": 0, "left": 0, "reopened": []})
        console.print(f"The {queue.value} dead-letter queue is empty: nothing to move.")
        return None
    reopened: list[str] = []
    if queue is DlqName.events:
        malformed = sum(1 for letter in dead.peek(limit=10_000)
                        if dlq.events_reason(letter)["reason"] == "malformed")
        if malformed:
            errors.print(f"[yellow]{malformed} of them are malformed:[/] nothing will ever "
                         "apply them, so they come straight back to the dead-letter queue. "
                         "`mailroom dlq show events` shows why; `mailroom dlq delete events "
                         "--malformed` deletes them.")
    if queue is DlqName.send:
        store = DynamoMessageStore(access.url("messages_table", "MessagesTableName"),
                                   client=access.client("dynamodb"))
        reopened = list(dlq.reopen_exhausted(dead.peek(limit=10_000), store, actor(settings)))
    mover = dlq.CopyingRedrive(sqs) if access.local else dlq.MoveTaskRedrive(sqs)
    with errors.status(f"Moving {before} message(s) back…"):
        moved = mover.move(dead, access.url(*source_keys))
    if as_json:
        return _print_json({"queue": queue.value, "moved": moved, "left": dead.count(),
                            "reopened": reopened})
    console.print(f"Moved {moved} of {before} message(s) back to the {queue.value} queue "
                  f"({dead.count()} left in the dead-letter queue)"
                  + (f"; reopened {len(reopened)} that had failed every retry." if reopened
                     else "."))
    return None


@dlq_app.command("delete")
def dlq_delete(
    ctx: typer.Context,
    queue: Annotated[DlqName, typer.Argument(help="Which dead-letter queue.")],
    ids: Annotated[list[str] | None, typer.Argument(
        metavar="[ID]...", help="The dead letters to delete: the message id `dlq show` "
                                "prints (or its sqs_message_id with --json).")] = None,
    malformed: Annotated[bool, typer.Option(
        "--malformed", help="Every malformed record in the events queue: nothing will ever "
                            "apply them.")] = False,
    as_json: Annotated[bool, typer.Option(
        "--json", help='Print {"queue", "deleted", "left", "not_found"}.')] = False,
) -> None:
    """Delete dead letters for good: records nothing will ever apply, or mail you decided
    not to send (its status stays `failed`)."""
    from mailroom_dev import dlq

    if not ids and not malformed:
        raise UsageError("Name the dead letters to delete (the ids `mailroom dlq show` "
                         "prints), or --malformed for the events queue.")
    if malformed and queue is not DlqName.events:
        raise UsageError("--malformed is for the events queue, whose records can be "
                         "malformed; name the dead letters of this one by id.")
    settings = _settings(ctx)
    access = aws_access(settings, "`mailroom dlq delete` changes the stack's queues, so it")
    dead = dlq.DeadLetterQueue(access.client("sqs"), access.url(*DLQ_LOCATIONS[queue][0]))
    named, found = set(ids or ()), set[str]()

    def wanted(letter: Any) -> bool:
        matches = dlq.letter_ids(letter) & named
        found.update(matches)
        return bool(matches) or (malformed and dlq.events_reason(letter)["reason"]
                                 == "malformed")

    deleted = dead.delete(wanted)
    left, not_found = dead.count(), sorted(named - found)
    if as_json:
        _print_json({"queue": queue.value, "deleted": deleted, "left": left,
                     "not_found": not_found})
    else:
        console.print(f"Deleted {deleted} dead letter(s) from the {queue.value} queue's "
                      f"dead-letter queue; {left} left.")
        if not_found:
            errors.print(f"[yellow]Not there:[/] {', '.join(not_found)} (`mailroom dlq show "
                         f"{queue.value}` lists what is).", highlight=False)
    if not_found:
        raise typer.Exit(1)
    return None


@app.command("sweep")
def sweep(
    ctx: typer.Context,
    settled_hours: Annotated[float | None, typer.Option(
        help="Mark mail sent longer ago than this (default: the stack's window, 24 h).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the ids marked as JSON.")] = False,
) -> None:
    """Mark mail SES took but reported nothing about since as `unconfirmed`, now rather
    than at the next hourly sweep. Needs AWS access (or the local stack)."""
    event: dict[str, Any] = dict(shape.SWEEP.event)
    if settled_hours is not None:
        event["settled_seconds"] = settled_hours * 3600
    result = invoke(_settings(ctx), shape.EVENTS, event)
    if as_json:
        return _print_json(result)
    marked = result.get("unconfirmed", [])
    if not marked:
        console.print("Nothing to mark: every message SES took has an outcome, or is "
                      "within the settled window.")
        return None
    console.print(f"[yellow]{len(marked)} message(s) marked unconfirmed[/] (no outcome from "
                  "SES): check the feedback path with `mailroom doctor`.")
    for message_id in marked:
        console.print(f"  {message_id}")
    return None


@app.command("invoke")
def invoke_command(
    ctx: typer.Context,
    function: Annotated[str, typer.Argument(
        metavar="FUNCTION", help=f"One of {', '.join(f.name for f in shape.FUNCTIONS)}.")],
    event_file: Annotated[Path, typer.Argument(
        metavar="EVENT.json", help="A Lambda event, such as a file from events/.")],
    as_json: Annotated[bool, typer.Option(
        "--json", help="Print only what the handler returned, as JSON.")] = False,
) -> None:
    """Run one handler in this process with an event file, against the running local stack
    (its tables, queues and SES simulator): `sam local invoke` without Docker. Exit code 1
    when the handler raises, or reports failed batch items."""
    from mailroom_dev import invoke as invoking

    target = resolve_target(_settings(ctx).stack, _settings(ctx).region)
    if "env_vars_file" not in target.local:
        raise NeedsAws("`mailroom invoke` runs a handler against the local stack (`make "
                       "dev`); for a deployed function use `aws lambda invoke`.")
    try:
        spec = invoking.find_function(function)
        event = invoking.read_event(event_file)
    except invoking.InvokeError as error:
        raise UsageError(str(error)) from None
    try:
        environment = invoking.read_environment(Path(target.local["env_vars_file"]))
    except invoking.InvokeError as error:
        raise CliError(str(error)) from None
    try:
        answer = invoking.run_handler(spec, event, environment)
    except Exception as error:  # the handler's own failure is what the user asked to see
        import traceback

        traceback.print_exc(file=sys.stderr)
        raise CliError(f"{spec.name} raised {type(error).__name__}: {error}") from None
    if as_json:
        print(json.dumps(answer, indent=2, default=str))
    else:
        errors.print(f"{spec.name} ({spec.handler}) returned:", highlight=False)
        print(json.dumps(answer, indent=2, default=str))
    if isinstance(answer, dict) and answer.get("batchItemFailures"):
        raise typer.Exit(1)


@app.command("doctor")
def doctor_command(ctx: typer.Context, as_json: JsonFlag = False) -> None:
    """Why mail may not arrive: the SES account, identity (DKIM, MAIL FROM, DMARC), pipeline,
    templates and reputation, each checked with the fix. Exit code 1 when a check fails."""
    from mailroom_dev import doctor

    settings = _settings(ctx)
    target = resolve_target(settings.stack, settings.region)
    if not target.local:
        raise NeedsAws("`mailroom doctor` reads AWS (read-only) as well as the API: give "
                       "--stack NAME, or run it beside the local stack (`make dev`); an "
                       "API URL and key alone are not enough.")
    checks = doctor.Doctor(**_doctor_clients(target, settings.region)).run()
    if as_json:
        _print_json(doctor.report(checks))
    else:
        _print_checks(target, checks)
    if doctor.any_failed(checks):
        raise typer.Exit(1)


def _doctor_clients(target: Target, region: str | None) -> dict[str, Any]:
    """What `Doctor` works with: for the local stack its emulators, for a deployed one AWS
    (read-only calls) and the system's DNS resolver."""
    import boto3

    from mailroom_dev.doctor import Deployment, DnsPythonResolver

    api = Api(target)

    def get(path: str) -> Any:
        return api.call("GET", path)

    local = target.local
    if "outputs" in local:
        session = boto3.session.Session(region_name=region)
        deployment = Deployment.from_stack_outputs(
            local["outputs"], session.region_name or "us-east-1")
        return {"deployment": deployment, "api": get, "resolver": DnsPythonResolver(),
                **{name: session.client(name) for name in ("sesv2", "sqs", "sns",
                                                             "cloudwatch")}}
    session = boto3.session.Session(
        region_name=local["region"], aws_access_key_id="mailroom-local",
        aws_secret_access_key="local")
    return {
        "deployment": Deployment.from_local_state(local), "api": get,
        "sesv2": session.client("sesv2", endpoint_url=local["simulator_url"]),
        "sqs": session.client("sqs", endpoint_url=local["aws_endpoint_url"]),
        "sns": session.client("sns", endpoint_url=local["aws_endpoint_url"]),
    }


DOCTOR_STYLE = {"pass": "green", "warn": "yellow", "fail": "red", "skip": "dim"}


def _print_checks(target: Target, checks: list[Any]) -> None:
    console.print(f"Mailroom doctor: {escape(target.described_as)}")
    for check in checks:
        status = check.status.value
        console.print(f" [{DOCTOR_STYLE[status]}]{status.upper():<4}[/]  [bold]{check.name}[/]"
                      f"  {escape(check.detail)}", highlight=False)
        if check.fix:
            console.print(f"       fix: {escape(check.fix)}", highlight=False)
    counts = {status: sum(1 for c in checks if c.status.value == status)
              for status in DOCTOR_STYLE}
    console.print(", ".join(f"{n} {status}" for status, n in counts.items()))


# --- helpers --------------------------------------------------------------------------------


def _after_now(moment: str) -> bool:
    from datetime import UTC, datetime

    return datetime.fromisoformat(moment.replace("Z", "+00:00")) > datetime.now(UTC)


class NeedsAws(CliError):
    """The command talks to AWS itself, not only to the API."""

    exit_code = 2


def invoke(settings: Settings, spec: shape.Function, event: dict[str, Any]) -> Any:
    """Invoke one of the stack's functions with `event` and return what it answers: the
    deployed function (--stack), or the local stack's."""
    from botocore.exceptions import BotoCoreError, ClientError

    access = aws_access(settings, f"This command invokes the {spec.name} function, so it")
    client = access.client("lambda")
    name = spec.service if access.local else access.url("", spec.output_name)
    try:
        response = client.invoke(FunctionName=name, Payload=json.dumps(event).encode())
    except (BotoCoreError, ClientError) as error:
        raise CliError(f"Cannot invoke {name}: {error}") from None
    payload = json.loads(response["Payload"].read() or b"null")
    if response.get("FunctionError"):
        raise CliError(f"{name} failed: {payload.get('errorMessage', payload)}")
    return payload


def _template_data(data: str | None, data_file: Path | None) -> dict[str, Any]:
    if data is not None and data_file is not None:
        raise UsageError("Give the template data once: --data or --data-file, not both.")
    if data_file is not None:
        source = "stdin" if str(data_file) == "-" else str(data_file)
        try:
            text = sys.stdin.read() if source == "stdin" else data_file.read_text(encoding="utf-8")
        except OSError as error:
            raise UsageError(f"Cannot read {source}: {error.strerror}.") from None
    elif data is not None:
        source, text = "--data", data
    else:
        return {}
    try:
        parsed = json.loads(text)
    except ValueError as error:
        raise UsageError(f"{source} is not valid JSON: {error}.") from None
    if not isinstance(parsed, dict):
        raise UsageError(f"{source} must be a JSON object, like '{{\"name\": \"Ada\"}}'.")
    return parsed


def _tags(pairs: list[str]) -> dict[str, str]:
    tags = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            raise CliError(f"--tag takes NAME=VALUE, not {pair!r}.")
        tags[name] = value
    return tags


def _suppression_path(email: str) -> str:
    return f"/v1/suppressions/{quote(email.strip(), safe='@')}"


def _follow(api: Api, message_id: str, quiet: bool, timeout: float = 60) -> Any:
    path = f"/v1/emails/{quote(message_id, safe='')}"
    deadline = time.monotonic() + timeout
    last = None
    while True:
        message = api.call("GET", path)
        if message["status"] != last and not quiet:
            console.print(f"  {_status(message['status'])}")
            last = message["status"]
        if message["status"] in FINAL_STATUSES or time.monotonic() > deadline:
            return message
        time.sleep(0.25)


def wrapping_table(*headers: str, title: str | None = None,
                   whole: tuple[str, ...] = ()) -> Table:
    """A table whose cells wrap rather than end in an ellipsis when the terminal is narrow.
    The `whole` columns (addresses, ids, timestamps) give way last: the others wrap first,
    and only when that is not enough are theirs folded onto the next line."""
    table = Table(title=title)
    for header in headers:
        table.add_column(header, overflow="fold", no_wrap=header in whole)
    return table


def print_rows(title: str, headers: tuple[str, ...], rows: list[tuple[str, ...]]) -> None:
    """A table when it fits the terminal; otherwise one record per row (its first value on a
    line of its own, then `header value` pairs that wrap between pairs), so no value is cut
    or broken in the middle."""
    from rich.measure import Measurement

    table = wrapping_table(*headers, title=title)
    for row in rows:
        table.add_row(*row)
    natural = Measurement.get(console, console.options.update(max_width=10 * WIDE), table)
    if natural.maximum <= console.width:
        console.print(table)
        return
    console.print(f"[bold]{escape(title)}[/]")
    for first, *rest in rows:
        console.print(escape(first), highlight=False)
        console.print("  " + "  ".join(f"[dim]{header}[/] {escape(value)}" for header, value
                                       in zip(headers[1:], rest, strict=True) if value),
                      highlight=False)


def _status(value: str) -> str:
    return f"[{STATUS_STYLE.get(value, 'white')}]{value}[/]"


def _print_message(message: dict[str, Any]) -> None:
    console.print(f"[bold]{message['id']}[/]  {_status(message['status'])}")
    console.print(f"  to {message.get('to')}  template {message.get('template')}  "
                  f"created {message.get('created_at')}")
    if message.get("ses_message_id"):
        console.print(f"  SES message id {message['ses_message_id']}")
    failure = message.get("failure")
    if failure:
        diagnostic = f" ({failure['diagnostic']})" if failure.get("diagnostic") else ""
        console.print(f"  [red]failed: {escape(str(failure.get('reason')) + diagnostic)}[/]")
        if failure.get("action"):
            console.print(f"  what to do: {escape(failure['action'])}")
    table = wrapping_table("at", "event", "detail", title="Timeline", whole=("at",))
    for event in message.get("events", []):
        detail = {k: v for k, v in event.items() if k not in ("type", "at")}
        table.add_row(str(event.get("at", "")), str(event.get("type", "")),
                      escape("\n".join(f"{k}={_short(v)}" for k, v in detail.items())))
    console.print(table)


def _short(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def _print_suppression(item: dict[str, Any]) -> None:
    scope = f"{item['category']} mail" if item.get("category") else "all mail"
    console.print(f"[bold]{item['email']}[/]  {scope}  reason [red]{item['reason']}[/]  "
                  f"since {item.get('created_at')}  expires {item.get('expires_at') or 'never'}")
    if item.get("source"):
        console.print(f"  source {escape(item['source'])}")
    if item.get("note"):
        console.print(f"  note {escape(item['note'])}")


def _print_history(history: list[dict[str, Any]]) -> None:
    if not history:
        return
    table = wrapping_table("when", "change", "reason", "by", "note", title="History")
    for change in history:
        table.add_row(change.get("at", ""), change.get("action", ""),
                      change.get("reason") or "", escape(change.get("by") or
                                                         change.get("source") or ""),
                      escape(change.get("note") or ""))
    console.print(table)


def _print_notification(body: str, as_json: bool) -> None:
    try:
        notification = json.loads(json.loads(body)["Message"])  # the SNS envelope
    except (ValueError, KeyError, TypeError):
        notification = {"raw": body}
    if as_json:
        print(json.dumps(notification), flush=True)
        return
    kind = str(notification.get("type", "?"))
    style = STATUS_STYLE.get(str(notification.get("status") or ""), "white")
    failure = notification.get("failure") or {}
    console.print(
        f"{notification.get('occurred_at', '')}  [{style}]{kind:<18}[/] "
        f"{notification.get('recipient', '')}  {notification.get('message_id', '')}"
        + (f"  [red]{failure.get('reason')}[/]" if failure else "")
    )


def _print_json(payload: Any) -> None:
    print(json.dumps(payload, indent=2))


def main() -> int:
    try:
        app()
    except CliError as error:
        # A script that asked for JSON reads stdout: a failure is there too, on one line in
        # the API's shape (typer keeps each command's options to itself, hence argv). A
        # usage error is the caller's bug: stderr only, as click's own.
        exit_code = getattr(error, "exit_code", 1)
        if "--json" in sys.argv[1:] and exit_code != 2:
            print(json.dumps(error.as_json()))
        errors.print(f"[red]error:[/] {escape(str(error))}", highlight=False)
        return exit_code
    return 0


if __name__ == "__main__":
    sys.exit(main())
