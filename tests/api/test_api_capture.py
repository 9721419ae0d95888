"""POST /api/capture/: landing-page forms (public key + allowed origins) and token callers."""

from __future__ import annotations

from urllib.parse import urlencode

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from contacts.models import CaptureForm, ConsentRecord, Contact, Interaction

pytestmark = pytest.mark.django_db

ORIGIN = "https://promo.example.co.id"


def test_a_keyed_json_post_creates_the_contact_logs_the_form_and_records_consent(api_for, capture_form, on_commit):
    with on_commit():
        response = api_for().post("/api/capture/", {
            "form_key": capture_form.public_key, "name": "Dewi Lestari", "email": "Dewi@Example.co.id",
            "phone": "0812 7777 8888", "city": "Bandung", "utm_source": "facebook", "utm_medium": "cpc",
            "utm_campaign": "promo-nov", "consent_whatsapp": True, "consent_email": False,
            "budget": "10-50 juta", "message": "Minta brosur",
        }, format="json", HTTP_ORIGIN=ORIGIN)
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["created"] is True and body["replayed"] is False
    assert response["Access-Control-Allow-Origin"] == ORIGIN
    contact = Contact.objects.get(pk=body["contact"])
    assert (contact.full_name, contact.email, contact.phone) == ("Dewi Lestari", "dewi@example.co.id", "+6281277778888")
    assert (contact.source, contact.utm_source, contact.utm_medium, contact.utm_campaign) == (
        "landing:promo-nov", "facebook", "cpc", "promo-nov")
    assert contact.consent_whatsapp and not contact.consent_email
    interaction = Interaction.objects.get(pk=body["interaction"])
    assert (interaction.kind_id, interaction.channel, interaction.source) == ("form_submitted", "web", "landing:promo-nov")
    assert interaction.data == {"form": "Promo November", "utm_source": "facebook", "utm_medium": "cpc",
                                "utm_campaign": "promo-nov", "budget": "10-50 juta", "message": "Minta brosur"}
    (record,) = ConsentRecord.objects.filter(contact=contact)
    assert (record.channel, record.granted, record.source, record.wording_version) == (
        "whatsapp", True, "Promo November", "2026-10")


def test_a_second_submission_updates_the_contact_but_never_its_identity(api_for, capture_form, make_contact):
    existing = make_contact(full_name="Dewi", email="dewi@example.co.id", phone="081200001111", city="Jakarta")
    response = api_for().post("/api/capture/", {
        "email": "dewi@example.co.id", "phone": "081299998888", "city": "Bandung", "company": "PT Maju", "job_title": "",
    }, format="json", HTTP_X_FORM_KEY=capture_form.public_key)
    assert response.status_code == 200
    assert (response.json()["contact"], response.json()["created"]) == (existing.pk, False)
    existing.refresh_from_db()
    assert (existing.full_name, existing.phone, existing.city, existing.company) == ("Dewi", "+6281200001111", "Bandung", "PT Maju")
    assert existing.interactions.get().kind_id == "form_submitted"


def test_a_plain_html_form_post_is_redirected_to_the_thank_you_page(client, capture_form):
    body = urlencode({"form_key": capture_form.public_key, "full_name": "Agus", "phone": "081355556666", "consent_sms": "on",
                      "interest": ["paket A", "paket B"]}, doseq=True)
    response = client.post("/api/capture/", body, content_type="application/x-www-form-urlencoded",
                           HTTP_ACCEPT="text/html,application/xhtml+xml", HTTP_ORIGIN=ORIGIN)
    assert response.status_code == 303
    assert response["Location"] == capture_form.thank_you_url
    contact = Contact.objects.get(phone="+6281355556666")
    assert contact.consent_sms and not contact.consent_email
    assert contact.interactions.get().data["interest"] == ["paket A", "paket B"]


def test_a_multipart_form_post_asking_for_json_gets_json(client, capture_form):
    response = client.post("/api/capture/", {"form_key": capture_form.public_key, "email": "json@example.co.id"},
                           HTTP_ACCEPT="application/json")
    assert response.status_code == 201
    assert response.json()["created"] is True


def test_files_are_refused(client, capture_form):
    upload = SimpleUploadedFile("cv.pdf", b"%PDF-1.4", content_type="application/pdf")
    response = client.post("/api/capture/", {"form_key": capture_form.public_key, "email": "f@example.co.id", "cv": upload})
    assert response.status_code == 400
    assert response.json()["fields"] == {"cv": ["Files are not accepted."]}


def test_a_retried_submission_with_external_id_is_a_no_op(api_for, capture_form):
    client = api_for()
    body = {"form_key": capture_form.public_key, "email": "retry@example.co.id", "external_id": "sub-9", "consent_email": True}
    first = client.post("/api/capture/", body, format="json")
    second = client.post("/api/capture/", body, format="json")
    assert (first.status_code, second.status_code) == (201, 200)
    assert second.json() == {**first.json(), "created": False, "replayed": True}
    assert Interaction.objects.count() == 1 and ConsentRecord.objects.count() == 1


