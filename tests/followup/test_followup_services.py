"""Tasks and notifications through their services: a new prospect's follow-up task and the rep's
notification and email (real SMTP server), completing a task once, reassignment, a deactivated
rep, digests, email preferences and the migration of open follow-up notes."""

from __future__ import annotations

import importlib
import threading
from datetime import timedelta

import pytest
from django.apps import apps as django_apps
from django.core.exceptions import ValidationError
from django.db import connection
from django.utils import timezone, translation

from contacts.events import task_completed
from contacts.models import Contact, Interaction, Note
from contacts.selectors import my_prospects
from contacts.services import contacts_assign_owner
from crm.models import AuditEvent
from followup.emails import digests_send, emails_sweep, notification_email_send
from followup.models import EmailPreferences, Notification, Task
from followup.services import notifications_mark_read, preferences_update, task_complete, task_create
from tests.conftest import skip_or_fail


@pytest.fixture
def reps_with_email(rep, other_rep):
    for user in (rep, other_rep):
        user.email = f"{user.username}@saring.example"
        user.save()
    return rep, other_rep


# --- A new prospect ---------------------------------------------------------------------

def test_new_prospect_gets_a_call_task_a_notification_and_an_email(reps_with_email, new_prospect, smtp_server, settings):
    settings.CRM_FOLLOW_UP_HOURS = 24
    person = new_prospect(full_name="Rina Wijaya")
    task = person.tasks.get()
    assert task.assignee == person.owner and task.type == "call" and task.done_at is None
    assert timedelta(hours=23) < task.due_at - timezone.now() <= timedelta(hours=24)
    notification = Notification.objects.get(user=person.owner)
    assert notification.kind == "assigned" and notification.contact == person and notification.read_at is None
    assert notification.email_status == "sent" and notification.email_attempts == 1
    with translation.override("en"):
        assert notification.text == "New prospect Rina Wijaya was assigned to you."
    with translation.override("id"):
        assert "Rina Wijaya" in notification.text and notification.text != "New prospect Rina Wijaya was assigned to you."
    (mail,) = smtp_server.messages()
    assert mail["To"] == person.owner.email
    assert mail["X-Saring-Notification"] == str(notification.pk)
    body = mail.get_body(("plain",)).get_content()
    assert "Rina Wijaya" in body and f"https://crm.example.co.id/contacts/{person.pk}/" in body


def test_an_email_is_claimed_before_sending_so_a_redelivered_task_sends_nothing(reps_with_email, new_prospect,
                                                                                  smtp_server):
    person = new_prospect()
    notification = Notification.objects.get(user=person.owner)
    assert notification_email_send(notification_id=notification.pk) == "skipped"
    Notification.objects.filter(pk=notification.pk).update(email_status="sending")  # another worker holds it
    assert notification_email_send(notification_id=notification.pk) == "skipped"
    assert len(smtp_server.messages()) == 1


def test_smtp_down_keeps_the_email_queued_and_the_sweep_sends_it_once(reps_with_email, new_prospect, no_smtp_server,
                                                                       smtp_server, settings):
    # smtp_server is set up last: point Django back at the dead port for the first attempt.
    live_port = settings.EMAIL_PORT
    settings.EMAIL_PORT = 1
    person = new_prospect()
    notification = Notification.objects.get(user=person.owner)
    assert (notification.email_status, notification.email_attempts) == ("queued", 1)
    assert "ConnectionRefusedError" in notification.email_error or notification.email_error
    settings.EMAIL_PORT = live_port
    Notification.objects.filter(pk=notification.pk).update(created_at=timezone.now() - timedelta(minutes=5))
    assert emails_sweep()["requeued"] == 1
    assert emails_sweep()["requeued"] == 0
    notification.refresh_from_db()
    assert notification.email_status == "sent" and len(smtp_server.messages()) == 1


def test_a_worker_lost_mid_send_fails_the_email_rather_than_send_it_twice(reps_with_email, new_prospect, smtp_server):
    person = new_prospect()
    notification = Notification.objects.get(user=person.owner)
    Notification.objects.filter(pk=notification.pk).update(
        email_status="sending", email_claimed_at=timezone.now() - timedelta(hours=1))
    assert emails_sweep()["failed"] == 1
    notification.refresh_from_db()
    assert notification.email_status == "failed" and len(smtp_server.messages()) == 1


