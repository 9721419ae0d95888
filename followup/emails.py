"""The emails that go with notifications (a prospect assigned, the daily digests), sent through
Django's email backend as configured from EMAIL_URL (crm.settings, shared with nurture).

A notification row is the outbox: claimed queued -> sending by a conditional UPDATE before the
SMTP conversation, so a retried or redelivered task, or two workers, send it once. A worker that
dies mid-send leaves it "sending"; the sweep marks such rows failed rather than risk a second copy."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import EmailMessage
from django.db.models import Exists, F, OuterRef
from django.template.loader import render_to_string
from django.utils import timezone, translation

from contacts.models import Contact, Stage
from crm.roles import SALES, SALES_MANAGER
from followup.models import EmailPreferences, Notification, Task
from followup.selectors import day_end as _day_end
from followup.selectors import overdue_prospects
from followup.texts import notification_text
from nurture.email import classify

log = logging.getLogger(__name__)
STALE_SENDING = timedelta(minutes=15)


def notification_email_send(*, notification_id: int) -> str:
    """Send one notification's email once; returns sent, retry, failed or skipped."""
    claimed = Notification.objects.filter(pk=notification_id, email_status=Notification.Email.QUEUED).update(
        email_status=Notification.Email.SENDING, email_attempts=F("email_attempts") + 1, email_claimed_at=timezone.now())
    if not claimed:
        return "skipped"
    n = Notification.objects.select_related("user", "contact").get(pk=notification_id)
    try:
        message = _message(n)
        message.send()
    except Exception as exc:  # noqa: BLE001 - classify() re-raises anything that is not a mail failure
        failure = classify(exc)
        retry = not failure.permanent and n.email_attempts < settings.CRM_EMAIL_MAX_ATTEMPTS
        Notification.objects.filter(pk=n.pk, email_status=Notification.Email.SENDING).update(
            email_status=Notification.Email.QUEUED if retry else Notification.Email.FAILED, email_error=failure.detail)
        log.warning("Notification email %s not sent (%s)", n.pk, failure.detail)
        return "retry" if retry else "failed"
    Notification.objects.filter(pk=n.pk, email_status=Notification.Email.SENDING).update(
        email_status=Notification.Email.SENT, emailed_at=timezone.now(), email_error="")
    return "sent"


def _language(user) -> str:
    prefs = EmailPreferences.objects.filter(user=user).first()
    return (prefs.language if prefs and prefs.language else settings.LANGUAGE_CODE) or "id"


def _message(n: Notification) -> EmailMessage:
    with translation.override(_language(n.user)):
        context = {"n": n, "text": notification_text(n.kind, n.params, n.contact), "base_url": settings.CRM_BASE_URL,
                   "user": n.user, **_details(n)}
        subject = " ".join(render_to_string("followup/email_subject.txt", context).split())
        body = render_to_string("followup/email_body.txt", context)
    return EmailMessage(subject=subject, body=body, from_email=settings.CRM_EMAIL_FROM, to=[n.user.email],
                        headers={"X-Saring-Notification": str(n.pk)})


def _details(n: Notification) -> dict:
    """What the digest lists, read when it is sent (it is sent within minutes of being written)."""
    if n.kind == Notification.Kind.DIGEST:
        now = timezone.now()
        end = _day_end(now)
        tasks = list(Task.objects.filter(assignee=n.user, done_at__isnull=True, due_at__lt=end)
                     .select_related("contact").order_by("due_at")[:50])
        return {"overdue": [t for t in tasks if t.due_at < now], "today": [t for t in tasks if t.due_at >= now]}
    if n.kind == Notification.Kind.TEAM_DIGEST:
        by_rep: dict[str, list] = {}
        for item in overdue_prospects(limit=200):
            by_rep.setdefault(item["owner"], []).append(item)
        return {"by_rep": sorted(by_rep.items())}
    return {}


def _zone() -> ZoneInfo:
    return ZoneInfo(settings.CRM_DIGEST_TIMEZONE)


def digests_send(*, now: datetime | None = None, force: bool = False) -> dict[str, int]:
    """Once a day, from CRM_DIGEST_HOUR (CRM_DIGEST_TIMEZONE) on: each rep with overdue or
    today's tasks gets a digest, each sales manager one of every rep's overdue prospects. Beat
    calls it hourly; the (user, "digest:<date>") key makes later calls that day no-ops."""
    from followup.services import notifications_create

    now = now or timezone.now()
    local = now.astimezone(_zone())
    if local.hour < settings.CRM_DIGEST_HOUR and not force:
        return {"digests": 0, "team_digests": 0}
    day, end = local.date().isoformat(), _day_end(now)
    users = get_user_model().objects.filter(is_active=True)
    counts: dict[int, dict[str, int]] = {}
    for assignee_id, due_at in Task.objects.filter(done_at__isnull=True, due_at__lt=end, assignee__in=users.filter(
            groups__name__in=[SALES, SALES_MANAGER])).values_list("assignee_id", "due_at"):
        c = counts.setdefault(assignee_id, {"overdue": 0, "today": 0})
        c["overdue" if due_at < now else "today"] += 1
    rows = [Notification(user_id=uid, kind=Notification.Kind.DIGEST, params=c, key=f"digest:{day}", created_at=now)
            for uid, c in sorted(counts.items())]
    digests = notifications_create(rows, email_pref="digest")
    team = []
    overdue = overdue_count()
    if overdue:
        managers = users.filter(groups__name=SALES_MANAGER).distinct().values_list("pk", flat=True)
        team = notifications_create([
            Notification(user_id=uid, kind=Notification.Kind.TEAM_DIGEST, params={"overdue": overdue},
                         key=f"team_digest:{day}", created_at=now) for uid in managers], email_pref="digest")
    return {"digests": len(digests), "team_digests": len(team)}


def overdue_count(*, now: datetime | None = None) -> int:
    """Prospects with an owner and an open task past due."""
    now = now or timezone.now()
    late = Task.objects.filter(contact=OuterRef("pk"), done_at__isnull=True, due_at__lt=now)
    return Contact.objects.filter(Exists(late), stage=Stage.PROSPECT, owner__isnull=False).count()


def emails_sweep(*, now: datetime | None = None) -> dict[str, int]:
    """Queued emails whose task was lost (the broker was down) are queued again; rows a dead
    worker left "sending" are failed, never sent twice."""
    from followup.tasks import queue_emails

    now = now or timezone.now()
    stale = Notification.objects.filter(email_status=Notification.Email.SENDING,
                                        email_claimed_at__lt=now - STALE_SENDING)
    failed = stale.update(email_status=Notification.Email.FAILED, email_error="worker lost while sending")
    queued = list(Notification.objects.filter(email_status=Notification.Email.QUEUED,
                                              created_at__lt=now - timedelta(minutes=1))
                  .values_list("pk", flat=True)[:500])
    queue_emails(queued)
    return {"requeued": len(queued), "failed": failed}
