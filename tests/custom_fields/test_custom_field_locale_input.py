"""Issue 18's leftovers: numbers and dates typed as the reader writes them ("1.250,5" in Indonesian,
"1,250.5" in English, 31/03/2027) on the contact list's filters, "Save this view", the segment form
and the inline editor; segment phrases by the custom field's label; the audit log naming the
attribute keys an edit changed."""

from __future__ import annotations

import html as html_lib
import re

import pytest
from django.conf import settings
from django.urls import reverse

from contacts.models import Segment
from crm.models import AuditEvent

pytestmark = pytest.mark.django_db

HX = {"HTTP_HX_REQUEST": "true"}


def _in(client, lang: str):
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = lang
    return client


def _names(client, query) -> set[str]:
    response = client.get("/contacts/", query)
    assert response.status_code == 200
    return {c.full_name for c in response.context["page"].object_list}


def _errors(client, query) -> str:
    body = html_lib.unescape(client.get("/contacts/", query).content.decode())
    found = re.search(r'<ul class="errorlist" role="alert">(.*?)</ul>', body, re.S)
    return found.group(1) if found else ""


@pytest.fixture
def staff(make_contact, fields):
    make_contact(full_name="Kecil", attributes={"employees": 300, "renewal": "2027-06-01"})
    make_contact(full_name="Pas", attributes={"employees": 1250, "renewal": "2027-03-31"})
    make_contact(full_name="Besar", attributes={"employees": 1251, "renewal": "2027-01-15"})


@pytest.mark.parametrize(("lang", "whole", "fraction", "day"), [
    ("id", "1.250", "1.250,5", "31/03/2027"),
    ("en", "1,250", "1,250.5", "03/31/2027"),
])
def test_list_filters_read_numbers_and_dates_as_the_reader_writes_them(client_for, admin, staff, lang, whole, fraction, day):
    client = _in(client_for(admin), lang)
    assert _names(client, {"attributes.employees__gte": whole}) == {"Pas", "Besar"}
    assert _names(client, {"attributes.employees__gte": fraction}) == {"Besar"}
    assert _names(client, {"attributes.employees__lte": fraction}) == {"Kecil", "Pas"}
    assert _names(client, {"attributes.renewal__lte": day}) == {"Pas", "Besar"}
    # The plain form (what the API and saved segments use) still works in either language.
    assert _names(client, {"attributes.employees__gte": "1250.5"}) == {"Besar"}
    assert _names(client, {"attributes.renewal__gte": "2027-03-31"}) == {"Kecil", "Pas"}


def test_one_and_a_half_stays_one_and_a_half_in_indonesian(client_for, admin, make_contact, fields):
    make_contact(full_name="Dua", attributes={"employees": 2})
    make_contact(full_name="Satu", attributes={"employees": 1})
    client = _in(client_for(admin), "id")
    # "." separates thousands only in groups of three: "1.5" is not fifteen.
    assert _names(client, {"attributes.employees__gte": "1.5"}) == {"Dua"}
    assert _names(client, {"attributes.employees__gte": "1,5"}) == {"Dua"}


@pytest.mark.parametrize(("lang", "label", "message"), [
    ("id", "Jumlah karyawan paling sedikit", "“banyak” bukan angka."),
    ("en", "Employees is at least", "“banyak” is not a number."),
])
def test_a_value_that_is_not_a_number_is_an_error_naming_the_field(client_for, admin, staff, lang, label, message):
    client = _in(client_for(admin), lang)
    errors = _errors(client, {"attributes.employees__gte": "banyak"})
    assert f"{label}: {message}" in errors
    assert "attributes.employees" not in errors
    date_errors = _errors(client, {"attributes.renewal__lte": "besok"})
    assert ("Tanggal perpanjangan" if lang == "id" else "Renewal date") in date_errors


