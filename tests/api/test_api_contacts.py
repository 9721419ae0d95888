"""GET/POST/PATCH /api/contacts/: filters, pagination, explanation, strict input."""

from __future__ import annotations

import pytest

from contacts.models import ConsentRecord, Contact, StageChange
from crm.models import AuditEvent

pytestmark = pytest.mark.django_db


def test_list_filters_by_stage_industry_and_search(api_for, marketer, make_contact):
    make_contact(full_name="Budi Santoso", industry="b2b", email="budi@pabrik.co.id")
    make_contact(full_name="Sari Dewi", industry="healthcare")
    Contact.objects.filter(email="budi@pabrik.co.id").update(stage="lead")
    client = api_for(marketer)

    body = client.get("/api/contacts/", {"stage": "lead"}).json()
    assert [c["full_name"] for c in body["results"]] == ["Budi Santoso"]
    assert body["count"] == 1
    assert client.get("/api/contacts/", {"industry": "healthcare"}).json()["results"][0]["full_name"] == "Sari Dewi"
    assert client.get("/api/contacts/", {"search": "pabrik"}).json()["count"] == 1
    assert client.get("/api/contacts/", {"score_min": 1000}).json()["count"] == 0


def test_list_rejects_bad_filter_values_naming_the_parameter(api_for, marketer):
    response = api_for(marketer).get("/api/contacts/", {"stage": "vip"})
    assert response.status_code == 400
    assert response.json()["error"] == "validation_error"
    assert "stage" in response.json()["fields"]


def test_cursor_pagination_walks_every_contact_once(api_for, admin, make_contact):
    created = {make_contact().pk for _ in range(7)}
    client = api_for(admin)
    seen, url, pages = [], "/api/contacts/?paginate=cursor&page_size=3", 0
    while url:
        body = client.get(url).json()
        assert "count" not in body
        seen += [c["id"] for c in body["results"]]
        url, pages = body["next"], pages + 1
    assert seen == sorted(created) and pages == 3


def test_list_query_count_does_not_grow_with_rows(api_for, admin, make_contact, django_assert_max_num_queries):
    for _ in range(15):
        make_contact()
    client = api_for(admin)
    # token + user groups + count + page + tags
    with django_assert_max_num_queries(5):
        assert client.get("/api/contacts/").status_code == 200


def test_detail_explains_the_score_and_the_stage_history(api_for, marketer, make_contact, log, playbooks):
    contact = make_contact(full_name="Rina", phone="0812-3456-7890", email="rina@pabrik.co.id")
    log(contact, "price_requested")
    client = api_for(marketer)

    body = client.get(f"/api/contacts/{contact.pk}/").json()
    assert body["stage"] == "lead"
    breakdown = body["score_breakdown"]
    assert breakdown["score"] == body["score"] == 45  # a request and a phone number; the bar is 50
    labels = {hit["label"]: hit for hit in breakdown["hits"]}
    assert labels["Asked for a price"]["points"] == "40.00"
    assert labels["Asked for a price"]["interactions"] == [contact.interactions.get().pk]
    assert labels["Has a phone number"]["points"] == "5.00"
    (change,) = body["stage_history"]
    assert (change["from_stage"], change["to_stage"], change["reason_code"]) == ("contact", "lead", "lead")
    assert "45" in change["reason"] and "20" in change["reason"]


def test_detail_query_count(api_for, admin, make_contact, log, playbooks, django_assert_max_num_queries):
    contact = make_contact()
    for _ in range(3):
        log(contact, "price_requested")
    client = api_for(admin)
    # token + user groups + contact + tags + stage changes (with their users)
    with django_assert_max_num_queries(5):
        assert client.get(f"/api/contacts/{contact.pk}/").status_code == 200


