"""Pages: defining custom fields (admins only), the contact page showing them, and editing a field in
place with htmx (HX-Request) or as a plain form."""

from __future__ import annotations

import pytest
from django.urls import reverse

from contacts.models import Contact, CustomField
from crm.models import AuditEvent

pytestmark = pytest.mark.django_db

HX = {"HTTP_HX_REQUEST": "true"}


def _field_url(contact, name):
    return reverse("custom_fields:contact_field", args=[contact.pk, name])


def test_admin_creates_edits_and_deactivates_a_field(client_for, admin):
    client = client_for(admin)
    assert client.get("/settings/fields/").status_code == 200
    response = client.post("/settings/fields/new/", {"key": "plan", "label_en": "Plan", "label_id": "Paket", "type": "choice",
                                                      "choices": "gold | Gold | Emas\nbasic", "position": "1"})
    assert response.status_code == 302
    field = CustomField.objects.get(key="plan")
    assert field.choices == [{"value": "gold", "label_en": "Gold", "label_id": "Emas"}, {"value": "basic"}]
    assert AuditEvent.objects.filter(action="create", object_type="contacts.customfield").exists()

    page = client.get("/settings/fields/")
    assert "attributes.plan" in page.content.decode() and "Plan" in page.content.decode()

    response = client.post(f"/settings/fields/{field.pk}/edit/", {"key": "ignored", "label_en": "Plan", "label_id": "Paket langganan",
                                                                   "type": "choice", "choices": "gold | Gold | Emas", "position": "2"})
    assert response.status_code == 302
    field.refresh_from_db()
    assert (field.key, field.label_id, field.position) == ("plan", "Paket langganan", 2)  # the key never changes

    assert client.post(f"/settings/fields/{field.pk}/active/", {"active": "0"}).status_code == 302
    field.refresh_from_db()
    assert not field.active
    assert AuditEvent.objects.filter(action="change", object_id=str(field.pk)).count() == 2


def test_the_form_names_each_bad_field(client_for, admin):
    client = client_for(admin)
    response = client.post("/settings/fields/new/", {"key": "Not A Key", "label_en": "X", "label_id": "", "type": "choice",
                                                      "choices": "", "position": "0"})
    assert response.status_code == 400
    errors = response.context["form"].errors
    assert {"key", "label_id", "choices"} <= set(errors)


@pytest.mark.parametrize("who", ["marketer", "rep", "manager"])
def test_only_admins_define_fields(client_for, request, fields, who):
    client = client_for(request.getfixturevalue(who))
    field = fields["plan"]
    assert client.get("/settings/fields/").status_code == 403
    assert client.get("/settings/fields/new/").status_code == 403
    assert client.post(f"/settings/fields/{field.pk}/edit/", {"label_en": "x"}).status_code == 403
    assert client.post(f"/settings/fields/{field.pk}/active/", {"active": "0"}).status_code == 403
    field.refresh_from_db()
    assert field.active and field.label_en == "Plan"


