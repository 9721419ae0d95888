"""/contacts/new/: create by hand, with a duplicate warning before saving and consent evidence."""

from __future__ import annotations

import pytest

from contacts.duplicates import mailbox_regex, possible_duplicates
from contacts.models import ConsentRecord, Contact
from crm.models import AuditEvent

pytestmark = pytest.mark.django_db

FORM = {"full_name": "Rina Kusuma", "email": "rina@contoh.co.id", "phone": "0813-2222-3333", "company": "CV Sejahtera",
        "job_title": "Pemilik", "city": "Surabaya", "industry": "ecommerce", "source": "walk-in", "tags": "pameran, vip"}


def test_a_marketer_creates_a_contact_with_its_fields_and_tags(client_for, marketer):
    response = client_for(marketer).post("/contacts/new/", FORM)
    contact = Contact.objects.get(email="rina@contoh.co.id")
    assert response.status_code == 302 and response["Location"] == f"/contacts/{contact.pk}/"
    assert (contact.full_name, contact.phone, contact.company, contact.job_title, contact.city, contact.industry,
            contact.source) == ("Rina Kusuma", "+6281322223333", "CV Sejahtera", "Pemilik", "Surabaya", "ecommerce", "walk-in")
    assert sorted(contact.tags.values_list("name", flat=True)) == ["pameran", "vip"]
    assert contact.owner is None
    assert AuditEvent.objects.filter(action="create", object_id=str(contact.pk), actor=marketer).exists()


def test_a_reps_new_contact_is_owned_by_that_rep(client_for, rep):
    client_for(rep).post("/contacts/new/", FORM)
    assert Contact.objects.get(email="rina@contoh.co.id").owner == rep


def test_ticked_consent_is_recorded_with_evidence(client_for, rep):
    client_for(rep).post("/contacts/new/", {**FORM, "consent_whatsapp": "on", "consent_email": "on"})
    contact = Contact.objects.get(email="rina@contoh.co.id")
    assert contact.consent_whatsapp and contact.consent_email and not contact.consent_sms
    records = {r.channel: r for r in ConsentRecord.objects.filter(contact=contact)}
    assert set(records) == {"email", "whatsapp"}
    for record in records.values():
        assert (record.granted, record.source, record.recorded_by, record.wording_version) == (
            True, "page", rep, "new-contact-page-1")


def test_bad_input_names_the_field_and_writes_nothing(client_for, marketer):
    response = client_for(marketer).post("/contacts/new/", {**FORM, "phone": "0812345"})
    assert response.status_code == 400
    assert "too short" in response.context["form"].errors["phone"][0]
    response = client_for(marketer).post("/contacts/new/", {"company": "CV Tanpa Nama", "industry": "other"})
    assert response.status_code == 400 and "at least a name" in response.content.decode()
    assert not Contact.objects.exists()


@pytest.mark.parametrize(("typed", "reason"), [
    ({"email": "Budi.Santoso+promo@googlemail.com"}, "email_variant"),
    ({"email": "b.udisantoso@gmail.com"}, "email_variant"),
    ({"email": "budisantoso@gmail.com"}, "email_variant"),
    ({"phone": "+62 812 1111 2222"}, "phone"),
    ({"full_name": "Bpk. Budi Santoso", "company": "PT Maju Jaya Tbk"}, "name"),
])
def test_a_duplicate_is_found_by_mailbox_phone_or_similar_name_at_the_same_company(make_contact, typed, reason):
    existing = make_contact(full_name="Budi Santoso", email="budi.santoso@gmail.com", phone="081211112222",
                            company="PT Maju Jaya")
    make_contact(full_name="Budi Santoso", email="budi@lain.co.id", company="CV Lain")  # same name, other company
    [match] = possible_duplicates(**typed)
    assert (match.contact.pk, match.reason) == (existing.pk, reason)


def test_different_people_are_not_flagged(make_contact):
    make_contact(full_name="Budi Santoso", email="budi.santoso@contoh.co.id", company="PT Maju Jaya")
    assert possible_duplicates(email="budi.santoso2@contoh.co.id", full_name="Ani Wijaya", company="PT Maju Jaya") == []
    assert possible_duplicates(email="budisantoso@contoh.co.id") == []  # dots only matter to Gmail
    assert possible_duplicates(phone="0812345", email="not-an-email") == []  # unusable values: no match, no crash


