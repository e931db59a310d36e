"""A real headless browser for the pages Mailroom serves or writes (the local console, the
HTML report): Debian's chromium driven by Playwright. Without chromium the tests are skipped
loudly; with MAILROOM_REQUIRE_BROWSER=1 (CI) they fail instead."""

from __future__ import annotations

import os
import shutil
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

CHROMIUM = os.environ.get("MAILROOM_CHROMIUM", "/usr/bin/chromium")
BROWSER_MISSING = (
    f"No chromium at {CHROMIUM}: the browser tests did not run. `make test` installs it as "
    "root with apt; otherwise `sudo apt-get install chromium` (or set MAILROOM_CHROMIUM)."
)


def chromium_path() -> str | None:
    path = CHROMIUM if os.path.isabs(CHROMIUM) else shutil.which(CHROMIUM)
    return path if path and Path(path).is_file() and os.access(path, os.X_OK) else None


# Per module, not per session: Playwright's sync API keeps an asyncio loop running in this
# thread while it is open, and in-process tests that run later (asyncio.run in Powertools'
# async batch processing) refuse to start under it.
@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    path = chromium_path()
    if path is None:
        if os.environ.get("MAILROOM_REQUIRE_BROWSER") == "1":
            pytest.fail(BROWSER_MISSING + " MAILROOM_REQUIRE_BROWSER=1 makes this a failure.")
        warnings.warn(BROWSER_MISSING, stacklevel=1)
        pytest.skip(BROWSER_MISSING)
    # --no-sandbox: chromium refuses to start its sandbox as root (CI containers).
    args = ["--no-sandbox"] if os.geteuid() == 0 else []
    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=path, args=args)
        try:
            yield instance
        finally:
            instance.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    """A fresh page (its own context: no cookies or storage shared between tests), 1280x900.
    Console messages that are errors fail the test: a page that throws is broken."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    errors: list[str] = []
    page = context.new_page()
    page.on("console", lambda message: errors.append(message.text)
            if message.type == "error" else None)
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.set_default_timeout(10_000)
    try:
        yield page
    finally:
        context.close()
    assert not errors, f"the page logged errors: {errors}"
