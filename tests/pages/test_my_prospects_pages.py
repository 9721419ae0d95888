"""A rep's prospect queue at /prospects/mine/: only sales reps, only their prospects,
most urgent first, and a quick note per row (plain POST and htmx)."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from contacts.models import Note

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("pages_english")]
MINE = "/prospects/mine/"


def rows(response) -> list[str]:
    return re.findall(r'class="cell-title" href="/contacts/\d+/">([^<]+)</a>', response.content.decode())


@pytest.fixture
def queue(journey, rep, other_rep, settings):
    settings.CRM_FOLLOW_UP_HOURS = 24
    now = timezone.now()

    def prospect(name, since, **fields):
        return journey(full_name=name, owner=fields.pop("owner", rep), steps=[("prospect", now - since)], **fields)

    contacted = {"first_contacted_at": now - timedelta(days=3)}
    made = {
        "late": prospect("Late Lina", timedelta(hours=30)),
        "new": prospect("New Nadia", timedelta(hours=2)),
        "overdue": prospect("Overdue Omar", timedelta(days=5), **contacted),
        "soon": prospect("Soon Sinta", timedelta(days=5), **contacted),
        "later": prospect("Later Lukas", timedelta(days=5), **contacted),
        "quiet": prospect("Quiet Qori", timedelta(days=5), **contacted),
        "others": prospect("Budi's Bayu", timedelta(days=3), owner=other_rep),
    }
    journey(full_name="Lead Lala", owner=rep, steps=[("lead", now)])  # not a prospect
    Note.objects.create(contact=made["overdue"], author=rep, kind="follow_up", body="o", due_at=now - timedelta(hours=3))
    Note.objects.create(contact=made["soon"], author=rep, kind="follow_up", body="s", due_at=now + timedelta(hours=3))
    Note.objects.create(contact=made["later"], author=rep, kind="follow_up", body="l", due_at=now + timedelta(days=4))
    return made


def test_only_sales_reps_have_a_queue(client_for, marketer, admin, manager, queue):
    assert client_for(marketer).get(MINE).status_code == 403
    assert client_for(admin).get(MINE).status_code == 403
    assert client_for(manager).get(MINE).status_code == 200


def test_most_urgent_first(client_for, rep, queue):
    response = client_for(rep).get(MINE)
    assert rows(response) == ["Late Lina", "New Nadia", "Overdue Omar", "Soon Sinta", "Later Lukas", "Quiet Qori"]
    html = response.content.decode()
    assert "Not contacted in time" in html and "New: contact now" in html and "Follow-up overdue" in html and "Due soon" in html
    assert html.count('class="is-flagged"') == 2  # late first contact and the overdue follow-up


def test_quick_note_with_plain_post(client_for, rep, queue):
    contact = queue["late"]
    response = client_for(rep).post(reverse("contacts:quick_note", args=[contact.pk]),
                                    {f"c{contact.pk}-body": "Called, sending the price list"}, follow=True)
    assert response.redirect_chain[-1] == (MINE, 302)
    assert b"Note saved for Late Lina." in response.content
    contact.refresh_from_db()
    assert contact.first_contacted_at is not None
    assert contact.notes.filter(author=rep, body="Called, sending the price list").exists()
    # Contacted now: no longer at the top.
    assert rows(response)[0] == "New Nadia"


def test_quick_note_with_htmx_swaps_the_row(client_for, rep, queue):
    contact = queue["new"]
    response = client_for(rep).post(reverse("contacts:quick_note", args=[contact.pk]),
                                    {f"c{contact.pk}-body": "WA sent"}, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    html = response.content.decode()
    assert html.lstrip().startswith(f'<tr id="prospect-{contact.pk}"')
    assert "Note saved" in html and "<html" not in html
    assert contact.notes.filter(body="WA sent").exists()


def test_quick_note_errors(client_for, rep, other_rep, queue):
    contact = queue["new"]
    client = client_for(rep)
    response = client.post(reverse("contacts:quick_note", args=[contact.pk]), {f"c{contact.pk}-body": ""}, follow=True)
    assert b"Late Lina" in response.content and b"New Nadia: Write something." in response.content
    htmx = client.post(reverse("contacts:quick_note", args=[contact.pk]), {f"c{contact.pk}-body": ""}, HTTP_HX_REQUEST="true")
    assert htmx.status_code == 200 and b"Write something." in htmx.content
    # Another rep's prospect is not yours to note from the queue.
    assert client.post(reverse("contacts:quick_note", args=[queue["others"].pk]), {f"c{queue['others'].pk}-body": "x"}).status_code == 404


def test_empty_queue_points_to_the_leads(client_for, rep, reference_data):
    response = client_for(rep).get(MINE)
    assert b"No prospects assigned to you" in response.content
    assert b"?stage=lead&amp;owner=me" in response.content


def test_queue_query_count_is_fixed(client_for, rep, journey):
    client = client_for(rep)
    now = timezone.now()

    def queries() -> int:
        with CaptureQueriesContext(connection) as ctx:
            assert client.get(MINE).status_code == 200
        return len(ctx.captured_queries)

    def add(n):
        for _ in range(n):
            c = journey(owner=rep, steps=[("prospect", now - timedelta(hours=5))])
            Note.objects.create(contact=c, author=rep, kind="follow_up", body="x", due_at=now)

    add(3)
    few = queries()
    add(27)
    assert queries() == few
