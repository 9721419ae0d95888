"""Nurture writes: the content library, sending one message, and what recipients do with it.

Every send asks nurture.guardrails first (stage, consent, do-not-contact, address), here in the
service layer, so no page, API call or task can route around it. A Delivery row is written before
anything is sent and claimed with a conditional UPDATE when it is sent: a redelivered task, a
retry or a second worker never sends the same message twice."""

from __future__ import annotations

import hashlib
import time
from collections import Counter, deque
from collections.abc import Mapping
from concurrent.futures import Future
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import EmailMultiAlternatives
from django.db import connection as db_connection
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from contacts.models import Contact
from contacts.services import interaction_log
from contacts.services.consent import consent_set, is_anonymised
from crm.audit import audit
from crm.claims import claim
from crm.models import AuditEvent
from nurture import email as mail
from nurture import guardrails, rendering
from nurture.models import Delivery, Enrollment, Message, MessageChannel, SequenceStep
from nurture.selectors import recipient_of
from nurture.sequences import enrollments_exit
from nurture.smtp_pool import SmtpPool
from nurture.tasks import queue_deliveries

SOURCE = "nurture"  # the interactions' source: their external ids are ours alone
# Why a sequence ends for a contact when a step is refused at send time.
EXIT_FOR_REFUSAL = {guardrails.CONSENT: Enrollment.Exit.UNSUBSCRIBED, guardrails.DO_NOT_CONTACT: Enrollment.Exit.UNSUBSCRIBED,
                    guardrails.ADDRESS: Enrollment.Exit.UNSUBSCRIBED, "erased": Enrollment.Exit.ERASED}
MESSAGE_FIELDS = ("name", "channel", "purpose", "industry", "language", "subject", "body")


# --- The content library -----------------------------------------------------------

def _problem_text(problem: rendering.Problem) -> str:
    if problem.code == "unknown_variable":
        return _("Unknown variable {{ %(name)s }}; use one of: %(known)s.") % problem.params
    if problem.code == "tag":
        return _("Template tags are not allowed (near “%(near)s”); only {{ variables }}.") % problem.params
    return _("Unfinished or stray braces near “%(near)s”: write a variable as {{ first_name }}.") % problem.params


def message_problems(*, channel: str, subject: str, body: str) -> dict[str, list[str]]:
    """What is wrong with a message's text, by field, in the viewer's language; empty when it can be sent."""
    errors: dict[str, list[str]] = {}
    for field, text in (("subject", subject), ("body", body)):
        found = [_problem_text(p) for p in rendering.problems(text or "")]
        if found:
            errors[field] = found
    if not (body or "").strip():
        errors.setdefault("body", []).append(_("Write the message."))
    if channel == MessageChannel.EMAIL:
        if not (subject or "").strip():
            errors.setdefault("subject", []).append(_("An email needs a subject."))
        if "unsubscribe_url" not in rendering.variables_used(body or ""):
            errors.setdefault("body", []).append(_("An email must contain the unsubscribe link: {{ unsubscribe_url }}."))
    elif "unsubscribe_url" in rendering.variables_used(body or ""):
        errors.setdefault("body", []).append(_("{{ unsubscribe_url }} is for emails only."))
    return errors


@transaction.atomic
def message_save(*, data: Mapping[str, Any], by, message: Message | None = None) -> Message:
    """Create a message, or change one (deliveries already made keep what they were sent)."""
    defaults = {"channel": MessageChannel.EMAIL, "language": "id"}
    values = {name: (data[name] if name in data else getattr(message, name) if message else defaults.get(name)) or ""
              for name in MESSAGE_FIELDS}
    if values["channel"] not in MessageChannel.values:
        raise ValidationError({"channel": _("Choose email or WhatsApp.")})
    if values["purpose"] not in guardrails.PURPOSES:
        raise ValidationError({"purpose": _("Choose a purpose.")})
    if values["channel"] == MessageChannel.WHATSAPP:
        values["subject"] = ""
    errors = message_problems(channel=values["channel"], subject=values["subject"], body=values["body"])
    if errors:
        raise ValidationError(errors)
    created = message is None
    message = message or Message(created_by=by if getattr(by, "is_authenticated", False) else None)
    for name, value in values.items():
        setattr(message, name, value)
    message.full_clean(exclude=["created_by"])
    message.save()
    audit(by, AuditEvent.Action.CREATE if created else AuditEvent.Action.CHANGE, message, fields=sorted(data))
    return message


