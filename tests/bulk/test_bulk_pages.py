"""Bulk actions from the contact list (issue 18): every action is previewed with a count and the
skipped contacts by reason, runs once when confirmed (a second submission changes nothing), is
refused to roles that may not run it, and leaves an audit row of its own beside the services'."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth.models import Group
from django.contrib.messages import get_messages

from contacts.models import Contact, Note, Segment, StageChange, Tag
from crm.models import AuditEvent, BulkAction
from nurture.models import Enrollment
from nurture.sequences import sequence_pause
from tests.bulk.conftest import text
from webhooks.models import Endpoint
from webhooks.models import Event as WebhookEvent
from webhooks.outbox import subscriptions_changed


def flash(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def tagged(name: str) -> list[str]:
    tag = Tag.objects.filter(name=name).first()
    return sorted(tag.contacts.values_list("full_name", flat=True)) if tag else []


def bulk_rows() -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(details__what="bulk"))


# --- Preview, confirm, once --------------------------------------------------------------------

def test_the_bar_leads_to_a_preview_that_counts_and_changes_nothing(client_for, marketer, team, start):
    client = client_for(marketer)
    # The bar sends every field; the preview's address keeps the chosen action's.
    started = start(client, "tag", [team["ani"], team["budi"], team["dewi"]], tag="webinar", stage="lead", owner="")
    assert started.response.status_code == 302 and started.url.endswith("?tag=webinar")
    assert tagged("webinar") == ["Ani", "Citra"], "nothing happens before the confirmation"

    page = client.get(started.url)
    assert page.status_code == 200
    words = text(page)
    assert "3 selected contacts" in words
    assert "2 contacts will get the tag “webinar”." in words
    assert "1 contact will be left alone:" in words and "already have the tag 1" in words
    assert "Add tag: confirm for 2 contacts" in words
    assert tagged("webinar") == ["Ani", "Citra"] and not bulk_rows()


def test_confirming_runs_it_returns_to_the_list_and_audits_it(client_for, marketer, team, start):
    client = client_for(marketer)
    started = start(client, "tag", [team["ani"], team["budi"], team["dewi"]], tag="webinar")
    response = client.post(started.url.split("?")[0], {"tag": "webinar"})
    assert response.status_code == 302 and response["Location"] == "/contacts/?stage=lead"
    assert tagged("webinar") == ["Ani", "Budi", "Citra", "Dewi"]
    assert flash(response) == ["Add tag: 2 of 3 contacts done. Skipped 1: already have the tag: 1."]

    (row,) = bulk_rows()
    assert row.actor == marketer and row.action == "change" and row.object_type == "contacts.contact"
    assert row.details["bulk_action"] == "tag" and row.details["scope"] == "ids"
    assert (row.details["count"], row.details["selected"], row.details["skipped"]) == (2, 3, {"has_tag": 1})
    assert row.details["params"] == {"tag": "webinar"}
    # The tag service's own row names the contacts it tagged.
    service_row = AuditEvent.objects.get(details__fields=["tags"])
    assert sorted(service_row.details["ids"]) == sorted([team["budi"].pk, team["dewi"].pk])
    started.bulk.refresh_from_db()
    assert started.bulk.status == "done" and started.bulk.result["done"] == 2


def test_a_second_submission_changes_nothing_and_says_so(client_for, manager, team, start):
    client = client_for(manager)
    started = start(client, "assign", [team["dewi"], team["eko"]], owner=str(manager.pk))
    url = started.url.split("?")[0]
    first = client.post(url, {"owner": manager.pk})
    second = client.post(url, {"owner": manager.pk})
    assert first.status_code == second.status_code == 302 and second["Location"] == first["Location"]
    assert Contact.objects.filter(owner=manager).count() == 2
    assert Note.objects.filter(kind="system", contact__in=[team["dewi"], team["eko"]]).count() == 2, "one note each, not two"
    assert len(bulk_rows()) == 1
    assert flash(second)[-1] == "This bulk action was done already. Assign owner: 2 of 2 contacts done."
    # The preview, opened again, shows the result instead of a confirm button.
    page = text(client.get(url))
    assert "Done." in page and "confirm for" not in page


def test_a_preview_is_its_authors_only(client_for, marketer, admin, team, start):
    started = start(client_for(marketer), "tag", [team["ani"]], tag="x")
    url = started.url.split("?")[0]
    other = client_for(admin)
    assert other.get(url).status_code == 404
    assert other.post(url, {"tag": "x"}).status_code == 404
    assert tagged("x") == []


# --- Each action ------------------------------------------------------------------------------

def test_remove_tag_counts_who_does_not_have_it_and_keeps_the_tag(client_for, marketer, team, start):
    client = client_for(marketer)
    started = start(client, "untag", [team["ani"], team["budi"], team["citra"]], tag="WEBINAR")
    assert "already" not in text(client.get(started.url))
    assert "do not have the tag 1" in text(client.get(started.url))
    client.post(started.url.split("?")[0], {"tag": "WEBINAR"})
    assert tagged("webinar") == [] and Tag.objects.filter(name="webinar").exists()
    assert bulk_rows()[0].details["skipped"] == {"no_tag": 1}


def test_set_stage_needs_a_reason_then_pins_like_the_contact_page(client_for, marketer, team, start, lead_sequence):
    Contact.objects.filter(pk=team["fitri"].pk).update(stage_pinned=True)
    # Created directly (the service would resolve the host); nothing is sent: after-commit hooks do not run here.
    Endpoint.objects.create(url="https://hooks.example.com/", secret="s" * 20, events=["contact.stage_changed"])
    subscriptions_changed()
    team["dewi"].consent_email = True
    client = client_for(marketer)
    chosen = [team["dewi"], team["fitri"], team["budi"]]
    started = start(client, "stage", chosen, stage="lead")
    page = text(client.get(started.url))
    assert "2 contacts will be set to Lead and pinned" in page
    assert "1 of them change stage; the others are at it already and are only pinned." in page
    assert "already at this stage (and pinned) 1" in page

    url = started.url.split("?")[0]
    refused = client.post(url, {"stage": "lead", "note": ""})
    assert refused.status_code == 400
    assert "Say why: it is shown in each contact&#x27;s stage history." in refused.content.decode()
    assert not StageChange.objects.exists()

    client.post(url, {"stage": "lead", "note": "Webinar follow-up list"})
    change = StageChange.objects.get()
    assert (change.contact_id, change.from_stage, change.to_stage, change.reason_code, change.user) == (
        team["dewi"].pk, "prospect", "lead", "manual", marketer)
    assert change.reason_params == {"note": "Webinar follow-up list"}
    assert set(Contact.objects.filter(pk__in=[c.pk for c in chosen]).values_list("stage", "stage_pinned")) == {("lead", True)}
    # The stage_changed signal reached the sequences, as for one contact: dewi joins the lead sequence.
    assert list(Enrollment.objects.filter(sequence=lead_sequence).values_list("contact_id", flat=True)) == [team["dewi"].pk]
    # ... and the webhooks: one contact.stage_changed event, by the user who confirmed.
    (event,) = WebhookEvent.objects.filter(type="contact.stage_changed")
    assert (event.data["contact_id"], event.data["to_stage"], event.data["by_user_id"]) == (team["dewi"].pk, "lead", marketer.pk)
    row = bulk_rows()[0]
    assert (row.details["count"], row.details["skipped"], row.details["params"]) == (2, {"at_stage": 1}, {"stage": "lead"})
    assert "Webinar" not in str(row.details), "the free-text reason stays in the stage history, not the audit log"


def test_add_to_sequence_counts_each_reason_to_skip(client_for, marketer, team, start, lead_sequence, rep):
    Enrollment.objects.create(sequence=lead_sequence, contact=team["budi"])
    client = client_for(marketer)
    everyone = list(team.values())
    started = start(client, "sequence", everyone)
    first_look = text(client.get(started.url))
    assert "confirm for" not in first_look, "the sequence is chosen on the preview first"
    page = text(client.get(f"{started.url}?sequence={lead_sequence.pk}"))
    assert "2 contacts will be added to the sequence “Lead nurture”" in page
    for reason in ("already in this sequence 1", "asked not to be contacted 1", "no email consent 1",
                   "at a stage the sequence's messages may not reach (stage guardrail) 1"):
        assert reason in page.replace("&#x27;", "'")

    url = started.url.split("?")[0]
    response = client.post(url, {"sequence": lead_sequence.pk})
    assert response.status_code == 302
    enrolled = set(Enrollment.objects.filter(sequence=lead_sequence, status="active").values_list("contact_id", flat=True))
    assert enrolled == {team["ani"].pk, team["budi"].pk, team["citra"].pk}
    ani = Enrollment.objects.get(contact=team["ani"])
    assert ani.next_position == 0 and ani.next_due_at is not None
    assert client.post(url, {"sequence": lead_sequence.pk}).status_code == 302
    assert Enrollment.objects.filter(sequence=lead_sequence).count() == 3, "a resubmission enrolls nobody twice"
    assert AuditEvent.objects.filter(object_type="nurture.sequence", details__what="enrolled", details__count=2).exists()
    assert bulk_rows()[0].details["skipped"] == {"in_sequence": 1, "do_not_contact": 1, "consent": 1, "stage": 1}


def test_a_paused_sequence_skips_everyone(client_for, marketer, team, start, lead_sequence):
    sequence_pause(sequence=lead_sequence, paused=True, by=marketer)
    client = client_for(marketer)
    started = start(client, "sequence", [team["ani"], team["budi"]])
    page = text(client.get(f"{started.url}?sequence={lead_sequence.pk}"))
    assert "the sequence is paused 2" in page and "Nothing to do" in page


def test_erase_needs_the_count_typed_then_anonymises(client_for, admin, team, start):
    client = client_for(admin)
    started = start(client, "erase", [team["eko"], team["fitri"]])
    page = text(client.get(started.url))
    assert "2 contacts will be anonymised." in page and "This cannot be undone." in page
    assert "To confirm, type 2, the number of contacts to erase." in page
    url = started.url.split("?")[0]
    wrong = client.post(url, {"mode": "anonymise", "typed": "20"})
    assert wrong.status_code == 400 and "Type 2, the number of contacts that will be erased." in wrong.content.decode()
    assert Contact.objects.filter(full_name="Eko").exists()

    client.post(url, {"mode": "anonymise", "typed": "2"})
    assert set(Contact.objects.filter(pk__in=[team["eko"].pk, team["fitri"].pk]).values_list("full_name", "email")) == {("", None)}
    assert AuditEvent.objects.filter(action="anonymise", object_id=str(team["eko"].pk)).exists()
    row = bulk_rows()[0]
    assert row.action == "anonymise" and row.details["count"] == 2

    again = start(client, "erase", [team["eko"], team["ani"]])
    anonymising = text(client.get(again.url))
    assert "1 contact will be anonymised." in anonymising and "anonymised already 1" in anonymising
    deleting = text(client.get(f"{again.url}?mode=delete"))
    assert "2 contacts will be deleted with all interactions, notes and history." in deleting
    assert "anonymised already" not in deleting


def test_erase_can_delete(client_for, admin, team, start):
    client = client_for(admin)
    started = start(client, "erase", [team["eko"], team["fitri"]])
    client.post(started.url.split("?")[0], {"mode": "delete", "typed": "2"})
    assert not Contact.objects.filter(pk__in=[team["eko"].pk, team["fitri"].pk]).exists()
    assert bulk_rows()[0].action == "delete"


# --- Roles ------------------------------------------------------------------------------------

@pytest.mark.parametrize(("who", "action", "data"), [
    ("marketer", "assign", {"owner": ""}),
    ("rep", "assign", {"owner": ""}),
    ("rep", "sequence", {}),
    ("manager", "sequence", {}),
    ("marketer", "erase", {}),
    ("manager", "erase", {}),
])
def test_roles_that_may_not_run_an_action_get_403(who, action, data, request, client_for, team, start):
    user = request.getfixturevalue(who)
    own = Contact.objects.filter(pk=team["ani"].pk)
    if who == "rep":
        own.update(owner=user)
    started = start(client_for(user), action, [team["ani"]], **data)
    assert started.response.status_code == 403 and started.bulk is None


def test_an_earlier_preview_is_refused_when_the_role_is_gone(client_for, admin, team, start):
    client = client_for(admin)
    started = start(client, "erase", [team["eko"]])
    admin.is_superuser = False
    admin.groups.clear()
    admin.groups.add(Group.objects.get(name="marketer"))
    client.force_login(admin)
    url = started.url.split("?")[0]
    assert client.get(url).status_code == 403
    assert client.post(url, {"mode": "delete", "typed": "1"}).status_code == 403
    assert Contact.objects.filter(pk=team["eko"].pk).exists()


def test_a_rep_acts_on_their_own_contacts_and_others_are_counted(client_for, rep, team, start, settings):
    client = client_for(rep)
    # Others' contacts are not visible: ticking their ids is refused outright.
    assert start(client, "tag", [team["ani"], team["citra"]], tag="x").response.status_code == 403
    settings.CRM_SALES_CAN_READ_ALL = True  # now rep sees citra (read-only)
    started = start(client, "tag", [team["ani"], team["citra"]], tag="x")
    assert "you may not change them (another rep's contacts) 1" in text(client.get(started.url)).replace("&#x27;", "'")
    client.post(started.url.split("?")[0], {"tag": "x"})
    assert tagged("x") == ["Ani"]


# --- Whole lists and segments -------------------------------------------------------------------

def test_the_whole_filtered_list_as_shown(client_for, marketer, team, start):
    client = client_for(marketer)
    listed = client.get("/contacts/?stage=lead&tag=webinar")
    assert 'id="bulk-whole-list"' in listed.content.decode() and "all 2 in this list" in text(listed)
    started = start(client, "tag", scope="all", query="stage=lead&tag=webinar&page=2&ordering=-score", tag="hot")
    assert sorted(started.bulk.contact_ids) == sorted([team["ani"].pk, team["citra"].pk])
    assert "2 contacts: the whole list" in text(client.get(started.url))
    client.post(started.url.split("?")[0], {"tag": "hot"})
    row = bulk_rows()[0]
    assert row.details["scope"] == "list" and row.details["filters"] == {"stage": "lead", "tag": "webinar"}


def test_a_search_term_is_not_written_to_the_audit_log(client_for, marketer, team, start):
    client = client_for(marketer)
    started = start(client, "tag", scope="all", query="search=Ani", tag="hot")
    client.post(started.url.split("?")[0], {"tag": "hot"})
    assert bulk_rows()[0].details["filters"] == {"search": True}


def test_a_whole_segment_from_the_segment_page(client_for, marketer, team, start):
    segment = Segment.objects.create(name="Emailable leads", filters={"stage": "lead", "consent_email": True})
    client = client_for(marketer)
    page = client.get(f"/contacts/?segment={segment.pk}")
    assert 'id="bulk-whole-segment"' in page.content.decode() and "all 4 in this segment" in text(page)
    started = start(client, "tag", scope="all", query=f"segment={segment.pk}", tag="seg")
    assert "4 contacts: the whole list (segment “Emailable leads”)" in text(client.get(started.url))
    client.post(started.url.split("?")[0], {"tag": "seg"})
    assert tagged("seg") == ["Ani", "Budi", "Citra", "Eko"]
    row = bulk_rows()[0]
    assert row.details["segment"] == segment.pk and row.details["filters"] == {"segment": str(segment.pk)}

    # The `segment` field (the whole saved segment, whatever the page shows) works too.
    by_field = start(client, "untag", segment=segment.pk, tag="seg")
    assert by_field.bulk.selection == {"scope": "segment", "segment": segment.pk, "filters": segment.filters}
    assert "4 contacts in the segment “Emailable leads”" in text(client.get(by_field.url))


def test_more_than_the_cap_is_refused(client_for, marketer, team, start, monkeypatch):
    monkeypatch.setattr("crm.bulk.LIST_COUNT_CAP", 3)
    response = start(client_for(marketer), "tag", scope="all", query="", tag="x").response
    assert flash(response) == ["More than 3 contacts: narrow the list first."]
    assert not BulkAction.objects.exists()


# --- The list's bar and the audit log -----------------------------------------------------------------

@pytest.mark.parametrize(("who", "buttons"), [
    ("rep", {"tag", "untag", "stage"}),
    ("manager", {"assign", "tag", "untag", "stage"}),
    ("marketer", {"tag", "untag", "stage", "sequence"}),
    ("admin", {"assign", "tag", "untag", "stage", "sequence", "erase"}),
])
def test_the_bar_offers_what_the_role_may_do(who, buttons, request, client_for, team):
    user = request.getfixturevalue(who)
    Contact.objects.filter(pk=team["ani"].pk).update(owner=user)
    html = client_for(user).get("/contacts/").content.decode()
    assert set(re.findall(r'name="action" value="(\w+)"', html)) == buttons


def test_the_audit_log_tells_the_bulk_action_in_words(client_for, admin, marketer, team, start):
    client = client_for(marketer)
    started = start(client, "stage", [team["ani"], team["dewi"]], stage="prospect")
    client.post(started.url.split("?")[0], {"stage": "prospect", "note": "Asked for prices at the fair"})
    page = text(client_for(admin).get("/audit/"))
    assert "Bulk action “Set stage”: 2 of 2 selected contacts" in page
    started = start(client, "stage", [team["ani"], team["budi"]], stage="prospect")
    client.post(started.url.split("?")[0], {"stage": "prospect", "note": "Again"})
    page = text(client_for(admin).get("/audit/"))
    assert "Bulk action “Set stage”: 1 of 2 selected contacts; 1 skipped" in page
