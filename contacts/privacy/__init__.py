"""Personal-data services (UU PDP, Law No. 27 of 2022): consent per channel, the objection
to profiling, the subject's access export, erasure (delete or anonymise) and retention.

Every write runs in one transaction, changes consent flags only through contacts.services.consent
(which records the evidence and queues scoring the usual way), and is recorded in the
audit log with ids and field names only, never the personal data itself.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from contacts.events import contact_erased
from contacts.models import ConsentRecord, Contact, ContactMerge, Interaction, Note, StageChange
from contacts.services.consent import (  # re-exported: the consent service itself lives in contacts.services.consent
    ANONYMISED_KEY,
    CHANNEL_FLAGS,
    MESSAGING_CHANNELS,
    Channel,
    consent_set,
    is_anonymised,
)
from crm import dashboard_cache
from crm.audit import audit
from crm.models import AuditEvent

log = logging.getLogger(__name__)

__all__ = ["ANONYMISED_KEY", "CHANNEL_FLAGS", "MESSAGING_CHANNELS", "Channel", "consent_set", "is_anonymised"]
ERASE_MODES = ("delete", "anonymise")


def _locked(contact: Contact) -> Contact:
    """A fresh, locked copy: the scorer may have written score and stage since the caller loaded its instance."""
    return Contact.objects.select_for_update().get(pk=contact.pk)


# --- Consent ---------------------------------------------------------------------

def consent_withdraw(*, contact: Contact, channel: str, by=None, source: str = "crm") -> ConsentRecord:
    """The one call behind the one-click withdrawal (pages and API alike)."""
    return consent_set(contact=contact, channel=channel, granted=False, source=source, by=by)


def profiling_objection_set(*, contact: Contact, objects: bool, by=None, source: str = "crm") -> ConsentRecord:
    """Art. 10: a contact who objects is left out of automated scoring and promotion (the
    scorer skips the flag; its last score and stage stay as they were) until it is lifted,
    when the contact is scored again."""
    return consent_set(contact=contact, channel=Channel.PROFILING, granted=not objects, source=source, by=by)


@dataclass(frozen=True)
class ConsentState:
    channel: str
    label: str
    granted: bool
    record: ConsentRecord | None  # the latest evidence for this channel, if any


def consent_states(contact: Contact) -> list[ConsentState]:
    """Each messaging channel's current flag with its latest evidence (one query)."""
    latest: dict[str, ConsentRecord] = {}
    for record in contact.consent_records.select_related("recorded_by"):
        latest.setdefault(record.channel, record)
    return [
        ConsentState(channel, Channel(channel).label, bool(getattr(contact, CHANNEL_FLAGS[channel][0])), latest.get(channel))
        for channel in MESSAGING_CHANNELS
    ]


def profiling_paused_since(contact: Contact) -> datetime | None:
    """When the current objection to profiling was recorded (None if there is none)."""
    if not contact.objects_to_profiling:
        return None
    record = contact.consent_records.filter(channel=Channel.PROFILING, granted=False).first()
    return record.recorded_at if record else contact.updated_at


# --- Right of access ---------------------------------------------------------------

# --- What other apps hold about a person ------------------------------------------------
# Apps built on contacts (nurture: messages sent, sequences) register what they hold, so the
# access export lists it and anonymisation clears it, without contacts importing them.

_EXPORT_SECTIONS: dict[str, Callable[[Contact], list]] = {}
_ANONYMISERS: dict[str, Callable[[int], None]] = {}


def register_export_section(name: str, fn: Callable[[Contact], list]) -> None:
    """Add `name` to the access export: fn(contact) -> a JSON-ready list. Called from an
    AppConfig.ready(); registering a name again replaces it (ready() may run twice in tests)."""
    _EXPORT_SECTIONS[name] = fn


def register_anonymiser(name: str, fn: Callable[[int], None]) -> None:
    """fn(contact_id) clears what the app holds that could identify the person, inside the
    anonymisation's transaction (deletion cascades by foreign key)."""
    _ANONYMISERS[name] = fn


