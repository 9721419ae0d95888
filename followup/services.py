"""Every write to tasks and notifications: pages, API, signal receivers and Celery tasks call
these. Each runs in one transaction with its audit row; emails leave after commit."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from contacts.events import task_completed
from contacts.models import Contact, Note, Stage
from contacts.reasons import note_text
from contacts.services import contact_mark_contacted, interaction_log, note_add
from crm.audit import audit
from followup.models import EmailPreferences, Notification, Outcome, Task, TaskType

SOURCE = "followup"
# The interaction a completed task logs; email and other tasks have no catalog kind of their own.
INTERACTION_FOR = {TaskType.CALL: "call_made", TaskType.MEETING: "meeting_held", TaskType.WHATSAPP: "whatsapp_sent"}
CHANNEL_FOR = {TaskType.CALL: "phone", TaskType.MEETING: "event", TaskType.WHATSAPP: "whatsapp"}
NOTE_MAX = 2000
NEW_PROSPECT_TASK = gettext_noop("New prospect: follow up personally within %(hours)d hours.")


# --- Tasks ---------------------------------------------------------------------------

def _clean_task(type: str, due_at: datetime | None, note: str) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    if type not in TaskType.values:
        errors["type"] = [_("Choose one of %(choices)s.") % {"choices": ", ".join(TaskType.values)}]
    if due_at is None:
        errors["due_at"] = [_("Give a due time.")]
    elif timezone.is_naive(due_at):
        errors["due_at"] = [_("Give a time zone (e.g. 2026-11-20T10:00:00+07:00).")]
    if len(note or "") > NOTE_MAX or "\x00" in (note or ""):
        errors["note"] = [_("At most %(n)d characters, no NUL.") % {"n": NOTE_MAX}]
    return errors


@transaction.atomic
def task_create(*, contact: Contact, type: str, due_at: datetime | None, assignee=None, note: str = "", by=None) -> Task:
    """A follow-up for a contact; assigned to the contact's owner unless someone is named."""
    errors = _clean_task(type, due_at, note)
    if assignee is not None and not assignee.is_active:
        errors["assignee"] = [_("This user is deactivated.")]
    if errors:
        raise ValidationError(errors)
    task = Task.objects.create(contact=contact, type=type, due_at=due_at, note=(note or "").strip(),
                               assignee=assignee if assignee is not None else contact.owner, created_by=by)
    audit(by, "create", task, contact=contact.pk)
    return task


@dataclass(frozen=True)
class Completed:
    task: Task
    completed: bool  # False: it was already done (a double click, a second tab, a retry)


def task_complete(*, task: Task, outcome: str, note: str = "", by=None) -> Completed:
    """Mark done once: a conditional UPDATE claims the task, so two completions at once write one
    outcome, one interaction and one task_completed event. Logs the matching interaction
    (call_made, meeting_held, whatsapp_sent) and marks the contact contacted."""
    if outcome not in Outcome.values:
        raise ValidationError({"outcome": [_("Choose one of %(choices)s.") % {"choices": ", ".join(Outcome.values)}]})
    note = (note or "").strip()
    if len(note) > NOTE_MAX or "\x00" in note:
        raise ValidationError({"note": [_("At most %(n)d characters, no NUL.") % {"n": NOTE_MAX}]})
    now = timezone.now()
    with transaction.atomic():
        combined = "\n\n".join(part for part in (task.note, note) if part)
        claimed = Task.objects.filter(pk=task.pk, done_at__isnull=True).update(
            done_at=now, done_by=by, outcome=outcome, note=combined, updated_at=now)
        task.refresh_from_db()
        if not claimed:
            return Completed(task, False)
        contact = task.contact
        if kind := INTERACTION_FOR.get(task.type):
            interaction_log(contact=contact, kind=kind, occurred_at=now, channel=CHANNEL_FOR[task.type], source=SOURCE,
                            external_id=f"task:{task.pk}", data={"task": task.pk, "outcome": outcome}, by=by)
        contact_mark_contacted(contact.pk, now)
        audit(by, "change", task, fields=["done_at", "outcome"], outcome=outcome, contact=contact.pk)
        task_completed.send(sender=Task, task=task, by=by)
    return Completed(task, True)


