"""Today, completing a task in place with htmx, adding a task on the contact page, the
notification list and bell, and the email switches on the profile page."""

from __future__ import annotations

from datetime import timedelta

from django.urls import reverse
from django.utils import timezone

from contacts.models import Contact, Interaction
from followup.models import EmailPreferences, Notification, Task
from followup.services import task_create


def _prospect(make_contact, owner, **fields):
    person = make_contact(owner=owner, **fields)
    Contact.objects.filter(pk=person.pk).update(stage="prospect", stage_pinned=True,
                                               stage_changed_at=timezone.now() - timedelta(hours=2))
    person.refresh_from_db()
    return person


def test_today_lists_overdue_then_new_prospects_then_due_today(client_for, make_contact, rep, other_rep):
    now = timezone.now()
    overdue = make_contact(owner=rep, full_name="Overdue Oki")
    task_create(contact=overdue, type="call", due_at=now - timedelta(hours=3), by=rep)
    later = make_contact(owner=rep, full_name="Later Lia")
    task_create(contact=later, type="whatsapp", due_at=now + timedelta(minutes=30), by=rep)
    _prospect(make_contact, rep, full_name="New Nina")
    next_week = make_contact(owner=rep, full_name="Next Week Nadi")
    task_create(contact=next_week, type="call", due_at=now + timedelta(days=7), by=rep)
    theirs = make_contact(owner=other_rep, full_name="Their Tono")
    task_create(contact=theirs, type="call", due_at=now - timedelta(hours=1), by=other_rep)

    html = client_for(rep).get(reverse("followup:today")).content.decode()
    positions = [html.index(name) for name in ("Overdue Oki", "New Nina")]
    assert positions == sorted(positions)
    if "Later Lia" in html:  # due later today, unless "today" ended within the next half hour in Jakarta
        assert html.index("Later Lia") > positions[-1]
    assert "Next Week Nadi" not in html and "Their Tono" not in html
    assert f'href="/contacts/{overdue.pk}/"' in html


def test_a_task_is_completed_in_place_with_htmx(client_for, make_contact, rep):
    person = make_contact(owner=rep, full_name="Rina")
    task = task_create(contact=person, type="call", due_at=timezone.now(), by=rep)
    client = client_for(rep)
    url = reverse("followup:task_complete", args=[task.pk])
    response = client.post(url, {f"t{task.pk}-outcome": "reached", f"t{task.pk}-note": "Wants a quote"},
                           HTTP_HX_REQUEST="true")
    html = response.content.decode()
    assert response.status_code == 200 and "<html" not in html and f'id="task-{task.pk}"' in html and "Reached" in html
    task.refresh_from_db()
    assert task.outcome == "reached" and task.done_by == rep and "Wants a quote" in task.note
    assert Interaction.objects.filter(contact=person, kind="call_made").count() == 1
    # A double click answers the same row and logs nothing more.
    again = client.post(url, {f"t{task.pk}-outcome": "no_answer"}, HTTP_HX_REQUEST="true")
    assert again.status_code == 200 and "already done" in again.content.decode()
    assert Interaction.objects.filter(contact=person, kind="call_made").count() == 1


def test_completing_without_an_outcome_is_refused_and_names_it(client_for, make_contact, rep):
    task = task_create(contact=make_contact(owner=rep), type="call", due_at=timezone.now(), by=rep)
    response = client_for(rep).post(reverse("followup:task_complete", args=[task.pk]), {}, HTTP_HX_REQUEST="true")
    assert response.status_code == 200 and "This field is required" in response.content.decode()  # htmx swaps 2xx only
    task.refresh_from_db()
    assert task.done_at is None


def test_another_reps_task_is_not_found(client_for, make_contact, rep, other_rep):
    task = task_create(contact=make_contact(owner=other_rep), type="call", due_at=timezone.now(), by=other_rep)
    response = client_for(rep).post(reverse("followup:task_complete", args=[task.pk]), {f"t{task.pk}-outcome": "reached"})
    assert response.status_code == 404
    assert Task.objects.get(pk=task.pk).done_at is None