def test_score_range_reads_the_readers_thousands(client_for, admin, staff):
    from contacts.models import Contact

    Contact.objects.filter(full_name="Pas").update(score=5)
    client = _in(client_for(admin), "id")
    # Every score is far below a thousand: "1.000" is a thousand, not 1.0.
    assert _names(client, {"score_min": "1.000"}) == set()
    assert _names(client, {"score_min": "5"}) == {"Pas"}
    assert _names(client, {"score_max": "1.000"}) == {"Kecil", "Pas", "Besar"}


def test_save_this_view_keeps_the_plain_number(client_for, marketer, staff):
    client = _in(client_for(marketer), "id")
    response = client.post(reverse("segments:create"), {"name": "Perusahaan besar",
                                                        "query": "attributes.employees__gte=1.250,5&attributes.renewal__lte=31/03/2027"})
    assert response.status_code == 302
    segment = Segment.objects.get(name="Perusahaan besar")
    assert segment.filters == {"attributes.employees__gte": "1250.5", "attributes.renewal__lte": "2027-03-31"}
    # Read back in English, the stored filter means the same contacts.
    _in(client, "en")
    assert _names(client, {"segment": segment.pk}) == {"Besar"}


@pytest.mark.parametrize(("lang", "number", "day"), [("id", "1.250,5", "31/03/2027"), ("en", "1,250.5", "03/31/2027")])
def test_the_segment_form_reads_numbers_and_dates_as_typed(client_for, marketer, fields, lang, number, day):
    client = _in(client_for(marketer), lang)
    response = client.post(reverse("segments:create"), {
        "name": f"Karyawan {lang}", "score_gte": "1.000" if lang == "id" else "1,000",
        "attr_key_0": "employees", "attr_op_0": "gte", "attr_value_0": number,
        "attr_key_1": "renewal", "attr_op_1": "lte", "attr_value_1": day})
    assert response.status_code == 302, response.context["form"].errors
    segment = Segment.objects.get(name=f"Karyawan {lang}")
    assert segment.filters == {"score_gte": 1000, "attributes.employees__gte": "1250.5",
                               "attributes.renewal__lte": "2027-03-31"}


@pytest.mark.parametrize(("lang", "label", "message"), [
    ("id", "Jumlah karyawan", "“banyak” bukan angka."),
    ("en", "Employees", "“banyak” is not a number."),
])
def test_the_segment_form_names_the_field_of_a_bad_number(client_for, marketer, fields, lang, label, message):
    client = _in(client_for(marketer), lang)
    response = client.post(reverse("segments:create"), {"name": "Salah", "attr_key_0": "employees", "attr_op_0": "gte",
                                                        "attr_value_0": "banyak"})
    assert response.status_code == 400
    assert response.context["form"].errors["attr_value_0"] == [f"{label}: {message}"]
    assert not Segment.objects.filter(name="Salah").exists()


@pytest.mark.parametrize(("lang", "typed", "stored"), [
    ("id", "1.250,5", 1250.5), ("id", "1.250", 1250), ("en", "1,250.5", 1250.5), ("en", "1,250", 1250),
])
def test_the_inline_editor_reads_numbers_as_typed(client_for, admin, fields, make_contact, lang, typed, stored):
    contact = make_contact(email=f"ketik-{lang}-{len(typed)}@contoh.co.id")
    client = _in(client_for(admin), lang)
    url = reverse("custom_fields:contact_field", args=[contact.pk, "attributes.employees"])
    saved = client.post(url, {"attributes.employees": typed}, **HX)
    assert saved.status_code == 200
    contact.refresh_from_db()
    assert contact.attributes["employees"] == stored
    # The form shows it back in the reader's format, which reads as the same number.
    shown = "1250,5" if lang == "id" else "1250.5"
    if stored == 1250.5:
        assert f'value="{shown}"' in client.get(url, **HX).content.decode()
    # Without JavaScript (the same form as a page), and a date in the reader's format.
    day = "31/03/2027" if lang == "id" else "03/31/2027"
    url = reverse("custom_fields:contact_field", args=[contact.pk, "attributes.renewal"])
    assert client.post(url, {"attributes.renewal": day}).status_code == 302
    contact.refresh_from_db()
    assert contact.attributes["renewal"] == "2027-03-31"


