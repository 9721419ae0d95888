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
from scoring.services import version_draft, version_publish

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