@transaction.atomic
def message_archive(*, message: Message, by) -> Message:
    """Archived messages leave the library and every choice list; what was sent stays readable.
    A message a sequence still sends is refused: the sequence must change first, so no step is lost."""
    used = list(SequenceStep.objects.filter(message=message).select_related("sequence")
                .order_by("sequence__name", "position")[:3])
    if used:
        raise ValidationError({"message": [_("A sequence still sends this message (%(where)s); change the sequence "
                                             "first.") % {"where": ", ".join(
            _("“%(sequence)s”, step %(n)d") % {"sequence": step.sequence.name, "n": step.position + 1} for step in used)}]})
    Message.objects.filter(pk=message.pk).update(is_archived=True, updated_at=timezone.now())
    audit(by, AuditEvent.Action.CHANGE, message, fields=["is_archived"])
    message.refresh_from_db()
    return message


def starter_library_load(*, by=None) -> int:
    """Add the starter messages not loaded yet (nurture.starter); returns how many were added."""
    from nurture.starter import STARTERS

    known = set(Message.objects.filter(starter_key__isnull=False).values_list("starter_key", flat=True))
    added = 0
    for starter in STARTERS:
        if starter.key in known:
            continue
        message = message_save(data={name: getattr(starter, name) for name in MESSAGE_FIELDS}, by=by)
        Message.objects.filter(pk=message.pk).update(starter_key=starter.key)
        added += 1
    return added


# --- Sending -------------------------------------------------------------------------

def refusal_text(code: str, *, message: Message, contact: Contact) -> str:
    """The refusal in words, naming the rule that refused it."""
    purpose, stage = message.get_purpose_display(), contact.get_stage_display()
    return {
        guardrails.DO_NOT_CONTACT: _("This contact asked not to be contacted."),
        guardrails.STAGE: _("A “%(purpose)s” message does not fit a contact in the %(stage)s stage "
                            "(stage guardrail: leads get education, never promos).") % {"purpose": purpose, "stage": stage},
        guardrails.CONSENT: _("The contact has not opted in to %(channel)s.") % {"channel": message.get_channel_display()},
        guardrails.ADDRESS: _("The contact has no %(address)s.") % {
            "address": _("email address") if message.channel == MessageChannel.EMAIL else _("phone number")},
    }[code]


class SendRefused(ValidationError):
    """A send the guardrails refuse; `reason` is the code (stage, consent, do_not_contact, address)."""

    def __init__(self, text: str, reason: str):
        super().__init__({"message": [text]}, code=reason)
        self.reason = reason


def message_send(*, contact: Contact, message: Message, by) -> Delivery:
    """Send one message to one contact now: refused (SendRefused) unless the guardrails allow it;
    otherwise one Delivery, sent by a worker right after commit (in-process on the embedded default)."""
    if message.is_archived:
        raise ValidationError({"message": [_("This message is archived.")]})
    if message.channel != MessageChannel.EMAIL:
        raise ValidationError({"message": [_("WhatsApp messages are sent by a rep through the WhatsApp link on the "
                                             "contact page.")]})
    with transaction.atomic():
        contact = Contact.objects.select_for_update().get(pk=contact.pk)
        if code := guardrails.refusal(recipient_of(contact), purpose=message.purpose, channel=message.channel):
            raise SendRefused(refusal_text(code, message=message, contact=contact), code)
        delivery = Delivery.objects.create(contact=contact, message=message, channel=message.channel,
                                           sent_by=by if getattr(by, "is_authenticated", False) else None)
        audit(by, AuditEvent.Action.SEND, delivery, contact=contact.pk, message=message.pk)
        if getattr(by, "is_authenticated", False):
            enrollments_exit(contact_ids=[contact.pk], reason=Enrollment.Exit.REP_TOOK_OVER)  # a person took over
        transaction.on_commit(lambda: queue_deliveries([delivery.pk]))
    return delivery


