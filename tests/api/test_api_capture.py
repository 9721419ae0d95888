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
    # The interaction's source is the form's own key space; the contact's source is the form's.
    assert (interaction.kind_id, interaction.channel, interaction.source) == ("form_submitted", "web", f"form:{capture_form.pk}")
    assert interaction.data == {"form": "Promo November", "utm_source": "facebook", "utm_medium": "cpc",
                                "utm_campaign": "promo-nov", "budget": "10-50 juta", "message": "Minta brosur"}
    (record,) = ConsentRecord.objects.filter(contact=contact)
    assert (record.channel, record.granted, record.source, record.wording_version) == (
        "whatsapp", True, "Promo November", "2026-10")


def test_a_second_submission_updates_the_contact_but_never_its_identity(api_for, capture_form, make_contact):
    """With the form's opt-in to overwriting (off by default: see the fill-only tests below)."""
    CaptureForm.objects.filter(pk=capture_form.pk).update(overwrite_contact_fields=True)
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
    # An anonymous replay answers without ids (the first submission may have been someone else's).
    assert second.json() == {"contact": None, "created": False, "interaction": None, "replayed": True}
    assert Interaction.objects.count() == 1 and ConsentRecord.objects.count() == 1


def test_a_second_visitor_with_the_same_external_id_learns_nothing_of_the_first(api_for, capture_form):
    """Issue 15: two visitors of one form who send the same external_id share a key; the second
    gets neither the first one's contact id nor its interaction id, and nothing is written."""
    first = api_for().post("/api/capture/", {"form_key": capture_form.public_key, "email": "pertama@example.co.id",
                                             "name": "Pertama", "external_id": "1"}, format="json")
    second = api_for().post("/api/capture/", {"form_key": capture_form.public_key, "email": "kedua@example.co.id",
                                              "name": "Kedua", "external_id": "1"}, format="json")
    assert first.status_code == 201 and first.json()["contact"]
    assert second.status_code == 200
    assert second.json() == {"contact": None, "created": False, "interaction": None, "replayed": True}
    assert str(first.json()["contact"]) not in second.content.decode()
    assert not Contact.objects.filter(email="kedua@example.co.id").exists()


def test_a_token_caller_who_may_read_the_contact_keeps_the_ids_on_a_replay(api_for, marketer):
    client = api_for(marketer)
    body = {"email": "token-retry@example.co.id", "external_id": "t-1"}
    first = client.post("/api/capture/", body, format="json")
    second = client.post("/api/capture/", body, format="json")
    assert (first.status_code, second.status_code) == (201, 200)
    assert second.json() == {**first.json(), "created": False, "replayed": True}


def test_a_keyed_token_replay_of_a_contact_the_caller_cannot_read_has_no_ids(api_for, capture_form, marketer, monkeypatch):
    from contacts.api import capture

    api_for().post("/api/capture/", {"form_key": capture_form.public_key, "email": "x@example.co.id", "external_id": "k"},
                   format="json")
    monkeypatch.setattr(capture, "contacts_visible_to", lambda user: Contact.objects.none())  # a caller who sees nothing
    second = api_for(marketer).post("/api/capture/", {"form_key": capture_form.public_key, "email": "x@example.co.id",
                                                      "external_id": "k"}, format="json")
    assert second.json() == {"contact": None, "created": False, "interaction": None, "replayed": True}


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