def follow_ups_ensure(contact_ids: Iterable[int], *, now: datetime | None = None) -> list[Task]:
    """Each prospect among `contact_ids` without an open task gets a call due within the
    follow-up time, for its owner. Three queries for any number of contacts."""
    now = now or timezone.now()
    due = now + timedelta(hours=settings.CRM_FOLLOW_UP_HOURS)
    prospects = dict(Contact.objects.filter(pk__in=list(contact_ids), stage=Stage.PROSPECT).values_list("pk", "owner_id"))
    have = set(Task.objects.filter(contact_id__in=list(prospects), done_at__isnull=True).values_list("contact_id", flat=True))
    hours = settings.CRM_FOLLOW_UP_HOURS
    message, params = NEW_PROSPECT_TASK, {"hours": hours}
    body = _(message) % params
    return Task.objects.bulk_create(
        Task(contact_id=pk, type=TaskType.CALL, due_at=due, assignee_id=owner_id, note=body, message=message,
             params=params, created_at=now)
        for pk, owner_id in sorted(prospects.items()) if pk not in have
    )


def tasks_follow_owner(assignments: Sequence[tuple[int, int | None]]) -> int:
    """Open tasks move with their contact to its new owner (one UPDATE per owner)."""
    by_owner: dict[int | None, list[int]] = {}
    for contact_id, owner_id in assignments:
        by_owner.setdefault(owner_id, []).append(contact_id)
    moved = 0
    for owner_id, ids in by_owner.items():
        if owner_id is not None:
            moved += (Task.objects.filter(contact_id__in=ids, done_at__isnull=True)
                      .exclude(assignee_id=owner_id).update(assignee_id=owner_id))
    return moved


# --- Notifications -------------------------------------------------------------------

def _wants_email(user_ids: Iterable[int], field: str) -> set[int]:
    """Users with an address who did not switch this email off (preferences default to on)."""
    ids = set(user_ids)
    off = set(EmailPreferences.objects.filter(user_id__in=ids, **{field: False}).values_list("user_id", flat=True))
    with_address = set(get_user_model().objects.filter(pk__in=ids - off, is_active=True).exclude(email="")
                       .values_list("pk", flat=True))
    return with_address


def notifications_create(rows: Sequence[Notification], *, email_pref: str | None) -> list[int]:
    """Insert notifications (a row whose (user, key) exists is skipped), mark the ones whose users
    want the email as queued, and queue those emails after commit. Returns the new ids."""
    if not rows:
        return []
    users, keys = {n.user_id for n in rows}, {n.key for n in rows}
    existing = set(Notification.objects.filter(user_id__in=users, key__in=keys).values_list("user_id", "key"))
    rows = [n for n in rows if (n.user_id, n.key) not in existing]
    if not rows:
        return []
    emailed = _wants_email(users, email_pref) if email_pref else set()
    for n in rows:
        n.email_status = Notification.Email.QUEUED if n.user_id in emailed else Notification.Email.NONE
    with transaction.atomic():
        # A concurrent writer of the same key wins quietly; its email is claimed once whoever queues it.
        Notification.objects.bulk_create(rows, ignore_conflicts=True)
        # ignore_conflicts gives no ids on every database: read back the rows this call meant to insert.
        wanted = {(n.user_id, n.key) for n in rows}
        created = [pk for pk, user_id, key in Notification.objects.filter(user_id__in=users, key__in=keys)
                   .values_list("pk", "user_id", "key") if (user_id, key) in wanted]
        queued = list(Notification.objects.filter(pk__in=created, email_status=Notification.Email.QUEUED)
                      .values_list("pk", flat=True))
        if queued:
            from followup.tasks import queue_emails

            transaction.on_commit(lambda: queue_emails(queued))
    return created


