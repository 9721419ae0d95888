"""Issue 18, defect 10 (two of the smaller ones): a follow-up in the timeline shows when it is
due, not only when it was written; with both the email and the phone invalid, every way in
(new-contact page, edit page, API, import report) names both fields."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import formats, timezone, translation

from contacts.models import Contact, Note
from tests.imports.conftest import csv_bytes

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("pages_english")]

BAD = {"email": "bukan-email", "phone": "0812345"}


def _timeline_item(html: str, body: str) -> str:
    items = re.findall(r'<li class="tl-item tl-[a-z_]+".*?</li>', html, flags=re.S)
    [item] = [i for i in items if body in i]
    return item


@pytest.mark.parametrize("language", ["en", "id"])
def test_a_follow_up_in_the_timeline_shows_its_due_time(make_contact, client_for, rep, language):
    contact = make_contact(full_name="Rina", industry="b2b", owner=rep)
    due = (timezone.now() + timedelta(days=3)).replace(second=0, microsecond=0)
    Note.objects.create(contact=contact, author=rep, kind=Note.Kind.FOLLOW_UP, body="Telepon soal harga", due_at=due)
    Note.objects.create(contact=contact, author=rep, body="Catatan biasa")
    response = client_for(rep).get(reverse("contacts:detail", kwargs={"pk": contact.pk}),
                                   HTTP_ACCEPT_LANGUAGE=language)
    html = response.content.decode()
    with translation.override(language):
        due_text = formats.date_format(timezone.localtime(due), "DATETIME_FORMAT")
    item = _timeline_item(html, "Telepon soal harga")
    assert f'datetime="{timezone.localtime(due).isoformat()}"' in item
    label = "Due" if language == "en" else "Jatuh tempo"
    assert f"{label} {due_text}" in item
    # A plain note keeps its own time, with no due label.
    assert label + " " not in _timeline_item(html, "Catatan biasa")


def test_the_edit_page_names_both_a_bad_email_and_a_bad_phone(make_contact, client_for, rep):
    contact = make_contact(full_name="Rina", email="rina@contoh.co.id", industry="b2b", owner=rep)
    response = client_for(rep).post(reverse("contacts:edit", kwargs={"pk": contact.pk}),
                                    {"full_name": "Rina", "industry": "b2b", **BAD})
    assert response.status_code == 400
    errors = response.context["form"].errors
    assert set(errors) >= {"email", "phone"}
    assert "too short" in errors["phone"][0]
    contact.refresh_from_db()
    assert (contact.email, contact.phone) == ("rina@contoh.co.id", None)


def test_the_new_contact_page_names_both(client_for, marketer):
    response = client_for(marketer).post("/contacts/new/", {"full_name": "Agus", "industry": "other", **BAD})
    assert response.status_code == 400
    assert set(response.context["form"].errors) >= {"email", "phone"}
    assert not Contact.objects.exists()


def test_the_api_names_both(api_for, admin):
    response = api_for(admin).post("/api/contacts/", {"full_name": "Agus", **BAD}, format="json")
    assert response.status_code == 400
    assert set(response.json()["fields"]) >= {"email", "phone"}
    assert not Contact.objects.exists()


def test_the_import_report_names_both(reference_data):
    from contacts.imports.mapping import mapping_normalise
    from contacts.imports.run import import_create, import_run, import_start

    job = import_create(file_name="leads.csv", content=csv_bytes([["Nama", "Email", "No HP"],
                                                                  ["Agus", BAD["email"], BAD["phone"]]]))
    import_start(job=job, mapping=mapping_normalise(job.mapping, job.header), run=False)
    job = import_run(job_id=job.pk)
    [error] = job.errors
    assert error["reason"].startswith("Email:") and "No HP:" in error["reason"]
