"""Probable duplicates and merging them.

Email and phone are unique and normalised, so exact duplicates cannot exist; what slips
through are variants of one address (Gmail ignores dots and "+tags"), one record id held
under two sources, and one person typed twice at the same company ("Budi Santoso" and
"Budi Santoso, S.Kom"). The finder blocks by email key, reference and company so it never
compares every contact with every other.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections import defaultdict
from dataclasses import dataclass
from difflib import SequenceMatcher
from typing import Any

from django.core.exceptions import ValidationError
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.db.models import Count, QuerySet
from django.forms.models import model_to_dict
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from contacts.imports.mapping import ROW_REF_PREFIX
from contacts.models import ConsentRecord, Contact, ContactMerge, Note
from contacts.services import BOOLEAN_FIELDS, CONTACT_FIELDS, note_add, queue_rescore
from contacts.services.consent import consent_flags_set, is_anonymised
from crm.audit import audit

NAME_SIMILARITY = 0.9
BLOCK_WINDOW = 25  # in a very large company block, compare each name with its neighbours in sorted order only
REASONS = {
    "email": gettext_lazy("Same email address written differently"),
    "reference": gettext_lazy("Same record ID from another source"),
    "name": gettext_lazy("Very similar name at the same company"),
}
_GMAIL = {"gmail.com", "googlemail.com"}
_COMPANY_FORMS = re.compile(r"\b(pt|cv|tbk|persero|ud|pd|yayasan|inc|ltd|llc|co|corp|company|group)\b")
_TITLES = re.compile(r"\b(bapak|bpk|pak|ibu|bu|sdr|sdri|dr|drs|dra|ir|prof|h|hj|mr|mrs|ms|s ?kom|s ?e|s ?h|s ?t|s ?pd|m ?m|mba|phd)\b")


def email_key(email: str) -> str:
    """One key per mailbox: lowercased, "+tag" dropped, and for Gmail dots dropped too."""
    local, _at, domain = (email or "").strip().lower().partition("@")
    local = local.split("+", 1)[0]
    if domain in _GMAIL:
        local, domain = local.replace(".", ""), "gmail.com"
    return f"{local}@{domain}"


def _ascii(text: str) -> str:
    text = unicodedata.normalize("NFKD", text or "").encode("ascii", "ignore").decode().lower()
    return re.sub(r"[^a-z0-9]+", " ", text).strip()


def company_key(company: str) -> str:
    return " ".join(_COMPANY_FORMS.sub(" ", _ascii(company)).split())


def name_key(name: str) -> str:
    """Lowercase ASCII words without honorifics and degrees, sorted (so word order does not matter)."""
    return " ".join(sorted(_TITLES.sub(" ", _ascii(name)).split()))


def key_similarity(ka: str, kb: str) -> float:
    """How alike two name keys are (1.0 for the same key)."""
    return 1.0 if ka == kb else SequenceMatcher(None, ka, kb).ratio()


def name_similarity(a: str, b: str) -> float:
    ka, kb = name_key(a), name_key(b)
    return key_similarity(ka, kb) if ka and kb else 0.0


@dataclass(frozen=True)
class DuplicatePair:
    first: Contact
    second: Contact
    reason: str
    similarity: float

    @property
    def reason_label(self) -> str:
        return str(REASONS[self.reason])


def _candidate_ids(queryset: QuerySet[Contact]) -> dict[tuple[int, int], tuple[str, float]]:
    found: dict[tuple[int, int], tuple[str, float]] = {}

    def add(a: int, b: int, reason: str, similarity: float) -> None:
        key = (min(a, b), max(a, b))
        if key not in found:
            found[key] = (reason, similarity)

    groups: dict[str, list[int]] = defaultdict(list)
    for pk, email in queryset.filter(email__isnull=False).values_list("pk", "email").iterator(chunk_size=5000):
        groups[email_key(email)].append(pk)
    for ids in groups.values():
        for other in ids[1:]:
            add(ids[0], other, "email", 1.0)

    refs: dict[str, list[int]] = defaultdict(list)
    rows = queryset.filter(external_ref__isnull=False).exclude(external_ref__startswith=ROW_REF_PREFIX)
    for pk, ref in rows.values_list("pk", "external_ref").iterator(chunk_size=5000):
        refs[ref.strip().lower()].append(pk)
    for ids in refs.values():
        for other in ids[1:]:
            add(ids[0], other, "reference", 1.0)

    blocks: dict[str, list[tuple[str, int]]] = defaultdict(list)
    rows = queryset.exclude(company="").exclude(full_name="").values_list("pk", "full_name", "company")
    for pk, full_name, company in rows.iterator(chunk_size=5000):
        if (ckey := company_key(company)) and (nkey := name_key(full_name)):
            blocks[ckey].append((nkey, pk))
    for members in blocks.values():
        if len(members) < 2:
            continue
        members.sort()
        for i, (ka, a) in enumerate(members):
            for kb, b in members[i + 1: i + 1 + BLOCK_WINDOW]:
                score = key_similarity(ka, kb)
                if score >= NAME_SIMILARITY:
                    add(a, b, "name", round(score, 3))
    return found


def duplicates_find(*, queryset: QuerySet[Contact], limit: int = 100) -> list[DuplicatePair]:
    """Probable duplicate pairs among `queryset`, strongest first, with both contacts loaded
    (and their interaction counts) in one query."""
    candidates = _candidate_ids(queryset)
    order = {"email": 0, "reference": 1, "name": 2}
    ranked = sorted(candidates.items(), key=lambda item: (order[item[1][0]], -item[1][1], item[0]))[:limit]
    ids = {pk for pair, _info in ranked for pk in pair}
    contacts = {c.pk: c for c in Contact.objects.filter(pk__in=ids).select_related("owner").annotate(
        interaction_count=Count("interactions", distinct=True))}
    return [DuplicatePair(contacts[a], contacts[b], reason, similarity)
            for (a, b), (reason, similarity) in ranked if a in contacts and b in contacts]


# --- Merging ------------------------------------------------------------------------

def _snapshot(contact: Contact) -> dict[str, Any]:
    data = model_to_dict(contact, exclude=["tags", "score_breakdown"])
    data.update(id=contact.pk, tags=sorted(t.name for t in contact.tags.all()), created_at=contact.created_at,
                stage_changed_at=contact.stage_changed_at, last_interaction_at=contact.last_interaction_at,
                first_contacted_at=contact.first_contacted_at)
    return json.loads(json.dumps(data, cls=DjangoJSONEncoder))


def _withdrawn(contact: Contact, channel: str) -> bool:
    """The kept contact's latest consent record for the channel says no."""
    latest = ConsentRecord.objects.filter(contact=contact, channel=channel).order_by("-recorded_at", "-id").first()
    return latest is not None and not latest.granted


