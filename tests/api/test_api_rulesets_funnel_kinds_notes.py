"""Rule sets (read, draft, preview, publish), funnel, interaction kinds and notes over the API."""

from __future__ import annotations

import pytest

from contacts.models import InteractionKind, Note
from crm.models import AuditEvent
from scoring.models import RuleSet, RuleSetVersion

pytestmark = pytest.mark.django_db


@pytest.fixture
def default_ruleset(playbooks) -> RuleSet:
    return RuleSet.objects.get(industry="")


def test_rulesets_show_the_active_version_rules_and_policy(api_for, marketer, default_ruleset, django_assert_max_num_queries):
    client = api_for(marketer)
    with django_assert_max_num_queries(10):
        body = client.get("/api/rulesets/").json()
    assert len(body) == 5
    default = next(rs for rs in body if rs["industry"] == "")
    version = default["active_version"]
    assert (version["status"], version["lead_threshold"], version["prospect_threshold"]) == ("published", 20, 50)
    assert "purchase" in version["conversion_kinds"]
    price = next(rule for rule in version["rules"] if rule["label"] == "Asked for a price")
    assert (price["type"], price["interaction_kind"], price["points"], price["window_days"]) == ("interaction", "price_requested", 40.0, 30)
    assert default["draft"] is None


def test_admin_edits_the_draft_previews_and_publishes(api_for, admin, default_ruleset, make_contact, log, on_commit):
    contact = make_contact(industry="other")
    log(contact, "page_viewed")
    client = api_for(admin)
    assert client.get(f"/api/rulesets/{default_ruleset.pk}/draft/").status_code == 404

    rules = [
        {"type": "interaction", "label": "Visited", "points": 25, "interaction_kind": "page_viewed", "window_days": 30},
        {"type": "attribute", "label": "Has a phone", "points": 5, "field": "phone", "operator": "is_set"},
    ]
    response = client.patch(f"/api/rulesets/{default_ruleset.pk}/draft/",
                            {"rules": rules, "lead_threshold": 20, "note": "Visits matter more"}, format="json")
    assert response.status_code == 200, response.json()
    draft = response.json()
    assert (draft["status"], draft["note"], len(draft["rules"])) == ("draft", "Visits matter more", 2)

    preview = client.post(f"/api/rulesets/{default_ruleset.pk}/preview/", {}, format="json")
    assert preview.status_code == 200
    body = preview.json()
    assert body["version"] == draft["id"] and body["evaluated"] == 1
    assert body["transitions"] == [{"from_stage": "contact", "to_stage": "lead", "count": 1}]
    (example,) = body["examples"]
    assert (example["contact_id"], example["score"]) == (contact.pk, 25)
    assert example["breakdown"]["hits"][0]["label"] == "Visited"
    contact.refresh_from_db()
    assert contact.stage == "contact"  # a preview writes nothing

    with on_commit():
        published = client.post(f"/api/rulesets/{default_ruleset.pk}/publish/", {}, format="json")
    assert published.status_code == 200
    assert published.json()["active_version"]["id"] == draft["id"] and published.json()["draft"] is None
    contact.refresh_from_db()
    assert (contact.stage, contact.score) == ("lead", 25)
    assert AuditEvent.objects.filter(action="publish", object_id=str(draft["id"])).exists()


def test_publishing_an_archived_version_rolls_back(api_for, admin, default_ruleset):
    client = api_for(admin)
    first = default_ruleset.active_version_id
    client.patch(f"/api/rulesets/{default_ruleset.pk}/draft/", {"lead_threshold": 30}, format="json")
    client.post(f"/api/rulesets/{default_ruleset.pk}/publish/", {}, format="json")
    response = client.post(f"/api/rulesets/{default_ruleset.pk}/publish/", {"version": first}, format="json")
    assert response.status_code == 200
    assert response.json()["active_version"]["lead_threshold"] == 20
    assert RuleSetVersion.objects.get(pk=first).status == "archived"  # rolled back through a copy
    # The copy is in force since the rollback; the old version keeps its first publication.
    active = response.json()["active_version"]
    from django.utils.dateparse import parse_datetime

    assert active["id"] != first
    assert parse_datetime(active["published_at"]) > RuleSetVersion.objects.get(pk=first).published_at