def export_sections() -> tuple[str, ...]:
    return tuple(_EXPORT_SECTIONS)


def _when(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def subject_access_export(*, contact: Contact, by=None) -> dict[str, Any]:
    """Everything held about one person, as plain JSON-ready data (the law gives 3×24 hours
    to answer an access request; this is one click). The download is recorded in the audit log."""
    contact = Contact.objects.select_related("owner").prefetch_related("tags").get(pk=contact.pk)
    fields = {}
    for f in Contact._meta.concrete_fields:
        if f.name in ("owner", "score_breakdown"):
            continue
        value = f.value_from_object(contact)
        fields[f.name] = value.isoformat() if isinstance(value, datetime) else value
    fields["owner"] = contact.owner.get_full_name() or contact.owner.get_username() if contact.owner else None
    fields["tags"] = [t.name for t in contact.tags.all()]
    data = {
        "format": "saring-subject-access/1",
        "generated_at": timezone.now().isoformat(),
        "contact": fields,
        "score_breakdown": contact.score_breakdown,
        "interactions": [
            {"id": i.pk, "kind": i.kind_id, "occurred_at": _when(i.occurred_at), "channel": i.channel, "data": i.data,
             "source": i.source, "external_id": i.external_id, "recorded_at": _when(i.created_at)}
            for i in contact.interactions.order_by("occurred_at", "pk")
        ],
        "notes": [
            {"id": n.pk, "kind": n.kind, "body": n.body, "author": n.author.get_username() if n.author else None,
             "created_at": _when(n.created_at), "due_at": _when(n.due_at), "done_at": _when(n.done_at)}
            for n in contact.notes.select_related("author").order_by("created_at", "pk")
        ],
        "stage_changes": [
            {"from": c.from_stage, "to": c.to_stage, "changed_at": _when(c.changed_at), "reason_code": c.reason_code,
             "reason": c.reason_text, "score": c.score, "by": c.user.get_username() if c.user else None}
            for c in contact.stage_changes.select_related("user").order_by("changed_at", "pk")
        ],
        "consent_records": [
            {"channel": r.channel, "granted": r.granted, "source": r.source, "wording_version": r.wording_version,
             "recorded_at": _when(r.recorded_at)}
            for r in contact.consent_records.order_by("recorded_at", "pk")
        ],
        "merged_records": [
            {"merged_contact_id": m.merged_contact_id, "merged_at": _when(m.merged_at), "snapshot": m.merged_snapshot}
            for m in ContactMerge.objects.filter(kept=contact).order_by("merged_at")
        ],
        **_import_copies(contact),
        **{name: fn(contact) for name, fn in _EXPORT_SECTIONS.items()},
        # Who looked at or changed this record (actions and times; staff names are not the subject's data).
        "access_log": [
            {"action": e.action, "at": _when(e.at)}
            for e in AuditEvent.objects.filter(object_type=Contact._meta.label_lower, object_id=str(contact.pk))
            .order_by("at", "pk")
        ],
    }
    audit(by, AuditEvent.Action.ACCESS_REQUEST, contact, interactions=len(data["interactions"]), notes=len(data["notes"]))
    return data


def _identities(contact: Contact) -> list:
    """The person's identities: the contact's own and those of records merged into it."""
    from contacts.imports.privacy import Identity

    return [Identity.of(contact), *(Identity.from_snapshot(m.merged_snapshot or {})
                                    for m in ContactMerge.objects.filter(kept=contact))]


def _import_copies(contact: Contact) -> dict[str, list]:
    """The rows of stored import files, and of their bad-row reports, that name the person."""
    from contacts.imports.privacy import import_errors_mentioning, import_rows_mentioning

    people = _identities(contact)
    rows = []
    headers: dict[int, list[str]] = {}
    for job, number, cells in import_rows_mentioning(people=people):
        header = headers.setdefault(job.pk, list(job.header))
        rows.append({"import_job": job.pk, "file_name": job.file_name, "uploaded_at": _when(job.created_at), "row": number,
                     "values": {name: cells[i] if i < len(cells) else "" for i, name in enumerate(header)}})
    errors = [{"import_job": job.pk, "file_name": job.file_name, "row": error.get("row"), "reason": error.get("reason", ""),
               "values": error.get("values", [])} for job, error in import_errors_mentioning(people=people)]
    return {"import_rows": rows, "import_errors": errors}


# --- Right to erasure ----------------------------------------------------------------

def erasure_reach(*, people: list, by=None) -> None:
    """The copies outside the contact's own rows: stored import files and their reports, and
    the cached dashboard (recomputed on the next view)."""
    from contacts.imports.privacy import imports_erase

    imports_erase(people=people, by=by)
    transaction.on_commit(dashboard_cache.invalidate)

# Identity and free-text fields cleared by anonymisation; kept: industry, source and UTM
# (campaign statistics), stage, score and dates (funnel statistics), owner.
ANONYMISE_BLANK = ("full_name", "social_handle", "company", "job_title", "city")
ANONYMISE_NULL = ("email", "phone", "external_ref")


@dataclass(frozen=True)
class Erasure:
    contact_id: int
    mode: str
    interactions: int
    notes: int


@transaction.atomic
def contact_erase(*, contact: Contact, by=None, mode: str = "delete", reason: str = "request",
                  reach: bool = True) -> Erasure:
    """Delete a contact with its interactions, notes and history, or anonymise it: strip
    every identifying value but keep the anonymous facts for statistics. Erasure reaches the
    copies too (erasure_reach: import files and reports, the cached dashboard; a caller
    erasing many contacts passes reach=False and calls erasure_reach once). The audit event
    names the contact id and counts, never the erased values."""
    if mode not in ERASE_MODES:
        raise ValidationError({"mode": _("Choose delete or anonymise.")})
    contact = _locked(contact)
    pk = contact.pk
    contact_erased.send(sender=Contact, contact_id=pk, external_ref=contact.external_ref)
    interactions, notes = contact.interactions.count(), contact.notes.count()
    if reach:
        erasure_reach(people=_identities(contact), by=by)
    if mode == "delete":
        contact.delete()  # cascades: interactions, notes, stage changes, consent records, merge snapshots
        audit(by, AuditEvent.Action.DELETE, object_type=Contact._meta.label_lower, object_id=pk,
              mode=mode, reason=reason, interactions=interactions, notes=notes)
        return Erasure(pk, mode, interactions, notes)

    # Consent through its one service (evidence "erasure"): nobody left to contact or to profile.
    for channel in (Channel.ALL, Channel.PROFILING) if not is_anonymised(contact) else ():
        consent_set(contact=contact, channel=channel, granted=False, source="erasure", by=by)
    now = timezone.now()
    Contact.objects.filter(pk=pk).update(
        **{name: "" for name in ANONYMISE_BLANK}, **{name: None for name in ANONYMISE_NULL},
        attributes={ANONYMISED_KEY: now.isoformat()},
        # The score and stage stay frozen as they were.
        needs_rescore=False, updated_at=now,
    )
    contact.tags.clear()
    # Event payloads and the sender's ids can identify the person; kinds and times stay.
    contact.interactions.update(data={}, external_id=None)
    contact.notes.all().delete()  # free text written about the person
    contact.stage_changes.filter(reason_code=StageChange.Reason.MANUAL).update(reason_params={})
    ContactMerge.objects.filter(kept_id=pk).update(merged_snapshot={})
    for anonymise in _ANONYMISERS.values():
        anonymise(pk)
    audit(by, AuditEvent.Action.ANONYMISE, contact, mode=mode, reason=reason, interactions=interactions, notes=notes)
    return Erasure(pk, mode, interactions, notes)


@transaction.atomic
def contacts_erase(*, contact_ids: list[int], by=None, mode: str = "anonymise", reason: str = "bulk") -> tuple[list[int], list[int]]:
    """contact_erase for many contacts (a bulk action): each one erased as on its own privacy page,
    the copies in stored imports reached in one pass for all of them. Anonymising skips contacts
    anonymised already. Returns (erased ids, skipped ids)."""
    if mode not in ERASE_MODES:
        raise ValidationError({"mode": _("Choose delete or anonymise.")})
    erased, skipped, people = [], [], []
    for contact in Contact.objects.filter(pk__in=list(contact_ids)).order_by("pk"):
        if mode == "anonymise" and is_anonymised(contact):
            skipped.append(contact.pk)
            continue
        people += _identities(contact)
        contact_erase(contact=contact, by=by, mode=mode, reason=reason, reach=False)
        erased.append(contact.pk)
    if people:
        erasure_reach(people=people, by=by)
    return erased, skipped


# --- Retention ------------------------------------------------------------------------

@dataclass
class RetentionReport:
    months: int
    cutoff: datetime
    dry_run: bool
    candidates: int = 0
    anonymised: int = 0
    by_stage: Counter = field(default_factory=Counter)
    sample_ids: list[int] = field(default_factory=list)


def retention_candidates(*, cutoff: datetime):
    """Contacts not yet anonymised with no activity since `cutoff`: created before it, no
    interaction since, and no note by a person since (system notes do not count)."""
    recent_note = Note.objects.filter(contact=OuterRef("pk"), created_at__gte=cutoff, author__isnull=False)
    return (
        Contact.objects.filter(created_at__lt=cutoff)
        .filter(Q(last_interaction_at__isnull=True) | Q(last_interaction_at__lt=cutoff))
        .exclude(attributes__has_key=ANONYMISED_KEY)
        .exclude(Exists(recent_note))
        .exclude(Exists(Interaction.objects.filter(contact=OuterRef("pk"), occurred_at__gte=cutoff)))
    )


def retention_run(*, months: int, dry_run: bool = True, by=None, now: datetime | None = None,
                  sample: int = 20) -> RetentionReport:
    """Anonymise every contact inactive for `months` months (dry run: only report who)."""
    if not isinstance(months, int) or months < 1:
        raise ValidationError({"months": _("Give a whole number of months, at least 1.")})
    now = now or timezone.now()
    cutoff = now - timedelta(days=round(months * 365.25 / 12))
    report = RetentionReport(months=months, cutoff=cutoff, dry_run=dry_run)
    ids = list(retention_candidates(cutoff=cutoff).order_by("pk").values_list("pk", flat=True))
    report.candidates = len(ids)
    report.sample_ids = ids[:sample]
    report.by_stage = Counter(Contact.objects.filter(pk__in=ids).values_list("stage", flat=True))
    if dry_run or not ids:
        return report
    people = []
    for pk in ids:
        # One transaction per contact: a long run never holds many locks, and a rerun continues.
        contact = Contact.objects.filter(pk=pk).first()
        if contact is not None and not is_anonymised(contact):
            people += _identities(contact)
            contact_erase(contact=contact, by=by, mode="anonymise", reason="retention", reach=False)
            report.anonymised += 1
    # One pass over the stored imports for the whole run (not one per contact).
    with transaction.atomic():
        erasure_reach(people=people, by=by)
    audit(by, AuditEvent.Action.ANONYMISE, object_type="contacts.retention", months=months,
          cutoff=cutoff.isoformat(), anonymised=report.anonymised)
    log.info("Retention: anonymised %d contacts inactive since %s", report.anonymised, cutoff.date())
    return report


def retention_months_setting() -> int:
    """CRM_RETENTION_MONTHS (0 or unset: retention is off)."""
    return int(getattr(settings, "CRM_RETENTION_MONTHS", 0) or 0)
