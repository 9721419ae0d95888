"""Sequences: contacts are enrolled when they enter a stage (in the transaction that records the
move), sent each step when it is due, and leave when their stage changes, they convert, withdraw
consent, are erased, or a rep takes over.

Each step is sent at most once per enrollment: the run claims a step with a conditional UPDATE of
the enrollment (its next position), and the Delivery has a unique (enrollment, step) constraint,
so a redelivered task or two workers racing write one delivery."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from collections.abc import Sequence as Seq
from datetime import datetime, timedelta
from email.utils import parseaddr
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.db.models import Prefetch
from django.utils import timezone
from django.utils.translation import gettext as _

from contacts.models import Contact, Industry, Stage, StageChange
from contacts.selectors import apply_segment
from crm.audit import audit
from crm.models import AuditEvent
from nurture import guardrails
from nurture.models import Delivery, Enrollment, Message, MessageChannel, Sequence, SequenceStep
from nurture.tasks import queue_deliveries

# --- Defining sequences ----------------------------------------------------------------

@transaction.atomic
def sequence_save(*, data: Mapping[str, Any], steps: Seq[Mapping[str, Any]], by, sequence: Sequence | None = None) -> Sequence:
    """Create or change a sequence and replace its steps ([{"wait_days": n, "message": id}, ...]).
    Every step's message must fit the trigger stage: a promo step in a lead sequence is refused."""
    stage = data.get("trigger_stage", getattr(sequence, "trigger_stage", ""))
    industry = data.get("industry", getattr(sequence, "industry", "")) or ""
    name = (data.get("name", getattr(sequence, "name", "")) or "").strip()
    segment = data.get("segment", getattr(sequence, "segment", None))
    from_email = (data.get("from_email", getattr(sequence, "from_email", "")) or "").strip()
    errors: dict[str, list[str]] = {}
    if from_email and not _sender_ok(from_email):
        errors["from_email"] = [_("Write a sender like “Tim Kampus <info@kampus.example>” or an address.")]
    if not name:
        errors["name"] = [_("Give the sequence a name.")]
    if stage not in Stage.values:
        errors["trigger_stage"] = [_("Choose the stage that starts the sequence.")]
    if industry and industry not in Industry.values:
        errors["industry"] = [_("Unknown industry.")]
    if not steps:
        errors["steps"] = [_("Add at least one step.")]
    messages = Message.objects.in_bulk([step.get("message") for step in steps if isinstance(step.get("message"), int)])
    for n, step in enumerate(steps):
        message, wait = messages.get(step.get("message")), step.get("wait_days")
        if not isinstance(wait, int) or not 0 <= wait <= 365:
            errors[f"steps.{n}.wait_days"] = [_("Wait between 0 and 365 days.")]
        if message is None or message.is_archived:
            errors[f"steps.{n}.message"] = [_("Choose a message from the library.")]
        elif message.channel != MessageChannel.EMAIL:
            errors[f"steps.{n}.message"] = [_("Sequences send emails; WhatsApp messages are sent by reps.")]
        elif stage in Stage.values and not guardrails.purpose_fits(stage, message.purpose):
            errors[f"steps.{n}.message"] = [_("A “%(purpose)s” message cannot go to a %(stage)s (stage guardrail).") % {
                "purpose": message.get_purpose_display(), "stage": Stage(stage).label}]
    if errors:
        raise ValidationError(errors)
    created = sequence is None
    sequence = sequence or Sequence(created_by=by if getattr(by, "is_authenticated", False) else None)
    sequence.name, sequence.trigger_stage, sequence.industry = name[:150], stage, industry
    sequence.segment, sequence.from_email = segment, from_email[:200]
    sequence.save()
    sequence.steps.all().delete()
    SequenceStep.objects.bulk_create(SequenceStep(sequence=sequence, position=n, wait_days=step["wait_days"],
                                                  message=messages[step["message"]]) for n, step in enumerate(steps))
    audit(by, AuditEvent.Action.CREATE if created else AuditEvent.Action.CHANGE, sequence, steps=len(steps))
    return sequence


def _sender_ok(value: str) -> bool:
    _name, address = parseaddr(value)
    try:
        validate_email(address)
    except ValidationError:
        return False
    return True


@transaction.atomic
def sequence_pause(*, sequence: Sequence, paused: bool, by) -> Sequence:
    """A paused sequence enrolls nobody and sends nothing; its due steps wait until it resumes."""
    Sequence.objects.filter(pk=sequence.pk).update(is_paused=paused, updated_at=timezone.now())
    audit(by, AuditEvent.Action.CHANGE, sequence, fields=["is_paused"], paused=paused)
    sequence.refresh_from_db()
    return sequence