def test_keyed_posts_are_rate_limited_per_address(api_for, capture_form):
    client = api_for()
    statuses = [
        client.post("/api/capture/", {"form_key": capture_form.public_key, "email": f"r{i}@example.co.id"}, format="json").status_code
        for i in range(31)
    ]
    assert statuses[:30] == [201] * 30
    assert statuses[30] == 429
    throttled = client.post("/api/capture/", {"form_key": capture_form.public_key, "email": "late@example.co.id"}, format="json")
    assert throttled.json()["error"] == "throttled" and int(throttled["Retry-After"]) > 0
    # The budget is the address's, whichever key it names (made-up keys cannot buy more posts)...
    other = client.post("/api/capture/", {"form_key": "pk_other", "email": "o@example.co.id"}, format="json",
                        HTTP_X_FORM_KEY="pk_other")
    assert other.status_code == 429
    # ...and another address has its own.
    assert client.post("/api/capture/", {"form_key": capture_form.public_key, "email": "p@example.co.id"}, format="json",
                       REMOTE_ADDR="192.0.2.44").status_code == 201


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
    # One stored submission: the first answer names it, the anonymous replays name nothing.
    assert {r.json()["interaction"] for r in responses} - {None} == {Interaction.objects.get().pk}
    assert all(r.json()["replayed"] == (r.json()["interaction"] is None) for r in responses)
    assert (Contact.objects.count(), Interaction.objects.count(), ConsentRecord.objects.count()) == (1, 1, 1)


# --- Security round two (issue 15) ------------------------------------------------------------

def test_capture_submissions_live_in_the_forms_own_key_space(api_for, capture_form, marketer, make_contact):
    """A visitor cannot take an integration's (source, external_id): the shop's real event is stored."""
    buyer = make_contact(email="buyer@example.co.id")
    visitor = api_for().post("/api/capture/", {
        "form_key": capture_form.public_key, "email": "visitor@example.co.id", "source": "shop", "external_id": "ord-9999",
    }, format="json")
    assert visitor.status_code == 201, visitor.json()
    assert Interaction.objects.get(pk=visitor.json()["interaction"]).source == f"form:{capture_form.pk}"

    purchase = api_for(marketer).post("/api/interactions/", {
        "contact": buyer.pk, "kind": "purchase", "source": "shop", "external_id": "ord-9999"}, format="json")
    assert purchase.status_code == 201, purchase.json()
    assert (purchase.json()["replayed"], purchase.json()["contact"]) == (False, buyer.pk)
    assert buyer.interactions.get().kind_id == "purchase"


def test_a_capture_replay_only_matches_the_same_form(api_for, capture_form):
    other = CaptureForm.objects.create(name="Promo Desember", public_key="pk_promo_des")
    client = api_for()
    first = client.post("/api/capture/", {"form_key": capture_form.public_key, "email": "a@example.co.id",
                                          "external_id": "sub-1"}, format="json")
    second = client.post("/api/capture/", {"form_key": other.public_key, "email": "b@example.co.id",
                                           "external_id": "sub-1"}, format="json")
    assert (first.status_code, second.status_code) == (201, 201)
    assert second.json()["replayed"] is False and second.json()["contact"] != first.json()["contact"]


def test_token_captures_have_a_key_space_of_their_own(api_for, marketer, admin, make_contact, catalog):
    buyer = make_contact(email="buyer@example.co.id")
    api_for(marketer).post("/api/capture/", {"email": "v@example.co.id", "source": "shop", "external_id": "ord-1"}, format="json")
    purchase = api_for(admin).post("/api/interactions/", {
        "contact": buyer.pk, "kind": "purchase", "source": "shop", "external_id": "ord-1"}, format="json")
    assert purchase.status_code == 201 and purchase.json()["replayed"] is False


@pytest.mark.parametrize("source", ["form:1", "FORM:7", "capture:user:3"])
def test_the_api_cannot_write_into_a_capture_key_space(api_for, marketer, make_contact, catalog, source):
    contact = make_contact()
    response = api_for(marketer).post("/api/interactions/", {
        "contact": contact.pk, "kind": "page_viewed", "source": source, "external_id": "x-1"}, format="json")
    assert response.status_code == 400
    assert "source" in response.json()["fields"]
    assert not Interaction.objects.exists()


FILLED = {"full_name": "Dewi Asli", "company": "PT Lama", "job_title": "CFO", "city": "Jakarta", "industry": "b2b"}
PROBE = {"full_name": "Orang Lain", "company": "PT Palsu", "job_title": "Intern", "city": "Bandung", "industry": "education"}