def _consent_carried(kept: Contact, merged: Contact) -> dict[str, bool]:
    """The consent flags the kept contact takes over (applied through contacts.services.consent, with
    evidence): the restrictive ones always win; an opt-in carries over unless the kept
    contact explicitly withdrew it."""
    flags: dict[str, bool] = {}
    for name in ("do_not_contact", "objects_to_profiling"):
        if getattr(merged, name) and not getattr(kept, name):
            flags[name] = True
    for channel in ("email", "whatsapp", "sms"):
        name = f"consent_{channel}"
        if getattr(merged, name) and not getattr(kept, name) and not _withdrawn(kept, channel):
            flags[name] = True
    return flags


def _fill(kept: Contact, merged: Contact) -> set[str]:
    """Blanks of the kept contact filled from the other (consent flags: _consent_carried)."""
    changed: set[str] = set()
    for name in CONTACT_FIELDS:
        if name in BOOLEAN_FIELDS or name in ("external_source", "external_ref", "industry"):
            continue
        if getattr(kept, name) in (None, "") and getattr(merged, name) not in (None, ""):
            setattr(kept, name, getattr(merged, name))
            changed.add(name)
    if kept.industry == "other" and merged.industry != "other":
        kept.industry = merged.industry
        changed.add("industry")
    if not kept.external_ref and merged.external_ref:
        kept.external_source, kept.external_ref = merged.external_source, merged.external_ref
        changed |= {"external_source", "external_ref"}
    if kept.owner_id is None and merged.owner_id is not None:
        kept.owner_id = merged.owner_id
        changed.add("owner")
    merged_attributes = {**merged.attributes, **kept.attributes}
    if merged_attributes != kept.attributes:
        kept.attributes = merged_attributes
        changed.add("attributes")
    for name, pick in (("created_at", min), ("first_contacted_at", min), ("last_interaction_at", max)):
        values = [v for v in (getattr(kept, name), getattr(merged, name)) if v is not None]
        if values and pick(values) != getattr(kept, name):
            setattr(kept, name, pick(values))
            changed.add(name)
    return changed


