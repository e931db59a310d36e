"""What the local console reads and how it guards itself (mailroom_dev/local/console*.py),
without its HTTP server: the outbox files, the records through the API's views on fakes,
the template previews from a copy of templates/, and the Host and Origin checks."""

from __future__ import annotations

import json
import os
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from mailroom.counting import CountedEvent, Outcome, Traffic
from mailroom.models import Failure, Message, SendingState, Status, Suppression, TimelineEvent
from mailroom.reputation import ReputationPolicy, Thresholds
from mailroom_dev.local.console import host_allowed, origin_allowed
from mailroom_dev.local.console_data import (
    NotFound,
    Outbox,
    Pipeline,
    PreviewFailed,
    TemplatePreviews,
)
from mailroom_dev.local.outbox import OutgoingEmail, build_mime, write_eml
from mailroom_dev.templates_build import OUTPUT_PATH, SOURCE_DIR
from tests.fakes import FakeCounters, FakeMessageStore, FakeSendingSwitch, FakeSuppressionStore

PORT = 8025
SES_ID = "010001a2-0000-4ab9-40ab-000000000001"
POLICY = ReputationPolicy(window=timedelta(hours=24), warn=Thresholds(0.02, 0.0005, 100),
                          pause=Thresholds(0.04, 0.0008, 500))


def write_mail(outbox: Path, ses_id: str, to: str, *, html: str | None = "<p>Hi</p>",
               sent_at: datetime | None = None) -> Path:
    email = OutgoingEmail(message_id=ses_id, sent_at=sent_at or datetime.now(UTC),
                          from_address="Mailroom <no-reply@mail.example.com>", to=[to], cc=[],
                          reply_to=[], subject=f"Hello {to}", text="Hi there", html=html)
    return write_eml(outbox, ses_id, build_mime(email).as_bytes())


# --- who may ask -------------------------------------------------------------------------

@pytest.mark.parametrize("host", ["127.0.0.1:8025", "localhost:8025", "LOCALHOST:8025"])
def test_the_console_answers_its_loopback_names(host: str) -> None:
    assert host_allowed(host, PORT)


@pytest.mark.parametrize("host", [None, "", "127.0.0.1", "localhost", "127.0.0.1:8026",
                                  "evil.example:8025", "evil.example", "0.0.0.0:8025",
                                  "127.0.0.1:8025.evil.example", "[::1]:8025"])
def test_a_host_that_is_not_the_console_is_refused(host: str | None) -> None:
    # DNS rebinding: a page whose name now points at 127.0.0.1 still sends its own name.
    assert not host_allowed(host, PORT)


def test_only_the_consoles_own_origin_is_accepted() -> None:
    assert origin_allowed(None, PORT)  # not a cross-origin browser request
    assert origin_allowed("http://127.0.0.1:8025", PORT)
    assert origin_allowed("http://localhost:8025", PORT)
    for origin in ("http://evil.example", "null", "https://127.0.0.1:8025",
                   "http://127.0.0.1:9999", "http://localhost.evil.example:8025"):
        assert not origin_allowed(origin, PORT), origin


# --- the outbox --------------------------------------------------------------------------

def test_the_outbox_lists_the_newest_mail_first(tmp_path: Path) -> None:
    start = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
    for index in range(3):
        path = write_mail(tmp_path, f"ses-{index}", f"user{index}@example.com",
                          sent_at=start + timedelta(minutes=index))
        stamp = (start + timedelta(minutes=index)).timestamp()

        os.utime(path, (stamp, stamp))
    (tmp_path / "notes.txt").write_text("not mail")

    total, summaries = Outbox(tmp_path).summaries()

    assert total == 3
    assert [summary.id for summary in summaries] == ["ses-2", "ses-1", "ses-0"]
    assert summaries[0].to == "user2@example.com"
    assert summaries[0].subject == "Hello user2@example.com"
    assert summaries[0].at == (start + timedelta(minutes=2)).isoformat()


def test_an_outbox_message_carries_its_parts_and_headers(tmp_path: Path) -> None:
    write_mail(tmp_path, SES_ID, "ada@example.com", html="<h1>Welcome</h1>")
    outbox = Outbox(tmp_path)

    message = outbox.message(SES_ID)

    assert message["text"].strip() == "Hi there"
    assert message["has_html"] is True
    assert outbox.html(SES_ID).strip() == "<h1>Welcome</h1>"
    assert {"name": "To", "value": "ada@example.com"} in message["headers"]
    assert outbox.raw(SES_ID).startswith(b"From: ")


