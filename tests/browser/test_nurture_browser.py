"""A marketer's nurture day in the browser, in Bahasa Indonesia: write a message with a preview,
then send a lead the education email the contact page suggests (and never a promo)."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def test_marketer_writes_previews_and_sends_education_to_a_lead(browse, screenshot, marketer, person, library,
                                                                 smtp_server):
    lead = person("lead", full_name="Putri Ayu", email="putri@example.co.id", industry="education")
    page = browse(marketer, locale="id-ID")

    page.get_by_role("link", name="Pesan", exact=True).click()
    expect(page.get_by_role("heading", name="Pesan", level=1)).to_be_visible()
    page.get_by_role("link", name="Pesan baru").click()
    page.get_by_label("Nama", exact=True).fill("Undangan open house")
    page.get_by_label("Tujuan").select_option("education")
    page.get_by_label("Subjek").fill("Open house untuk {{ first_name }}")
    page.get_by_label("Isi").fill("Halo {{ first_name }}, datang ke open house: https://kampus.example/oh\n\n{{ unsubscribe_url }}")
    page.get_by_label("Pratinjau dengan kontak #").fill(str(lead.pk))
    page.get_by_role("button", name="Pratinjau").click()
    expect(page.locator(".message-preview")).to_contain_text("Halo Putri")
    screenshot(page, "nurture_message_preview_id")
    page.get_by_role("button", name="Simpan").click()
    expect(page.locator("main")).to_contain_text("Pesan disimpan.")

    page.goto(f"{page.base}/contacts/{lead.pk}/")
    card = page.locator("section[aria-labelledby=h-messages]")
    expect(card).to_contain_text("Brosur program")
    expect(card).not_to_contain_text("Penawaran bulan ini")  # never a promo for a lead
    card.locator("li", has_text="Brosur program").get_by_role("button", name="Kirim").click()
    expect(page.locator("main")).to_contain_text("Pesan masuk antrean")
    expect(page.locator("section[aria-labelledby=h-messages]")).to_contain_text("Terkirim")
    screenshot(page, "nurture_contact_sent_id")
    assert [m["To"] for m in smtp_server.messages()] == ["putri@example.co.id"]
    assert page.errors == []


def test_marketer_previews_and_sends_a_campaign_to_a_segment(browse, screenshot, marketer, person, library,
                                                             smtp_server):
    from contacts.models import Segment
    from nurture.models import Message

    for n in range(3):
        person("lead", industry="education", source="instagram", email=f"ig{n}@example.co.id")
    person("lead", industry="education", source="instagram", consent_email=False)
    segment = Segment.objects.create(name="Lead pendidikan dari Instagram", filters={"stage": "lead", "source": "instagram"})
    page = browse(marketer, locale="id-ID")

    page.get_by_role("link", name="Kampanye").click()
    page.get_by_label("Pesan").select_option(str(Message.objects.get(starter_key="all-promo-id").pk))
    page.get_by_label("Segmen").select_option(str(segment.pk))
    page.get_by_role("button", name="Pratinjau").click()
    audience = page.locator("section[aria-labelledby=h-audience]")
    expect(audience).to_contain_text("tahap tidak cocok dengan tujuan")
    expect(page.get_by_role("button", name="Kirim ke 0 kontak")).to_be_disabled()  # a promo reaches no lead
    screenshot(page, "nurture_campaign_promo_refused_id")

    page.get_by_role("link", name="Kampanye").first.click()
    page.get_by_label("Pesan").select_option(str(Message.objects.get(starter_key="all-edu-id").pk))
    page.get_by_label("Segmen").select_option(str(segment.pk))
    page.get_by_role("button", name="Pratinjau").click()
    page.get_by_role("button", name="Kirim ke 3 kontak").click()
    expect(page.locator("section[aria-labelledby=h-progress]")).to_contain_text("Kemajuan dan hasil")
    expect(page.locator('[data-progress="sent"]')).to_have_text("3")
    screenshot(page, "nurture_campaign_sent_id")
    assert sorted(m["To"] for m in smtp_server.messages()) == [f"ig{n}@example.co.id" for n in range(3)]
    assert page.errors == []