# --- Enrolling and leaving, on stage changes ---------------------------------------------

def on_stage_changes(changes: Seq[StageChange]) -> None:
    """contacts.events.stage_changed's receiver: leave the sequences of the stage left, join the
    sequences of the stage entered. A few queries for any number of changes (a full rescore)."""
    latest: dict[int, StageChange] = {}
    for change in changes:
        latest[change.contact_id] = change  # the last move of each contact in this batch decides
    if not latest:
        return
    now = timezone.now()
    by_stage: dict[str, list[int]] = defaultdict(list)
    for pk, change in latest.items():
        by_stage[change.to_stage].append(pk)
    for stage, ids in by_stage.items():
        # Leaving the stage a sequence was for ends it (entering customer: converted).
        Enrollment.objects.filter(contact_id__in=ids, status=Enrollment.Status.ACTIVE).exclude(
            sequence__trigger_stage=stage).update(
            status=Enrollment.Status.EXITED, ended_at=now, next_due_at=None,
            exit_reason=Enrollment.Exit.CONVERTED if stage == Stage.CUSTOMER else Enrollment.Exit.STAGE_CHANGED)
    sequences = list(Sequence.objects.filter(is_paused=False, trigger_stage__in={c.to_stage for c in latest.values()})
                     .select_related("segment").prefetch_related(Prefetch("steps", queryset=SequenceStep.objects.order_by("position"))))
    if not sequences:
        return
    contacts = Contact.objects.filter(pk__in=list(latest), do_not_contact=False, objects_to_profiling=False)
    # A sequence limited to a segment takes the contacts in it now (one query per such sequence).
    in_segment = {seq.pk: set(apply_segment(contacts, seq.segment).values_list("pk", flat=True))
                  for seq in sequences if seq.segment is not None}
    enrollments = [
        Enrollment(sequence=seq, contact_id=pk, enrolled_at=now, next_position=0,
                   next_due_at=now + timedelta(days=seq.steps.all()[0].wait_days))
        for pk, stage, industry in contacts.values_list("pk", "stage", "industry")
        for seq in sequences
        if seq.trigger_stage == stage == latest[pk].to_stage and seq.industry in ("", industry) and seq.steps.all()
        and (seq.pk not in in_segment or pk in in_segment[seq.pk])
    ]
    # The partial unique constraint keeps one active enrollment per sequence and contact.
    Enrollment.objects.bulk_create(enrollments, ignore_conflicts=True)


def enrollments_exit(*, contact_ids: Seq[int], reason: str) -> int:
    return Enrollment.objects.filter(contact_id__in=list(contact_ids), status=Enrollment.Status.ACTIVE).update(
        status=Enrollment.Status.EXITED, exit_reason=reason, ended_at=timezone.now(), next_due_at=None)


# --- Adding contacts by hand (bulk actions) -------------------------------------------------

# Why a contact cannot be added to a sequence by hand, besides the guardrails' refusal codes.
PAUSED, NO_STEPS, IN_SEQUENCE, INDUSTRY = "paused", "no_steps", "in_sequence", "industry"


def enrollment_refusals(*, sequence: Sequence, contact_ids: Seq[int]) -> dict[int, str]:
    """Why each of these contacts may not be added to `sequence` by hand; a contact not in the
    answer may be (a contact that does not exist is not in it either). The sequence must be
    running and have steps; the contact must not be in it already, must be of its industry (if it
    has one), and every step's message must be allowed to reach them (guardrails.refusal: do not
    contact, the stage guardrail, email consent, an address). Two queries and the sequence's steps."""
    ids = list(contact_ids)
    if sequence.is_paused:
        return dict.fromkeys(ids, PAUSED)
    purposes = sorted(set(sequence.steps.values_list("message__purpose", flat=True)))
    if not purposes:
        return dict.fromkeys(ids, NO_STEPS)
    active = set(Enrollment.objects.filter(sequence=sequence, contact_id__in=ids, status=Enrollment.Status.ACTIVE)
                 .values_list("contact_id", flat=True))
    refusals: dict[int, str] = {}
    fields = ("pk", "stage", "industry", "consent_email", "consent_whatsapp", "do_not_contact", "email", "phone")
    for row in Contact.objects.filter(pk__in=ids).values(*fields):
        pk = row.pop("pk")
        if pk in active:
            refusals[pk] = IN_SEQUENCE
        elif sequence.industry and row["industry"] != sequence.industry:
            refusals[pk] = INDUSTRY
        else:
            recipient = guardrails.Recipient(**{k: v for k, v in row.items() if k != "industry"})
            reason = next((r for p in purposes if (r := guardrails.refusal(recipient, purpose=p, channel=guardrails.EMAIL))),
                          None)
            if reason:
                refusals[pk] = reason
    return refusals