def test_a_text_only_message_has_no_html_to_show(tmp_path: Path) -> None:
    write_mail(tmp_path, SES_ID, "ada@example.com", html=None)
    outbox = Outbox(tmp_path)

    assert outbox.message(SES_ID)["has_html"] is False
    with pytest.raises(NotFound):
        outbox.html(SES_ID)


@pytest.mark.parametrize("name", ["missing", "../secret", "..", "a/b", "x.eml", "", "a" * 101])
def test_ids_that_name_no_outbox_file_are_not_found(tmp_path: Path, name: str) -> None:
    (tmp_path / "outbox").mkdir()
    (tmp_path / "secret.eml").write_text("From: x\n\nnot for the console")

    with pytest.raises(NotFound):
        Outbox(tmp_path / "outbox").raw(name)


def test_a_missing_outbox_folder_is_an_empty_outbox(tmp_path: Path) -> None:
    assert Outbox(tmp_path / "never-created").summaries() == (0, [])


# --- records, suppressions and the guard, through the API's views -------------------------

def pipeline() -> Pipeline:
    return Pipeline(messages=FakeMessageStore(), suppressions=FakeSuppressionStore(),
                    switch=FakeSendingSwitch(), counters=FakeCounters(), reputation=POLICY)


def bounced_message() -> Message:
    now = datetime.now(UTC)
    return Message(
        id="6f1c1d2e-0000-4000-8000-000000000001", status=Status.BOUNCED,
        to="bounce@simulator.amazonses.com", from_address="no-reply@mail.example.com",
        template="welcome", created_at=now, updated_at=now, ses_message_id=SES_ID,
        events=[TimelineEvent(key="queued", type="queued", at=now),
                TimelineEvent(key="bounce", type="bounce",
                              at=now + timedelta(seconds=1))],
        failure=Failure(reason="mailbox_does_not_exist", action="Check the address.",
                        bounce_type="Permanent", bounce_subtype="General",
                        diagnostic="smtp; 550 5.1.1 user unknown"))


def test_a_record_is_found_by_its_ses_id_or_its_own_id() -> None:
    reader = pipeline()
    reader.messages.create(bounced_message())

    by_ses_id = reader.record(SES_ID)
    by_id = reader.record("6f1c1d2e-0000-4000-8000-000000000001")

    assert by_ses_id is not None and by_id is not None
    assert by_ses_id.id == by_id.id
    assert reader.record("unknown") is None
    assert reader.record("../etc/passwd") is None


def test_a_record_reads_as_the_api_answers_it() -> None:
    reader = pipeline()
    reader.messages.create(bounced_message())

    view = reader.view(reader.record(SES_ID))  # type: ignore[arg-type]

    assert view["status"] == "bounced"
    assert [event["type"] for event in view["events"]] == ["queued", "bounce"]
    assert view["failure"]["reason"] == "mailbox_does_not_exist"
    assert view["from"] == "no-reply@mail.example.com"


def test_queued_mail_says_it_waits_while_sending_is_paused() -> None:
    reader = pipeline()
    message = bounced_message().model_copy(update={"status": Status.QUEUED, "failure": None})
    reader.messages.create(message)
    reader.switch.set(SendingState(paused=True, reason="drill", since=datetime.now(UTC),
                                   source="api"))

    assert reader.view(message)["waiting"]["reason"] == "paused"


def test_a_status_is_looked_up_again_only_after_a_moment() -> None:
    clock = [100.0]
    reader = pipeline()
    reader.clock = lambda: clock[0]
    message = bounced_message().model_copy(update={"status": Status.SENT})
    reader.messages.create(message)
    assert reader.status(SES_ID) == "sent"

    reader.messages.messages[message.id].status = Status.DELIVERED
    assert reader.status(SES_ID) == "sent"  # reused within the TTL
    clock[0] += 2
    assert reader.status(SES_ID) == "delivered"
    assert reader.status("not-yet-recorded") is None


def test_the_guard_shows_the_switch_and_the_reputation_figures() -> None:
    reader = pipeline()
    hour = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    for outcome, count in ((Outcome.SEND, 200), (Outcome.HARD_BOUNCE, 6)):
        for _ in range(count):
            reader.counters.add(CountedEvent(hour, Traffic.REAL, outcome, None, "example.com"))
    reader.switch.set(SendingState(paused=True, reason="drill", since=datetime.now(UTC),
                                   source="api"))

    guard = reader.guard()

    assert guard["sending"]["sending"] == "paused"
    assert guard["sending"]["reason"] == "drill"
    assert guard["reputation"]["sends"] == 200
    assert guard["reputation"]["bounce_rate"] == pytest.approx(0.03)
    assert guard["reputation"]["state"] == "warning"
    assert guard["reputation"]["thresholds"]["pause"]["min_sends"] == 500


