"""The rules pages: access, the draft editor, preview, publish (with the rescore it
queues, run eagerly here), rollback and the rescore progress endpoint."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from contacts.models import Contact, StageChange
from crm.models import AuditEvent
from scoring.models import RescoreRun, Rule, RuleSet, RuleSetVersion
from scoring.rulesets import version_draft

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _english(settings):
    """Assertions read English text; the Indonesian rendering has its own test."""
    settings.LANGUAGE_CODE = "en"


@pytest.fixture
def default_set(playbooks) -> RuleSet:
    """The default rule set (the general playbook: lead at 20, prospect at 50)."""
    return RuleSet.objects.get(industry="")


@pytest.fixture
def draft(default_set, admin) -> RuleSetVersion:
    return version_draft(ruleset=default_set, by=admin)


@pytest.fixture
def known_contacts(playbooks, make_contact, log) -> dict[str, Contact]:
    """Four contacts of industry "other" (scored by the default set) with known scores:
    20 = lead, 17 and 12 = contact, 0 = contact."""
    lead = make_contact(full_name="Lia Lead")
    log(lead, "form_submitted")  # 12
    log(lead, "content_downloaded")  # 8
    near = make_contact(full_name="Nina Near", phone="081234567890")  # phone +5
    log(near, "form_submitted")  # 12 -> 17
    low = make_contact(full_name="Lukas Low")
    log(low, "form_submitted")  # 12
    cold = make_contact(full_name="Coco Cold")
    contacts = {"lead": lead, "near": near, "low": low, "cold": cold}
    for contact in contacts.values():
        contact.refresh_from_db()
    assert [contacts[k].score for k in ("lead", "near", "low", "cold")] == [20, 17, 12, 0]
    assert [contacts[k].stage for k in ("lead", "near", "low", "cold")] == ["lead", "contact", "contact", "contact"]
    return contacts


def policy_data(version: RuleSetVersion, **changes) -> dict:
    data = {
        "lead_threshold": version.lead_threshold,
        "prospect_threshold": version.prospect_threshold,
        "prospect_requires_intent": "on" if version.prospect_requires_intent else "",
        "intent_window_days": version.intent_window_days or "",
        "conversion_kinds": list(version.conversion_kinds.values_list("slug", flat=True)),
        "demote_after_days": version.demote_after_days or "",
        "decay_half_life_days": version.decay_half_life_days or "",
        "note": "",
    }
    data.update(changes)
    return {k: v for k, v in data.items() if v != "" or k == "note"}


def rule_data(prefix: str = "", **fields) -> dict:
    base = {"type": "attribute", "label": "A rule", "points": "5", "interaction_kind": "", "window_days": "",
            "max_occurrences": "", "field": "", "operator": "", "value": ""}
    base.update(fields)
    return {(f"{prefix}-{k}" if prefix else k): v for k, v in base.items()}


# --- access --------------------------------------------------------------------------

def test_admin_sees_rules_index(client_for, admin, default_set, django_assert_max_num_queries):
    client = client_for(admin)
    with django_assert_max_num_queries(8):  # session, user, groups, rule sets + versions, runs
        response = client.get(reverse("rules:index"))
    assert response.status_code == 200
    body = response.content.decode()
    for ruleset in RuleSet.objects.all():
        assert ruleset.name in body
    assert f"v{default_set.active_version.number}" in body


@pytest.mark.parametrize("who", ["marketer", "rep", "manager"])
def test_non_admins_get_403(request, client_for, draft, who):
    client = client_for(request.getfixturevalue(who))
    ruleset_id = draft.ruleset_id
    for url in (reverse("rules:index"), reverse("rules:draft", args=[ruleset_id]), reverse("rules:preview", args=[ruleset_id]),
                reverse("rules:version", args=[draft.pk])):
        assert client.get(url).status_code == 403, url
    assert client.post(reverse("rules:publish", args=[ruleset_id])).status_code == 403
    assert client.post(reverse("rules:playbook"), {"name": "b2b"}).status_code == 403
    draft.refresh_from_db()
    assert draft.is_draft


def test_pages_render_in_indonesian(client_for, admin, draft, known_contacts):
    client = client_for(admin)
    for url in (reverse("rules:index"), reverse("rules:draft", args=[draft.ruleset_id]),
                reverse("rules:preview", args=[draft.ruleset_id]), reverse("rules:version", args=[draft.pk])):
        response = client.get(url, HTTP_ACCEPT_LANGUAGE="id")
        assert response.status_code == 200, url
        assert '<html lang="id">' in response.content.decode()


def test_anonymous_is_sent_to_login(client, default_set):
    response = client.get(reverse("rules:index"))
    assert response.status_code == 302
    assert response.url.startswith(reverse("login"))


# --- drafts and playbooks -------------------------------------------------------------

def test_edit_creates_a_draft_copy_of_the_active_version(client_for, admin, default_set):
    active = default_set.active_version
    response = client_for(admin).post(reverse("rules:edit", args=[default_set.pk]))
    assert response.status_code == 302
    assert response.url == reverse("rules:draft", args=[default_set.pk])
    draft = default_set.draft()
    assert draft is not None and draft.number == active.number + 1
    assert draft.rules.count() == active.rules.count()
    assert AuditEvent.objects.filter(action="create", object_type="scoring.rulesetversion", object_id=str(draft.pk)).exists()
    # Editing again opens the same draft.
    client_for(admin).post(reverse("rules:edit", args=[default_set.pk]))
    assert default_set.versions.filter(status="draft").count() == 1


def test_load_playbook_lands_in_a_draft(client_for, admin, default_set):
    b2b = RuleSet.objects.get(industry="b2b")
    active_before = b2b.active_version_id
    response = client_for(admin).post(reverse("rules:playbook"), {"name": "b2b"})
    assert response.status_code == 302
    assert response.url == reverse("rules:draft", args=[b2b.pk])
    b2b.refresh_from_db()
    assert b2b.active_version_id == active_before  # nothing published
    draft = b2b.draft()
    assert draft.rules.exists()
    page = client_for(admin).get(response.url)
    assert page.status_code == 200
    assert "draft v%d" % draft.number in page.content.decode()


def test_load_unknown_playbook_is_refused(client_for, admin, default_set):
    response = client_for(admin).post(reverse("rules:playbook"), {"name": "casino"}, follow=True)
    assert response.status_code == 200
    assert not RuleSetVersion.objects.filter(status="draft").exists()


def test_draft_page_without_draft_is_404(client_for, admin, default_set):
    assert client_for(admin).get(reverse("rules:draft", args=[default_set.pk])).status_code == 404


def test_draft_editor_renders_policy_rules_and_field_picker(client_for, admin, draft, django_assert_max_num_queries):
    client = client_for(admin)
    with django_assert_max_num_queries(11):  # 11: the field picker also lists the custom fields (one query)
        response = client.get(reverse("rules:draft", args=[draft.ruleset_id]))
    assert response.status_code == 200
    body = response.content.decode()
    assert 'name="lead_threshold"' in body and 'name="conversion_kinds"' in body
    assert "Requested a demo" in body  # a rule of the general playbook
    assert '<datalist id="rule-field-options">' in body
    assert '<option value="job_title">' in body and '<option value="attributes.&lt;key&gt;">' in body


# --- policy ----------------------------------------------------------------------------

def test_edit_policy(client_for, admin, draft):
    data = policy_data(draft, lead_threshold=15, conversion_kinds=["purchase", "enrolled"], decay_half_life_days=30)
    response = client_for(admin).post(reverse("rules:draft", args=[draft.ruleset_id]), data)
    assert response.status_code == 302
    draft.refresh_from_db()
    assert draft.lead_threshold == 15 and draft.decay_half_life_days == 30
    assert set(draft.conversion_kinds.values_list("slug", flat=True)) == {"purchase", "enrolled"}
    event = AuditEvent.objects.get(action="change", object_id=str(draft.pk))
    assert event.details["what"] == "policy" and "lead_threshold" in event.details["fields"]


def test_prospect_threshold_below_lead_is_refused_under_the_field(client_for, admin, draft):
    response = client_for(admin).post(reverse("rules:draft", args=[draft.ruleset_id]),
                                      policy_data(draft, lead_threshold=40, prospect_threshold=30))
    assert response.status_code == 200
    form = response.context["policy_form"]
    assert "prospect_threshold" in form.errors
    assert "at least the lead threshold" in form.errors["prospect_threshold"][0]
    assert 'class="form-row has-error" data-field="prospect_threshold"' in response.content.decode()
    draft.refresh_from_db()
    assert draft.lead_threshold == 20


def test_published_versions_are_read_only(client_for, admin, default_set):
    active = default_set.active_version
    client = client_for(admin)
    # No draft: the editor and its write URLs do not exist for a published version.
    assert client.post(reverse("rules:draft", args=[default_set.pk]), policy_data(active, lead_threshold=1)).status_code == 404
    rule = active.rules.first()
    assert client.post(reverse("rules:rule_edit", args=[default_set.pk, rule.pk]), rule_data(label="x")).status_code == 404
    assert client.post(reverse("rules:rule_delete", args=[default_set.pk, rule.pk])).status_code == 404
    # With a draft, the published version's rules still cannot be reached through it.
    draft = version_draft(ruleset=default_set, by=admin)
    assert client.post(reverse("rules:rule_delete", args=[default_set.pk, rule.pk])).status_code == 404
    assert client.post(reverse("rules:rule_edit", args=[default_set.pk, rule.pk]), rule_data(label="x")).status_code == 404
    active.refresh_from_db()
    assert active.lead_threshold == 20 and Rule.objects.filter(pk=rule.pk, label=rule.label).exists()
    page = client.get(reverse("rules:version", args=[active.pk]))
    assert page.status_code == 200
    assert 'name="lead_threshold"' not in page.content.decode()
    assert draft.is_draft


# --- rules -----------------------------------------------------------------------------

def test_add_attribute_rule(client_for, admin, draft):
    url = reverse("rules:rule_add", args=[draft.ruleset_id])
    data = rule_data("new", label="Manager", points="10", field="job_title", operator="contains", value="manager")
    response = client_for(admin).post(url, data)
    assert response.status_code == 302
    rule = draft.rules.get(label="Manager")
    assert (rule.type, rule.field, rule.operator, rule.value, rule.points) == ("attribute", "job_title", "contains", "manager", 10)
    assert rule.interaction_kind_id is None
    assert AuditEvent.objects.filter(action="change", object_id=str(draft.pk), details__what="rule_added").exists()


def test_add_rule_parses_json_values(client_for, admin, draft):
    client = client_for(admin)
    url = reverse("rules:rule_add", args=[draft.ruleset_id])
    client.post(url, rule_data("new", label="Big", field="attributes.employees", operator="gte", value="50"))
    client.post(url, rule_data("new", label="Cities", field="city", operator="in", value='["Jakarta", "Bandung"]'))
    client.post(url, rule_data("new", label="Towns", field="city", operator="not_in", value="Bogor, Depok"))
    client.post(url, rule_data("new", label="Opted in", field="consent_email", operator="eq", value="true"))
    client.post(url, rule_data("new", label="Has phone", field="phone", operator="is_set"))
    values = dict(draft.rules.filter(label__in=["Big", "Cities", "Towns", "Opted in", "Has phone"]).values_list("label", "value"))
    assert values == {"Big": 50, "Cities": ["Jakarta", "Bandung"], "Towns": ["Bogor", "Depok"], "Opted in": True, "Has phone": None}


def test_add_interaction_rule_with_data_condition(client_for, admin, draft):
    data = rule_data("new", type="interaction", label="Pricing page", points="4", interaction_kind="page_viewed",
                     window_days="14", max_occurrences="3", field="path", operator="contains", value="/pricing")
    response = client_for(admin).post(reverse("rules:rule_add", args=[draft.ruleset_id]), data)
    assert response.status_code == 302
    rule = draft.rules.get(label="Pricing page")
    assert (rule.interaction_kind_id, rule.window_days, rule.max_occurrences, rule.value) == ("page_viewed", 14, 3, "/pricing")


@pytest.mark.parametrize(("fields", "error_field", "text"), [
    ({"field": "shoe_size", "operator": "eq", "value": "42"}, "field", "Unknown field 'shoe_size'"),
    ({"field": "attributes.employees", "operator": "gt", "value": "many"}, "value", "needs a number"),
    ({"field": "city", "operator": "", "value": "Jakarta"}, "operator", "needs a field and an operator"),
    ({"field": "consent_email", "operator": "eq", "value": "maybe"}, "value", "true or false"),
    ({"type": "interaction", "interaction_kind": "", "field": "", "operator": ""}, "interaction_kind", "interaction kind"),
    ({"field": "city", "operator": "eq", "value": "Jakarta", "points": "lots"}, "points", ""),
])
def test_invalid_rule_is_refused_with_the_error_under_its_field(client_for, admin, draft, fields, error_field, text):
    count = draft.rules.count()
    response = client_for(admin).post(reverse("rules:rule_add", args=[draft.ruleset_id]), rule_data("new", label="Bad", **fields))
    assert response.status_code == 200
    form = response.context["rule_form"]
    assert error_field in form.errors, form.errors
    assert text in " ".join(form.errors[error_field])
    body = response.content.decode()
    assert re.search(f'class="form-row has-error[^"]*" data-field="new-{error_field}"', body)
    assert draft.rules.count() == count


def test_edit_rule(client_for, admin, draft):
    rule = draft.rules.get(label="Requested a demo")
    client = client_for(admin)
    url = reverse("rules:rule_edit", args=[draft.ruleset_id, rule.pk])
    page = client.get(url)
    assert page.status_code == 200
    assert page.context["form"].initial["value"] == ""
    data = rule_data(type="interaction", label="Requested a demo", points="45", interaction_kind="demo_requested",
                     window_days="90", max_occurrences="1")
    response = client.post(url, data)
    assert response.status_code == 302
    rule.refresh_from_db()
    assert (rule.points, rule.window_days) == (45, 90)
    event = AuditEvent.objects.get(action="change", details__what="rule_changed")
    assert event.details["rule"] == rule.pk and "points" in event.details["fields"]
    # The active version keeps its own copy untouched.
    assert draft.ruleset.active_version.rules.get(label="Requested a demo").points == 40


def test_edit_rule_with_invalid_value_shows_error(client_for, admin, draft):
    rule = draft.rules.get(label="Uses a free-mail address")
    url = reverse("rules:rule_edit", args=[draft.ruleset_id, rule.pk])
    page = client_for(admin).get(url)
    assert page.context["form"].initial["value"].startswith('["gmail.com"')
    response = client_for(admin).post(url, rule_data(label="Free mail", field="email_domain", operator="lt", value="gmail.com"))
    assert response.status_code == 200
    assert "needs a number" in " ".join(response.context["form"].errors["value"])
    rule.refresh_from_db()
    assert rule.operator == "in"


def test_delete_rule(client_for, admin, draft):
    rule = draft.rules.get(label="Has a phone number")
    response = client_for(admin).post(reverse("rules:rule_delete", args=[draft.ruleset_id, rule.pk]))
    assert response.status_code == 302
    assert not Rule.objects.filter(pk=rule.pk).exists()
    assert draft.ruleset.active_version.rules.filter(label="Has a phone number").exists()
    assert AuditEvent.objects.filter(action="change", details__what="rule_deleted", details__rule=rule.pk).exists()


def test_delete_needs_post(client_for, admin, draft):
    rule = draft.rules.first()
    assert client_for(admin).get(reverse("rules:rule_delete", args=[draft.ruleset_id, rule.pk])).status_code == 405


# --- preview ---------------------------------------------------------------------------

def test_preview_shows_transitions_totals_and_examples(client_for, admin, known_contacts, draft, django_assert_max_num_queries):
    draft.lead_threshold = 10
    draft.save()
    client = client_for(admin)
    with django_assert_max_num_queries(14):  # independent of the number of contacts (batched)
        response = client.get(reverse("rules:preview", args=[draft.ruleset_id]))
    assert response.status_code == 200
    preview = response.context["preview"]
    assert preview.evaluated == 4
    assert preview.moves == [("contact", "lead", 2)]
    assert preview.stage_totals["contact"] == {"before": 3, "after": 1}
    assert preview.stage_totals["lead"] == {"before": 1, "after": 3}
    assert (response.context["moved"], response.context["unchanged"]) == (2, 2)
    body = response.content.decode()
    assert 'data-move="contact-lead"' in body
    assert f'href="/contacts/{known_contacts["near"].pk}/"' in body and "Nina Near" in body
    assert f'href="/contacts/{known_contacts["low"].pk}/"' in body
    assert "Lia Lead" not in body and "Coco Cold" not in body
    assert "Filled a landing-page form" in body and "Has a phone number" in body  # the new breakdowns
    # Preview writes nothing.
    assert Contact.objects.filter(stage="lead").count() == 1
    # POST works the same (the preview button may post).
    assert client.post(reverse("rules:preview", args=[draft.ruleset_id])).context["preview"].moves == [("contact", "lead", 2)]


def test_preview_with_no_moves_says_so(client_for, admin, known_contacts, draft):
    response = client_for(admin).get(reverse("rules:preview", args=[draft.ruleset_id]))
    assert response.context["preview"].moves == []
    assert "Nobody would change stage" in response.content.decode()


# --- publish and rollback ---------------------------------------------------------------

def publish(client, draft, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        return client.post(reverse("rules:publish", args=[draft.ruleset_id]))


def test_publish_activates_archives_and_rescores(client_for, admin, known_contacts, draft, django_capture_on_commit_callbacks):
    old = draft.ruleset.active_version
    draft.lead_threshold = 10
    draft.save()
    response = publish(client_for(admin), draft, django_capture_on_commit_callbacks)
    assert response.status_code == 302
    assert response.url == reverse("rules:index") + "#rescore"
    draft.refresh_from_db()
    old.refresh_from_db()
    assert draft.status == "published" and draft.ruleset.active_version_id == draft.pk
    assert old.status == "archived"
    for key in ("lead", "near", "low"):
        known_contacts[key].refresh_from_db()
        assert known_contacts[key].stage == "lead", key
    moved = StageChange.objects.filter(ruleset_version=draft)
    assert set(moved.values_list("contact_id", flat=True)) == {known_contacts["near"].pk, known_contacts["low"].pk}
    run = RescoreRun.objects.get()
    assert run.status == "done" and run.stage_changes == 2 and run.started_by == admin
    assert AuditEvent.objects.filter(action="publish", object_id=str(draft.pk)).exists()
    assert run.version == draft  # named on the page in the reader's language, not as stored text
    page = client_for(admin).get(response.url)
    assert "Rescore of all contacts" in page.content.decode()
    assert "data-progress-url" not in page.content.decode()  # finished: nothing to poll
    assert f'<span class="run-reason">Published Default v{draft.number}</span>' in page.content.decode()
    page = client_for(admin).get(response.url, HTTP_ACCEPT_LANGUAGE="id")
    assert f'<span class="run-reason">Diterbitkan Bawaan v{draft.number}</span>' in page.content.decode()


def test_publish_says_what_the_rescore_did_when_it_has_already_run(transactional_db, client_for, admin, known_contacts, draft):
    """With eager tasks the rescore's chunks run on a thread of their own once the response is sent
    (crm.background), and the message says the rescore is under way; where they run inline (an
    in-memory SQLite, the embedded test database) the rescore has run by then, and the message tells
    its result instead of "being rescored" next to a card that says 100 %."""
    from crm.background import background_wait, runs_inline

    draft.lead_threshold = 10
    draft.save()
    inline = runs_inline()
    response = client_for(admin).post(reverse("rules:publish", args=[draft.ruleset_id]))
    if not inline:
        assert background_wait(60)  # the response came first; its message was written before the run began
    body = client_for(admin).get(response.url).content.decode()
    if inline:
        assert f"Published Default v{draft.number}. 4 contacts rescored, 2 changed stage." in body
        assert "being rescored" not in body
    else:
        assert f"Published Default v{draft.number}. Every contact is being rescored: the progress is below." in body
    run = RescoreRun.objects.get(version=draft)
    assert (run.status, run.contacts_scored, run.stage_changes) == ("done", 4, 2)


def test_publish_needs_post_and_a_draft(client_for, admin, default_set):
    client = client_for(admin)
    assert client.get(reverse("rules:publish", args=[default_set.pk])).status_code == 405
    assert client.post(reverse("rules:publish", args=[default_set.pk])).status_code == 404


def test_publish_needs_csrf(admin, draft):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(admin)
    assert client.post(reverse("rules:publish", args=[draft.ruleset_id])).status_code == 403
    draft.refresh_from_db()
    assert draft.is_draft


def test_rollback_publishes_an_archived_version_again(client_for, admin, known_contacts, draft, django_capture_on_commit_callbacks):
    original = draft.ruleset.active_version
    draft.lead_threshold = 10
    draft.save()
    client = client_for(admin)
    publish(client, draft, django_capture_on_commit_callbacks)
    original.refresh_from_db()
    assert original.status == "archived"
    page = client.get(reverse("rules:version", args=[original.pk]))
    assert "Publish this version again" in page.content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("rules:rollback", args=[original.pk]))  # without returning anyone
    assert response.status_code == 302
    ruleset = RuleSet.objects.get(pk=draft.ruleset_id)
    active = ruleset.active_version
    assert active.status == "published" and active.pk not in (original.pk, draft.pk)
    assert active.lead_threshold == original.lead_threshold == 20
    assert active.rules.count() == original.rules.count()
    draft.refresh_from_db()
    assert draft.status == "archived"
    assert AuditEvent.objects.filter(action="publish", object_id=str(active.pk), details__rollback_of=original.pk).exists()
    assert RescoreRun.objects.count() == 2


def test_a_rollback_is_in_force_since_the_rollback_and_the_old_version_keeps_its_first_publication(
        client_for, admin, draft, django_capture_on_commit_callbacks):
    """A rollback publishes a copy of the old version (a new number, "Rollback to v1"): its publish time is the
    rollback's, so the version page and the rule-set list say when the rules were put back in force, while the old
    version's page and the audit log keep when it was first published."""
    from datetime import datetime

    from django.utils import formats, timezone

    def shown(moment) -> str:
        return formats.date_format(timezone.localtime(moment), "SHORT_DATETIME_FORMAT")

    original = draft.ruleset.active_version
    first = timezone.make_aware(datetime(2026, 1, 5, 9, 30))
    RuleSetVersion.objects.filter(pk=original.pk).update(published_at=first)
    AuditEvent.objects.filter(action="publish", object_id=str(original.pk)).update(at=first)
    draft.lead_threshold = 10
    draft.save()
    client = client_for(admin)
    publish(client, draft, django_capture_on_commit_callbacks)
    before = timezone.now()
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("rules:rollback", args=[original.pk]))
    active = RuleSet.objects.get(pk=draft.ruleset_id).active_version
    original.refresh_from_db()
    assert active.pk != original.pk and active.display_note == f"Rollback to v{original.number}"
    assert active.published_at >= before and active.published_by == admin
    assert original.published_at == first and original.status == "archived"

    rollback_page = client.get(reverse("rules:version", args=[active.pk])).content.decode()
    assert shown(active.published_at) in rollback_page and shown(first) not in rollback_page
    assert shown(first) in client.get(reverse("rules:version", args=[original.pk])).content.decode()
    listed = client.get(reverse("rules:index")).content.decode()
    assert formats.date_format(timezone.localtime(active.published_at), "SHORT_DATE_FORMAT") in listed
    assert formats.date_format(first, "SHORT_DATE_FORMAT") not in listed
    # The audit log keeps both: the first publication and the rollback, each at its own time.
    assert AuditEvent.objects.get(action="publish", object_id=str(original.pk)).at == first
    assert AuditEvent.objects.get(action="publish", object_id=str(active.pk), details__rollback_of=original.pk).at >= before
    # What scoring reads as "the rules changed at" is the rollback (contacts scored before it are rescored).
    from scoring.selectors import active_rulesets

    assert active_rulesets().changed_at >= before


