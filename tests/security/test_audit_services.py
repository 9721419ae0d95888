"""Issue 15, "one write path": each service writes its own audit row, so a change leaves the
same trace whether it came from a page, the API, a management command or a direct call."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.urls import reverse
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from contacts import services
from crm.models import AuditEvent
from scoring.models import RuleSet
from scoring.rulesets import version_draft, version_publish

pytestmark = pytest.mark.django_db


def api(user) -> APIClient:
    client = APIClient()
    token, _ = Token.objects.get_or_create(user=user)
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client


def publishes(version_id: int) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(action="publish", object_type="scoring.rulesetversion", object_id=str(version_id)))


def test_publishing_from_a_command_is_audited(reference_data):
    call_command("load_playbook", "general")
    ruleset = RuleSet.objects.get(playbook="general")
    assert len(publishes(ruleset.active_version_id)) == 1


@pytest.mark.parametrize("entry", ["page", "api", "service"])
def test_publishing_writes_one_audit_row_whatever_the_entry_point(playbooks, admin, client_for, entry):
    ruleset = RuleSet.objects.get(industry="b2b")
    draft = version_draft(ruleset=ruleset, by=admin)
    if entry == "page":
        assert client_for(admin).post(reverse("rules:publish", args=[ruleset.pk])).status_code == 302
    elif entry == "api":
        assert api(admin).post(f"/api/rulesets/{ruleset.pk}/publish/", {}, format="json").status_code == 200
    else:
        version_publish(version=draft, by=admin)
    (event,) = publishes(draft.pk)
    assert event.actor == admin and event.details["number"] == draft.number


def test_a_rollback_is_audited_with_what_it_rolled_back(playbooks, admin):
    ruleset = RuleSet.objects.get(industry="b2b")
    old = ruleset.active_version
    version_publish(version=version_draft(ruleset=ruleset, by=admin), by=admin)
    old.refresh_from_db()
    copy = version_publish(version=old, by=admin)
    (event,) = publishes(copy.pk)
    assert event.details["rollback_of"] == old.pk


def changes(contact, field: str) -> list[AuditEvent]:
    return [e for e in AuditEvent.objects.filter(action="change", object_type="contacts.contact", object_id=str(contact.pk))
            if field in e.details.get("fields", [])]


@pytest.mark.parametrize("entry", ["page", "api", "service"])
def test_a_contact_edit_writes_one_audit_row_whatever_the_entry_point(make_contact, marketer, client_for, entry):
    contact = make_contact(full_name="Audit Me", email="audit@example.co.id")
    if entry == "page":
        response = client_for(marketer).post(reverse("contacts:edit", args=[contact.pk]), {
            "full_name": "Audit Me", "email": "audit@example.co.id", "industry": "other", "city": "Medan"})
        assert response.status_code == 302
    elif entry == "api":
        assert api(marketer).patch(f"/api/contacts/{contact.pk}/", {"city": "Medan"}, format="json").status_code == 200
    else:
        services.contact_update(contact=contact, data={"city": "Medan"}, by=marketer)
    (event,) = changes(contact, "city")
    assert event.actor == marketer and "Medan" not in str(event.details)


def test_stage_owner_note_and_interaction_services_audit_themselves(make_contact, manager, rep):
    contact = make_contact(email="svc-audit@example.co.id")
    services.contact_set_stage(contact=contact, stage="prospect", by=manager)
    services.contact_assign_owner(contact=contact, owner=rep, by=manager)
    services.note_add(contact=contact, author=rep, body="Telepon besok")
    services.interaction_log(contact=contact, kind="page_viewed", by=rep)
    assert len(changes(contact, "stage")) == 1
    assert len(changes(contact, "owner")) == 1
    assert [e.actor for e in AuditEvent.objects.filter(action="change", object_id=str(contact.pk))
            if e.details.get("fields") in (["notes"], ["interactions"])] == [rep, rep]


def creations(object_type: str, object_id) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(action="create", object_type=object_type, object_id=str(object_id)))


@pytest.mark.parametrize("entry", ["admin", "api", "service"])
def test_an_interaction_kind_is_audited_once_whatever_the_entry_point(admin, client_for, entry):
    data = {"slug": f"demo_{entry}", "name": "Demo booked", "name_id": "Memesan demo", "intent_level": "intent"}
    if entry == "admin":
        response = client_for(admin).post(reverse("admin:contacts_interactionkind_add"), data)
        assert response.status_code == 302, response.content.decode()[:2000]
    elif entry == "api":
        assert api(admin).post("/api/interaction-kinds/", data, format="json").status_code == 201
    else:
        services.interaction_kind_create(data=data, by=admin)
    (event,) = creations("contacts.interactionkind", data["slug"])
    assert event.actor == admin


@pytest.mark.parametrize("entry", ["api", "service"])
def test_creating_a_contact_is_audited_once_by_the_service(marketer, entry):
    data = {"full_name": "Baru Sekali", "email": f"baru-{entry}@example.co.id", "city": "Solo"}
    if entry == "api":
        response = api(marketer).post("/api/contacts/", data, format="json")
        assert response.status_code == 201
        pk = response.json()["id"]
    else:
        pk = services.contact_create(data=data, by=marketer).pk
    (event,) = creations("contacts.contact", pk)
    assert event.actor == marketer and "Solo" not in str(event.details) and "city" in event.details["fields"]


def test_creating_an_existing_identity_writes_nothing(make_contact, marketer):
    existing = make_contact(email="ada@example.co.id", city="Medan")
    with pytest.raises(services.ContactExists) as caught:
        services.contact_create(data={"email": "ada@example.co.id", "city": "Solo"}, by=marketer)
    assert caught.value.contact_id == existing.pk
    existing.refresh_from_db()
    assert existing.city == "Medan" and not AuditEvent.objects.filter(action="create").exists()


@pytest.mark.parametrize("entry", ["page", "service"])
def test_an_export_is_audited_once_by_the_service(make_contact, marketer, client_for, entry):
    from contacts import exporting

    make_contact(email="ekspor@example.co.id")
    if entry == "page":
        response = client_for(marketer).get(reverse("export"), {"format": "csv", "search": "ekspor"})
        assert response.status_code == 200
        b"".join(response.streaming_content)
    else:
        queryset, count = exporting.contacts_export(user=marketer, params={"search": "ekspor"}, fmt="csv")
        assert count == 1
    (event,) = AuditEvent.objects.filter(action="export")
    assert event.actor == marketer and event.details["rows"] == 1 and event.details["filters"] == {"search": "…"}
