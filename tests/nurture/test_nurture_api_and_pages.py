"""The content library and sending over the API and the pages, by role."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from crm.models import AuditEvent
from nurture.models import Delivery, Message

EMAIL = {"name": "Webinar", "channel": "email", "purpose": "education", "industry": "b2b", "language": "id",
         "subject": "Webinar untuk {{ company }}", "body": "Halo {{ first_name }}, daftar: https://x.example/w\n\n{{ unsubscribe_url }}"}


def api(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def test_marketers_write_messages_and_sales_read_them(marketer, rep, library):
    created = api(marketer).post("/api/messages/", EMAIL, format="json")
    assert created.status_code == 201, created.json()
    assert AuditEvent.objects.filter(object_type="nurture.message", object_id=str(created.json()["id"]),
                                     action="create", actor=marketer).exists()
    assert api(rep).post("/api/messages/", EMAIL, format="json").status_code == 403
    listed = api(rep).get("/api/messages/", {"page_size": 500}).json()
    assert created.json()["id"] in {m["id"] for m in listed["results"]}
    changed = api(marketer).patch(f"/api/messages/{created.json()['id']}/", {"subject": "Baru"}, format="json")
    assert changed.status_code == 200 and changed.json()["subject"] == "Baru"
    assert api(marketer).delete(f"/api/messages/{created.json()['id']}/").status_code == 204
    assert Message.objects.get(pk=created.json()["id"]).is_archived


@pytest.mark.parametrize("change, field", [
    ({"body": "Halo {{ first_name }}, tanpa tautan berhenti."}, "body"),
    ({"body": "{{ settings.SECRET_KEY }} {{ unsubscribe_url }}"}, "body"),
    ({"subject": "{% load x %}"}, "subject"),
    ({"subject": ""}, "subject"),
    ({"purpose": "spam"}, "purpose"),
    ({"surprise": 1}, "surprise"),
])
def test_bad_messages_are_refused_naming_the_field(marketer, change, field, reference_data):
    response = api(marketer).post("/api/messages/", {**EMAIL, **change}, format="json")
    assert response.status_code == 400 and field in response.json()["fields"], response.json()
    assert not Message.objects.exists()


def test_send_answers_202_or_400_naming_the_rule(person, message, marketer, rep, smtp_server, on_commit):
    lead = person("lead")
    with on_commit():
        sent = api(marketer).post(f"/api/contacts/{lead.pk}/send/", {"message": message("all-edu-id").pk}, format="json")
    assert sent.status_code == 202 and sent.json()["status"] == "queued"
    assert Delivery.objects.get().status == "sent" and len(smtp_server.messages()) == 1
    refused = api(marketer).post(f"/api/contacts/{lead.pk}/send/", {"message": message("all-promo-id").pk}, format="json")
    assert refused.status_code == 400
    assert refused.json()["error"] == "stage" and "message" in refused.json()["fields"]
    # A rep cannot reach another rep's contact (404, like every object they may not see).
    assert api(rep).post(f"/api/contacts/{lead.pk}/send/", {"message": message("all-edu-id").pk},
                         format="json").status_code == 404
    assert Delivery.objects.count() == 1


def test_the_library_page_and_the_editor_with_a_preview(client_for, marketer, rep, library, person):
    person("lead", full_name="Putri Ayu", company="PT Contoh")
    page = client_for(rep).get("/messages/")
    assert page.status_code == 200 and b"Brosur program" in page.content
    assert client_for(rep).get("/messages/new/").status_code == 403

    client = client_for(marketer)
    preview = client.post("/messages/new/", {**EMAIL, "preview": "1"})
    assert preview.status_code == 200
    assert b"Webinar untuk PT Contoh" in preview.content and b"Halo Putri" in preview.content
    assert not Message.objects.filter(name="Webinar").exists(), "a preview saves nothing"

    bad = client.post("/messages/new/", {**EMAIL, "body": "Halo {{ nama }}"})
    assert bad.status_code == 400 and b"Unknown variable" in bad.content
    saved = client.post("/messages/new/", EMAIL)
    assert saved.status_code == 302 and Message.objects.filter(name="Webinar").exists()


def test_the_contact_page_suggests_what_fits_and_sends_it(client_for, marketer, person, library, smtp_server, on_commit):
    lead = person("lead", industry="education")
    page = client_for(marketer).get(f"/contacts/{lead.pk}/")
    assert page.status_code == 200
    body = page.content.decode()
    assert "Brosur program" in body, "an education message for an education lead"
    assert "Penawaran bulan ini" not in body, "never a promo for a lead"
    edu = Message.objects.get(starter_key="edu-edu-id")
    with on_commit():
        sent = client_for(marketer).post(f"/contacts/{lead.pk}/send/", {"message": edu.pk}, follow=True)
    assert sent.status_code == 200 and len(smtp_server.messages()) == 1
    promo = Message.objects.get(starter_key="all-promo-id")
    refused = client_for(marketer).post(f"/contacts/{lead.pk}/send/", {"message": promo.pk}, follow=True)
    assert "stage guardrail" in refused.content.decode()
    assert len(smtp_server.messages()) == 1


def test_sequences_over_the_api_and_the_pages(marketer, rep, message, client_for):
    body = {"name": "Lead B2B", "trigger_stage": "lead", "industry": "b2b",
            "steps": [{"wait_days": 0, "message": message("b2b-edu-id").pk},
                      {"wait_days": 4, "message": message("b2b-webinar-id").pk}]}
    created = api(marketer).post("/api/sequences/", body, format="json")
    assert created.status_code == 201, created.json()
    assert created.json()["steps"] == body["steps"] and created.json()["is_paused"] is False
    assert api(rep).post("/api/sequences/", body, format="json").status_code == 403
    promo = api(marketer).post("/api/sequences/", {**body, "steps": [{"wait_days": 0, "message": message("all-promo-id").pk}]},
                               format="json")
    assert promo.status_code == 400 and "steps.0.message" in promo.json()["fields"]
    paused = api(marketer).patch(f"/api/sequences/{created.json()['id']}/", {"is_paused": True}, format="json")
    assert paused.status_code == 200 and paused.json()["is_paused"] is True and paused.json()["steps"] == body["steps"]

    page = client_for(rep).get("/sequences/")
    assert page.status_code == 200 and b"Lead B2B" in page.content
    form = client_for(marketer).post("/sequences/new/", {
        "name": "Pelanggan baru", "trigger_stage": "customer", "industry": "",
        "wait_0": 0, "message_0": message("all-onboard-id").pk, "wait_1": 2, "message_1": message("all-promo-id").pk})
    assert form.status_code == 302
    refused = client_for(marketer).post("/sequences/new/", {
        "name": "Salah", "trigger_stage": "lead", "wait_0": 0, "message_0": message("all-promo-id").pk})
    assert refused.status_code == 400 and "stage guardrail" in refused.content.decode()


def test_lists_of_sequences_and_campaigns_take_a_fixed_number_of_queries(
        marketer, message, django_assert_max_num_queries, reference_data):
    from contacts.models import Segment
    from nurture.campaigns import campaign_create
    from nurture.sequences import sequence_save

    segment = Segment.objects.create(name="Semua", filters={})
    for n in range(5):
        sequence_save(data={"name": f"S{n}", "trigger_stage": "lead"}, by=marketer,
                      steps=[{"wait_days": 0, "message": message("all-edu-id").pk}])
        campaign_create(message=message("all-edu-id"), segment=segment, by=marketer)
    client = api(marketer)
    with django_assert_max_num_queries(8):
        sequences = client.get("/api/sequences/").json()
    assert len(sequences["results"]) == 5 and {s["active_enrollments"] for s in sequences["results"]} == {0}
    with django_assert_max_num_queries(8):
        campaigns = client.get("/api/campaigns/").json()
    assert len(campaigns["results"]) == 5 and "report" not in campaigns["results"][0]
    assert "report" in client.get(f"/api/campaigns/{campaigns['results'][0]['id']}/").json()
