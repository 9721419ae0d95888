"""Bulk actions in a real browser at 1366 px: a marketer ticks rows on the leads list, chooses
"Set stage…", sees the preview's count (and who is skipped), gives the reason, confirms, and is
back on the list with the result; the contacts are prospects now, pinned, with a stage change each.
Then the same in Bahasa Indonesia for a whole segment. No console errors (the CSP holds)."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from contacts.models import Contact, Segment, StageChange

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def leads(reference_data):
    rows = [("Ani Lead", "lead", False), ("Budi Lead", "lead", False), ("Citra Prospect", "prospect", True),
            ("Dewi Lead", "lead", False)]
    return {name: Contact.objects.create(full_name=name, email=f"bulk{n}@example.co.id", stage=stage, stage_pinned=pinned,
                                         industry="education", score=40 - n)
            for n, (name, stage, pinned) in enumerate(rows)}


def test_marketer_sets_the_stage_of_selected_rows_after_a_preview(browse, screenshot, marketer, leads):
    page = browse(marketer, width=1366)
    page.goto(page.base + "/contacts/")
    for name in ("Ani Lead", "Budi Lead", "Citra Prospect"):
        page.get_by_label(f"Select {name}").check()
    page.locator("#bulk-stage").select_option("prospect")
    screenshot(page, "bulk_list_selected")
    page.get_by_role("button", name="Set stage…").click()

    expect(page).to_have_url(re.compile(r"/contacts/bulk/\d+/\?stage=prospect$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Bulk action: Set stage")
    expect(page.locator("#bulk-todo")).to_contain_text("2 contacts will be set to Prospect and pinned")
    expect(page.locator("#bulk-skipped")).to_contain_text("already at this stage (and pinned)")
    assert not StageChange.objects.exists(), "the preview changes nothing"
    page.get_by_role("button", name=re.compile("confirm for 2 contacts")).click()
    # The reason is required: the browser keeps the form until it is given (the server refuses it too, tests/bulk).
    expect(page).to_have_url(re.compile(r"/contacts/bulk/\d+/\?stage=prospect$"))
    assert page.get_by_label("Why").evaluate("el => el.validity.valueMissing")
    page.get_by_label("Why").fill("Asked for prices at the education fair")
    screenshot(page, "bulk_preview_set_stage")
    page.get_by_role("button", name=re.compile("confirm for 2 contacts")).click()

    expect(page).to_have_url(re.compile(r"/contacts/$"))
    expect(page.locator(".alert-success")).to_contain_text(
        "Set stage: 2 of 3 contacts done. Skipped 1: already at this stage (and pinned): 1.")
    screenshot(page, "bulk_done")
    assert set(Contact.objects.filter(full_name__in=["Ani Lead", "Budi Lead"]).values_list("stage", "stage_pinned")) == {
        ("prospect", True)}
    assert StageChange.objects.filter(reason_code="manual", to_stage="prospect").count() == 2
    assert not page.errors, page.errors


def test_a_whole_segment_in_indonesian(browse, screenshot, admin, leads):
    segment = Segment.objects.create(name="Prospek pameran", filters={"stage": "lead"})
    page = browse(admin, locale="id-ID", width=1366)
    page.goto(page.base + f"/contacts/?segment={segment.pk}")
    page.locator("#bulk-whole-segment").check()
    page.locator("#bulk-tag").fill("pameran")
    page.get_by_role("button", name="Tambah tag…").click()
    expect(page.locator("#bulk-todo")).to_contain_text("3 kontak akan mendapat tag “pameran”.")
    screenshot(page, "bulk_preview_segment_id")
    page.get_by_role("button", name=re.compile("konfirmasi untuk 3 kontak")).click()
    expect(page.locator(".alert-success")).to_contain_text("Tambah tag: 3 dari 3 kontak selesai.")
    assert sorted(Contact.objects.filter(tags__name="pameran").values_list("full_name", flat=True)) == [
        "Ani Lead", "Budi Lead", "Dewi Lead"]
    assert not page.errors, page.errors