def test_switched_off_emails_leave_the_in_app_notification(reps_with_email, new_prospect, smtp_server):
    rep, other_rep = reps_with_email
    for user in reps_with_email:
        preferences_update(user=user, on_assignment=False, digest=True)
    person = new_prospect()
    notification = Notification.objects.get(user=person.owner)
    assert notification.email_status == "" and smtp_server.messages() == []
    assert AuditEvent.objects.filter(object_type="followup.emailpreferences").count() == 2


# --- Completing a task ------------------------------------------------------------------

def test_completing_a_call_logs_call_made_marks_contacted_and_sends_task_completed(new_prospect, rep, other_rep):
    person = new_prospect()
    assert person.first_contacted_at is None
    task = person.tasks.get()
    heard = []
    task_completed.connect(lambda sender, task, by, **kw: heard.append((task.pk, by)), weak=False, dispatch_uid="t1")
    try:
        done = task_complete(task=task, outcome="meeting_booked", note="Demo on Tuesday", by=person.owner)
    finally:
        task_completed.disconnect(dispatch_uid="t1")
    assert done.completed and heard == [(task.pk, person.owner)]
    task.refresh_from_db()
    assert task.outcome == "meeting_booked" and task.done_by == person.owner and task.done_at is not None
    assert task.note.endswith("Demo on Tuesday")
    call = Interaction.objects.get(contact=person, kind="call_made")
    assert call.data == {"task": task.pk, "outcome": "meeting_booked"} and call.channel == "phone"
    person.refresh_from_db()
    assert person.first_contacted_at == task.done_at
    assert AuditEvent.objects.filter(object_type="followup.task", object_id=str(task.pk), action="change").exists()


def test_completing_twice_changes_nothing_the_second_time(new_prospect):
    person = new_prospect()
    task = person.tasks.get()
    assert task_complete(task=task, outcome="no_answer", by=person.owner).completed
    again = task_complete(task=Task.objects.get(pk=task.pk), outcome="reached", note="late click", by=person.owner)
    assert not again.completed and again.task.outcome == "no_answer" and "late click" not in again.task.note
    assert Interaction.objects.filter(contact=person, kind="call_made").count() == 1


@pytest.mark.parametrize("kind, interaction", [("whatsapp", "whatsapp_sent"), ("meeting", "meeting_held"), ("email", None)])
def test_each_task_type_logs_its_interaction(make_contact, rep, kind, interaction):
    person = make_contact(owner=rep)
    task = task_create(contact=person, type=kind, due_at=timezone.now(), by=rep)
    task_complete(task=task, outcome="reached", by=rep)
    kinds = list(Interaction.objects.filter(contact=person).values_list("kind_id", flat=True))
    assert kinds == ([interaction] if interaction else [])


def test_bad_input_names_the_field_and_writes_nothing(make_contact, rep):
    person = make_contact(owner=rep)
    with pytest.raises(ValidationError) as exc:
        task_create(contact=person, type="fax", due_at=None, note="x" * 3000, by=rep)
    assert set(exc.value.message_dict) == {"type", "due_at", "note"}
    task = task_create(contact=person, type="call", due_at=timezone.now(), by=rep)
    with pytest.raises(ValidationError) as exc:
        task_complete(task=task, outcome="maybe", by=rep)
    assert set(exc.value.message_dict) == {"outcome"}
    task.refresh_from_db()
    assert task.done_at is None and Task.objects.count() == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_completions_at_once_write_one_outcome_and_one_interaction(make_contact, rep):
    if connection.vendor != "postgresql":
        skip_or_fail("SQLite serialises writers; the race needs PostgreSQL")
    person = make_contact(owner=rep)
    task = task_create(contact=person, type="call", due_at=timezone.now(), by=rep)
    barrier = threading.Barrier(4)
    results = []

    def complete(n):
        try:
            barrier.wait()
            results.append(task_complete(task=Task.objects.get(pk=task.pk), outcome="reached", note=f"tab {n}", by=rep))
        except Exception as exc:  # noqa: BLE001 - reported below
            results.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=complete, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(not isinstance(r, Exception) for r in results), results
    assert sum(r.completed for r in results) == 1
    assert Interaction.objects.filter(contact=person, kind="call_made").count() == 1
    task.refresh_from_db()
    assert task.note.count("tab ") == 1


# --- The queue reads tasks --------------------------------------------------------------

