"""Issue 15, findings 4, 5 and 7: the objection to profiling only moves through the privacy
page, every consent change leaves evidence whatever wrote it, and merges refuse anonymised
contacts."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from contacts import merge, privacy
from contacts.models import CaptureForm, Contact
from tests.imports.conftest import csv_bytes
from tests.imports.conftest import run_import as run_import  # the import fixture

pytestmark = pytest.mark.django_db

FLAG_CHANNEL = {flag: channel for channel, (flag, _granted) in privacy.CHANNEL_FLAGS.items()}


def api(user) -> APIClient:
    client = APIClient()
    token, _ = Token.objects.get_or_create(user=user)
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client


def assert_evidence(contact: Contact) -> None:
    """Every consent flag that is not at its default has a latest consent record that agrees."""
    contact.refresh_from_db()
    for flag, channel in FLAG_CHANNEL.items():
        value = getattr(contact, flag)
        default = Contact._meta.get_field(flag).default
        latest = contact.consent_records.filter(channel=channel).order_by("-recorded_at", "-id").first()
        if value == default and latest is None:
            continue
        assert latest is not None, f"{flag}={value} without a consent record"
        _flag, value_when_granted = privacy.CHANNEL_FLAGS[channel]
        everything = contact.consent_records.filter(channel="all").order_by("-recorded_at", "-id").first()
        if channel in privacy.MESSAGING_CHANNELS and everything and not everything.granted and (
                (everything.recorded_at, everything.pk) > (latest.recorded_at, latest.pk)):
            assert value is False, f"{flag}={value} after a withdrawal of every channel"  # do-not-contact cleared it
            continue
        assert (value == value_when_granted) == latest.granted, f"{flag}={value} but the latest record says {latest.granted}"


# --- Finding 4: the objection to profiling -------------------------------------------------

@pytest.fixture
def objecting(make_contact, rep, admin):
    contact = make_contact(full_name="Rudi Objek", email="rudi@example.co.id", owner=rep)
    privacy.profiling_objection_set(contact=contact, objects=True, by=admin)
    contact.refresh_from_db()
    assert contact.objects_to_profiling
    return contact


@pytest.mark.parametrize("who", ["marketer", "rep", "admin"])
def test_api_cannot_lift_the_objection_to_profiling(objecting, who, request):
    user = request.getfixturevalue(who)
    response = api(user).patch(f"/api/contacts/{objecting.pk}/", {"objects_to_profiling": False}, format="json")
    assert response.status_code == 400
    assert "objects_to_profiling" in response.json()["fields"]
    objecting.refresh_from_db()
    assert objecting.objects_to_profiling


def test_api_create_cannot_set_the_objection_either(marketer):
    response = api(marketer).post("/api/contacts/", {"email": "baru@example.co.id", "objects_to_profiling": True}, format="json")
    assert response.status_code == 400 and "objects_to_profiling" in response.json()["fields"]


def test_edit_page_cannot_lift_the_objection(objecting, client_for, rep):
    response = client_for(rep).post(reverse("contacts:edit", args=[objecting.pk]), {
        "full_name": "Rudi Objek", "email": "rudi@example.co.id", "industry": "other"})
    assert response.status_code == 302
    objecting.refresh_from_db()
    assert objecting.objects_to_profiling


def test_the_service_refuses_lifting_without_the_admin_role(objecting, marketer):
    with pytest.raises(ValidationError) as caught:
        privacy.profiling_objection_set(contact=objecting, objects=False, by=marketer)
    assert "objects_to_profiling" in caught.value.message_dict
    objecting.refresh_from_db()
    assert objecting.objects_to_profiling


def test_the_privacy_page_lifts_it_with_evidence(objecting, client_for, admin):
    client_for(admin).post(reverse("privacy:profiling", args=[objecting.pk]), {"objects": "0"})
    objecting.refresh_from_db()
    assert not objecting.objects_to_profiling
    record = objecting.consent_records.filter(channel="profiling").first()
    assert record.granted and record.recorded_by == admin
    assert_evidence(objecting)


# --- Finding 5: every writer of consent leaves evidence ---------------------------------------

def test_edit_page_consent_change_records_evidence(make_contact, client_for, rep):
    contact = make_contact(full_name="Sinta", email="sinta@example.co.id", owner=rep)
    response = client_for(rep).post(reverse("contacts:edit", args=[contact.pk]), {
        "full_name": "Sinta", "email": "sinta@example.co.id", "industry": "other", "consent_email": "on"})
    assert response.status_code == 302
    contact.refresh_from_db()
    assert contact.consent_email
    record = contact.consent_records.get(channel="email")
    assert (record.granted, record.source, record.recorded_by) == (True, "page", rep)
    assert_evidence(contact)


def test_api_patch_and_create_record_evidence(make_contact, marketer):
    contact = make_contact(email="patch@example.co.id")
    assert api(marketer).patch(f"/api/contacts/{contact.pk}/", {"consent_sms": True, "do_not_contact": True},
                               format="json").status_code == 200
    assert_evidence(contact)
    response = api(marketer).post("/api/contacts/", {"email": "new@example.co.id", "consent_whatsapp": True}, format="json")
    assert response.status_code == 201
    created = Contact.objects.get(pk=response.json()["id"])
    assert created.consent_whatsapp and created.consent_records.get(channel="whatsapp").source == "api"
    assert_evidence(created)


def test_import_records_evidence_naming_the_job(make_contact, run_import, marketer):
    existing = make_contact(full_name="Lama", email="lama@example.co.id")
    content = csv_bytes([["Nama", "Email", "Email opt-in", "Do not contact"],
                         ["Baru", "baru@example.co.id", "ya", ""],
                         ["Lama", "lama@example.co.id", "ya", "ya"]])
    job = run_import(content, by=marketer, mapping={"source": "pameran", "identity": "auto", "columns": {
        "Nama": "full_name", "Email": "email", "Email opt-in": "consent_email", "Do not contact": "do_not_contact"}})
    assert job.status == "done" and job.failed == 0, job.errors
    new = Contact.objects.get(email="baru@example.co.id")
    assert new.consent_email
    record = new.consent_records.get(channel="email")
    assert (record.granted, record.import_job_id, record.recorded_by) == (True, job.pk, marketer)
    assert_evidence(new)
    existing.refresh_from_db()
    assert existing.do_not_contact
    assert existing.consent_records.get(channel="all").import_job_id == job.pk
    assert_evidence(existing)


def test_merge_records_evidence_for_consent_carried_over(make_contact, admin):
    kept = make_contact(email="kept@example.co.id")
    other = make_contact(email="other@example.co.id", consent_sms=True)
    merge.contacts_merge(kept=kept, merged=other, by=admin)
    kept.refresh_from_db()
    assert kept.consent_sms
    assert kept.consent_records.filter(channel="sms", source="merge", recorded_by=admin).exists()
    assert_evidence(kept)


def test_capture_records_evidence_with_the_wording(db, reference_data):
    form = CaptureForm.objects.create(name="Promo", public_key="pk_consent", source="promo", consent_wording_version="v7")
    response = APIClient().post("/api/capture/", {"form_key": "pk_consent", "email": "cap@example.co.id",
                                                  "consent_email": True}, format="json")
    assert response.status_code == 201
    contact = Contact.objects.get(email="cap@example.co.id")
    assert contact.consent_records.get(channel="email").wording_version == form.consent_wording_version
    assert contact.consent_records.count() == 1  # one record per tick, not one from the upsert and one from capture
    assert_evidence(contact)


def test_django_admin_cannot_change_consent_flags(make_contact, client_for, admin):
    contact = make_contact(email="adm@example.co.id")
    page = client_for(admin)
    url = reverse("admin:contacts_contact_change", args=[contact.pk])
    assert 'name="consent_email"' not in page.get(url).content.decode()
    page.post(url, {"full_name": contact.full_name, "email": contact.email, "industry": "other", "stage": "contact",
                    "consent_email": "on", "objects_to_profiling": "on", "attributes": "{}", "score": "0",
                    "stage_history-TOTAL_FORMS": "0", "stage_history-INITIAL_FORMS": "0"})
    contact.refresh_from_db()
    assert not contact.consent_email and not contact.objects_to_profiling
    assert_evidence(contact)


def test_contact_update_and_upsert_route_consent_through_the_consent_service(make_contact, admin):
    from contacts.services import contact_update, contact_upsert

    contact = make_contact(email="svc@example.co.id")
    contact_update(contact=contact, data={"consent_email": True}, by=admin)
    contact_upsert(data={"email": "svc@example.co.id", "consent_sms": True}, by=admin)
    contact.refresh_from_db()
    assert contact.consent_email and contact.consent_sms
    assert_evidence(contact)


# --- Finding 7: no merges with anonymised contacts ---------------------------------------------

@pytest.mark.parametrize("anonymised_side", ["kept", "merged"])
def test_merge_refuses_anonymised_contacts(make_contact, admin, anonymised_side):
    live = make_contact(full_name="Hidup", email="hidup@example.co.id")
    gone = make_contact(full_name="Hilang", email="hilang@example.co.id")
    privacy.contact_erase(contact=gone, by=admin, mode="anonymise")
    kept, merged = (gone, live) if anonymised_side == "kept" else (live, gone)
    with pytest.raises(ValidationError) as caught:
        merge.contacts_merge(kept=kept, merged=merged, by=admin)
    assert "anonymised" in " ".join(caught.value.messages)
    live.refresh_from_db()
    gone.refresh_from_db()
    assert live.full_name == "Hidup" and not privacy.is_anonymised(live)
    assert gone.full_name == "" and privacy.is_anonymised(gone)


def test_merge_page_shows_the_refusal(make_contact, admin, client_for):
    live = make_contact(full_name="Hidup", email="hidup@example.co.id")
    gone = make_contact(full_name="Hilang", email="hilang@example.co.id")
    privacy.contact_erase(contact=gone, by=admin, mode="anonymise")
    response = client_for(admin).post(reverse("merge"), {"keep": gone.pk, "merge": live.pk}, follow=True)
    assert "anonymised" in response.content.decode()
    assert Contact.objects.filter(pk=live.pk).exists()