def test_add_a_task_on_the_contact_page(client_for, make_contact, rep):
    person = make_contact(owner=rep, full_name="Budi")
    client = client_for(rep)
    page = client.get(reverse("contacts:detail", args=[person.pk])).content.decode()
    assert 'id="task-add"' in page
    response = client.post(reverse("followup:task_add", args=[person.pk]),
                           {"type": "meeting", "due_at": "2026-12-10T10:00", "note": "Bring the brochure"})
    assert response.status_code == 302
    task = Task.objects.get(contact=person)
    assert (task.type, task.assignee, task.note) == ("meeting", rep, "Bring the brochure")
    assert "Bring the brochure" in client.get(reverse("contacts:detail", args=[person.pk])).content.decode()
    bad = client.post(reverse("followup:task_add", args=[person.pk]), {"type": "fax", "due_at": ""}, follow=True)
    assert Task.objects.count() == 1 and "Type" in bad.content.decode()


def test_marketers_see_tasks_on_the_contact_page_but_add_none(client_for, make_contact, marketer, rep):
    person = make_contact(owner=rep)
    task_create(contact=person, type="call", due_at=timezone.now(), note="Call about pricing", by=rep)
    page = client_for(marketer).get(reverse("contacts:detail", args=[person.pk])).content.decode()
    assert "Call about pricing" in page and 'id="task-add"' not in page


def test_bell_notification_list_and_mark_read(client_for, make_contact, rep):
    person = make_contact(owner=rep, full_name="Dewi")
    for n in range(2):
        Notification.objects.create(user=rep, kind="assigned", contact=person, key=f"k{n}")
    client = client_for(rep)
    assert 'hx-get="/notifications/bell/"' in client.get("/").content.decode()
    bell = client.get(reverse("followup:bell")).content.decode()
    assert 'class="bell-count"' in bell and ">2<" in bell
    listing = client.get(reverse("followup:notifications")).content.decode()
    assert listing.count("New prospect Dewi was assigned to you.") == 2
    first = Notification.objects.filter(user=rep).first()
    opened = client.post(reverse("followup:notification_read", args=[first.pk]), {"open": "1"})
    assert opened.status_code == 302 and opened["Location"] == f"/contacts/{person.pk}/"
    assert Notification.objects.filter(user=rep, read_at__isnull=True).count() == 1
    client.post(reverse("followup:notifications_read_all"))
    assert not Notification.objects.filter(user=rep, read_at__isnull=True).exists()
    assert "bell-count" not in client.get(reverse("followup:bell")).content.decode()


def test_emails_are_switched_off_on_the_profile_page(client_for, rep):
    client = client_for(rep)
    page = client.get(reverse("profile")).content.decode()
    assert 'id="email-preferences"' in page and 'name="digest" checked' in page
    client.post(reverse("followup:email_preferences"), {"on_assignment": "on"}, HTTP_ACCEPT_LANGUAGE="id")
    prefs = EmailPreferences.objects.get(user=rep)
    assert prefs.on_assignment and not prefs.digest
    assert 'name="digest" checked' not in client.get(reverse("profile")).content.decode()


def test_today_in_indonesian(client_for, make_contact, rep):
    task_create(contact=make_contact(owner=rep), type="call", due_at=timezone.now() - timedelta(hours=1), by=rep)
    client = client_for(rep)
    client.cookies["django_language"] = "id"
    html = client.get(reverse("followup:today"), HTTP_ACCEPT_LANGUAGE="id").content.decode()
    assert "Hari ini" in html and "Terlambat" in html and "Telepon" in html


def test_a_system_task_reads_in_the_viewers_language(client_for, new_prospect, rep, settings):
    """The first follow-up of a new prospect stores its sentence as a message id and the hours: made
    while Indonesian was active, it reads in English on an English reader's Today page and contact
    page, and what the rep adds on completion stays as written (issue 18, defect 3)."""
    from django.utils import translation

    from followup.services import task_complete

    with translation.override("id"):
        person = new_prospect(full_name="Rina Baru")
    task = Task.objects.get(contact=person, done_at__isnull=True)
    assert task.note.startswith("Prospek baru")  # as written, for the API and search
    owner = person.owner
    client = client_for(owner)
    english = client.get(reverse("followup:today"), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    sentence = f"New prospect: follow up personally within {settings.CRM_FOLLOW_UP_HOURS} hours."
    assert sentence in english and "Prospek baru" not in english
    assert "Prospek baru" in client.get(reverse("followup:today"), HTTP_ACCEPT_LANGUAGE="id").content.decode()
    contact_page = client.get(f"/contacts/{person.pk}/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert sentence in contact_page and "Prospek baru" not in contact_page
    task_complete(task=task, outcome="reached", note="Minta dikirimi brosur", by=owner)
    task.refresh_from_db()
    with translation.override("en"):
        assert task.text == sentence + "\n\nMinta dikirimi brosur"