@pytest.mark.parametrize(("lang", "phrases"), [
    ("id", ["Jumlah karyawan paling sedikit 1.250,5", "Paket sama dengan Emas", "Tanggal perpanjangan paling banyak 31 Mar 2027"]),
    ("en", ["Employees is at least 1,250.5", "Plan is Gold", "Renewal date is at most 31 Mar 2027"]),
])
def test_segment_phrases_name_custom_fields_by_label(client_for, marketer, fields, lang, phrases):
    from contacts import segments

    segment = segments.segment_create(name="Langganan emas", by=marketer, filters={
        "attributes.employees__gte": "1250.5", "attributes.plan": "gold", "attributes.renewal__lte": "2027-03-31"})
    client = _in(client_for(marketer), lang)
    for url in (reverse("segments:list"), f"/contacts/?segment={segment.pk}"):
        body = html_lib.unescape(client.get(url).content.decode())
        for phrase in phrases:
            assert phrase in body, (url, phrase)
        assert "employees is at least" not in body and "employees paling sedikit" not in body


@pytest.mark.parametrize(("lang", "words"), [("id", "Jumlah karyawan, segment"), ("en", "Employees, segment")])
def test_the_audit_log_names_the_attribute_keys_an_edit_changed(client_for, admin, fields, make_contact, lang, words):
    from contacts.services import contact_update

    contact = make_contact(attributes={"employees": 10, "segment": "vip", "plan": "gold"})
    contact_update(contact=contact, data={"attributes": {"employees": "20", "segment": "", "plan": "gold"}}, by=admin)
    event = AuditEvent.objects.filter(action="change", object_id=str(contact.pk)).latest("id")
    assert event.details["fields"] == ["attributes"] and event.details["keys"] == ["employees", "segment"]
    body = html_lib.unescape(_in(client_for(admin), lang).get(reverse("audit:list")).content.decode())
    assert words in body


def test_the_segment_form_shows_a_stored_number_in_the_readers_format(client_for, marketer, fields, make_contact):
    from contacts import segments

    segment = segments.segment_create(name="Kecil sekali", by=marketer, filters={"attributes.employees__gte": "1.25"})
    client = _in(client_for(marketer), "id")
    form = client.get(reverse("segments:edit", args=[segment.pk])).content.decode()
    assert 'value="1,25"' in form
    # Saved again unchanged, it is still one and a quarter, not 125 or 1250.
    response = client.post(reverse("segments:edit", args=[segment.pk]), {
        "name": "Kecil sekali", "attr_key_0": "employees", "attr_op_0": "gte", "attr_value_0": "1,25"})
    assert response.status_code == 302
    segment.refresh_from_db()
    assert segment.filters == {"attributes.employees__gte": "1.25"}


@pytest.mark.parametrize(("lang", "typed", "day"), [("id", "1.250,5", "31/03/2027"), ("en", "1,250.5", "03/31/2027")])
def test_the_edit_details_page_reads_numbers_and_dates_as_typed(client_for, admin, fields, make_contact, lang, typed, day):
    from contacts.forms import ContactEditForm
    from contacts.models import Contact

    contact = make_contact(email=f"sunting-{lang}@contoh.co.id", full_name="Sunting", attributes={"employees": 7})
    client = _in(client_for(admin), lang)
    data = {name: value for name, value in ContactEditForm.for_contact(Contact.objects.get(pk=contact.pk)).initial.items()
            if value not in (None, False)}
    data.update({"industry": "other", "attributes.employees": typed, "attributes.renewal": day})
    saved = client.post(f"/contacts/{contact.pk}/edit/", data)
    assert saved.status_code == 302, saved.context["form"].errors
    contact.refresh_from_db()
    assert contact.attributes == {"employees": 1250.5, "renewal": "2027-03-31"}


# --- A date the pages cannot read: the message names the format the reader may type --------------

