"""Reads for the Today page, the bell, the notification list and the digests."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils import timezone

from contacts.models import Contact, Stage
from crm import roles
from followup.models import Notification, Task


def unread_count(user) -> int:
    return Notification.objects.filter(user=user, read_at__isnull=True).count() if user.is_authenticated else 0


def notifications_of(user) -> QuerySet[Notification]:
    return Notification.objects.filter(user=user).select_related("contact")


def tasks_visible(user) -> QuerySet[Task]:
    """Admins, sales managers and marketers (read-only, for reports) see every task; a rep their
    own (assigned to them, or on contacts they own); anyone else none."""
    qs = Task.objects.select_related("contact", "assignee", "done_by")
    if roles.is_admin(user) or roles.is_manager(user) or roles.is_marketer(user):
        return qs
    if roles.is_sales(user):
        return qs.filter(Q(assignee=user) | Q(contact__owner=user))
    return qs.none()


@dataclass
class TodayItem:
    """One line of Today: an open task, or a new prospect without one and never contacted."""

    contact: Contact
    task: Task | None
    urgency: int  # 0 overdue, 1 never contacted, 2 due today
    at: datetime

    @property
    def kind(self) -> str:
        return ("overdue", "new", "today")[self.urgency]


def day_end(now: datetime) -> datetime:
    local = now.astimezone(ZoneInfo(settings.CRM_DIGEST_TIMEZONE))
    return local.replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(days=1)


def today_item(task: Task, now: datetime) -> TodayItem:
    """A task's line on Today: overdue, a new prospect's first contact, or due later today."""
    contact = task.contact
    if task.due_at < now:
        return TodayItem(contact, task, 0, task.due_at)
    if contact.stage == Stage.PROSPECT and contact.first_contacted_at is None:
        return TodayItem(contact, task, 1, contact.stage_changed_at or task.due_at)
    return TodayItem(contact, task, 2, task.due_at)


def today(user, *, now: datetime | None = None, limit: int = 200) -> list[TodayItem]:
    """The user's own day, most urgent first: overdue tasks (oldest first), new prospects not yet
    contacted (their follow-up task, or the prospect itself when it has none; longest wait first),
    then tasks due later today. Two queries (the owner comes along: the WhatsApp text names them)."""
    now = now or timezone.now()
    uncontacted = Q(contact__stage=Stage.PROSPECT, contact__first_contacted_at__isnull=True)
    tasks = list(Task.objects.filter(Q(due_at__lt=day_end(now)) | uncontacted, assignee=user, done_at__isnull=True)
                 .select_related("contact", "contact__owner").order_by("due_at", "id")[:limit])
    open_task = Task.objects.filter(contact=OuterRef("pk"), done_at__isnull=True)
    new = list(Contact.objects.filter(owner=user, stage=Stage.PROSPECT, first_contacted_at__isnull=True)
               .select_related("owner").exclude(Exists(open_task)).order_by("stage_changed_at", "id")[:limit])

    items = [today_item(t, now) for t in tasks]
    items += [TodayItem(c, None, 1, c.stage_changed_at or c.created_at) for c in new]
    return sorted(items, key=lambda i: (i.urgency, i.at, i.contact.pk))[:limit]


def overdue_prospects(*, now: datetime | None = None, limit: int = 200) -> list[dict]:
    """Every rep's prospects with an open task past due, for the sales managers' digest."""
    now = now or timezone.now()
    rows = (Task.objects.filter(done_at__isnull=True, due_at__lt=now, contact__stage=Stage.PROSPECT,
                                contact__owner__isnull=False)
            .select_related("contact", "contact__owner").order_by("contact__owner__username", "due_at")[:limit])
    return [{"owner": t.contact.owner.get_full_name() or t.contact.owner.username, "contact": t.contact, "task": t}
            for t in rows]