def test_the_contact_page_shows_custom_fields_in_the_viewers_language_and_other_attributes(client_for, admin, fields, make_contact):
    contact = make_contact(attributes={"employees": 1234.5, "renewal": "2027-03-31", "plan": "gold", "segment": "vip"})
    client = client_for(admin)
    html = client.get(f"/contacts/{contact.pk}/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "Employees" in html and "1,234.5" in html and "Gold" in html
    assert "segment" in html and "vip" in html  # an imported attribute that is not a custom field still shows
    client.post("/i18n/setlang/", {"language": "id"})
    html = client.get(f"/contacts/{contact.pk}/").content.decode()
    assert "Jumlah karyawan" in html and "1.234,5" in html and "Emas" in html and "31 Mar 2027" in html


def test_inline_edit_with_htmx_saves_through_the_service(client_for, admin, fields, make_contact):
    contact = make_contact(email="ubah@contoh.co.id")
    client = client_for(admin)
    form = client.get(_field_url(contact, "attributes.employees"), **HX)
    assert form.status_code == 200
    assert 'name="attributes.employees"' in form.content.decode()
    assert "<html" not in form.content.decode()  # a fragment: the row only

    saved = client.post(_field_url(contact, "attributes.employees"), {"attributes.employees": "250"}, **HX)
    assert saved.status_code == 200
    body = saved.content.decode()
    assert "250" in body and 'id="field-attributes-employees"' in body and "<form" not in body
    contact.refresh_from_db()
    assert contact.attributes["employees"] == 250
    assert AuditEvent.objects.filter(action="change", object_id=str(contact.pk), details__fields=["attributes"]).exists()

    saved = client.post(_field_url(contact, "company"), {"company": "PT Baru"}, **HX)
    assert "PT Baru" in saved.content.decode()
    contact.refresh_from_db()
    assert contact.company == "PT Baru"


def test_inline_edit_errors_name_the_field(client_for, admin, fields, make_contact):
    contact = make_contact(email="salah@contoh.co.id")
    other = make_contact(email="dipakai@contoh.co.id")
    client = client_for(admin)
    bad = client.post(_field_url(contact, "attributes.renewal"), {"attributes.renewal": "kemarin"}, **HX)
    assert bad.status_code == 200  # htmx swaps only 2xx: the row comes back with its error
    assert "Renewal date: " in bad.content.decode() and 'role="alert"' in bad.content.decode()

    taken = client.post(_field_url(contact, "email"), {"email": other.email}, **HX)
    assert "Email: " in taken.content.decode() and "already has this email" in taken.content.decode()
    bad_phone = client.post(_field_url(contact, "phone"), {"phone": "0812"}, **HX)
    assert "Phone: " in bad_phone.content.decode() and "too short" in bad_phone.content.decode()
    contact.refresh_from_db()
    assert contact.email == "salah@contoh.co.id" and contact.phone is None and "renewal" not in contact.attributes


def test_inline_edit_works_without_javascript(client_for, admin, fields, make_contact):
    contact = make_contact(email="tanpa-js@contoh.co.id")
    client = client_for(admin)
    page = client.get(_field_url(contact, "attributes.plan"))
    assert page.status_code == 200 and "<html" in page.content.decode()
    saved = client.post(_field_url(contact, "attributes.plan"), {"attributes.plan": "gold"})
    assert saved.status_code == 302 and saved["Location"] == f"/contacts/{contact.pk}/"
    contact.refresh_from_db()
    assert contact.attributes["plan"] == "gold"
    bad = client.post(_field_url(contact, "attributes.employees"), {"attributes.employees": "banyak"})
    assert bad.status_code == 400
    assert "attributes.employees" in bad.context["form"].errors


def test_clearing_the_last_identity_is_refused(client_for, admin, make_contact):
    contact = make_contact(email="satu@contoh.co.id", full_name="")
    response = client_for(admin).post(_field_url(contact, "email"), {"email": ""}, **HX)
    assert "Give at least a name, an email or a phone." in response.content.decode()
    contact.refresh_from_db()
    assert contact.email == "satu@contoh.co.id"


def test_inline_edit_checks_who_may_change_the_contact(client_for, rep, other_rep, marketer, fields, make_contact, settings):
    mine = make_contact(email="punya-sari@contoh.co.id", owner=rep)
    url = _field_url(mine, "attributes.employees")
    assert client_for(other_rep).post(url, {"attributes.employees": "1"}, **HX).status_code == 404
    settings.CRM_SALES_CAN_READ_ALL = True
    assert client_for(other_rep).get(url, **HX).status_code == 403  # may read it, not change it
    assert client_for(other_rep).post(url, {"attributes.employees": "1"}, **HX).status_code == 403
    assert client_for(rep).post(url, {"attributes.employees": "3"}, **HX).status_code == 200
    assert Contact.objects.get(pk=mine.pk).attributes["employees"] == 3
    # Unknown or inactive fields are not editable here.
    assert client_for(rep).get(_field_url(mine, "score"), **HX).status_code == 404
    assert client_for(rep).get(_field_url(mine, "attributes.segment"), **HX).status_code == 404


def test_the_edit_details_page_edits_custom_fields_too(client_for, admin, fields, make_contact):
    from contacts.forms import ContactEditForm

    contact = make_contact(email="lengkap@contoh.co.id", full_name="Lengkap", attributes={"plan": "gold"})
    Contact.objects.filter(pk=contact.pk).update(attributes={"plan": "gold", "employees": "lama"})  # before the field had a type
    client = client_for(admin)
    page = client.get(f"/contacts/{contact.pk}/edit/")
    html = page.content.decode()
    assert 'name="attributes.plan"' in html and 'name="attributes.renewal"' in html
    assert "Now “lama”, which is not a valid value; empty keeps it." in html

    data = {name: value for name, value in ContactEditForm.for_contact(Contact.objects.get(pk=contact.pk)).initial.items()
            if value not in (None, False)}
    data.update({"industry": "other", "attributes.renewal": "2027-05-01", "attributes.employees": ""})
    saved = client.post(f"/contacts/{contact.pk}/edit/", data)
    assert saved.status_code == 302
    contact.refresh_from_db()
    assert contact.attributes == {"plan": "gold", "renewal": "2027-05-01", "employees": "lama"}  # untouched: kept as it was

    data["attributes.employees"] = "banyak sekali"
    refused = client.post(f"/contacts/{contact.pk}/edit/", data)
    assert refused.status_code == 400 and "attributes.employees" in refused.context["form"].errors


def test_the_segment_form_offers_custom_fields_by_label(client_for, marketer, fields):
    html = client_for(marketer).get("/segments/new/").content.decode()
    assert '<datalist id="custom-field-keys">' in html
    assert '<option value="employees">Employees (Number)</option>' in html
    assert 'list="custom-field-keys"' in html