@pytest.mark.parametrize("body, field", [
    ({"rules": [{"type": "interaction", "label": "x", "points": 1}]}, "rules.0.interaction_kind"),
    ({"rules": [{"type": "interaction", "label": "x", "points": 1, "interaction_kind": "teleported"}]}, "rules.0.interaction_kind"),
    ({"rules": [{"type": "attribute", "label": "ok", "points": 1, "field": "phone", "operator": "is_set"},
                {"type": "attribute", "label": "x", "points": 1, "field": "shoe_size", "operator": "eq", "value": 42}]},
     "rules.1.field"),
    ({"rules": [{"type": "attribute", "label": "x", "points": 1, "field": "city", "operator": "in", "value": "Jakarta"}]},
     "rules.0.value"),
    ({"lead_threshold": 80, "prospect_threshold": 60}, "prospect_threshold"),
    ({"conversion_kinds": ["purchase", "nope"]}, "conversion_kinds.1"),
    ({"status": "published"}, "status"),
])
def test_draft_errors_name_the_rule_and_field_and_change_nothing(api_for, admin, default_ruleset, body, field):
    response = api_for(admin).patch(f"/api/rulesets/{default_ruleset.pk}/draft/", body, format="json")
    assert response.status_code == 400
    assert field in response.json()["fields"], response.json()
    assert not default_ruleset.versions.filter(status="draft").exists()  # rolled back, even the draft copy


def test_preview_without_a_draft_names_the_version_field(api_for, admin, default_ruleset):
    response = api_for(admin).post(f"/api/rulesets/{default_ruleset.pk}/preview/", {}, format="json")
    assert response.status_code == 400
    assert "version" in response.json()["fields"]


def test_funnel_counts_and_rates(api_for, marketer, rep, make_contact):
    for stage, n in (("contact", 4), ("lead", 3), ("prospect", 2), ("customer", 1)):
        for _ in range(n):
            contact = make_contact(industry="b2b", owner=rep if stage == "customer" else None)
            type(contact).objects.filter(pk=contact.pk).update(stage=stage)
    make_contact(industry="healthcare")
    body = api_for(marketer).get("/api/funnel/", {"industry": "b2b"}).json()
    assert body["total"] == 10
    by_stage = {row["stage"]: row for row in body["stages"]}
    assert [by_stage[s]["reached"] for s in ("contact", "lead", "prospect", "customer")] == [10, 6, 3, 1]
    assert by_stage["lead"]["conversion_rate"] == pytest.approx(0.5)
    assert body["overall_conversion_rate"] == pytest.approx(0.1)
    assert body["filters"]["industry"] == "b2b"
    # A rep sees the funnel of their own contacts only, whatever owner they ask for.
    mine = api_for(rep).get("/api/funnel/", {"owner": "none"}).json()
    assert (mine["total"], mine["filters"]["owner"]) == (1, str(rep.pk))


def test_funnel_rejects_bad_dates(api_for, admin):
    client = api_for(admin)
    assert client.get("/api/funnel/", {"date_from": "2026-02-01", "date_to": "2026-01-01"}).json()["fields"] == {
        "date_to": ["Must not be before date_from."]}
    # Any valid date is accepted (the schema's "format: date"); one before 1900 selects what 1900 does.
    old = client.get("/api/funnel/", {"date_from": "0001-01-01"})
    assert (old.status_code, old.json()["filters"]["date_from"]) == (200, "1900-01-01")
    # An empty parameter is not "no filter": it is refused by name.
    assert client.get("/api/funnel/", {"date_from": ""}).json()["fields"] == {
        "date_from": ["Give a value or leave the parameter out."]}
    assert "since" in client.get("/api/funnel/", {"since": "2026-01-01"}).json()["fields"]


def test_interaction_kinds_list_and_admin_create(api_for, admin, catalog):
    client = api_for(admin)
    kinds = client.get("/api/interaction-kinds/").json()
    assert {"slug": "price_requested", "intent_level": "intent"}.items() <= next(
        k for k in kinds if k["slug"] == "price_requested").items()
    body = {"slug": "booth_visited", "name": "Visited our booth", "name_id": "Mengunjungi booth", "intent_level": "interest"}
    assert client.post("/api/interaction-kinds/", body, format="json").status_code == 201
    assert InteractionKind.objects.get(slug="booth_visited").name_id == "Mengunjungi booth"
    again = client.post("/api/interaction-kinds/", body, format="json")
    assert again.status_code == 409 and "slug" in again.json()["fields"]
    assert client.get("/api/interaction-kinds/booth_visited/").json()["label"]


def test_notes_create_and_list_for_own_contacts(api_for, rep, other_rep, make_contact):
    mine, theirs = make_contact(owner=rep), make_contact(owner=other_rep)
    client = api_for(rep)
    response = client.post("/api/notes/", {"contact": mine.pk, "body": "Follow up Monday", "due_at": "2026-12-01T09:00:00+07:00"},
                           format="json")
    assert response.status_code == 201
    assert (response.json()["kind"], response.json()["author"]) == ("follow_up", rep.pk)
    Note.objects.create(contact=theirs, author=other_rep, body="secret")
    listed = client.get("/api/notes/").json()
    assert [n["body"] for n in listed["results"]] == ["Follow up Monday"]
    assert client.get("/api/notes/", {"open": "true"}).json()["count"] == 1
    mine.refresh_from_db()
    assert mine.first_contacted_at is not None
