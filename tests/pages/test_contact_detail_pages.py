"""The contact page: access (200/403/404), what it shows (identity, consent, stage history
with reasons, the score breakdown with its interactions, the timeline), each action
through the real services with its validation errors, audit rows, and query counts."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from contacts.models import Contact, Interaction, Note, StageChange
from crm.models import AuditEvent

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("pages_english")]


@pytest.fixture
def prospect(playbooks, make_contact, log, rep):
    """A scored B2B contact owned by the rep, with interactions that count in its score."""
    contact = make_contact(full_name="Rina Wijaya", email="rina@majujaya.co.id", phone="0812-3456-7890",
                           company="PT Maju Jaya", job_title="Procurement Manager", industry="b2b", owner=rep,
                           consent_email=True)
    log(contact, "webinar_attended", channel="web")
    log(contact, "price_requested", channel="whatsapp", data={"note": "asked for the annual plan"})
    contact.refresh_from_db()
    return contact


def url(name: str, contact: Contact, **kw) -> str:
    return reverse(f"contacts:{name}", kwargs={"pk": contact.pk, **kw})


# --- Access ------------------------------------------------------------------------

@pytest.mark.parametrize("who", ["admin", "marketer", "manager", "rep"])
def test_who_may_open_the_page(who, request, client_for, prospect):
    response = client_for(request.getfixturevalue(who)).get(url("detail", prospect))
    assert response.status_code == 200
    assert b"Rina Wijaya" in response.content


def test_another_rep_gets_404_and_cannot_post(client_for, other_rep, prospect):
    client = client_for(other_rep)
    assert client.get(url("detail", prospect)).status_code == 404
    assert client.post(url("add_note", prospect), {"body": "hi"}).status_code == 404
    assert not prospect.notes.filter(body="hi").exists()


def test_read_only_viewers_see_no_forms_and_their_posts_get_403(client_for, other_rep, prospect, settings):
    settings.CRM_SALES_CAN_READ_ALL = True
    client = client_for(other_rep)
    response = client.get(url("detail", prospect))
    assert response.status_code == 200
    html = response.content.decode()
    assert url("add_note", prospect) not in html and url("set_stage", prospect) not in html
    for name, data in [("add_note", {"body": "x"}), ("log_interaction", {"kind": "purchase"}),
                       ("set_stage", {"stage": "customer"}), ("unpin", {}), ("edit", {"full_name": "X"})]:
        assert client.post(url(name, prospect), data).status_code == 403, name
    assert client.get(url("edit", prospect)).status_code == 403
    prospect.refresh_from_db()
    assert prospect.stage != "customer" and prospect.full_name == "Rina Wijaya"


def test_unknown_contact_is_404_in_the_layout(client_for, marketer, reference_data):
    response = client_for(marketer).get("/contacts/999999/")
    assert response.status_code == 404


def test_viewing_is_audited(client_for, marketer, prospect):
    client_for(marketer).get(url("detail", prospect))
    event = AuditEvent.objects.get(action="view")
    assert (event.actor, event.object_type, event.object_id) == (marketer, "contacts.contact", str(prospect.pk))


# --- What it shows -------------------------------------------------------------------

def test_page_shows_identity_consent_breakdown_and_timeline(client_for, rep, prospect):
    html = client_for(rep).get(url("detail", prospect)).content.decode()
    assert "rina@majujaya.co.id" in html and "+6281234567890" in html and "PT Maju Jaya" in html
    assert "Email ✓" in html and "WhatsApp ✗" in html
    # Score breakdown: each rule with its points and the interactions that counted.
    breakdown = prospect.score_breakdown
    assert breakdown["hits"], "the playbook should give points"
    for hit in breakdown["hits"]:
        assert hit["label"] in html
    price = Interaction.objects.get(contact=prospect, kind="price_requested")
    assert f'href="#interaction-{price.pk}"' in html and f'id="interaction-{price.pk}"' in html
    assert "counts in the score" in html
    assert "asked for the annual plan" in html
    assert f'<strong class="num">{prospect.score}</strong>' in html


def test_stage_history_shows_readable_reasons(client_for, marketer, journey):
    now = timezone.now()
    contact = journey(full_name="Sejarah", steps=[("lead", now - timedelta(days=2)), ("customer", now)])
    html = client_for(marketer).get(url("detail", contact)).content.decode()
    assert "score 25 ≥ lead threshold 20" in html
    assert "converted: Purchase on" in html  # the kind by name, not its slug


def test_empty_timeline_says_what_to_do(client_for, marketer, journey):
    html = client_for(marketer).get(url("detail", journey())).content.decode()
    assert "Nothing has happened yet" in html


# --- Actions ---------------------------------------------------------------------------

def test_add_a_note_with_a_follow_up(client_for, rep, prospect):
    due = timezone.localtime() + timedelta(days=1)
    response = client_for(rep).post(url("add_note", prospect), {"body": "Called, wants a quote",
                                                                 "due_at": due.strftime("%Y-%m-%dT%H:%M")}, follow=True)
    note = prospect.notes.get(body="Called, wants a quote")
    assert note.kind == Note.Kind.FOLLOW_UP and note.author == rep
    assert abs(note.due_at - due) < timedelta(minutes=1)
    assert response.redirect_chain[-1] == (url("detail", prospect), 302)
    assert b"Follow-up saved." in response.content and b"Called, wants a quote" in response.content
    prospect.refresh_from_db()
    assert prospect.first_contacted_at is not None
    assert AuditEvent.objects.filter(action="change", object_id=str(prospect.pk), details__fields=["notes"]).exists()


def test_an_empty_note_shows_the_error_inline(client_for, rep, prospect):
    response = client_for(rep).post(url("add_note", prospect), {"body": "  ", "due_at": "not a date"})
    assert response.status_code == 400
    html = response.content.decode()
    assert "Please correct the errors below." in html
    assert "Write something." in html and "Enter a valid date/time." in html
    assert not prospect.notes.exclude(kind="system").filter(author=rep).exists()


def test_mark_a_follow_up_done(client_for, rep, prospect):
    note = Note.objects.create(contact=prospect, author=rep, kind=Note.Kind.FOLLOW_UP, body="call",
                               due_at=timezone.now() - timedelta(hours=1))
    html = client_for(rep).get(url("detail", prospect)).content.decode()
    assert "overdue" in html
    response = client_for(rep).post(url("complete_note", prospect, note_id=note.pk))
    assert response.status_code == 302
    note.refresh_from_db()
    assert note.done_at is not None


def test_cannot_complete_a_note_of_another_contact(client_for, rep, prospect, make_contact):
    other = make_contact(full_name="Lain", owner=rep)
    note = Note.objects.create(contact=other, author=rep, kind=Note.Kind.FOLLOW_UP, body="x", due_at=timezone.now())
    assert client_for(rep).post(url("complete_note", prospect, note_id=note.pk)).status_code == 404


def test_log_an_interaction_rescores(client_for, rep, prospect, django_capture_on_commit_callbacks):
    before = prospect.score
    when = timezone.localtime() - timedelta(hours=2)
    with django_capture_on_commit_callbacks(execute=True):
        response = client_for(rep).post(url("log_interaction", prospect), {
            "kind": "demo_requested", "occurred_at": when.strftime("%Y-%m-%dT%H:%M"), "channel": "phone", "note": "demo Tuesday",
        })
    assert response.status_code == 302
    interaction = Interaction.objects.get(contact=prospect, kind="demo_requested")
    assert interaction.created_by == rep and interaction.channel == "phone" and interaction.data == {"note": "demo Tuesday"}
    prospect.refresh_from_db()
    assert prospect.score > before


def test_logging_an_interaction_in_the_future_is_refused_with_a_message(client_for, rep, prospect):
    future = timezone.localtime() + timedelta(days=2)
    response = client_for(rep).post(url("log_interaction", prospect), {"kind": "purchase",
                                                                        "occurred_at": future.strftime("%Y-%m-%dT%H:%M")})
    assert response.status_code == 400
    assert b"Cannot be in the future." in response.content
    response = client_for(rep).post(url("log_interaction", prospect), {"kind": "no_such_kind"})
    assert response.status_code == 400 and b"Select a valid choice" in response.content
    assert not Interaction.objects.filter(contact=prospect, kind="purchase").exists()


def test_set_the_stage_by_hand_pins_it_and_unpin_releases_it(client_for, rep, prospect, django_capture_on_commit_callbacks):
    client = client_for(rep)
    response = client.post(url("set_stage", prospect), {"stage": "customer", "note": "signed on paper"}, follow=True)
    prospect.refresh_from_db()
    assert (prospect.stage, prospect.stage_pinned) == ("customer", True)
    change = StageChange.objects.filter(contact=prospect).first()
    assert (change.to_stage, change.reason_code, change.user) == ("customer", "manual", rep)
    html = response.content.decode()
    assert "Stage pinned by hand" in html and "set by hand by Sari: signed on paper" in html

    assert client.post(url("set_stage", prospect), {"stage": "vip"}).status_code == 400
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url("unpin", prospect), follow=True)
    prospect.refresh_from_db()
    assert not prospect.stage_pinned
    assert b"the rules decide it again" in response.content


def test_assign_owner_only_for_managers(client_for, manager, marketer, rep, other_rep, prospect):
    assert client_for(marketer).post(url("assign_owner", prospect), {"owner": other_rep.pk}).status_code == 403
    assert url("assign_owner", prospect) not in client_for(marketer).get(url("detail", prospect)).content.decode()
    assert url("assign_owner", prospect) in client_for(manager).get(url("detail", prospect)).content.decode()
    response = client_for(manager).post(url("assign_owner", prospect), {"owner": other_rep.pk}, follow=True)
    prospect.refresh_from_db()
    assert prospect.owner == other_rep
    assert b"Assigned to Budi." in response.content
    assert client_for(manager).post(url("assign_owner", prospect), {"owner": 424242}).status_code == 400


def test_a_rep_cannot_reassign(client_for, rep, other_rep, prospect):
    assert client_for(rep).post(url("assign_owner", prospect), {"owner": other_rep.pk}).status_code == 403
    assert url("assign_owner", prospect) not in client_for(rep).get(url("detail", prospect)).content.decode()


def test_edit_contact_fields(client_for, marketer, prospect, make_contact):
    client = client_for(marketer)
    form = client.get(url("edit", prospect))
    assert form.status_code == 200 and b'value="Rina Wijaya"' in form.content
    data = {"full_name": "Rina W.", "email": "rina@majujaya.co.id", "phone": "0812 3456 7890", "company": "PT Maju Jaya",
            "job_title": "Director", "city": "Bandung", "industry": "b2b", "source": "event", "consent_email": ""}
    response = client.post(url("edit", prospect), data, follow=True)
    assert b"Contact saved." in response.content
    prospect.refresh_from_db()
    assert (prospect.full_name, prospect.city, prospect.job_title, prospect.consent_email) == ("Rina W.", "Bandung", "Director", False)
    event = next(e for e in AuditEvent.objects.filter(action="change").order_by("-id") if "city" in e.details.get("fields", []))
    assert "city" in event.details["fields"] and "Rina" not in str(event.details)  # field names, no personal data


def test_edit_shows_service_and_form_errors_on_the_fields(client_for, marketer, prospect, make_contact):
    make_contact(full_name="Taken", email="taken@example.co.id")
    client = client_for(marketer)
    response = client.post(url("edit", prospect), {"full_name": "Rina", "email": "taken@example.co.id", "industry": "b2b"})
    assert response.status_code == 400
    assert b"Another contact already has this email." in response.content
    response = client.post(url("edit", prospect), {"full_name": "Rina", "phone": "12", "industry": "b2b"})
    assert response.status_code == 400 and "is too short for a phone number" in response.content.decode()
    response = client.post(url("edit", prospect), {"industry": "b2b"})
    assert b"Give at least a name, an email or a phone." in response.content
    prospect.refresh_from_db()
    assert prospect.email == "rina@majujaya.co.id"


# --- Query counts -----------------------------------------------------------------------

def test_detail_query_count_does_not_grow_with_history(client_for, marketer, playbooks, make_contact, log, rep):
    client = client_for(marketer)

    def queries_for(contact) -> int:
        with CaptureQueriesContext(connection) as ctx:
            assert client.get(url("detail", contact)).status_code == 200
        return len(ctx.captured_queries)

    small = make_contact(full_name="Small", industry="b2b", owner=rep)
    big = make_contact(full_name="Big", industry="b2b", owner=rep)
    for contact, n in ((small, 3), (big, 30)):
        for i in range(n):
            log(contact, ("page_viewed", "email_opened", "webinar_attended")[i % 3],
                occurred_at=timezone.now() - timedelta(hours=i + 1), by=rep)
            Note.objects.create(contact=contact, author=rep, body=f"note {i}")
    assert queries_for(small) == queries_for(big)
    assert queries_for(big) <= 19  # + the tasks panel, + the breakdown's labels in the reader's language, + the custom fields (one query each)