def _move_related(merged: Contact, kept: Contact) -> dict[str, int]:
    """Point every row that belongs to `merged` (interactions, notes, stage changes, consent
    records, earlier merges, and whatever other apps add) at `kept`."""
    moved = {}
    for relation in Contact._meta.related_objects:
        if relation.one_to_many:
            manager = relation.related_model._default_manager
            count = manager.filter(**{relation.field.name: merged}).update(**{relation.field.name: kept})
            if count:
                moved[relation.related_model._meta.model_name] = count
    kept.tags.add(*merged.tags.all())
    return moved


@transaction.atomic
def contacts_merge(*, kept: Contact, merged: Contact, by=None) -> ContactMerge:
    """Fold `merged` into `kept`: nothing is lost (every interaction, note, stage change and
    consent record moves over, blanks are filled), the merge is recorded with a snapshot of
    the removed contact, and the kept contact is rescored."""
    if kept.pk == merged.pk:
        raise ValidationError(_("A contact cannot be merged with itself."))
    locked = {c.pk: c for c in Contact.objects.select_for_update().filter(pk__in=[kept.pk, merged.pk]).order_by("pk")}
    if len(locked) != 2:
        raise ValidationError(_("One of the contacts no longer exists (merged already?)."))
    kept, merged = locked[kept.pk], locked[merged.pk]
    for role, contact in (("keep", kept), ("merge", merged)):
        if is_anonymised(contact):
            # Merging would put personal data back on an anonymised record, or mark a live one anonymised.
            raise ValidationError({role: _("Contact #%(id)d has been anonymised; it cannot be merged.") % {"id": contact.pk}})
    snapshot = _snapshot(merged)
    carried = _consent_carried(kept, merged)
    moved = _move_related(merged, kept)
    changed = _fill(kept, merged)
    merged_id, merged_name = merged.pk, merged.display_name
    merged.delete()  # first: its email, phone and reference are unique and may now move to `kept`
    if changed:
        kept.save(update_fields=[*sorted(changed), "updated_at"])
    record = ContactMerge.objects.create(kept=kept, merged_contact_id=merged_id, merged_snapshot=snapshot, merged_by=by)
    if carried:
        consent_flags_set(contact=kept, flags=carried, fill=True, source="merge", by=by)
        changed |= set(carried)
    note_add(contact=kept, author=by, kind=Note.Kind.SYSTEM,
             body=_("Merged contact #%(id)d (%(name)s) into this one: %(moved)s.") % {
                 "id": merged_id, "name": merged_name,
                 "moved": ", ".join(f"{n} {name}" for name, n in sorted(moved.items())) or _("nothing to move")})
    audit(by, "merge", kept, merged_id=merged_id, moved=moved, filled=sorted(changed))
    queue_rescore([kept.pk])
    return record


def merge_ids(*, keep_id: int, merge_id: int, queryset: QuerySet[Contact], by=None) -> ContactMerge:
    """Merge by ids, both looked up in what the user may see."""
    contacts = {c.pk: c for c in queryset.filter(pk__in=[keep_id, merge_id])}
    if keep_id not in contacts or merge_id not in contacts:
        raise ValidationError(_("One of the contacts no longer exists (merged already?)."))
    return contacts_merge(kept=contacts[keep_id], merged=contacts[merge_id], by=by)

