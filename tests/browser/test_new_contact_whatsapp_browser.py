"""A rep enters a walk-in lead: the page warns that the person may already exist (Gmail dots),
the rep opens the existing contact instead and starts a WhatsApp chat with a prepared message."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.sync_api import expect

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def test_rep_is_warned_about_a_duplicate_then_opens_whatsapp_from_the_existing_contact(browse, screenshot, rep, make_contact):
    from contacts.models import Contact, Interaction

    existing = make_contact(full_name="Budi Santoso", email="budi.santoso@gmail.com", phone="0812-3456-7890",
                            company="PT Maju", industry="b2b", consent_whatsapp=True, owner=rep)
    page = browse(rep)
    # The browser follows our redirect to wa.me, which is outside the test machine (and Playwright
    # cannot intercept a redirect's target): record the request the browser makes.
    opened: list[str] = []
    page.context.on("request", lambda request: opened.append(request.url) if request.url.startswith("https://wa.me/") else None)

    page.get_by_role("link", name="+ Contact").click()
    expect(page.get_by_role("heading", name="New contact", level=1)).to_be_visible()
    page.get_by_role("textbox", name="Full name").fill("Budi Santoso")
    page.get_by_role("textbox", name="Email").fill("BudiSantoso+pameran@gmail.com")
    page.get_by_role("textbox", name="Company").focus()  # leaving the email field runs the duplicate check
    warning = page.get_by_test_id("duplicate-warning")
    expect(warning).to_contain_text("may already be in the CRM")
    expect(warning).to_contain_text("Same mailbox")
    screenshot(page, "new_contact_duplicate_warning")

    # Submitting anyway is stopped once more, server-side, with the explicit confirmation offered. (Leaving
    # a checked field for the button would start one more check that the submit then aborts: htmx logs that
    # abort as a console error, so the rep moves on to the job title first and the checks finish.)
    page.get_by_role("textbox", name="Job title").focus()
    page.wait_for_load_state("networkidle")
    page.get_by_role("button", name="Save contact").click()
    expect(page.get_by_label("This is a different person: save anyway")).to_be_visible()
    assert Contact.objects.count() == 1

    # The rep opens the existing contact instead of creating a second one.
    href = page.get_by_test_id("duplicate-warning").get_by_role("link", name="Budi Santoso").get_attribute("href")
    assert href == f"/contacts/{existing.pk}/"
    page.wait_for_load_state("networkidle")
    page.goto(page.base + href)
    link = page.get_by_test_id("whatsapp-link")
    expect(link).to_be_visible()
    screenshot(page, "contact_whatsapp_link")
    with page.context.expect_page() as chat_info:
        link.click()
    chat = chat_info.value
    chat.wait_for_event("requestfailed", predicate=lambda request: request.url.startswith("https://wa.me/"))
    [wa_url] = set(opened)  # the browser may retry a failed navigation: one URL, one logged click
    assert wa_url.startswith("https://wa.me/6281234567890?text=")
    text = parse_qs(urlsplit(wa_url).query)["text"][0]
    assert text.startswith("Halo Budi, saya Sari.")
    logged = Interaction.objects.get(contact=existing, kind="whatsapp_sent")
    assert logged.created_by == rep
    assert page.errors == []