def test_create_returns_the_detail_and_records_consent(api_for, marketer, on_commit):
    with on_commit():
        response = api_for(marketer).post("/api/contacts/", {
            "full_name": "Andi", "email": " Andi@Toko.CO.ID ", "phone": "0811 1111 2222", "industry": "ecommerce",
            "consent_whatsapp": True, "attributes": {"cart_value": 600000},
        }, format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert (body["email"], body["phone"], body["stage"]) == ("andi@toko.co.id", "+6281111112222", "contact")
    contact = Contact.objects.get(pk=body["id"])
    assert contact.consent_whatsapp and contact.attributes == {"cart_value": 600000}
    record = ConsentRecord.objects.get(contact=contact)
    assert (record.channel, record.granted, record.source, record.recorded_by) == ("whatsapp", True, "api", marketer)
    assert AuditEvent.objects.filter(action="create", object_id=str(contact.pk)).exists()


def test_create_refuses_a_duplicate_email_with_409_naming_the_field(api_for, marketer, make_contact):
    existing = make_contact(email="dup@example.co.id")
    response = api_for(marketer).post("/api/contacts/", {"full_name": "X", "email": "DUP@example.co.id"}, format="json")
    assert response.status_code == 409
    body = response.json()
    assert body["error"] == "duplicate" and list(body["fields"]) == ["email"]
    assert f"#{existing.pk}" in body["detail"]
    assert Contact.objects.count() == 1


def test_a_rep_is_not_told_which_contact_holds_a_duplicate(api_for, rep, other_rep, make_contact):
    make_contact(phone="081299990000", owner=other_rep)
    response = api_for(rep).post("/api/contacts/", {"full_name": "Y", "phone": "+6281299990000"}, format="json")
    assert response.status_code == 409
    assert "#" not in response.json()["detail"]


def test_a_rep_owns_the_contact_they_create(api_for, rep):
    response = api_for(rep).post("/api/contacts/", {"full_name": "Walk-in", "email": "walkin@example.co.id"}, format="json")
    assert response.status_code == 201
    assert response.json()["owner"] == rep.pk


@pytest.mark.parametrize("field, value", [
    ("score", 99), ("score_breakdown", {}), ("created_at", "2026-01-01T00:00:00Z"), ("stage_pinned", True), ("id", 5),
    ("stage", "customer"), ("owner", None),
])
def test_writing_read_only_fields_is_refused_by_name(api_for, marketer, make_contact, field, value):
    contact = make_contact()
    client = api_for(marketer)
    for response in (
        client.post("/api/contacts/", {"full_name": "Z", "email": "z@example.co.id", field: value}, format="json"),
        client.patch(f"/api/contacts/{contact.pk}/", {"city": "Bandung", field: value}, format="json"),
    ):
        assert response.status_code == 400
        assert response.json()["fields"] == {field: ["This field is read-only."]}
    contact.refresh_from_db()
    assert contact.city == "" and Contact.objects.count() == 1


def test_unknown_fields_are_refused(api_for, admin):
    response = api_for(admin).post("/api/contacts/", {"full_name": "Z", "is_vip": True}, format="json")
    assert response.status_code == 400
    assert response.json()["fields"] == {"is_vip": ["Unknown field."]}


def test_service_validation_errors_name_the_field(api_for, admin):
    response = api_for(admin).post("/api/contacts/", {"full_name": "Z", "email": "not-an-email"}, format="json")
    assert response.status_code == 400
    assert list(response.json()["fields"]) == ["email"]


def test_patch_sets_fields_records_consent_withdrawal_and_rescoring(api_for, marketer, make_contact, on_commit, playbooks):
    contact = make_contact(consent_email=True, phone="081233334444")
    with on_commit():
        response = api_for(marketer).patch(f"/api/contacts/{contact.pk}/", {
            "job_title": "Direktur", "consent_email": False, "phone": "",
        }, format="json")
    assert response.status_code == 200, response.json()
    contact.refresh_from_db()
    assert (contact.job_title, contact.consent_email, contact.phone) == ("Direktur", False, None)
    assert ConsentRecord.objects.filter(contact=contact).order_by("-id").first().granted is False
    # Rescored after commit: the phone went away, and with it its points.
    hits = api_for(marketer).get(f"/api/contacts/{contact.pk}/").json()["score_breakdown"]["hits"]
    assert all(hit["label"] != "Has a phone number" for hit in hits)


def test_manager_sets_the_stage_by_hand_which_pins_it(api_for, manager, make_contact):
    contact = make_contact()
    response = api_for(manager).patch(f"/api/contacts/{contact.pk}/", {"stage": "prospect"}, format="json")
    assert response.status_code == 200
    assert (response.json()["stage"], response.json()["stage_pinned"]) == ("prospect", True)
    change = StageChange.objects.get(contact=contact)
    assert (change.reason_code, change.user) == ("manual", manager)
    assert response.json()["stage_history"][0]["user_name"] == "Hendra"


def test_patch_owner_by_admin_reassigns(api_for, admin, rep, make_contact):
    contact = make_contact()
    response = api_for(admin).patch(f"/api/contacts/{contact.pk}/", {"owner": rep.pk}, format="json")
    assert response.status_code == 200
    assert response.json()["owner"] == rep.pk


def test_put_and_delete_are_not_allowed(api_for, admin, make_contact):
    contact = make_contact()
    client = api_for(admin)
    for response in (client.put(f"/api/contacts/{contact.pk}/", {}, format="json"), client.delete(f"/api/contacts/{contact.pk}/")):
        assert response.status_code == 405
        assert response.json()["error"] == "method_not_allowed"


# --- Security round two (issue 15) ------------------------------------------------------------

def test_a_rep_is_told_nothing_about_a_contact_they_cannot_see(api_for, rep, other_rep, make_contact):
    """Which identity field matched, and that it matched a contact at all, stays hidden: one generic answer."""
    make_contact(email="taken@example.co.id", phone="081211112222", owner=other_rep)
    client = api_for(rep)
    by_email = client.post("/api/contacts/", {"full_name": "A", "email": "taken@example.co.id"}, format="json")
    by_phone = client.post("/api/contacts/", {"full_name": "B", "phone": "+6281211112222"}, format="json")
    assert by_email.status_code == by_phone.status_code == 409
    assert by_email.json() == by_phone.json()
    assert by_email.json()["fields"] == {}
    assert "exists" not in by_email.json()["detail"]


def test_duplicate_refusals_of_hidden_contacts_are_rate_limited(api_for, rep, other_rep, make_contact, settings):
    settings.CRM_HIDDEN_DUPLICATE_LIMIT = 3
    for n in range(4):
        make_contact(email=f"hidden{n}@example.co.id", owner=other_rep)
    client = api_for(rep)
    statuses = [client.post("/api/contacts/", {"email": f"hidden{n}@example.co.id"}, format="json").status_code
                for n in range(4)]
    assert statuses == [409, 409, 409, 429]
    # A rep's ordinary creations are not limited by it.
    assert client.post("/api/contacts/", {"email": "fresh@example.co.id"}, format="json").status_code == 201