DATE_MESSAGES = {
    "id": ("31/12/2026", "“besok” bukan tanggal; tulis seperti 31/12/2026 atau 2026-12-31."),
    "en": ("12/31/2026", "“besok” is not a date; type it like 12/31/2026 or 2026-12-31."),
}


@pytest.mark.parametrize("lang", ["id", "en"])
def test_a_bad_date_names_the_format_the_reader_may_type(client_for, admin, marketer, staff, make_contact, lang):
    example, message = DATE_MESSAGES[lang]
    label = "Tanggal perpanjangan" if lang == "id" else "Renewal date"
    client = _in(client_for(admin), lang)
    # The contact list's filter.
    errors = _errors(client, {"attributes.renewal__lte": "besok"})
    assert message in errors and "YYYY-MM-DD" not in errors
    # The example the message gives is one the page reads, and ISO still is.
    assert _names(client, {"attributes.renewal__gte": example}) == {"Kecil", "Pas", "Besar"}
    assert _names(client, {"attributes.renewal__lte": "2027-03-31"}) == {"Pas", "Besar"}
    # The segment form.
    response = _in(client_for(marketer), lang).post(reverse("segments:create"), {
        "name": "Salah", "attr_key_0": "renewal", "attr_op_0": "lte", "attr_value_0": "besok"})
    assert response.status_code == 400
    assert response.context["form"].errors["attr_value_0"] == [f"{label}: {message}"]
    # The contact's own form (the inline editor without JavaScript).
    contact = make_contact(email=f"tanggal-{lang}@contoh.co.id")
    url = reverse("custom_fields:contact_field", args=[contact.pk, "attributes.renewal"])
    refused = client.post(url, {"attributes.renewal": "besok"})
    assert message in html_lib.unescape(refused.content.decode())
    for typed in (example, "2026-12-31"):
        assert client.post(url, {"attributes.renewal": typed}).status_code == 302
        contact.refresh_from_db()
        assert contact.attributes["renewal"] == "2026-12-31"


@pytest.mark.parametrize(("lang", "example", "message"), [
    ("id", "31/12/2026", "plan paling sedikit: Isi angka atau tanggal (seperti 31/12/2026 atau 2026-12-31) sebagai pembanding."),
    ("en", "12/31/2026", "plan is at least: Give a number or a date (like 12/31/2026 or 2026-12-31) to compare with."),
])
def test_an_imported_column_compares_with_a_date_as_the_reader_types_it(client_for, admin, marketer, make_contact,
                                                                        lang, example, message):
    make_contact(full_name="Lama", attributes={"since": "2026-06-01"})
    make_contact(full_name="Baru", attributes={"since": "2027-01-15"})
    client = _in(client_for(admin), lang)
    assert _names(client, {"attributes.since__gte": example}) == {"Baru"}
    assert _names(client, {"attributes.since__gte": "2026-12-31"}) == {"Baru"}
    assert message in _errors(client, {"attributes.plan__gte": "gold"})
    response = _in(client_for(marketer), lang).post(reverse("segments:create"), {
        "name": f"Baru {lang}", "attr_key_0": "since", "attr_op_0": "gte", "attr_value_0": example})
    assert response.status_code == 302
    assert Segment.objects.get(name=f"Baru {lang}").filters == {"attributes.since__gte": "2026-12-31"}
    # The form's help names the same format.
    form = html_lib.unescape(_in(client_for(marketer), lang).get(reverse("segments:create")).content.decode())
    assert f"({example} {'atau' if lang == 'id' else 'or'} 2026-12-31)." in form and "YYYY-MM-DD" not in form


def test_the_api_keeps_iso_dates(api_for, marketer, fields, make_contact):
    contact = make_contact(attributes={})
    for lang in ("id", "en"):
        response = api_for(marketer).patch(f"/api/contacts/{contact.pk}/", {"attributes": {"renewal": "31/12/2026"}},
                                           format="json", HTTP_ACCEPT_LANGUAGE=lang)
        assert response.status_code == 400
        assert "YYYY-MM-DD" in response.json()["fields"]["attributes.renewal"][0]
