"""Playwright driving Debian's chromium (never `playwright install`), against pytest-django's
live_server. Screenshots of every page go to test-artifacts/screenshots/<name>.png."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.conftest import skip_or_fail

# Playwright's sync API runs an event loop in the test thread; Django then refuses ORM calls
# from that thread as "async-unsafe" although they are plain synchronous calls.
os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--no-first-run", "--disable-sync"]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"


def pytest_collection_modifyitems(items):
    """Every test here is a `browser` test, marked or not: CI runs them in the embedded pass only
    (.ci/run), so a new file that forgets its pytestmark must not slip into both passes or neither."""
    here = Path(__file__).resolve().parent
    for item in items:
        if here in item.path.resolve().parents and not item.get_closest_marker("browser"):
            item.add_marker(pytest.mark.browser)


@pytest.fixture(autouse=True)
def empty_rollup(transactional_db):
    """An empty stage rollup for each browser test. A transactional test ends with Django's flush, whose DELETE
    of the contacts fires SQLite's rollup triggers after the rollup tables were emptied: the next test would
    start with negative counts, and the contact list (counted from the rollup) would show an earlier test's
    contacts subtracted from its own. Which test came before depends on the order (pytest-xdist changes it)."""
    from contacts.models import StageCount, StageMove

    StageCount.objects.all().delete()
    StageMove.objects.all().delete()


@pytest.fixture(scope="session")
def chromium():
    if not Path(CHROMIUM).exists():
        skip_or_fail(f"{CHROMIUM} is missing (apt-get install -y chromium)")
    from playwright.sync_api import sync_playwright

    playwright = sync_playwright().start()
    browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    yield browser
    browser.close()
    playwright.stop()


@pytest.fixture
def screenshot() -> Callable:
    def take(page, name: str, *, full_page: bool = True) -> Path:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS / f"{name}.png"
        page.evaluate("window.scrollTo(0, 0)")  # the sticky top bar stays at the top of a full-page shot
        # caret="initial": Playwright's caret hiding writes style="" on every input, which the
        # CSP (style-src 'self') then reports as a violation on the next DOM change.
        page.screenshot(path=str(path), full_page=full_page, caret="initial")
        return path

    return take


# htmx logs a request cut short by leaving the page (the bell's refresh, a last duplicate check) as
# htmx:sendAbort and htmx:afterRequest. That is the browser doing its job; a real failure still logs
# htmx:responseError or htmx:sendError, which stay errors.
ABORTED_REQUEST_LOGS = ("htmx:sendAbort", "htmx:afterRequest")


def _collect_console_error(errors: list[str], msg) -> None:
    if msg.type == "error" and not msg.text.startswith(ABORTED_REQUEST_LOGS):
        errors.append(f"{msg.text} @ {msg.location}")


@pytest.fixture
def browse(chromium, live_server, transactional_db) -> Iterator[Callable]:
    """browse(user, locale="en-US", width=1360) -> a page logged in through the real login form.
    Console errors (a CSP violation, a failed asset) are collected on page.errors."""
    contexts = []

    def open_as(user, *, locale: str = "en-US", width: int = 1360, height: int = 900):
        context = chromium.new_context(locale=locale, viewport={"width": width, "height": height})
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(15_000)
        page.errors = []
        page.on("console", lambda msg: _collect_console_error(page.errors, msg))
        page.on("pageerror", lambda exc: page.errors.append(str(exc)))
        page.base = live_server.url
        page.goto(live_server.url + "/accounts/login/")
        page.fill("#id_username", user.username)
        page.fill("#id_password", "pw-" + user.username)  # tests.conftest.make_user's password
        page.click("button[type=submit]")
        page.wait_for_url(live_server.url + "/")
        return page

    yield open_as
    for context in contexts:
        context.close()


# The nurture fixtures (a real SMTP server process, the starter library, a contact in a stage) for
# the nurture walk-through; one session-wide chromium serves every browser test.
from tests.nurture.conftest import library, message, person, smtp_server, smtp_sink  # noqa: E402, F401
