"""The pages in a real browser: a marketer walks the funnel and filters a stage list, a
sales rep works their prospect queue (quick note through htmx, a note and a purchase on
the contact page, and sees the stage change), the language switcher, and the phone layout.
No console errors on the way: the CSP (script-src/style-src 'self') holds."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from contacts.models import Contact

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def story(playbooks, make_contact, log, rep):
    """Scored through the real services: a prospect owned by the rep, two leads, a customer, contacts."""
    rina = make_contact(full_name="Rina Wijaya", phone="081299990001", company="PT Maju Jaya", owner=rep)
    for kind in ("form_submitted", "price_requested", "demo_requested"):
        log(rina, kind)
    lukas = make_contact(full_name="Lukas Lead", phone="081299990002", company="CV Sinar", industry="other")
    log(lukas, "form_submitted")
    log(lukas, "content_downloaded")  # interest only: a price question would make him a prospect
    lala = make_contact(full_name="Lala Lead", phone="081299990003", owner=rep)
    log(lala, "form_submitted")
    log(lala, "email_clicked")
    budi = make_contact(full_name="Budi Buyer", phone="081299990004")
    log(budi, "form_submitted")
    log(budi, "purchase")
    for i in range(3):
        make_contact(full_name=f"Kontak Baru {i}", source="instagram")
    stages = dict(Contact.objects.values_list("full_name", "stage"))
    assert (stages["Rina Wijaya"], stages["Lukas Lead"], stages["Lala Lead"], stages["Budi Buyer"]) == (
        "prospect", "lead", "lead", "customer"), stages
    return {"rina": rina, "lukas": lukas}


def test_marketer_walks_the_funnel_and_filters_a_stage_list(browse, screenshot, marketer, story):
    page = browse(marketer)
    expect(page.get_by_role("heading", name="Funnel")).to_be_visible()
    expect(page.locator(".funnel-bar-lead")).to_have_text("4")  # reached lead or further: 2 leads, 1 prospect, 1 customer
    expect(page.locator("#h-trend")).to_be_visible()
    screenshot(page, "dashboard_marketer")

    page.locator(".funnel-row a", has_text="Leads").click()
    expect(page).to_have_url(re.compile(r"/contacts/\?stage=lead$"))
    expect(page.get_by_role("heading", name="Leads", level=1)).to_be_visible()
    expect(page.locator(".callout")).to_contain_text("no price promotions")
    expect(page.locator("table .cell-title")).to_have_count(2)
    screenshot(page, "contacts_leads")

    page.get_by_label("Search", exact=True).fill("Lukas")
    page.get_by_role("button", name="Apply filters").click()
    expect(page.locator("table .cell-title")).to_have_count(1)
    expect(page.locator("table .cell-title")).to_have_text("Lukas Lead")
    assert "search=Lukas" in page.url and "stage=lead" in page.url
    screenshot(page, "contacts_leads_filtered")

    # Tabs keep the filters (their counts follow them); clear, then switch stage.
    expect(page.locator("nav.tabs a", has_text="Prospects")).to_contain_text("0")
    page.get_by_role("link", name="Clear").click()
    page.locator("nav.tabs a", has_text="Prospects").click()
    page.get_by_role("link", name="Rina Wijaya").click()
    expect(page.get_by_role("heading", name="Rina Wijaya", level=1)).to_be_visible()
    expect(page.locator("#h-score")).to_be_visible()
    expect(page.locator("main")).to_contain_text("Asked for a price")  # a rule that gave points
    screenshot(page, "contact_detail_marketer")
    assert page.errors == []


def test_sales_rep_works_the_prospect_queue(browse, screenshot, rep, story):
    from contacts.models import Note

    page = browse(rep)
    screenshot(page, "dashboard_rep")
    page.locator("#primary-nav").get_by_role("link", name="My prospects").click()
    row = page.locator(f"#prospect-{story['rina'].pk}")
    expect(row).to_contain_text("New: contact now")
    screenshot(page, "my_prospects")

    # Quick note through htmx: only the row is swapped, the page stays.
    row.locator("input[type=text]").fill("Sent the price list on WhatsApp")
    row.get_by_role("button", name="Save").click()
    expect(page.locator(f"#prospect-{story['rina'].pk}")).to_contain_text("Note saved")
    assert page.url.endswith("/prospects/mine/")
    assert Note.objects.filter(contact=story["rina"], body="Sent the price list on WhatsApp").exists()

    page.get_by_role("link", name="Rina Wijaya").click()
    expect(page.locator("#timeline")).to_contain_text("Sent the price list on WhatsApp")
    page.get_by_label("Note", exact=True).fill("Called: demo booked for Tuesday")
    page.get_by_role("button", name="Save note").click()
    expect(page.locator(".alert-success")).to_have_text("Note saved.")
    expect(page.locator("#timeline")).to_contain_text("Called: demo booked for Tuesday")

    # A purchase logged on the page is scored at once: the prospect becomes a customer.
    page.get_by_label("What happened").select_option("purchase")
    page.get_by_role("button", name="Log it").click()
    expect(page.locator(".alert-success")).to_contain_text("Interaction logged")
    page.reload()
    expect(page.locator(".page-header .badge-customer")).to_have_text("Customer")
    expect(page.locator("#h-stage + .timeline")).to_contain_text("converted: Purchase on")
    screenshot(page, "contact_detail_rep")
    assert page.errors == []


def test_a_validation_error_is_shown_next_to_the_field(browse, screenshot, rep, story):
    page = browse(rep)
    page.goto(f"{page.base}/contacts/{story['rina'].pk}/")
    page.get_by_role("button", name="Save note").click()
    expect(page.locator(".alert-error")).to_contain_text("Please correct the errors below.")
    expect(page.locator(".has-error .errorlist")).to_have_text("Write something.")
    screenshot(page, "contact_detail_error")


def test_language_switcher(browse, screenshot, marketer, story):
    page = browse(marketer, locale="id-ID")
    html = page.locator("html")
    expect(html).to_have_attribute("lang", "id")  # the browser's language by default
    expect(page.locator(".lang-btn[value=id]")).to_have_attribute("aria-pressed", "true")
    screenshot(page, "dashboard_id")

    page.locator(".lang-btn[value=en]").click()
    expect(html).to_have_attribute("lang", "en")
    expect(page.locator(".lang-btn[value=en]")).to_have_attribute("aria-pressed", "true")
    expect(page.locator(".lang-btn[value=id]")).to_have_attribute("aria-pressed", "false")
    assert page.url == page.base + "/"  # back on the same page

    page.goto(page.base + "/contacts/?stage=prospect")
    page.locator(".lang-btn[value=id]").click()
    expect(html).to_have_attribute("lang", "id")
    assert page.url.endswith("/contacts/?stage=prospect")
    screenshot(page, "contacts_prospects_id")
    assert page.errors == []


def test_admin_sees_rules_and_admin_in_the_navigation(browse, screenshot, admin, story):
    page = browse(admin)
    nav = page.locator("#primary-nav")
    expect(nav.get_by_role("link", name="Rules")).to_be_visible()
    expect(nav.get_by_role("link", name="Import")).to_be_visible()
    expect(nav.get_by_role("link", name="My prospects")).to_have_count(0)
    screenshot(page, "dashboard_admin")


def test_phone_layout(browse, screenshot, rep, story):
    page = browse(rep, width=390, height=844)
    page.goto(page.base + "/prospects/mine/")
    nav = page.locator("#primary-nav")
    expect(nav).to_be_hidden()
    screenshot(page, "phone_my_prospects", full_page=False)
    page.get_by_role("button", name="Menu").click()
    expect(nav).to_be_visible()
    expect(page.get_by_role("button", name="Menu")).to_have_attribute("aria-expanded", "true")
    screenshot(page, "phone_menu", full_page=False)
    # The page does not scroll sideways on a phone.
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    assert page.errors == []


def test_slash_jumps_to_the_search_box_from_any_page(browse, marketer, story):
    page = browse(marketer)
    page.keyboard.press("/")
    box = page.locator("#topbar-q")
    expect(box).to_be_focused()
    page.keyboard.type("rina wij")
    page.keyboard.press("Enter")
    page.wait_for_url("**/search/?q=rina+wij")
    expect(page.get_by_role("link", name="Rina Wijaya")).to_be_visible()
    # Typing "/" in a field is a slash, not a jump.
    page.goto(page.base + "/contacts/new/")
    field = page.get_by_role("textbox", name="Company")
    field.fill("PT A")
    field.press("/")
    expect(field).to_have_value("PT A/")
    expect(field).to_be_focused()
    assert page.errors == []
