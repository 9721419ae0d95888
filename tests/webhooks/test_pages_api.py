"""The /webhooks/ pages and /api/webhooks/: admins only, the secret shown once, the delivery
log, redelivery and the test event, and refusals that name the field."""

from __future__ import annotations

from webhooks.models import Delivery, Endpoint
from webhooks.outbox import subscribed_types


def test_an_admin_registers_a_webhook_on_the_page_and_sees_the_secret_once(client_for, admin, receiver, on_commit):
    client = client_for(admin)
    assert client.get("/webhooks/").status_code == 200
    with on_commit():
        response = client.post("/webhooks/new/", {"url": receiver.url(), "events": ["contact.created", "contact.erased"]})
    assert response.status_code == 200
    endpoint = Endpoint.objects.get()
    assert endpoint.secret.startswith("whsec_") and endpoint.secret in response.content.decode()
    assert endpoint.events == ["contact.created", "contact.erased"]
    assert subscribed_types() == {"contact.created", "contact.erased"}
    page = client.get(f"/webhooks/{endpoint.pk}/").content.decode()
    assert endpoint.secret not in page and endpoint.secret_hint in page

    receiver.secret = endpoint.secret
    with on_commit():
        assert client.post(f"/webhooks/{endpoint.pk}/test/").status_code == 302
    (request,) = receiver.to("/hook")
    assert request.verified and request.json()["type"] == "webhook.test"
    page = client.get(f"/webhooks/{endpoint.pk}/").content.decode()
    assert "webhook.test" in page and "200" in page and "Redeliver" in page

    delivery = Delivery.objects.get()
    with on_commit():
        assert client.post(f"/webhooks/deliveries/{delivery.pk}/redeliver/").status_code == 302
    assert len(receiver.to("/hook")) == 2


def test_the_page_refuses_a_private_address_naming_the_field(client_for, admin, settings, reference_data):
    settings.CRM_WEBHOOK_ALLOW_PRIVATE = False
    response = client_for(admin).post("/webhooks/new/", {"url": "http://169.254.169.254/latest/", "events": ["contact.created"]})
    assert response.status_code == 400
    assert "private, loopback or reserved" in response.content.decode()
    assert Endpoint.objects.count() == 0


def test_edit_keeps_the_secret_unless_a_new_one_is_given_and_can_disable(client_for, admin, endpoint, on_commit):
    hook = endpoint()
    secret = hook.secret
    client = client_for(admin)
    assert client.get(f"/webhooks/{hook.pk}/edit/").status_code == 200
    response = client.post(f"/webhooks/{hook.pk}/edit/", {"url": hook.url, "events": ["contact.assigned"]})
    assert response.status_code == 302
    hook.refresh_from_db()
    assert hook.secret == secret and hook.events == ["contact.assigned"] and not hook.is_active
    assert subscribed_types() == frozenset()


def test_the_indonesian_page(client_for, admin, endpoint):
    endpoint()
    client = client_for(admin)
    client.cookies["django_language"] = "id"
    page = client.get("/webhooks/", HTTP_ACCEPT_LANGUAGE="id").content.decode()
    assert "Webhook baru" in page and "Menunggu" in page


def test_others_may_not_see_webhooks(client_for, api_for, marketer, manager, endpoint):
    hook = endpoint()
    for user in (marketer, manager):
        assert client_for(user).get("/webhooks/").status_code == 403
        assert api_for(user).get("/api/webhooks/").status_code == 403
        assert api_for(user).get(f"/api/webhooks/{hook.pk}/deliveries/").status_code == 403


def test_the_api_returns_the_secret_once_and_lists_deliveries(api_for, admin, receiver, on_commit, make_contact):
    api = api_for(admin)
    with on_commit():
        created = api.post("/api/webhooks/", {"url": receiver.url(), "events": ["contact.created"]}, format="json")
    assert created.status_code == 201, created.json()
    body = created.json()
    assert body["secret"].startswith("whsec_") and body["secret_hint"] == "…" + body["secret"][-4:]
    listed = api.get("/api/webhooks/").json()["results"]
    assert "secret" not in listed[0] and listed[0]["secret_hint"] == body["secret_hint"]

    receiver.secret = body["secret"]
    contact = make_contact()
    deliveries = api.get(f"/api/webhooks/{body['id']}/deliveries/").json()["results"]
    (delivery,) = deliveries
    assert delivery["type"] == "contact.created" and delivery["status"] == "delivered" and delivery["status_code"] == 200
    (request,) = receiver.to("/hook")
    assert request.verified and request.json()["id"] == delivery["event_id"]
    assert request.json()["data"]["contact_id"] == contact.pk

    changed = api.patch(f"/api/webhooks/{body['id']}/", {"secret": "another-secret-0123456789"}, format="json")
    assert changed.status_code == 200 and changed.json()["secret"] == "another-secret-0123456789"
    assert api.patch(f"/api/webhooks/{body['id']}/", {"is_active": False}, format="json").json()["secret"] is None


def test_the_api_names_the_bad_field(api_for, admin, settings, reference_data):
    settings.CRM_WEBHOOK_ALLOW_PRIVATE = False
    api = api_for(admin)
    refused = api.post("/api/webhooks/", {"url": "http://127.0.0.1/hook", "events": ["contact.created"]}, format="json")
    assert refused.status_code == 400 and list(refused.json()["fields"]) == ["url"]
    refused = api.post("/api/webhooks/", {"url": "https://example.com/", "events": ["contact.deleted"]}, format="json")
    assert refused.status_code == 400 and all(key.startswith("events") for key in refused.json()["fields"])
    refused = api.post("/api/webhooks/", {"url": "https://example.com/", "events": ["contact.created"], "secret": "short"},
                       format="json")
    assert refused.status_code == 400 and "secret" in refused.json()["fields"]
    assert Endpoint.objects.count() == 0


def test_why_it_was_disabled_reads_in_the_viewers_language(client_for, admin, endpoint, settings):
    """The reason an endpoint was disabled is stored as a message id and parameters: written in the
    site's language (Indonesian), it reads in English for an English admin (issue 18, defect 3)."""
    from webhooks.services import endpoint_disable_failing

    settings.LANGUAGE_CODE = "id"
    hook = endpoint()
    assert endpoint_disable_failing(endpoint_id=hook.pk)
    hook.refresh_from_db()
    assert hook.disabled_reason == f"{settings.CRM_WEBHOOK_DISABLE_AFTER} percobaan gagal berturut-turut."  # as written (API)
    client = client_for(admin)
    english = client.get(f"/webhooks/{hook.pk}/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert f"{settings.CRM_WEBHOOK_DISABLE_AFTER} failed attempts in a row." in english and hook.disabled_reason not in english
    indonesian = client.get(f"/webhooks/{hook.pk}/", HTTP_ACCEPT_LANGUAGE="id").content.decode()
    assert hook.disabled_reason in indonesian