def test_the_mailbox_pattern_is_anchored_and_escaped():
    assert mailbox_regex("a.b+x@gmail.com") == r"^A\.?B(\+[^@]*)?@(GMAIL|GOOGLEMAIL)\.COM$"
    assert mailbox_regex("a.b+x@contoh.co.id") == r"^A\.B(\+[^@]*)?@CONTOH\.CO\.ID$"


def test_submit_warns_about_a_duplicate_then_saves_only_with_save_anyway(client_for, marketer, make_contact):
    existing = make_contact(full_name="Rina Kusuma", email="rina.k@gmail.com", company="CV Sejahtera")
    client = client_for(marketer)
    form = {**FORM, "email": "rinak+baru@gmail.com"}
    response = client.post("/contacts/new/", form)
    html = response.content.decode()
    assert response.status_code == 200 and 'data-testid="duplicate-warning"' in html
    assert f'href="/contacts/{existing.pk}/"' in html and "save anyway" in html
    assert Contact.objects.count() == 1
    response = client.post("/contacts/new/", {**form, "save_anyway": "on"})
    assert response.status_code == 302 and Contact.objects.count() == 2


def test_the_same_email_cannot_be_saved_twice_even_with_save_anyway(client_for, marketer, make_contact):
    make_contact(email="rina@contoh.co.id")
    response = client_for(marketer).post("/contacts/new/", {**FORM, "save_anyway": "on"})
    assert response.status_code == 400 and "already exists" in response.content.decode()
    assert Contact.objects.count() == 1


def test_the_htmx_check_returns_the_warning_box(client_for, marketer, make_contact):
    existing = make_contact(full_name="Rina", phone="081322223333")
    client = client_for(marketer)
    html = client.post("/contacts/new/check/", {"phone": "0813 2222 3333"}, HTTP_HX_REQUEST="true").content.decode()
    assert 'id="duplicates"' in html and f"/contacts/{existing.pk}/" in html and "Same phone number" in html
    html = client.post("/contacts/new/check/", {"phone": "0813 9999 3333"}, HTTP_HX_REQUEST="true").content.decode()
    assert 'id="duplicates"' in html and "duplicate-warning" not in html


def test_a_rep_is_told_a_duplicate_exists_but_not_whose_it_is(client_for, rep, other_rep, make_contact):
    theirs = make_contact(full_name="Rahasia", email="rina@contoh.co.id", owner=other_rep)
    html = client_for(rep).post("/contacts/new/check/", {"email": "rina@contoh.co.id"}).content.decode()
    assert "duplicate-warning" in html and "owned by another rep" in html
    assert "Rahasia" not in html and f"/contacts/{theirs.pk}/" not in html


def test_the_top_bar_has_the_new_contact_button_and_the_page_renders(client_for, rep):
    client = client_for(rep)
    assert 'href="/contacts/new/"' in client.get("/").content.decode()
    html = client.get("/contacts/new/").content.decode()
    assert 'name="consent_whatsapp"' in html and 'hx-post="/contacts/new/check/"' in html


def test_the_page_the_warning_and_the_search_read_in_bahasa_indonesia(client_for, rep, make_contact):
    make_contact(full_name="Rina", phone="081322223333", owner=rep)
    client = client_for(rep)
    client.cookies["django_language"] = "id"
    html = client.get("/contacts/new/").content.decode()
    assert "Kontak baru" in html and "Setuju dihubungi lewat WhatsApp" in html and "Simpan kontak" in html
    html = client.post("/contacts/new/check/", {"phone": "0813-2222-3333"}).content.decode()
    assert "Orang ini mungkin sudah ada di CRM." in html and "Nomor telepon sama" in html
    response = client.post("/contacts/new/", {"full_name": "Agus", "phone": "0812345", "industry": "other"})
    assert "terlalu pendek untuk nomor telepon" in response.content.decode()
    assert "Ketik minimal 2 karakter." in client.get("/search/", {"q": "a"}).content.decode()


def test_a_form_sent_twice_with_only_a_name_is_caught_by_the_recent_check(client_for, rep, other_rep):
    client = client_for(rep)
    form = {"full_name": "Pak Agus", "industry": "other", "phone": ""}
    assert client.post("/contacts/new/", form).status_code == 302
    again = client.post("/contacts/new/", form)
    assert again.status_code == 200 and "You added a contact with this name a moment ago" in again.content.decode()
    assert Contact.objects.count() == 1
    # Another user typing the same common name is not warned (names alone are not identities).
    assert client_for(other_rep).post("/contacts/new/", form).status_code == 302