def message_values(contact: Contact) -> dict[str, str]:
    """The template variables for one contact (unsubscribe_url is added per delivery)."""
    owner = contact.owner
    return {"first_name": rendering.first_name(contact.full_name), "full_name": contact.full_name,
            "company": contact.company, "city": contact.city, "job_title": contact.job_title,
            "owner_name": (owner.get_full_name() or owner.username) if owner else ""}


def _backoff(attempts: int) -> timedelta:
    return timedelta(minutes=min(2 ** attempts, 240))


def delivery_send(*, delivery_id: int, connection=None) -> str:
    """Send one queued delivery; returns what happened (sent, bounced, retry, failed, refused, skipped)."""
    outcomes = deliveries_send(delivery_ids=[delivery_id], connection=connection)
    return next(iter(outcomes), "skipped")


# Sent deliveries are marked in groups: few commits (a group of 20 cost PostgreSQL 2.8 ms, one of 100 about 6 ms),
# and a crash leaves at most this many, or about a second's worth, unmarked (the sweep closes them as failed).
SENT_FLUSH = 100
SENT_FLUSH_SECONDS = 1.0


def deliveries_send(*, delivery_ids: list[int], connection=None, pool: SmtpPool | None = None) -> Counter:
    """Send queued deliveries (a campaign batch, or one) over one SMTP connection when given, or over a
    pool's connections in parallel (nurture.smtp_pool); returns how many ended how (sent, bounced,
    retry, failed, refused; skipped: not claimed).

    Claimed together first (queued -> sending, rows another worker holds are skipped), so only one
    caller ever sends each. The guardrails are asked again: consent withdrawn, or the contact
    erased, since the send was queued stops it. Outcomes are written here, in this thread, in the
    order sent; sent rows are marked every SENT_FLUSH messages, or sooner when the first unmarked one
    was answered SENT_FLUSH_SECONDS ago."""
    claimed = _claim(delivery_ids)
    outcomes: Counter = Counter(skipped=len(delivery_ids) - len(claimed))
    sent: list[int] = []
    in_flight: deque[tuple[Delivery, Future]] = deque()
    window = 2 * len(pool) if pool else 0  # messages handed to the pool and not yet answered
    unmarked_since = 0.0

    def flush() -> None:
        if sent:
            with transaction.atomic():
                _commit_without_waiting_for_disk()
                Delivery.objects.filter(pk__in=sent, status=Delivery.Status.SENDING).update(
                    status=Delivery.Status.SENT, sent_at=timezone.now(), error="")
            sent.clear()

    def record(delivery: Delivery, error: BaseException | None) -> None:
        nonlocal unmarked_since
        outcome = "sent" if error is None else _failed(delivery, error)
        outcomes[outcome] += 1
        if outcome == "sent":
            if not sent:
                unmarked_since = time.monotonic()
            sent.append(delivery.pk)
            if len(sent) >= SENT_FLUSH or time.monotonic() - unmarked_since >= SENT_FLUSH_SECONDS:
                flush()

    deliveries = (Delivery.objects.filter(pk__in=claimed)
                  .select_related("contact", "contact__owner", "enrollment__sequence").order_by("pk"))
    messages: dict[int, Message] = {}  # a campaign batch has one message: read once, not joined to every row
    try:
        for delivery in deliveries:
            if delivery.message_id not in messages:
                messages[delivery.message_id] = Message.objects.get(pk=delivery.message_id)
            delivery.message = messages[delivery.message_id]
            email = _prepare(delivery)
            if email is None:
                outcomes["refused"] += 1
            elif pool is None:
                record(delivery, _send_now(email, connection))
            else:
                in_flight.append((delivery, pool.send(email)))
                while len(in_flight) > window:
                    done, future = in_flight.popleft()
                    record(done, future.exception())
    finally:
        while in_flight:  # also when something above failed: what went out is recorded as sent
            done, future = in_flight.popleft()
            record(done, future.exception())
        flush()
    return +outcomes


