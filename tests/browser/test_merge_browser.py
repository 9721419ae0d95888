"""Merging two contacts in a real browser: from the duplicates list to the preview, pick a field,
confirm, then undo from the success message. No console errors (the CSP holds), no horizontal
scroll on a phone."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from contacts.models import Contact, ContactMerge

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def pair(reference_data):
    kept = Contact.objects.create(full_name="Dewi Lestari", email="dewi.lestari@gmail.com", company="PT Maju", city="Bandung")
    other = Contact.objects.create(full_name="Dewi Lestari", email="dewilestari+expo@gmail.com", company="PT Maju",
                                   city="Jakarta", job_title="Manajer")
    return kept, other


def test_preview_pick_a_field_confirm_and_undo(browse, screenshot, marketer, pair):
    kept, other = pair
    page = browse(marketer)
    page.goto(page.base + "/contacts/duplicates/")
    page.get_by_role("link", name="Keep A…").first.click()
    expect(page).to_have_url(re.compile(rf"/contacts/merge/{kept.pk}/{other.pk}/$"))
    expect(page.get_by_role("heading", name="Merge two contacts", level=1)).to_be_visible()
    expect(page.locator('[data-testid="different-emails"]')).to_have_count(0)  # one Gmail mailbox
    expect(page.locator('input[name="choice_job_title"][value="Manajer"]')).to_be_checked()  # blank filled by default
    page.locator('input[name="choice_city"][value="Jakarta"]').check()
    screenshot(page, "merge_preview")
    page.get_by_role("button", name="Merge", exact=True).click()

    expect(page).to_have_url(re.compile(r"/contacts/duplicates/$"))
    expect(page.locator(".messages")).to_contain_text("Merged #")
    kept.refresh_from_db()
    assert (kept.city, kept.job_title) == ("Jakarta", "Manajer")
    assert not Contact.objects.filter(pk=other.pk).exists()

    page.locator(".messages").get_by_role("link", name=re.compile("Undo")).click()
    expect(page.get_by_role("heading", name="Undo a merge", level=1)).to_be_visible()
    page.get_by_role("button", name="Undo the merge").click()
    expect(page).to_have_url(re.compile(rf"/contacts/{other.pk}/$"))
    expect(page.locator(".messages")).to_contain_text("Merge undone")
    kept.refresh_from_db()
    assert (kept.city, kept.job_title) == ("Bandung", "")
    assert Contact.objects.get(pk=other.pk).city == "Jakarta"
    assert ContactMerge.objects.get().undone_at is not None
    assert page.errors == []


def test_preview_fits_a_phone_in_indonesian(browse, screenshot, marketer, reference_data):
    a = Contact.objects.create(full_name="Budi Santoso", email="budi@maju.co.id", company="PT Maju")
    b = Contact.objects.create(full_name="Budi Santoso", email="budi@lain.co.id", company="PT Maju", city="Medan")
    page = browse(marketer, locale="id-ID", width=390, height=844)
    page.goto(page.base + f"/contacts/merge/{a.pk}/{b.pk}/")

    expect(page.locator('[data-testid="different-emails"]')).to_contain_text("Alamat email berbeda")
    screenshot(page, "merge_preview_phone_id")
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    assert page.errors == []