def test_rollback_is_previewed_and_can_return_what_the_rolled_back_version_moved(
        client_for, admin, known_contacts, draft, log, django_capture_on_commit_callbacks):
    """v2 (lead at 10) made Nina and Lukas leads and Coco a customer; Lukas was then pinned by hand.
    Rolling back to v1 returns only Nina: a pinned stage and a conversion are never returned."""
    from contacts.services import contact_set_stage

    original = draft.ruleset.active_version
    draft.lead_threshold = 10
    draft.save()
    client = client_for(admin)
    publish(client, draft, django_capture_on_commit_callbacks)
    near, low, cold = known_contacts["near"], known_contacts["low"], known_contacts["cold"]
    log(cold, "purchase")
    contact_set_stage(contact=low, stage="lead", by=admin)
    assert [Contact.objects.get(pk=c.pk).stage for c in (near, low, cold)] == ["lead", "lead", "customer"]

    # The version page leads to the preview; the preview writes nothing.
    body = client.get(reverse("rules:version", args=[original.pk])).content.decode()
    assert reverse("rules:rollback_preview", args=[original.pk]) in body
    page = client.get(reverse("rules:rollback_preview", args=[original.pk]))
    body = page.content.decode()
    assert page.status_code == 200 and 'name="return_moved"' in body
    assert re.search(r'data-return="lead-contact">.*?<strong>1</strong>', body, flags=re.S)
    assert [r.contact_id for r in page.context["returns"]] == [near.pk]
    # As published again, nobody moves (stages are never taken away by score)...
    totals = {stage: t for stage, _label, t in page.context["totals"]}
    assert totals["lead"] == {"before": 3, "after": 3}
    # ...and with Nina returned, v1 leaves her a contact (17 < 20).
    returned = client.get(reverse("rules:rollback_preview", args=[original.pk]), {"return": "1"})
    totals = {stage: t for stage, _label, t in returned.context["totals"]}
    assert totals["lead"] == {"before": 3, "after": 2} and totals["contact"]["after"] == totals["contact"]["before"] + 1
    assert Contact.objects.get(pk=near.pk).stage == "lead" and RuleSet.objects.get(pk=draft.ruleset_id).active_version_id == draft.pk

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("rules:rollback", args=[original.pk]), {"return_moved": "1"}, follow=True)
    assert "1 contact went back to where it was." in response.content.decode()
    active = RuleSet.objects.get(pk=draft.ruleset_id).active_version
    assert [Contact.objects.get(pk=c.pk).stage for c in (near, low, cold)] == ["contact", "lead", "customer"]
    back = StageChange.objects.get(contact=near, reason_code="rolled_back")
    assert (back.from_stage, back.to_stage, back.user, back.ruleset_version) == ("lead", "contact", admin, active)
    assert back.reason_text == f"returned where it was before v{draft.number}: the rules were rolled back to v{active.number}"
    assert AuditEvent.objects.get(action="publish", object_id=str(active.pk)).details["returned"] == 1
    assert not StageChange.objects.filter(contact=near).exclude(pk=back.pk).filter(changed_at__gt=back.changed_at).exists()