@transaction.atomic
def enrollments_add(*, sequence: Sequence, contact_ids: Seq[int], by) -> tuple[list[int], dict[int, str]]:
    """Add contacts to a sequence by hand: each starts at the first step (due after its wait),
    like an enrollment on entering the stage. Those enrollment_refusals names are skipped; the
    partial unique constraint keeps one active enrollment per sequence and contact even when two
    requests race. Returns the contacts enrolled and the refusals."""
    ids = list(dict.fromkeys(contact_ids))
    refusals = enrollment_refusals(sequence=sequence, contact_ids=ids)
    candidates = list(Contact.objects.filter(pk__in=[pk for pk in ids if pk not in refusals]).values_list("pk", flat=True))
    first = sequence.steps.order_by("position").first()
    now = timezone.now()
    if candidates and first is not None:
        Enrollment.objects.bulk_create([
            Enrollment(sequence=sequence, contact_id=pk, enrolled_at=now, next_position=0,
                       next_due_at=now + timedelta(days=first.wait_days)) for pk in candidates
        ], ignore_conflicts=True)
    # Who is in it now because of this call (a racing request's rows have another enrolled_at).
    enrolled = sorted(Enrollment.objects.filter(sequence=sequence, contact_id__in=candidates, enrolled_at=now,
                                                status=Enrollment.Status.ACTIVE).values_list("contact_id", flat=True))
    for pk in set(candidates) - set(enrolled):
        refusals[pk] = IN_SEQUENCE
    audit(by, AuditEvent.Action.CHANGE, sequence, what="enrolled", count=len(enrolled), ids=enrolled)
    return enrolled, refusals


# --- Sending the steps that are due --------------------------------------------------------

def sequences_run(*, now: datetime | None = None) -> int:
    """Send every step that is due, paced: at most CRM_EMAIL_RATE_PER_MINUTE emails a run (the beat
    runs it every minute) and CRM_EMAIL_DOMAIN_RATE_PER_MINUTE to one mail domain; the rest stays due
    for the next run. Returns the deliveries created."""
    now = now or timezone.now()
    budget, per_domain = settings.CRM_EMAIL_RATE_PER_MINUTE, settings.CRM_EMAIL_DOMAIN_RATE_PER_MINUTE
    due = (Enrollment.objects.filter(status=Enrollment.Status.ACTIVE, next_due_at__lte=now, sequence__is_paused=False)
           .select_related("contact").order_by("next_due_at", "pk")[: budget * 2])
    steps: dict[int, dict[int, SequenceStep]] = defaultdict(dict)
    for step in SequenceStep.objects.filter(sequence_id__in={e.sequence_id for e in due}):
        steps[step.sequence_id][step.position] = step
    domains: dict[str, int] = defaultdict(int)
    created: list[int] = []
    for enrollment in due:
        if len(created) >= budget:
            break
        domain = (enrollment.contact.email or "").rpartition("@")[2]
        if domains[domain] >= per_domain:
            continue
        delivery = _send_step(enrollment, steps[enrollment.sequence_id], now)
        if delivery is not None:
            domains[domain] += 1
            created.append(delivery.pk)
    transaction.on_commit(lambda: queue_deliveries(created))
    return len(created)


def _send_step(enrollment: Enrollment, steps: Mapping[int, SequenceStep], now: datetime) -> Delivery | None:
    position = enrollment.next_position
    step = steps.get(position)
    following = steps.get(position + 1)
    with transaction.atomic():
        # Claim the step: only the run that moves next_position on from this value sends it.
        claimed = Enrollment.objects.filter(pk=enrollment.pk, status=Enrollment.Status.ACTIVE, next_position=position).update(
            next_position=position + 1,
            next_due_at=now + timedelta(days=following.wait_days) if step and following else None,
            **({} if step and following else {"status": Enrollment.Status.COMPLETED, "ended_at": now}),
        )
        if not claimed or step is None:
            return None
        try:
            with transaction.atomic():
                return Delivery.objects.create(contact_id=enrollment.contact_id, message_id=step.message_id,
                                               channel=MessageChannel.EMAIL, enrollment=enrollment, step_position=position)
        except IntegrityError:
            return None  # this step's delivery exists already: at most once
