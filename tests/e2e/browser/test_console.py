"""The local console in a real browser, against the local stack: mail sent while the page is
open shows up by itself with its timeline and diagnosis, its HTML in a sandboxed frame, and
template previews follow the data as it is edited."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import Api

pytestmark = pytest.mark.e2e
# Long enough for the sender and the SES events to go through the pipeline on a busy machine.
PIPELINE_TIMEOUT = 20_000


@pytest.fixture
def console(page: Page, local_stack: dict[str, Any]) -> Iterator[Page]:
    """The console, opened, with every request the page makes recorded."""
    url = local_stack["console_url"]
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    page.goto(url)
    expect(page.locator("header h1")).to_contain_text("Mailroom")
    # A marker that a reload would wipe: new mail must come without one.
    page.evaluate("window.openedOnce = true")
    yield page
    foreign = [request for request in requests
               if not request.startswith((url + "/", "data:", "about:"))]
    assert not foreign, f"the console fetched from elsewhere: {foreign}"


def recipient(mailbox: str) -> str:
    return f"{mailbox}+console-{uuid.uuid4().hex[:10]}@simulator.amazonses.com"


def test_the_console_loads_with_the_guards_state(console: Page) -> None:
    expect(console.locator("#sending-pill")).to_have_text("sending enabled")
    expect(console.locator("nav a.active")).to_have_text(re.compile(r"^Outbox"))  # first


def test_mail_sent_while_the_page_is_open_appears_with_its_timeline(
    console: Page, api: Api
) -> None:
    to = recipient("success")
    status, accepted = api.send(to)
    assert status == 202, accepted

    entry = console.locator("#outbox-list li", has_text=to)
    expect(entry).to_be_visible(timeout=PIPELINE_TIMEOUT)
    expect(entry.locator("[data-status]")).to_have_text("delivered", timeout=PIPELINE_TIMEOUT)
    entry.click()

    timeline = console.locator("#timeline li")
    expect(console.locator("#timeline li[data-type=delivery]")).to_be_visible(
        timeout=PIPELINE_TIMEOUT)
    types = timeline.evaluate_all("items => items.map(item => item.dataset.type)")
    assert types.index("queued") < types.index("sent") < types.index("delivery"), types
    expect(console.locator("#message-detail")).to_contain_text(accepted["id"])
    assert console.evaluate("window.openedOnce") is True, "the page reloaded"


def test_a_bounce_shows_its_diagnosis(console: Page, api: Api) -> None:
    to = recipient("bounce")
    status, _ = api.send(to)
    assert status == 202

    console.locator("#outbox-list li", has_text=to).click(timeout=PIPELINE_TIMEOUT)

    expect(console.locator("#failure-reason")).to_have_text("mailbox_does_not_exist",
                                                             timeout=PIPELINE_TIMEOUT)
    expect(console.locator("#failure")).to_contain_text("550 5.1.1")
    expect(console.locator("#message-detail [data-status]").first).to_have_text("bounced")


def test_the_html_part_is_shown_in_a_sandboxed_frame(console: Page, api: Api) -> None:
    to = recipient("success")
    api.send(to, data={"name": "Sandboxed Sam", "action_url": "https://app.example.com/s"})

    console.locator("#outbox-list li", has_text=to).click(timeout=PIPELINE_TIMEOUT)

    frame = console.locator("iframe#message-html")
    expect(frame).to_have_attribute("sandbox", "")  # no allow-scripts, no allow-same-origin
    expect(console.frame_locator("iframe#message-html").locator("body")).to_contain_text(
        "Sandboxed Sam")
    console.locator(".tabs button[data-tab=text]").click()
    expect(console.locator("#message-text")).to_contain_text("Sandboxed Sam")
    console.locator(".tabs button[data-tab=raw]").click()
    expect(console.locator("#raw-download")).to_have_attribute(
        "href", re.compile(r"^/messages/.+\.eml$"))


def test_a_template_preview_follows_its_edited_data(console: Page) -> None:
    console.locator("nav a[data-view=templates]").click()
    console.locator("#template-list li[data-name=welcome]").click()
    editor = console.locator("#template-data")
    expect(editor).not_to_have_value("")
    example = json.loads(editor.input_value())
    expect(console.locator("#preview-subject")).to_contain_text(example["name"])

    editor.fill(json.dumps({**example, "name": "Grace Hopper"}))

    expect(console.locator("#preview-subject")).to_contain_text("Grace Hopper")
    expect(console.frame_locator("#preview-html").locator("body")).to_contain_text(
        "Grace Hopper")
    expect(console.locator("#preview-text")).to_contain_text("Grace Hopper")
    expect(console.locator("#render-status")).to_have_class(re.compile(r"\bok\b"))


def test_bad_data_shows_an_error_instead_of_a_preview(console: Page) -> None:
    console.goto(console.url.split("#")[0] + "#templates/welcome")
    editor = console.locator("#template-data")
    expect(editor).not_to_have_value("")
    status = console.locator("#render-status")

    editor.fill('{"name": "Ada", ')
    expect(status).to_contain_text("Invalid JSON")
    expect(status).to_have_class(re.compile(r"\berror\b"))

    editor.fill('{"name": "Ada"}')
    expect(status).to_contain_text("needs data for: action_url")