def test_rollback_refuses_a_published_version(client_for, admin, default_set):
    active = default_set.active_version
    response = client_for(admin).post(reverse("rules:rollback", args=[active.pk]))
    assert response.status_code == 302
    default_set.refresh_from_db()
    assert default_set.active_version_id == active.pk


def test_version_page_is_read_only_with_query_budget(client_for, admin, default_set, django_assert_max_num_queries):
    client = client_for(admin)
    with django_assert_max_num_queries(8):
        response = client.get(reverse("rules:version", args=[default_set.active_version_id]))
    assert response.status_code == 200
    body = response.content.decode()
    assert "Edit in a draft" in body and "rules:rule_edit" not in body and "/draft/rules/" not in body


# --- progress -------------------------------------------------------------------------

def test_progress_json(client_for, admin, marketer, db):
    run = RescoreRun.objects.create(reason="test", total_chunks=4, done_chunks=1, contacts_scored=120, stage_changes=7)
    response = client_for(admin).get(reverse("rules:progress", args=[run.pk]))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    data = response.json()
    assert data | {"started_at": None} == {
        "id": run.pk, "status": "running", "running": True, "percent": 25, "done_chunks": 1, "total_chunks": 4,
        "contacts_scored": 120, "stage_changes": 7, "started_at": None, "finished_at": None,
    }
    page = client_for(admin).get(reverse("rules:index"))
    body = page.content.decode()
    assert f'data-progress-url="{reverse("rules:progress", args=[run.pk])}"' in body
    assert "progress-bar w-25" in body and "Refresh progress" in body
    assert client_for(marketer).get(reverse("rules:progress", args=[run.pk])).status_code == 403