def _claim(delivery_ids: list[int]) -> list[int]:
    """queued -> sending in one statement that returns the rows it claimed (crm.claims). Only rows still queued
    are taken, so a redelivered task or a second worker never gets one already claimed; on PostgreSQL rows another
    worker holds at that moment are skipped, not waited for. It commits before anything is sent, waiting for the
    disk: a claim must survive a crash (the sweep then closes the rows as failed, never sending them again). Inside
    a caller's transaction it is part of that one."""
    ids = list(dict.fromkeys(int(pk) for pk in delivery_ids))
    if not ids:
        return []
    return claim(Delivery.objects.filter(pk__in=ids, status=Delivery.Status.QUEUED),
                 status=Delivery.Status.SENDING, attempts=F("attempts") + 1, next_attempt_at=None,
                 claimed_at=timezone.now())


def _commit_without_waiting_for_disk() -> None:
    """Marking sent rows need not wait for the disk flush (a commit waited ~15 ms for it, most of a
    message's time): if PostgreSQL crashes before the flush, the rows stay `sending`, as after a worker
    crash, and the sweep closes them as failed, never sending them again. The claim keeps waiting."""
    if db_connection.vendor == "postgresql":
        with db_connection.cursor() as cursor:
            cursor.execute("SET LOCAL synchronous_commit TO OFF")


def _prepare(delivery: Delivery) -> EmailMultiAlternatives | None:
    """One claimed delivery's email, or None when the guardrails refuse it now (recorded here)."""
    contact, message = delivery.contact, delivery.message
    if is_anonymised(contact) or (code := guardrails.refusal(recipient_of(contact), purpose=message.purpose,
                                                              channel=message.channel)):
        reason = "erased" if is_anonymised(contact) else code
        _finish(delivery, Delivery.Status.FAILED, error=f"refused when sending: {reason}")
        if delivery.enrollment_id:
            enrollments_exit(contact_ids=[contact.pk], reason=EXIT_FOR_REFUSAL.get(reason, Enrollment.Exit.STAGE_CHANGED))
        return None
    content = mail.compose(delivery_id=delivery.pk, subject=message.subject, body=message.body, values=message_values(contact))
    sender = delivery.enrollment.sequence.from_email if delivery.enrollment_id else ""
    return mail.build(content=content, to=contact.email, delivery_id=delivery.pk, from_email=sender or None)


def _send_now(email: EmailMultiAlternatives, connection) -> BaseException | None:
    try:
        (connection or email.get_connection()).send_messages([email])
    except Exception as exc:  # noqa: BLE001 - _failed() classifies it, and re-raises anything that is not a mail failure
        return exc
    return None


def _failed(delivery: Delivery, exc: BaseException) -> str:
    """Record a refused send: a permanent failure bounces, a temporary one is retried with backoff."""
    failure = mail.classify(exc)
    contact, message = delivery.contact, delivery.message
    if failure.permanent:
        _finish(delivery, Delivery.Status.BOUNCED, error=failure.detail)
        interaction_log(contact=contact, kind="email_bounced", channel="email", source=SOURCE,
                        external_id=f"delivery:{delivery.pk}:bounce",
                        data={"delivery": delivery.pk, "message": message.pk, "smtp": failure.detail[:200]})
        return "bounced"
    if failure.unknown:
        _finish(delivery, Delivery.Status.FAILED, error=f"no answer after the message was sent; not sent again to avoid "
                                                        f"a duplicate ({failure.detail})")
        return "failed"
    attempts = delivery.attempts  # read after the claim, which counted this one
    if attempts >= settings.CRM_EMAIL_MAX_ATTEMPTS:
        _finish(delivery, Delivery.Status.FAILED, error=failure.detail)
        return "failed"
    Delivery.objects.filter(pk=delivery.pk, status=Delivery.Status.SENDING).update(
        status=Delivery.Status.QUEUED, next_attempt_at=timezone.now() + _backoff(attempts), error=failure.detail)
    return "retry"