def assignments_notify(assignments: Sequence[tuple[int, int | None]], *, by=None, now: datetime | None = None) -> list[int]:
    """The new owner of each prospect is told (not when they took it themselves)."""
    now = now or timezone.now()
    owners = {pk: owner for pk, owner in assignments if owner is not None and owner != getattr(by, "pk", None)}
    prospects = set(Contact.objects.filter(pk__in=list(owners), stage=Stage.PROSPECT).values_list("pk", flat=True))
    by_name = (by.get_full_name() or by.username) if by is not None else ""
    stamp = now.strftime("%Y%m%d%H%M%S%f")
    rows = [Notification(user_id=owners[pk], kind=Notification.Kind.ASSIGNED, contact_id=pk, created_at=now,
                         params={"by": by_name} if by_name else {}, key=f"assigned:{pk}:{stamp}")
            for pk in sorted(prospects)]
    return notifications_create(rows, email_pref="on_assignment")


def notifications_mark_read(*, user, ids: Iterable[int] | None = None) -> int:
    """Mark the user's notifications read (all unread ones when ids is None); others' are untouched."""
    rows = Notification.objects.filter(user=user, read_at__isnull=True)
    if ids is not None:
        rows = rows.filter(pk__in=list(ids))
    return rows.update(read_at=timezone.now())


@transaction.atomic
def preferences_update(*, user, on_assignment: bool, digest: bool, language: str = "") -> EmailPreferences:
    prefs, _created = EmailPreferences.objects.update_or_create(
        user=user, defaults={"on_assignment": on_assignment, "digest": digest, "language": language[:8]})
    audit(user, "change", prefs, fields=["on_assignment", "digest"])
    return prefs


# --- A rep leaves --------------------------------------------------------------------

def rep_release(*, user, by=None, now: datetime | None = None) -> dict[str, int]:
    """A deactivated rep's unworked prospects (never contacted) and the contacts of their open
    tasks go back to round-robin; open tasks on someone else's contact go to that owner. Each
    contact gets a note, and the whole is audited. Contacts nobody can take lose their owner."""
    from contacts.assignment import contacts_round_robin

    now = now or timezone.now()
    with transaction.atomic():
        open_tasks = Task.objects.filter(assignee=user, done_at__isnull=True)
        task_contacts = set(open_tasks.values_list("contact_id", flat=True))
        owned = set(Contact.objects.filter(owner=user).filter(
            pk__in=task_contacts).values_list("pk", flat=True)) | set(Contact.objects.filter(
            owner=user, stage=Stage.PROSPECT, first_contacted_at__isnull=True).values_list("pk", flat=True))
        name = user.get_full_name() or user.username
        moved = contacts_round_robin(contact_ids=owned, now=now, params={"old": name}, note=gettext_noop(
            "%(old)s was deactivated; reassigned to %(rep)s by round-robin."))
        stranded = sorted(owned - set(moved))
        if stranded:
            Contact.objects.filter(pk__in=stranded).update(owner=None, updated_at=now)
            stranded_note = gettext_noop("%(old)s was deactivated and no active rep can take it: unassigned.")
            Note.objects.bulk_create(Note(contact_id=pk, kind=Note.Kind.SYSTEM, body=note_text(stranded_note, {"old": name}),
                                          message=stranded_note, params={"old": name}) for pk in stranded)
            Task.objects.filter(contact_id__in=stranded, done_at__isnull=True).update(assignee=None)
        # Tasks on contacts owned by someone else go to that owner.
        others = 0
        for task in open_tasks.exclude(contact_id__in=owned).select_related("contact"):
            Task.objects.filter(pk=task.pk).update(assignee=task.contact.owner_id)
            note_add(contact_id=task.contact_id, author=None, kind=Note.Kind.SYSTEM,
                     body=_("%(old)s was deactivated; their open task went to the contact's owner.") % {"old": name})
            others += 1
        result = {"reassigned": len(moved), "unassigned": len(stranded), "tasks_to_owner": others}
        if owned or others:
            audit(by, "change", object_type="auth.user", object_id=user.pk, fields=["owned_contacts"], **result)
    return result
