"""In a real browser, as an admin: open the default rule set's draft, lower the lead
threshold so a known contact qualifies, preview (the contact is among the examples),
publish, and see the contact's stage change. The live server runs Celery eagerly.

Screenshots of each page go to test-artifacts/screenshots/rules_*.png.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from django.test import Client
from django.urls import NoReverseMatch, reverse

# Playwright's sync API runs an event loop in this thread; Django's ORM calls from the
# test body are still synchronous and safe.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

pytestmark = [pytest.mark.browser]

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--no-first-run", "--disable-sync"]
SHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"


@pytest.fixture(scope="module")
def rules_browser(chromium):
    """The session's Debian chromium (tests/browser/conftest.py): one Playwright per session."""
    return chromium


@pytest.fixture
def admin_page(rules_browser, live_server, transactional_db, admin, settings):
    """A browser tab logged in as the admin (session cookie from Django's test client), in English."""
    settings.LANGUAGE_CODE = "en"
    client = Client()
    client.force_login(admin)
    context = rules_browser.new_context(locale="en-US", viewport={"width": 1280, "height": 900})
    context.add_cookies([{"name": settings.SESSION_COOKIE_NAME, "value": client.cookies[settings.SESSION_COOKIE_NAME].value,
                          "url": live_server.url}])
    page = context.new_page()
    page.set_default_timeout(15_000)
    page.on("dialog", lambda dialog: dialog.accept())  # the publish button asks for confirmation
    problems: list[str] = []
    page.on("console", lambda msg: problems.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda exc: problems.append(str(exc)))
    yield page
    context.close()
    # No CSP refusals (inline style/script) and no JS errors on any page visited.
    assert not problems, problems