def test_progress_json_unknown_run_is_404(client_for, admin):
    assert client_for(admin).get(reverse("rules:progress", args=[999999])).status_code == 404


def test_a_version_note_the_system_wrote_reads_in_the_viewers_language(client_for, admin, default_set):
    """"Loaded from the … playbook" is stored as a message id and parameters, so a playbook loaded
    while Indonesian was active reads in English for an English admin; a note an admin types is
    theirs, as typed (issue 18, defect 3)."""
    from django.utils import translation

    from scoring.rulesets import playbook_load, version_policy_update

    with translation.override("id"):
        version = playbook_load(name="general", by=admin, publish=True)
    assert version.note == "Dimuat dari playbook general"  # as written
    client = client_for(admin)
    body = client.get(reverse("rules:version", args=[version.pk])).content.decode()
    assert "Loaded from the general playbook" in body and "Dimuat dari" not in body
    draft = playbook_load(name="general", by=admin, publish=False)
    assert draft.note_message
    version_policy_update(version=draft, values={"note": "Phone"}, by=admin)  # typed; also a msgid of the catalog
    draft.refresh_from_db()
    assert (draft.note_message, draft.display_note) == ("", "Phone")
    with translation.override("id"):
        assert draft.display_note == "Phone"  # typed: not translated ("Telepon")
