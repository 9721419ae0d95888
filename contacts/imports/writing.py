"""Writing one chunk of planned rows: brand-new people in bulk (a staging table), the rest through
contact_upsert / interaction_log, then the chunk's consent columns and opt-outs with the job as
evidence."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Mapping, Sequence
from contextlib import nullcontext
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import ValidationError
from django.db import DataError, IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from contacts.events import contacts_created, interactions_logged
from contacts.imports.cells import cell_text, is_blank
from contacts.imports.staging import contacts_insert_staged
from contacts.imports.validation import Compiled, RowError, RowPlan
from contacts.models import Contact, ImportJob, Interaction
from contacts.services import (
    CONSENT_FIELDS,
    clean_contact_data,
    contact_new,
    contact_upsert,
    interaction_log,
    normalize_email,
    normalize_phone,
    tags_add,
)
from contacts.services.consent import consent_flags_changes, consent_flags_set, consent_values_after, consents_import
from scoring import tasks as scoring_tasks

log = logging.getLogger(__name__)


@dataclass
class Known:
    """Identities that exist in the database, looked up once per chunk instead of per row."""

    by_email: dict[str, tuple[int, str, str | None]] = field(default_factory=dict)
    by_phone: dict[str, tuple[int, str, str | None]] = field(default_factory=dict)
    by_ref: dict[tuple[str, str], int] = field(default_factory=dict)

    @classmethod
    def load(cls, plans: Sequence[RowPlan]) -> Known:
        for plan in plans:
            try:
                plan.email = normalize_email(plan.data.get("email"))
            except ValidationError:
                plan.email = None
            try:
                plan.phone = normalize_phone(plan.data.get("phone"))
            except ValidationError:
                plan.phone = None
        emails = {p.email for p in plans if p.email}
        phones = {p.phone for p in plans if p.phone}
        refs = {p.data["external_ref"] for p in plans if p.data.get("external_ref")}
        sources = {p.data.get("external_source", "") for p in plans if p.data.get("external_ref")}
        known = cls()
        columns = ("pk", "email", "phone", "external_source", "external_ref")
        if emails:
            for pk, email, _phone, source, ref in Contact.objects.filter(email__in=emails).values_list(*columns):
                known.by_email[email] = (pk, source, ref)
        if phones:
            for pk, _email, phone, source, ref in Contact.objects.filter(phone__in=phones).values_list(*columns):
                known.by_phone[phone] = (pk, source, ref)
        if refs:
            for pk, _email, _phone, source, ref in Contact.objects.filter(
                    external_ref__in=refs, external_source__in=sources).values_list(*columns):
                known.by_ref[(source, ref)] = pk
        return known

    def absorb(self, other: Known) -> None:
        self.by_email.update(other.by_email)
        self.by_phone.update(other.by_phone)
        self.by_ref.update(other.by_ref)

    def remember(self, contact: Contact) -> None:
        entry = (contact.pk, contact.external_source, contact.external_ref)
        if contact.email:
            self.by_email[contact.email] = entry
        if contact.phone:
            self.by_phone[contact.phone] = entry
        if contact.external_ref:
            self.by_ref[(contact.external_source, contact.external_ref)] = contact.pk

    def is_new(self, plan: RowPlan) -> bool:
        """No contact in the database has this row's email, phone or reference."""
        ref = plan.data.get("external_ref")
        return not ((plan.email and plan.email in self.by_email) or (plan.phone and plan.phone in self.by_phone)
                    or (ref and (plan.data.get("external_source", ""), ref) in self.by_ref))

    def settle(self, plan: RowPlan) -> None:
        """Decide what the row may write given who it matches: defaults only for new
        contacts, and a reference only where it would not overwrite or collide with another."""
        data = plan.data
        email, phone = plan.email, plan.phone
        if (data.get("email") and not email) or (data.get("phone") and not phone):
            return  # the upsert rejects the row and names the field
        ref = data.get("external_ref")
        ref_owner = self.by_ref.get((data.get("external_source", ""), ref)) if ref else None
        match = self.by_email.get(email) if email else None
        match = match or (self.by_phone.get(phone) if phone else None)
        if match is None:
            if ref_owner is None:
                data.update(plan.defaults)  # a new contact: the mapping's defaults apply
            return
        pk, their_source, their_ref = match
        if ref and (ref_owner not in (None, pk) or (their_ref and (their_source, their_ref) != (data["external_source"], ref))):
            # The contact found by email/phone has another reference (or ours belongs to someone else):
            # keep theirs, as contact_upsert keeps an existing email or phone.
            data.pop("external_ref", None)
            data.pop("external_source", None)