@pytest.mark.parametrize("headers, key, status, field", [
    ({"HTTP_ORIGIN": "https://evil.example.com"}, "pk_promo_nov", 403, "Origin"),
    ({"HTTP_ORIGIN": ORIGIN}, "pk_wrong", 403, "form_key"),
    ({}, "", 401, None),
])
def test_keyed_posts_are_checked(api_for, capture_form, headers, key, status, field):
    response = api_for().post("/api/capture/", {"form_key": key, "email": "x@example.co.id"} if key else
                              {"email": "x@example.co.id"}, format="json", **headers)
    assert response.status_code == status
    if field:
        assert field in response.json()["fields"]
    assert not Contact.objects.exists()


def test_an_inactive_form_is_refused(api_for, capture_form):
    CaptureForm.objects.filter(pk=capture_form.pk).update(is_active=False)
    response = api_for().post("/api/capture/", {"form_key": capture_form.public_key, "email": "x@example.co.id"}, format="json")
    assert response.status_code == 403


def test_email_or_phone_is_required(api_for, capture_form):
    response = api_for().post("/api/capture/", {"form_key": capture_form.public_key, "full_name": "Nameless"}, format="json")
    assert response.status_code == 400
    assert "email" in response.json()["fields"]


def test_token_callers_need_an_importing_role(api_for, marketer, rep, catalog):
    body = {"email": "token@example.co.id", "source": "shop-sync"}
    assert api_for(rep).post("/api/capture/", body, format="json").status_code == 403
    response = api_for(marketer).post("/api/capture/", body, format="json")
    assert response.status_code == 201
    assert Contact.objects.get(pk=response.json()["contact"]).source == "shop-sync"
    assert Interaction.objects.get().created_by == marketer


def test_keyed_posts_are_rate_limited_per_key_and_address(api_for, capture_form):
    client = api_for()
    statuses = [
        client.post("/api/capture/", {"form_key": capture_form.public_key, "email": f"r{i}@example.co.id"}, format="json").status_code
        for i in range(31)
    ]
    assert statuses[:30] == [201] * 30
    assert statuses[30] == 429
    throttled = client.post("/api/capture/", {"form_key": capture_form.public_key, "email": "late@example.co.id"}, format="json")
    assert throttled.json()["error"] == "throttled" and int(throttled["Retry-After"]) > 0
    other = client.post("/api/capture/", {"form_key": "pk_other", "email": "o@example.co.id"}, format="json")
    assert other.status_code == 403  # another key has its own budget (and here is simply unknown)


def test_cors_preflight_for_an_allowed_origin(api_for, capture_form):
    response = api_for().options("/api/capture/", HTTP_ORIGIN=ORIGIN, HTTP_ACCESS_CONTROL_REQUEST_METHOD="POST")
    assert response.status_code == 204
    assert response["Access-Control-Allow-Origin"] == ORIGIN
    assert "X-Form-Key" in response["Access-Control-Allow-Headers"]
    refused = api_for().options("/api/capture/", HTTP_ORIGIN="https://evil.example.com")
    assert "Access-Control-Allow-Origin" not in refused


def test_a_capture_with_enough_points_makes_the_contact_a_lead(api_for, capture_form, make_contact, log, playbooks, on_commit):
    """General playbook: ad click 5 + landing-page form 12 + phone 5 = 22 ≥ lead threshold 20."""
    contact = make_contact(email="lead@example.co.id", industry="other")
    log(contact, "ad_clicked")
    assert (contact.score, contact.stage) == (5, "contact")
    with on_commit():
        response = api_for().post("/api/capture/", {
            "form_key": capture_form.public_key, "email": "lead@example.co.id", "phone": "081244445555",
        }, format="json", HTTP_ORIGIN=ORIGIN)
    assert response.status_code == 200
    contact.refresh_from_db()
    assert (contact.score, contact.stage) == (22, "lead")
    change = contact.stage_changes.get()
    assert (change.from_stage, change.to_stage, change.reason_code) == ("contact", "lead", "lead")


@pytest.mark.django_db(transaction=True)
def test_concurrent_retries_of_one_submission_store_it_once(api_for, capture_form, post_concurrently):
    body = {"form_key": capture_form.public_key, "email": "race@example.co.id", "consent_email": True, "external_id": "sub-1"}
    responses = post_concurrently(api_for, "/api/capture/", body)
    assert all(r.status_code in (200, 201) for r in responses), [r.json() for r in responses]
    assert len({r.json()["interaction"] for r in responses}) == 1
    assert (Contact.objects.count(), Interaction.objects.count(), ConsentRecord.objects.count()) == (1, 1, 1)