def test_due_soon_in_the_queue_clears_when_the_task_is_done(make_contact, rep):
    person = make_contact(owner=rep)
    Contact.objects.filter(pk=person.pk).update(stage="prospect", stage_pinned=True, first_contacted_at=timezone.now())
    task = task_create(contact=person, type="call", due_at=timezone.now() + timedelta(hours=3), by=rep)
    row = my_prospects(rep).get(pk=person.pk)
    assert row.urgency == 2 and row.next_due == task.due_at
    task_complete(task=task, outcome="reached", by=rep)
    row = my_prospects(rep).get(pk=person.pk)
    assert row.urgency == 3 and row.next_due is None


# --- Reassignment -----------------------------------------------------------------------

def test_reassigning_a_prospect_moves_its_open_task_and_tells_the_new_owner(new_prospect, manager, rep, other_rep):
    person = new_prospect()
    new_owner = other_rep if person.owner == rep else rep
    contacts_assign_owner(contact_ids=[person.pk], owner=new_owner, by=manager)
    assert person.tasks.get().assignee == new_owner
    told = Notification.objects.get(user=new_owner, contact=person)
    with translation.override("en"):
        assert told.text == f"Hendra assigned the prospect {person.display_name} to you."


def test_a_deactivated_rep_s_work_goes_back_to_round_robin(new_prospect, make_contact, rep, other_rep, admin):
    person = new_prospect()
    leaving = person.owner
    staying = other_rep if leaving == rep else rep
    worked = make_contact(owner=leaving)  # contacted, with an open task: goes too
    Contact.objects.filter(pk=worked.pk).update(stage="customer", stage_pinned=True, first_contacted_at=timezone.now())
    task_create(contact=worked, type="meeting", due_at=timezone.now(), by=leaving)
    leaving.is_active = False
    leaving.save()  # what Django admin does
    for contact in (person, worked):
        contact.refresh_from_db()
        assert contact.owner == staying
        assert contact.tasks.get(done_at__isnull=True).assignee == staying
        assert contact.notes.filter(kind=Note.Kind.SYSTEM, body__contains="was deactivated").exists()
    assert AuditEvent.objects.filter(object_type="auth.user", object_id=str(leaving.pk)).exists()
    assert not Task.objects.filter(assignee=leaving, done_at__isnull=True).exists()


def test_with_no_rep_left_the_prospect_is_unassigned_not_lost(new_prospect, rep, other_rep):
    person = new_prospect()
    for user in (rep, other_rep):
        user.is_active = False
        user.save()
    person.refresh_from_db()
    assert person.owner is None and person.tasks.get().assignee is None
    assert person.notes.filter(body__contains="no active rep").exists()


# --- Digests ----------------------------------------------------------------------------

def test_daily_digest_once_per_day_for_reps_and_one_for_managers(reps_with_email, make_contact, manager, smtp_server,
                                                                  settings, on_commit):
    rep, other_rep = reps_with_email
    manager.email = "hendra@saring.example"
    manager.save()
    settings.CRM_DIGEST_HOUR = 7
    now = timezone.now()
    late = make_contact(owner=rep, full_name="Telat Tono")
    Contact.objects.filter(pk=late.pk).update(stage="prospect", stage_pinned=True)
    task_create(contact=late, type="call", due_at=now - timedelta(hours=2), by=rep)
    task_create(contact=make_contact(owner=rep), type="whatsapp", due_at=now + timedelta(minutes=1), by=rep)
    task_create(contact=make_contact(owner=other_rep), type="call", due_at=now + timedelta(days=3), by=other_rep)
    preferences_update(user=other_rep, on_assignment=True, digest=False)

    with on_commit():
        sent = digests_send(now=now, force=True)
    assert sent == {"digests": 1, "team_digests": 1}
    assert digests_send(now=now, force=True) == {"digests": 0, "team_digests": 0}, "one per user and day"
    digest = Notification.objects.get(user=rep, kind="digest")
    assert digest.params == {"overdue": 1, "today": 1}
    with translation.override("en"):
        assert digest.text == "1 task overdue, 1 due today."
    team = Notification.objects.get(user=manager, kind="team_digest")
    mails = {m["To"]: m.get_body(("plain",)).get_content() for m in smtp_server.messages()}
    assert set(mails) == {rep.email, manager.email}
    assert "Telat Tono" in mails[rep.email] and "Telat Tono" in mails[manager.email] and "Sari" in mails[manager.email]
    assert team.params == {"overdue": 1}