def shot(page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.evaluate("window.scrollTo(0, 0)")  # else the sticky top bar lands mid-page in a full-page shot
    page.screenshot(path=str(SHOTS / f"rules_{name}.png"), full_page=True)


def test_admin_changes_a_rule_previews_publishes_and_the_contact_moves(admin_page, live_server, playbooks, make_contact, log):
    from contacts.models import StageChange
    from scoring.models import RuleSet

    page = admin_page
    nina = make_contact(full_name="Nina Near", phone="081234567890")  # phone +5
    log(nina, "form_submitted")  # +12 -> 17: below the default lead threshold of 20
    nina.refresh_from_db()
    assert (nina.score, nina.stage) == (17, "contact")
    default = RuleSet.objects.get(industry="")

    page.goto(live_server.url + "/rules/")
    assert page.get_by_role("heading", name="Scoring rules").is_visible()
    shot(page, "index")

    # Open the draft of the default rule set.
    page.locator(f"#ruleset-{default.pk}").get_by_role("button", name="Edit").click()
    page.wait_for_url(f"**/rules/{default.pk}/draft/")
    assert page.get_by_role("heading", name="Rules", exact=True).is_visible()
    shot(page, "draft")

    # A rule that names an unknown field is refused, with the message under the field.
    add = page.locator("#add-rule")
    add.get_by_label("Type").select_option("attribute")
    assert add.locator("[data-rule-part=interaction]").is_hidden()  # the JS hides what does not apply
    add.get_by_label("Label").fill("Shoe size")
    add.get_by_label("Points").fill("5")
    add.get_by_label("Field / data key").fill("shoe_size")
    add.get_by_label("Operator").select_option("eq")
    add.get_by_label("Value").fill("42")
    add.get_by_role("button", name="Add rule").click()
    error = page.locator('[data-field="new-field"] .errorlist')
    assert "Unknown field 'shoe_size'" in error.inner_text()
    page.locator('[data-field="new-field"]').scroll_into_view_if_needed()
    shot(page, "rule_error")

    # The edit page of one rule.
    page.goto(live_server.url + f"/rules/{default.pk}/draft/")
    page.locator("tr", has_text="Filled a landing-page form").get_by_role("link", name="Edit").click()
    assert page.get_by_role("heading", name="Edit rule").is_visible()
    assert page.get_by_label("Interaction kind").input_value() == "form_submitted"
    shot(page, "rule_edit")
    page.get_by_role("link", name="Cancel").click()

    # Lower the lead threshold so Nina (17) would become a lead.
    page.goto(live_server.url + f"/rules/{default.pk}/draft/")
    page.get_by_label("Lead threshold").fill("15")
    page.get_by_role("button", name="Save policy").click()
    assert page.get_by_text("Stage policy saved.").is_visible()

    # Preview: Nina is among the examples, with her new breakdown.
    page.get_by_role("link", name="Preview changes").click()
    page.wait_for_url(f"**/rules/{default.pk}/draft/preview/")
    example = page.locator(f'[data-contact="{nina.pk}"]')
    assert example.get_by_role("link", name="Nina Near").get_attribute("href") == f"/contacts/{nina.pk}/"
    assert "Filled a landing-page form" in example.inner_text()
    assert page.locator('[data-move="contact-lead"]').is_visible()
    shot(page, "preview")

    from playwright.sync_api import expect

    # Publish: back on /rules/ the rescore card follows the run (eager Celery: inline on the in-memory
    # test database, on a thread of its own elsewhere) until it shows its numbers.
    page.get_by_role("button", name="Publish").click()
    page.wait_for_url("**/rules/#rescore")
    rescore = page.locator("#rescore")
    expect(rescore.locator('[data-progress="status"]')).to_have_text("Done", timeout=60_000)
    assert rescore.locator('[data-progress="percent"]').inner_text() == "100"
    shot(page, "published")

    nina.refresh_from_db()
    default.refresh_from_db()
    assert nina.stage == "lead"
    assert StageChange.objects.get(contact=nina, to_stage="lead").ruleset_version_id == default.active_version_id

    # The contact's page shows the new stage (once the contact pages exist).
    try:
        reverse("contacts:detail", args=[nina.pk])
    except NoReverseMatch:
        contact_page_exists = False
    else:
        contact_page_exists = True
    if contact_page_exists:
        response = page.goto(live_server.url + f"/contacts/{nina.pk}/")
        assert response.status == 200
        assert "Lead" in page.locator("main").inner_text()
        shot(page, "contact")

    # The old version is archived and readable; rolling back starts with a preview that offers to
    # return Nina, whom the new version moved, and she goes back with the rollback as the reason.
    page.goto(live_server.url + "/rules/")
    page.locator(f"#ruleset-{default.pk}").get_by_role("link", name="v1").click()
    shot(page, "version")
    page.get_by_role("link", name="Publish this version again").click()
    page.wait_for_url("**/rollback/")
    returns = page.locator('[data-rollback="returns"]')
    assert "1 contact is where v2 moved it" in returns.inner_text()
    returns.get_by_role("link", name="Preview with them returned").click()
    page.wait_for_url("**/rollback/?return=1")
    box = page.get_by_label("Also return this contact to where it was, with the rollback as the reason")
    assert box.is_checked()
    shot(page, "rollback_preview")
    page.get_by_role("button", name="Publish v1 again").click()
    page.wait_for_url("**/rules/#rescore")
    assert "1 contact went back to where it was." in page.locator("main").inner_text()
    nina.refresh_from_db()
    assert nina.stage == "contact"
    assert StageChange.objects.filter(contact=nina, reason_code="rolled_back").count() == 1


def test_rules_pages_in_indonesian_on_a_phone(rules_browser, live_server, transactional_db, admin, playbooks, settings):
    client = Client()
    client.force_login(admin)
    context = rules_browser.new_context(locale="id-ID", viewport={"width": 390, "height": 844}, is_mobile=True)
    context.add_cookies([{"name": settings.SESSION_COOKIE_NAME, "value": client.cookies[settings.SESSION_COOKIE_NAME].value,
                          "url": live_server.url}])
    page = context.new_page()
    try:
        from scoring.models import RuleSet

        default = RuleSet.objects.get(industry="")
        page.goto(live_server.url + "/rules/")
        assert page.locator("html").get_attribute("lang") == "id"
        assert page.evaluate("document.documentElement.scrollWidth") <= 391
        shot(page, "index_id_phone")
        page.locator(f"#ruleset-{default.pk}").locator("button[type=submit]").click()
        page.wait_for_url(f"**/rules/{default.pk}/draft/")
        # Nothing overflows sideways on a phone (wide tables scroll inside their own box).
        assert page.evaluate("document.documentElement.scrollWidth") <= 391
        shot(page, "draft_id_phone")
    finally:
        context.close()


def test_progress_card_follows_a_running_rescore(admin_page, live_server, playbooks):
    """The poller reads progress.json each second and updates the card; when the run
    is done it reloads the page once."""
    from playwright.sync_api import expect

    from scoring.models import RescoreRun

    page = admin_page
    run = RescoreRun.objects.create(reason="published Default v9", total_chunks=4)
    page.goto(live_server.url + "/rules/")
    card = page.locator("#rescore")
    assert card.locator('[data-progress="percent"]').inner_text() == "0"
    assert card.get_by_role("link", name="Refresh progress").is_visible()  # the no-JS fallback

    RescoreRun.objects.filter(pk=run.pk).update(done_chunks=2, contacts_scored=5000, stage_changes=12)
    expect(card.locator('[data-progress="percent"]')).to_have_text("50")
    assert card.locator('[data-progress="contacts_scored"]').inner_text() == "5000"
    assert "w-50" in card.locator(".progress-bar").get_attribute("class")
    shot(page, "progress_running")

    RescoreRun.objects.filter(pk=run.pk).update(done_chunks=4, status=RescoreRun.Status.DONE)
    expect(page.locator("[data-progress-url]")).to_have_count(0)  # reloaded: nothing left to poll
    assert page.locator("#rescore [data-progress=status]").inner_text() == "Done"