@dataclass
class ChunkOutcome:
    rows: int = 0
    created: int = 0
    updated: int = 0
    skipped: int = 0
    failed: int = 0
    errors: list[dict[str, Any]] = field(default_factory=list)
    touched: set[int] = field(default_factory=set)  # to be scored after the last chunk
    scored: set[int] = field(default_factory=set)  # new contacts inserted scored
    consents: dict[int, dict[str, bool]] = field(default_factory=dict)  # ticked consent columns, by contact id
    opt_outs: dict[int, dict[str, bool]] = field(default_factory=dict)  # opt-out columns said yes, by contact id
    warnings: list[dict[str, Any]] = field(default_factory=list)  # cells left out of imported rows
    empty: list[int] = field(default_factory=list)  # numbers of the empty rows skipped (listed in the bad-row report)


def _interaction_external_id(contact_id: int, key: str) -> str:
    """Stable across re-imports of the same data (whatever the job): the contact plus
    column, kind and date, hashed to fit the column."""
    return "import:" + hashlib.sha1(f"{contact_id}|{key}".encode()).hexdigest()


def _fail(outcome: ChunkOutcome, number: int, cells: Sequence[Any], reason: str) -> None:
    outcome.failed += 1
    outcome.errors.append({"row": number, "values": [cell_text(c) for c in cells], "reason": reason})


def _identities(plan: RowPlan) -> set[tuple[str, Any]]:
    ids = {("email", plan.email), ("phone", plan.phone)}
    if plan.data.get("external_ref"):
        ids.add(("ref", (plan.data.get("external_source", ""), plan.data["external_ref"])))
    return {i for i in ids if i[1]}


def _split_new(plans: list[RowPlan], known: Known) -> tuple[list[RowPlan], list[RowPlan]]:
    """Rows that are certainly new people (no match in the database, no other row of the
    chunk shares an identity with them), and the rest, in file order."""
    new, rest, seen = [], [], set()
    for plan in plans:
        identities = _identities(plan)
        if known.is_new(plan) and not identities & seen:
            new.append(plan)
        else:
            rest.append(plan)
        seen |= identities
    return new, rest


def _create_new(compiled: Compiled, plans: list[RowPlan], known: Known, by, outcome: ChunkOutcome,
                cells_of: Mapping[int, Sequence[Any]]) -> list[RowPlan]:
    """Insert brand-new contacts (and their interactions) in a few statements instead of a few per row.

    This is contact_upsert's create path in bulk: the same clean_contact_data and contact_new,
    so a new contact is stored exactly as contact_upsert would store it; a test imports one
    file into an empty database and again over existing contacts, and compares. Rows that fail validation are reported.
    The insert is set-based (contacts.imports.staging); a row whose email, phone or reference a concurrent
    writer took meanwhile is handed back to the row-by-row path, which merges it like any upsert."""
    contacts: list[Contact] = []
    ready: list[RowPlan] = []
    for plan in plans:
        try:
            # A new contact: the mapping's defaults apply (plan.data stays as it was, for a hand-back).
            contact = contact_new(clean_contact_data({**plan.data, **plan.defaults}))
        except ValidationError as exc:
            _fail(outcome, plan.number, cells_of[plan.number], compiled.reason(exc))
            continue
        if plan.interactions:
            contact.last_interaction_at = max(when for _spec, when, _key, _raw in plan.interactions)
        contacts.append(contact)
        ready.append(plan)
    if not contacts:
        return []
    # Rows without interactions are scored now and inserted scored; the rest after the chunk, with them.
    now = timezone.now()
    # Scored with the consent flags the row ticks; they are inserted unset and contacts.services.consent sets them
    # (with the job as evidence) in the same transaction, at the end of the chunk.
    ticked = [(c, plan.consents) for c, plan in zip(contacts, ready, strict=True) if plan.consents]
    for contact, consents in ticked:
        for name, value in consent_values_after(contact, consents, fill=True).items():
            setattr(contact, name, value)
    moves = scoring_tasks.new_contacts_score((c for c, plan in zip(contacts, ready, strict=True) if not plan.interactions), now=now)
    for contact, _consents in ticked:
        for name in CONSENT_FIELDS:
            setattr(contact, name, Contact._meta.get_field(name).default)
    try:
        with transaction.atomic():
            refused = {id(contact) for contact in contacts_insert_staged(contacts)}
            if refused:  # someone else wrote one of these identities meanwhile: those go row by row
                handed_back = [plan for contact, plan in zip(contacts, ready, strict=True) if id(contact) in refused]
                kept = [(contact, plan) for contact, plan in zip(contacts, ready, strict=True) if id(contact) not in refused]
                contacts, ready = [c for c, _p in kept], [p for _c, p in kept]
                moves = [move for move in moves if id(move[0]) not in refused]
            else:
                handed_back = []
            if contacts:
                contacts_created.send(sender=Contact, contact_ids=[contact.pk for contact in contacts])
            scoring_tasks.new_contacts_record_moves(moves, now=now)
            interactions_logged.send(sender=Interaction, interactions=Interaction.objects.bulk_create([
                Interaction(contact_id=contact.pk, kind_id=compiled.kind_for(spec, contact.industry), occurred_at=when, channel=spec.channel,
                            data={"import_column": spec.column, "value": raw}, source=compiled.source,
                            external_id=_interaction_external_id(contact.pk, key), created_by=by)
                for contact, plan in zip(contacts, ready, strict=True) for spec, when, key, raw in plan.interactions
            ], batch_size=500))
            tags_add((contact.pk, plan.data["tags"]) for contact, plan in zip(contacts, ready, strict=True)
                     if plan.data.get("tags"))
    except IntegrityError:
        return ready  # refused by another constraint: the row-by-row path names the row
    for contact, plan in zip(contacts, ready, strict=True):
        known.remember(contact)
        if plan.consents:
            outcome.consents[contact.pk] = plan.consents
        if plan.opt_outs:
            outcome.opt_outs[contact.pk] = plan.opt_outs
        outcome.warnings.extend(plan.warnings)
        if plan.interactions:
            outcome.touched.add(contact.pk)
        elif contact.scored_at is not None:
            outcome.scored.add(contact.pk)
    outcome.created += len(contacts)
    return handed_back


