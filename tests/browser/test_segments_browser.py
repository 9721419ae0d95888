"""Saved segments in a real browser: a marketer filters the contact list to education leads
from Instagram, saves the view as a segment, finds it on /segments/ with its live count and
opens it again. No console errors on the way (the CSP holds: no inline script or style)."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from contacts.models import Contact, Segment

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def audience(reference_data):
    rows = [
        ("Ani Edu", "lead", "education", "instagram"),
        ("Budi Edu", "lead", "education", "instagram"),
        ("Citra Edu", "lead", "education", "google"),
        ("Dewi B2B", "lead", "b2b", "instagram"),
        ("Eko Prospect", "prospect", "education", "instagram"),
    ]
    for n, (name, stage, industry, source) in enumerate(rows):
        Contact.objects.create(full_name=name, email=f"aud{n}@example.co.id", stage=stage, industry=industry, source=source)


def test_marketer_saves_a_view_as_a_segment_and_opens_it(browse, screenshot, marketer, audience):
    page = browse(marketer)
    page.goto(page.base + "/contacts/?stage=lead")
    page.get_by_label("Industry").select_option("education")
    page.get_by_label("Source").fill("instagram")
    page.get_by_role("button", name="Apply filters").click()
    expect(page.locator("table .cell-title")).to_have_count(2)

    page.locator("#save-view summary").click()
    page.get_by_label("Segment name").fill("Education leads from Instagram")
    screenshot(page, "segments_save_view")
    page.get_by_role("button", name="Save as a segment").click()

    segment = Segment.objects.get()
    assert segment.filters == {"stage": "lead", "industry": "education", "source": "instagram"}
    expect(page).to_have_url(re.compile(rf"/contacts/\?segment={segment.pk}$"))
    expect(page.get_by_role("heading", name="Education leads from Instagram", level=1)).to_be_visible()
    expect(page.locator("#segment-banner")).to_contain_text("Stage: Lead")
    expect(page.locator("table .cell-title")).to_have_count(2)
    expect(page.locator("table")).to_contain_text("Ani Edu")
    expect(page.locator("table")).to_contain_text("Budi Edu")

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Segments").click()
    expect(page).to_have_url(re.compile(r"/segments/$"))
    row = page.locator(f'tr[data-segment="{segment.pk}"]')
    expect(row.locator(".segment-count")).to_have_text("2")
    screenshot(page, "segments_list")

    # Live: a new matching lead is counted without touching the segment.
    Contact.objects.create(full_name="Fajar Edu", email="fajar@example.co.id", stage="lead", industry="education",
                           source="Instagram")
    page.reload()
    expect(row.locator(".segment-count")).to_have_text("3")

    row.get_by_role("link", name="Open").click()
    expect(page).to_have_url(re.compile(rf"/contacts/\?segment={segment.pk}$"))
    expect(page.locator("table .cell-title")).to_have_count(3)
    expect(page.locator("table")).not_to_contain_text("Citra Edu")
    expect(page.locator("table")).not_to_contain_text("Eko Prospect")
    assert not page.errors, page.errors