def test_the_digest_waits_for_its_hour_in_jakarta(make_contact, rep, settings):
    from zoneinfo import ZoneInfo

    settings.CRM_DIGEST_HOUR, settings.CRM_DIGEST_TIMEZONE = 7, "Asia/Jakarta"
    task_create(contact=make_contact(owner=rep), type="call", due_at=timezone.now() - timedelta(hours=1), by=rep)
    early = timezone.now().astimezone(ZoneInfo("Asia/Jakarta")).replace(hour=6, minute=59)
    assert digests_send(now=early) == {"digests": 0, "team_digests": 0}
    assert digests_send(now=early.replace(hour=7, minute=0))["digests"] == 1


# --- Notifications ----------------------------------------------------------------------

def test_marking_read_touches_only_the_callers_notifications(new_prospect, rep, other_rep):
    new_prospect()
    new_prospect()
    mine = Notification.objects.filter(user=rep)
    theirs = Notification.objects.filter(user=other_rep)
    assert mine.count() == theirs.count() == 1
    assert notifications_mark_read(user=rep, ids=[theirs.get().pk]) == 0
    assert notifications_mark_read(user=rep) == 1
    assert theirs.get().read_at is None and mine.get().read_at is not None


def test_preferences_default_to_on(rep):
    assert not EmailPreferences.objects.filter(user=rep).exists()
    from followup.services import _wants_email

    rep.email = "sari@saring.example"
    rep.save()
    assert _wants_email([rep.pk], "digest") == {rep.pk}


# --- The migration ----------------------------------------------------------------------

def test_open_follow_up_notes_become_tasks(make_contact, rep):
    person = make_contact(owner=rep)
    due = timezone.now() + timedelta(hours=5)
    note = Note.objects.create(contact=person, author=rep, kind="follow_up", body="Call back about the quote", due_at=due)
    done = Note.objects.create(contact=person, author=rep, kind="follow_up", body="old", due_at=due, done_at=due)
    migration = importlib.import_module("followup.migrations.0002_rep_kinds_and_follow_up_notes")
    migration.notes_to_tasks(django_apps, None)
    task = Task.objects.get()
    assert (task.contact, task.assignee, task.due_at, task.note, task.type) == (person, rep, due, note.body, "call")
    note.refresh_from_db()
    done.refresh_from_db()
    assert (note.kind, note.due_at, note.body) == ("note", None, "Call back about the quote")
    assert done.kind == "follow_up", "done follow-ups stay as they were"


def test_the_dashboard_queue_flags_overdue_tasks(make_contact, rep):
    from scoring import analytics

    person = make_contact(owner=rep, full_name="Late Lina")
    Contact.objects.filter(pk=person.pk).update(stage="prospect", stage_pinned=True, first_contacted_at=timezone.now())
    task = task_create(contact=person, type="call", due_at=timezone.now() - timedelta(hours=1), by=rep)
    queue = analytics.follow_up_queue()
    assert queue["overdue"] == 1 and [i.overdue_note for i in queue["items"]] == [task]
    task_complete(task=task, outcome="reached", by=rep)
    assert analytics.follow_up_queue()["overdue"] == 0


def test_tasks_are_in_the_access_export_and_their_notes_go_with_anonymisation(make_contact, rep, admin):
    from contacts.privacy import export_sections
    from followup import privacy

    person = make_contact(owner=rep)
    task_create(contact=person, type="call", due_at=timezone.now(), note="Mentioned her diabetes", by=rep)
    assert "tasks" in export_sections()
    assert privacy.tasks_of(person)[0]["note"] == "Mentioned her diabetes"
    privacy.anonymise(person.pk)
    assert Task.objects.get(contact=person).note == ""


def test_merging_contacts_keeps_tasks_and_notifications(make_contact, rep):
    from contacts.merge import _move_related

    kept, merged = make_contact(owner=rep), make_contact(owner=rep)
    task = task_create(contact=merged, type="call", due_at=timezone.now(), by=rep)
    note = Notification.objects.create(user=rep, kind="assigned", contact=merged, key="m")
    _move_related(merged, kept)
    task.refresh_from_db()
    note.refresh_from_db()
    assert task.contact == kept and note.contact == kept


def test_a_rep_who_makes_their_contact_a_prospect_gets_the_task_but_no_notification(make_contact, rep, manager):
    from contacts.services import contact_set_stage

    mine = make_contact(owner=rep)
    contact_set_stage(contact=mine, stage="prospect", by=rep)
    assert mine.tasks.get().assignee == rep
    assert not Notification.objects.filter(user=rep).exists()
    theirs = make_contact(owner=rep)
    contact_set_stage(contact=theirs, stage="prospect", by=manager)
    assert Notification.objects.get(user=rep).contact == theirs