def _finish(delivery: Delivery, status: str, *, error: str = "") -> None:
    Delivery.objects.filter(pk=delivery.pk, status=Delivery.Status.SENDING).update(status=status, error=error[:300])


def deliveries_sweep(*, now=None, stuck_after: timedelta = timedelta(minutes=15)) -> dict[str, int]:
    """The minute's sweep: queue deliveries that are due (a retry's time came, or their task was
    lost), and close deliveries stuck in `sending` (the worker died mid-send). Those are marked
    failed, never sent again: whether the server took the message is unknown, and a duplicate is
    worse than a miss."""
    now = now or timezone.now()
    stuck = Delivery.objects.filter(status=Delivery.Status.SENDING, claimed_at__lt=now - stuck_after).update(
        status=Delivery.Status.FAILED, error="interrupted while sending; not sent again to avoid a duplicate")
    due_ids = list(
        Delivery.objects.filter(status=Delivery.Status.QUEUED, created_at__lt=now - timedelta(minutes=1))
        .exclude(next_attempt_at__gt=now).order_by("pk").values_list("pk", flat=True)[:5000]
    )
    queue_deliveries(due_ids)
    return {"queued": len(due_ids), "stuck": stuck}


# --- What recipients do ---------------------------------------------------------------

def _track(delivery: Delivery, *, kind: str, key: str, data: dict[str, Any]) -> None:
    interaction_log(contact=delivery.contact, kind=kind, channel="email", source=SOURCE,
                    external_id=f"delivery:{delivery.pk}:{key}",
                    data={"delivery": delivery.pk, "message": delivery.message_id, **data})


def delivery_clicked(*, delivery_id: int, url: str) -> None:
    """A tracked link was followed: `email_clicked` (once per link and delivery), scored like any interaction."""
    delivery = Delivery.objects.select_related("contact").filter(pk=delivery_id).first()
    if delivery is None:
        return  # the contact was erased: the redirect still works, nothing is recorded
    now = timezone.now()
    Delivery.objects.filter(pk=delivery_id, clicked_at__isnull=True).update(clicked_at=now)
    Delivery.objects.filter(pk=delivery_id, opened_at__isnull=True).update(opened_at=now)
    _track(delivery, kind="email_clicked", key=f"click:{hashlib.sha256(url.encode()).hexdigest()[:16]}",
           data={"url": url[:500]})


def delivery_opened(*, delivery_id: int) -> None:
    """The open pixel was loaded (approximate: some clients block images, some prefetch them)."""
    delivery = Delivery.objects.select_related("contact").filter(pk=delivery_id).first()
    if delivery is None:
        return
    if Delivery.objects.filter(pk=delivery_id, opened_at__isnull=True).update(opened_at=timezone.now()):
        _track(delivery, kind="email_opened", key="open", data={})


def delivery_unsubscribe(*, delivery_id: int) -> bool:
    """One-click unsubscribe: email consent withdrawn with evidence naming the delivery. True when
    the link was valid (a second click, or an erased contact, changes nothing and is still fine)."""
    delivery = Delivery.objects.select_related("contact").filter(pk=delivery_id).first()
    if delivery is None:
        return True
    with transaction.atomic():
        if not Delivery.objects.filter(pk=delivery_id, unsubscribed_at__isnull=True).update(unsubscribed_at=timezone.now()):
            return True
        if is_anonymised(delivery.contact):
            return True
        consent_set(contact=delivery.contact, channel="email", granted=False, source="unsubscribe link",
                    wording_version=f"delivery:{delivery.pk}")
        _track(delivery, kind="unsubscribed", key="unsubscribe", data={})
    return True
