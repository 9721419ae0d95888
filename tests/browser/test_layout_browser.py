"""Layout at 1,366 px and on a 390 px phone (issue 18, defect 7): no page scrolls sideways, and the
named element sits wholly inside its card (a table that scrolls inside its card hides what is cut)."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.imports.conftest import csv_bytes

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

DESKTOP, PHONE = 1366, 390
WIDTHS = [pytest.param(DESKTOP, id="desktop"), pytest.param(PHONE, id="phone")]

# The element's box and its card's box (the closest .card), and whether anything in the card scrolls sideways.
BOXES = """(el) => {
  const card = el.closest('.card');
  const r = el.getBoundingClientRect(), c = card.getBoundingClientRect();
  const scrollers = [...card.querySelectorAll('.table-wrap')].filter((w) => w.scrollWidth > w.clientWidth + 1);
  return {el: [r.left, r.right], card: [c.left, c.right], scrolls: scrollers.length, width: r.width};
}"""


def assert_no_sideways_scroll(page):
    widths = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    assert widths[0] <= widths[1], f"the page is {widths[0]} px wide in a {widths[1]} px window"


def assert_inside_card(locator):
    expect(locator).to_be_visible()
    box = locator.evaluate(BOXES)
    assert box["width"] > 0, box
    assert box["card"][0] - 0.5 <= box["el"][0] and box["el"][1] <= box["card"][1] + 0.5, f"outside its card: {box}"
    assert box["scrolls"] == 0, f"a table scrolls sideways inside the card: {box}"


@pytest.mark.parametrize("width", WIDTHS)
def test_privacy_page_consent_table_fits_its_card(browse, screenshot, admin, make_contact, width):
    contact = make_contact(full_name="Sari Privasi", phone="081277770001", consent_email=True, consent_whatsapp=True)
    page = browse(admin, width=width)
    page.goto(f"{page.base}/contacts/{contact.pk}/privacy/")
    button = page.locator("#h-consent").locator("xpath=ancestor::section[1]").get_by_role("button", name="Do not contact")
    assert_inside_card(button)
    assert_no_sideways_scroll(page)
    screenshot(page, f"layout_privacy_{width}")
    assert page.errors == []


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("query", ["?stage=contact", ""], ids=["stage", "all"])  # "all" adds the stage column
def test_stage_list_fits_its_card(browse, screenshot, admin, rep, make_contact, width, query):
    for i in range(3):
        make_contact(full_name=f"Prospek Dengan Nama Yang Cukup Panjang {i}", company="PT Sumber Rejeki Abadi Sejahtera Makmur",
                     email=f"prospek.dengan.alamat.surel.panjang.{i}@perusahaan-contoh-indonesia.co.id",
                     city="Tangerang Selatan", tags=["webinar", "pameran", "kunjungan-pameran-2026"], owner=rep,
                     source="instagram")
    page = browse(admin, width=width)
    page.goto(f"{page.base}/contacts/{query}")
    owner = page.locator("#bulk-form tbody tr").first.locator("td").last
    expect(owner).to_contain_text(rep.first_name)
    assert_inside_card(owner)
    assert_inside_card(page.locator("#bulk-form tbody tr").first.locator(".cell-title"))
    assert_no_sideways_scroll(page)
    screenshot(page, f"layout_stage_list_{'stage' if query else 'all'}_{width}")
    assert page.errors == []


@pytest.mark.parametrize("width", WIDTHS)
def test_import_mapping_selects_wrap_inside_the_card(browse, screenshot, marketer, width, tmp_path):
    upload = tmp_path / "leads.csv"
    upload.write_bytes(csv_bytes([["Nama", "No. HP", "Surel", "Last Activity", "Converted", "Kota"],
                                  ["Budi Santoso", "0812-3456-7890", "budi@contoh.co.id", "05/03/2026", "yes", "Jakarta"]]))
    page = browse(marketer, width=width)
    page.goto(f"{page.base}/import/")
    page.locator("input[type=file]").set_input_files(str(upload))
    page.locator("form button[type=submit]").last.click()
    page.wait_for_url("**/mapping/")
    row = page.locator("[data-mapping-row]").filter(has=page.locator("th > strong", has_text=re.compile("^Last Activity$")))
    row.locator("select[name$=-target]").select_option("interaction")
    for select in row.locator("select:visible").all():
        assert_inside_card(select)
    assert_no_sideways_scroll(page)
    screenshot(page, f"layout_import_mapping_{width}")
    assert page.errors == []


def test_contact_page_on_a_phone_puts_identity_and_contact_buttons_first(browse, screenshot, admin, make_contact):
    contact = make_contact(full_name="Rina Wijaya", phone="081299990001", email="rina@contoh.co.id", company="PT Maju",
                           consent_whatsapp=True)
    page = browse(admin, width=PHONE, height=800)
    page.goto(f"{page.base}/contacts/{contact.pk}/")
    call = page.locator(".contact-buttons a[href^='tel:']")
    mail = page.locator(".contact-buttons a[href^='mailto:']")
    whatsapp = page.locator(".contact-buttons .btn-whatsapp")
    tops = {name: loc.evaluate("(el) => el.getBoundingClientRect().top + window.scrollY")
            for name, loc in {"call": call, "email": mail, "whatsapp": whatsapp,
                              "identity": page.locator("#h-identity"), "forms": page.locator("#h-note"),
                              "timeline": page.locator("#h-timeline")}.items()}
    for name in ("call", "email", "whatsapp", "identity"):
        assert tops[name] < 800, f"{name} is {tops[name]:.0f} px down on a phone: {tops}"
        assert tops[name] < tops["forms"] < tops["timeline"], tops
    for loc in (call, mail, whatsapp):
        assert_inside_card(loc)
    assert_no_sideways_scroll(page)
    screenshot(page, "layout_contact_phone", full_page=False)
    assert page.errors == []


def test_contact_page_on_a_desktop_keeps_the_sidebar(browse, admin, make_contact):
    contact = make_contact(full_name="Rina Wijaya", phone="081299990001", email="rina@contoh.co.id", consent_whatsapp=True)
    page = browse(admin, width=DESKTOP)
    page.goto(f"{page.base}/contacts/{contact.pk}/")
    identity = page.locator("#h-identity").bounding_box()
    forms = page.locator("#h-note").bounding_box()
    assert identity["x"] > forms["x"] + forms["width"], (identity, forms)  # the identity card is the right-hand column
    assert_inside_card(page.locator(".contact-buttons a[href^='tel:']"))
    assert_no_sideways_scroll(page)