def test_the_suppression_list_reads_as_the_api_answers_it() -> None:
    reader = pipeline()
    reader.suppressions.put(Suppression(email="gone@example.com", reason="hard_bounce",
                                        created_at=datetime.now(UTC), source="ses"))

    listing = reader.suppression_list()

    assert [item["email"] for item in listing["items"]] == ["gone@example.com"]
    assert listing["items"][0]["reason"] == "hard_bounce"
    assert listing["more"] is False


# --- template previews -------------------------------------------------------------------

@pytest.fixture
def sources(tmp_path: Path) -> Path:
    copy = tmp_path / "templates"
    shutil.copytree(SOURCE_DIR, copy)
    return copy


def test_a_preview_renders_the_data_it_is_given(sources: Path) -> None:
    previews = TemplatePreviews(sources)

    first = previews.render("welcome", {"name": "Ada", "action_url": "https://a.example/x"})
    second = previews.render("welcome", {"name": "Grace", "action_url": "https://a.example/x"})

    assert "Ada" in first["subject"] and "Ada" in first["text"]
    assert "Grace" in second["subject"] and "Grace" in second["html"]
    assert "https://a.example/x" in second["html"]


def test_the_listing_offers_every_template_with_its_example(sources: Path) -> None:
    listing = TemplatePreviews(sources, compiled_path=OUTPUT_PATH).listing()

    names = [item["name"] for item in listing["items"]]
    assert names == sorted(path.name for path in SOURCE_DIR.iterdir()
                           if path.is_dir() and not path.name.startswith("_"))
    welcome = next(item for item in listing["items"] if item["name"] == "welcome")
    assert welcome["example"] == json.loads((SOURCE_DIR / "welcome" / "example.json").read_text())
    assert listing["error"] is None
    assert listing["stale"] is False  # the committed build matches the sources


def test_bad_data_is_a_preview_failure_naming_what_is_missing(sources: Path) -> None:
    previews = TemplatePreviews(sources)

    with pytest.raises(PreviewFailed) as missing:
        previews.render("welcome", {"name": "Ada"})
    with pytest.raises(PreviewFailed) as wrong_type:
        previews.render("welcome", {"name": "Ada", "action_url": "javascript:alert(1)"})
    with pytest.raises(PreviewFailed) as not_an_object:
        previews.render("welcome", ["a", "list"])

    assert missing.value.code == "missing_template_data"
    assert missing.value.details == {"missing": ["action_url"]}
    assert wrong_type.value.code == "validation_error"
    assert not_an_object.value.code == "validation_error"


@pytest.mark.parametrize("name", ["nope", "../welcome", "", "_layouts"])
def test_an_unknown_template_is_not_found(name: str) -> None:
    with pytest.raises(NotFound):
        TemplatePreviews(None).render(name, {})


def test_an_edited_template_file_shows_in_the_next_preview(sources: Path) -> None:
    previews = TemplatePreviews(sources)
    data = {"name": "Ada", "action_url": "https://a.example/x"}
    before_version = previews.listing()["version"]
    assert "Ahoy" not in previews.render("welcome", data)["subject"]

    meta_file = sources / "welcome" / "meta.json"
    meta = json.loads(meta_file.read_text())
    meta["subject"] = "Ahoy {{{name}}}"
    meta_file.write_text(json.dumps(meta))

    listing = previews.listing()
    assert listing["version"] != before_version
    assert listing["stale"] is True  # compiled_templates.json still holds the old subject
    assert previews.render("welcome", data)["subject"] == "Ahoy Ada"


def test_a_template_that_does_not_build_says_why(sources: Path) -> None:
    previews = TemplatePreviews(sources)
    (sources / "welcome" / "body.txt.j2").write_text("Hello {{nmae}}\n")

    listing = previews.listing()

    assert listing["items"] == []
    assert "nmae" in listing["error"]
    with pytest.raises(PreviewFailed) as failed:
        previews.render("welcome", {"name": "Ada", "action_url": "https://a.example/x"})
    assert failed.value.code == "template_build_failed"


def test_without_sources_the_compiled_catalog_is_previewed(tmp_path: Path) -> None:
    previews = TemplatePreviews(None)

    listing = previews.listing()

    assert "welcome" in [item["name"] for item in listing["items"]]
    assert previews.render("welcome", {"name": "Ada", "action_url": "https://a.example/x"})
