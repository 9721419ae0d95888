"""Editing a contact's fields in place in a real browser (htmx): click Edit, a wrong value is refused
naming the field, a right one replaces the row without leaving the page; on a desktop (1366 px, English)
and on a phone (390 px, Indonesian) without horizontal scroll or console errors (the CSP holds)."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from contacts.fields import custom_field_save
from contacts.models import Contact

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.mark.parametrize(("width", "locale", "label", "edit", "shown", "error"), [
    (1366, "en-US", "Employees", "Edit", "1,250", "“banyak” is not a number."),
    (390, "id-ID", "Jumlah karyawan", "Ubah", "1.250", "“banyak” bukan angka."),
])
def test_edit_a_custom_and_a_common_field_in_place(browse, screenshot, admin, marketer, width, locale, label, edit, shown, error):
    custom_field_save(data={"key": "employees", "label_en": "Employees", "label_id": "Jumlah karyawan", "type": "number"}, by=admin)
    contact = Contact.objects.create(full_name="Rina Wati", email="rina@contoh.co.id", company="PT Lama")
    page = browse(marketer, locale=locale, width=width, height=900 if width > 500 else 844)
    detail = page.base + f"/contacts/{contact.pk}/"
    page.goto(detail)
    if page.locator("html").get_attribute("lang") != locale[:2]:  # the account's language follows the switch
        page.locator(f'.lang-switch button[value="{locale[:2]}"]').click()

    row = page.locator("#field-attributes-employees")
    expect(row).to_contain_text(label)
    row.get_by_role("link", name=f"{edit} {label}").click()
    field = row.locator('input[name="attributes.employees"]')
    expect(field).to_be_visible()
    field.fill("banyak")
    row.get_by_role("button", name=label).click()
    expect(row.locator(".errorlist")).to_contain_text(f"{label}: ")
    expect(row.locator(".errorlist")).to_contain_text(error)
    screenshot(page, f"inline_edit_error_{width}")
    if width < 500:
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")

    row.locator('input[name="attributes.employees"]').fill("1250")
    row.get_by_role("button", name=label).click()
    expect(row.locator("form")).to_have_count(0)
    expect(row.locator(".inline-value")).to_have_text(shown)
    assert page.url == detail  # swapped in place, no navigation
    contact.refresh_from_db()
    assert contact.attributes == {"employees": 1250}

    company = page.locator("#field-company")
    company.get_by_role("link").click()
    company.locator('input[name="company"]').fill("PT Baru")
    company.locator('input[name="company"]').press("Enter")
    expect(company.locator(".inline-value")).to_have_text("PT Baru")
    contact.refresh_from_db()
    assert contact.company == "PT Baru"
    screenshot(page, f"inline_edit_saved_{width}")
    if width < 500:
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    assert page.errors == []