def test_an_anonymous_capture_fills_blanks_but_never_overwrites(api_for, capture_form, make_contact):
    existing = make_contact(email="dewi@example.co.id", **FILLED)
    response = api_for().post("/api/capture/", {"form_key": capture_form.public_key, "email": "dewi@example.co.id",
                                                "utm_source": "facebook", **PROBE}, format="json")
    assert response.status_code == 200, response.json()
    existing.refresh_from_db()
    assert {name: getattr(existing, name) for name in FILLED} == FILLED
    assert existing.utm_source == "facebook"  # a blank is filled
    # The submission itself is kept, as typed, on the timeline.
    interaction = existing.interactions.get()
    assert interaction.data["submitted"] == PROBE


def test_a_form_may_opt_in_to_updating_existing_contacts(api_for, capture_form, make_contact):
    CaptureForm.objects.filter(pk=capture_form.pk).update(overwrite_contact_fields=True)
    existing = make_contact(email="dewi@example.co.id", **FILLED)
    response = api_for().post("/api/capture/", {"form_key": capture_form.public_key, "email": "dewi@example.co.id",
                                                **PROBE}, format="json")
    assert response.status_code == 200
    existing.refresh_from_db()
    assert {name: getattr(existing, name) for name in FILLED} == PROBE


def test_forwarded_for_is_not_trusted_without_a_proxy_count(api_for, capture_form):
    """CRM_NUM_PROXIES unset: the socket's address counts, whatever X-Forwarded-For says."""
    client = api_for()
    statuses = [
        client.post("/api/capture/", {"form_key": capture_form.public_key, "email": f"x{i}@example.co.id"}, format="json",
                    HTTP_X_FORWARDED_FOR=f"198.51.100.{i}").status_code
        for i in range(31)
    ]
    assert statuses[:30] == [201] * 30 and statuses[30] == 429


def test_with_a_proxy_count_the_client_address_comes_from_forwarded_for(api_for, capture_form, settings):
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": 1}
    client = api_for()

    def post(i: int, forwarded: str) -> int:
        return client.post("/api/capture/", {"form_key": capture_form.public_key, "email": f"y{i}@example.co.id"},
                           format="json", HTTP_X_FORWARDED_FOR=forwarded).status_code

    # Behind one proxy, the entry it appended is the client: different clients have their own budgets...
    assert [post(i, f"203.0.113.9, 198.51.100.{i}") for i in range(31)] == [201] * 31
    # ...and one client is limited whatever it puts in front.
    statuses = [post(100 + i, f"203.0.113.{i}, 198.51.100.200") for i in range(31)]
    assert statuses[:30] == [201] * 30 and statuses[30] == 429


@pytest.mark.parametrize("depth", [100_000, 200])
def test_deeply_nested_json_is_a_400_and_is_throttled(api_for, capture_form, depth):
    client = api_for()
    body = '{"form_key": "%s", "email": "n@example.co.id", "x": %s1%s}' % (capture_form.public_key, "[" * depth, "]" * depth)
    responses = [client.post("/api/capture/", body, content_type="application/json") for _ in range(31)]
    assert [r.status_code for r in responses[:30]] == [400] * 30
    assert responses[0].json()["error"] == "parse_error"
    assert responses[30].status_code == 429
    assert not Contact.objects.exists()


def test_the_migration_moves_earlier_keyed_submissions_into_their_forms_key_space(capture_form, make_contact, log):
    from importlib import import_module

    from django.apps import apps

    migration = import_module("contacts.migrations.0009_captureform_overwrite_contact_fields")
    visitor = make_contact(email="visitor@example.co.id")
    poisoned = log(visitor, "form_submitted", source="shop", external_id="ord-9999", data={"form": capture_form.name}).interaction
    integration = log(visitor, "form_submitted", source="shop", external_id="ord-1", data={}).interaction
    migration.capture_keys_into_form_key_spaces(apps, None)
    poisoned.refresh_from_db()
    integration.refresh_from_db()
    assert (poisoned.source, integration.source) == (f"form:{capture_form.pk}", "shop")