def import_rows(compiled: Compiled, rows: list[tuple[int, list[Any]]], by) -> ChunkOutcome:
    outcome = ChunkOutcome(rows=len(rows))
    now = timezone.now()
    cells_of = dict(rows)
    plans: list[RowPlan] = []
    for number, cells in rows:
        if all(is_blank(c) for c in cells):
            outcome.skipped += 1
            outcome.empty.append(number)
            continue
        try:
            plans.append(compiled.plan(number, cells, now))
        except RowError as exc:
            _fail(outcome, number, cells, str(exc))
    known = Known.load(plans)
    new, rest = _split_new(plans, known)
    handed_back = _create_new(compiled, new, known, by, outcome, cells_of)
    if handed_back:
        # Someone else (another runner of this job, another writer) created these people since the
        # lookup: look them up again, so they are settled as the existing contacts they now are.
        known.absorb(Known.load(handed_back))
        rest = sorted(rest + handed_back, key=lambda plan: plan.number)
    for plan in rest:
        known.settle(plan)
        try:
            # A savepoint per row with interactions, so the contact and its interactions go in together;
            # contact_upsert has its own, so a row the database refuses never takes its neighbours with it.
            with transaction.atomic() if plan.interactions else nullcontext():
                result = contact_upsert(data=plan.data, by=by, rescore=False)
                new_interactions = 0
                for spec, when, key, raw in plan.interactions:
                    logged = interaction_log(
                        contact=result.contact, kind=compiled.kind_for(spec, result.contact.industry), occurred_at=when, channel=spec.channel,
                        data={"import_column": spec.column, "value": raw}, source=compiled.source,
                        external_id=_interaction_external_id(result.contact.pk, key), by=by, rescore=False,
                        audited=False,  # the import job is audited as a whole
                    )
                    new_interactions += logged.created
        except ValidationError as exc:
            _fail(outcome, plan.number, cells_of[plan.number], compiled.reason(exc))
            continue
        except (IntegrityError, DataError) as exc:
            log.info("Import row %s refused by the database (%s).", plan.number, type(exc).__name__)
            _fail(outcome, plan.number, cells_of[plan.number],
                  _("The database refused the row (an email, phone or reference that belongs to another contact?)."))
            continue
        known.remember(result.contact)
        outcome.warnings.extend(plan.warnings)
        if plan.opt_outs:
            outcome.opt_outs[result.contact.pk] = {**outcome.opt_outs.get(result.contact.pk, {}), **plan.opt_outs}
        consent_changes = []
        if plan.consents:
            outcome.consents[result.contact.pk] = {**outcome.consents.get(result.contact.pk, {}), **plan.consents}
            consent_changes = consent_flags_changes(result.contact, plan.consents, fill=True)
        if result.created:
            outcome.created += 1
        elif result.changed or new_interactions or consent_changes:
            outcome.updated += 1
        else:
            outcome.skipped += 1
        if result.created or result.changed or new_interactions:
            outcome.touched.add(result.contact.pk)
    if outcome.consents:
        changed = consents_import(ticked=outcome.consents, job=compiled.job, by=by)
        outcome.touched |= changed - outcome.scored  # those inserted scored were scored with these flags
    if outcome.opt_outs:
        _opt_outs_record(outcome.opt_outs, job=compiled.job, by=by)
    outcome.errors.sort(key=lambda error: error["row"])
    outcome.warnings.sort(key=lambda warning: warning["row"])
    return outcome


def _opt_outs_record(opt_outs: Mapping[int, Mapping[str, bool]], *, job: ImportJob | None, by) -> None:
    """Opt-out columns ("Do Not Email: yes"): each consent withdrawn through the consent
    service, with the import job as evidence, recorded even when the flag was already off
    (the file is the evidence). The service rescores the contacts whose flags changed.
    This is the importer's one call into consent for opt-outs."""
    for pk, flags in sorted(opt_outs.items()):
        try:
            consent_flags_set(contact=Contact(pk=pk), flags=flags, source="import", by=by, import_job=job,
                              record_unchanged=True)
        except ValidationError:
            log.info("Import opt-out skipped for contact %s (anonymised).", pk)
