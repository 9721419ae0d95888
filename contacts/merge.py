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
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from difflib import SequenceMatcher
from typing import Any

from django.apps import apps
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.db.models import Count, QuerySet
from django.forms.models import model_to_dict
from django.utils import timezone
from django.utils.text import capfirst
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, gettext_noop, ngettext

from contacts.imports.mapping import ROW_REF_PREFIX
from contacts.models import ConsentRecord, Contact, ContactMerge, Note
from contacts.services import BOOLEAN_FIELDS, note_add, queue_rescore
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


_NUMBER = re.compile(r"\d+")


def _numbered_apart(ka: str, kb: str) -> bool:
    """Both names carry numbers and the numbers differ ("Orang 1" / "Orang 2", "Peserta 12" / "Peserta 13"):
    numbered placeholder names, not one person typed twice."""
    na, nb = _NUMBER.findall(ka), _NUMBER.findall(kb)
    return bool(na and nb) and sorted(na) != sorted(nb)


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
                if _numbered_apart(ka, kb):
                    continue
                score = key_similarity(ka, kb)
                if score >= NAME_SIMILARITY:
                    add(a, b, "name", round(score, 3))
    return found


_EVIDENCE = {"email": 0, "reference": 1, "name": 2}


def duplicate_ids_ranked(*, queryset: QuerySet[Contact]) -> list[tuple[tuple[int, int], tuple[str, float]]]:
    """Every probable duplicate pair among `queryset` as ids, strongest evidence first: the same
    mailbox, then the same record id, then the same name at the same company, then similar names
    (most alike first). Three narrow queries; nothing is loaded but ids, names and keys."""
    candidates = _candidate_ids(queryset)
    return sorted(candidates.items(), key=lambda item: (_EVIDENCE[item[1][0]], -item[1][1], item[0]))


def duplicate_pairs_load(ranked: list[tuple[tuple[int, int], tuple[str, float]]]) -> list[DuplicatePair]:
    """The pairs of `ranked` (a slice of duplicate_ids_ranked: one page) with both contacts loaded
    (and their interaction counts) in one query."""
    ids = {pk for pair, _info in ranked for pk in pair}
    contacts = {c.pk: c for c in Contact.objects.filter(pk__in=ids).select_related("owner").annotate(
        interaction_count=Count("interactions", distinct=True))}
    return [DuplicatePair(contacts[a], contacts[b], reason, similarity)
            for (a, b), (reason, similarity) in ranked if a in contacts and b in contacts]


def duplicates_find(*, queryset: QuerySet[Contact], limit: int = 100) -> list[DuplicatePair]:
    """The `limit` strongest probable duplicate pairs among `queryset`, contacts loaded."""
    return duplicate_pairs_load(duplicate_ids_ranked(queryset=queryset)[:limit])


# --- Merging ------------------------------------------------------------------------

# The fields a merge lets the user choose (the other record's value or the kept one's); consent flags are never a
# choice (see _consent_carried), attributes are united, dates take the earliest/latest. Choosing external_ref takes
# that record's external_source with it.
MERGE_FIELDS = (
    "full_name", "email", "phone", "social_handle", "company", "job_title", "city", "industry",
    "source", "utm_source", "utm_medium", "utm_campaign", "external_ref", "owner",
)
_ATTNAME = {"owner": "owner_id"}


def _value(contact: Contact, name: str) -> Any:
    return getattr(contact, _ATTNAME.get(name, name))


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def _snapshot(contact: Contact) -> dict[str, Any]:
    data = model_to_dict(contact, exclude=["tags", "score_breakdown"])
    data.update(id=contact.pk, tags=sorted(t.name for t in contact.tags.all()), created_at=contact.created_at,
                stage_changed_at=contact.stage_changed_at, last_interaction_at=contact.last_interaction_at,
                first_contacted_at=contact.first_contacted_at)
    return json.loads(json.dumps(data, cls=DjangoJSONEncoder))


def _fields_of(contact: Contact, names) -> dict[str, Any]:
    data = {name: _value(contact, name) if name in _ATTNAME else getattr(contact, name) for name in names}
    return json.loads(json.dumps(data, cls=DjangoJSONEncoder))


def _assign(contact: Contact, data: Mapping[str, Any]) -> None:
    """Set the fields named in `data` (a _snapshot / _fields_of dict) on `contact`."""
    for field in Contact._meta.concrete_fields:
        if field.name in data and not field.primary_key:
            setattr(contact, field.attname, data[field.name])


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


def _default_side(name: str, kept: Contact, merged: Contact) -> str:
    """Which record's value a merge keeps when the user does not choose: the kept one's, unless it is blank
    (for industry: "other"; for the reference: none) and the other's is not."""
    mine, theirs = _value(kept, name), _value(merged, name)
    if name == "industry":
        return "merged" if mine == "other" and theirs != "other" else "kept"
    return "merged" if mine in (None, "") and theirs not in (None, "") else "kept"


def _fill(kept: Contact, merged: Contact) -> set[str]:
    """Blanks of the kept contact filled from the other (consent flags: _consent_carried)."""
    changed: set[str] = set()
    for name in MERGE_FIELDS:
        if _default_side(name, kept, merged) == "merged":
            changed |= _take(kept, merged, name)
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


def _take(kept: Contact, source: Contact, name: str) -> set[str]:
    """Give `kept` the value of `source` for one of MERGE_FIELDS; the field names that changed."""
    names = ("external_source", "external_ref") if name == "external_ref" else (name,)
    changed = set()
    for each in names:
        if _value(kept, each) != _value(source, each):
            setattr(kept, _ATTNAME.get(each, each), _value(source, each))
            changed.add(each)
    return changed


def merge_choices_clean(*, kept: Contact, merged: Contact, choices: Mapping[str, Any]) -> dict[str, str]:
    """Which record each chosen field comes from ("kept" or "merged"). A field that is not one of MERGE_FIELDS,
    or a value that is neither record's, is a ValidationError naming the field."""
    errors: dict[str, str] = {}
    sides: dict[str, str] = {}
    for name, value in choices.items():
        if name not in MERGE_FIELDS:
            errors[name] = _("%(field)s: this field cannot be chosen in a merge.") % {"field": name}
        elif _text(value) == _text(_value(kept, name)):
            sides[name] = "kept"
        elif _text(value) == _text(_value(merged, name)):
            sides[name] = "merged"
        else:
            errors[name] = _("%(field)s: choose the value of one of the two contacts.") % {
                "field": capfirst(Contact._meta.get_field(name).verbose_name)}
    if errors:
        raise ValidationError(errors)
    return sides


def _relations() -> list:
    return [r for r in Contact._meta.related_objects if r.one_to_many]


def _move_related(merged: Contact, kept: Contact) -> tuple[dict[str, int], dict[str, list[int]]]:
    """Point every row that belongs to `merged` (interactions, notes, stage changes, consent
    records, earlier merges, and whatever other apps add) at `kept`. Returns the counts by model
    name and the moved ids by "app_label.model.field" (for undo)."""
    moved: dict[str, int] = {}
    ids_moved: dict[str, list[int]] = {}
    for relation in _relations():
        manager = relation.related_model._default_manager
        ids = list(manager.filter(**{relation.field.name: merged}).values_list("pk", flat=True))
        if ids:
            manager.filter(pk__in=ids).update(**{relation.field.name: kept})
            moved[relation.related_model._meta.model_name] = len(ids)
            ids_moved[f"{relation.related_model._meta.label_lower}.{relation.field.name}"] = ids
    kept.tags.add(*merged.tags.all())
    return moved, ids_moved


@dataclass(frozen=True)
class FieldChoice:
    """One field of a merge preview: both values and the side the merge takes by default."""

    name: str
    label: str
    kept_value: Any
    merged_value: Any
    default: str  # "kept" or "merged"
    kept_raw: str = ""  # the values as a form posts them (contacts_merge's `choices`)
    merged_raw: str = ""

    @property
    def differs(self) -> bool:
        return self.kept_raw != self.merged_raw


@dataclass(frozen=True)
class MergePreview:
    kept: Contact
    merged: Contact
    fields: list[FieldChoice]
    consent: dict[str, bool]  # the kept contact's consent flags after the merge
    moving: list[tuple[str, int]]  # (plural label, count) of the rows that move to the kept contact
    different_emails: bool
    already: ContactMerge | None = None


def merge_preview(*, kept: Contact, merged: Contact) -> MergePreview:
    """What contacts_merge(kept=kept, merged=merged) would do with no choices: every choosable field with both
    values and the default, the consent the kept contact ends with, and what moves (counts)."""
    fields = []
    for name in MERGE_FIELDS:
        field = Contact._meta.get_field(name)
        display = (lambda c, f=field: getattr(c, f.name)) if name == "owner" else (
            (lambda c, n=name: getattr(c, f"get_{n}_display")()) if field.choices else (lambda c, n=name: getattr(c, n)))
        fields.append(FieldChoice(name, str(field.verbose_name), display(kept), display(merged),
                                  _default_side(name, kept, merged), _text(_value(kept, name)), _text(_value(merged, name))))
    carried = _consent_carried(kept, merged)
    consent = {name: bool(getattr(kept, name)) or name in carried for name in BOOLEAN_FIELDS}
    moving = []
    for relation in _relations():
        count = relation.related_model._default_manager.filter(**{relation.field.name: merged}).count()
        if count:
            moving.append((str(relation.related_model._meta.verbose_name_plural), count))
    return MergePreview(kept, merged, fields, consent, sorted(moving),
                        different_emails=bool(kept.email and merged.email and email_key(kept.email) != email_key(merged.email)))


@transaction.atomic
def contacts_merge(*, kept: Contact, merged: Contact, by=None, choices: Mapping[str, Any] | None = None) -> ContactMerge:
    """Fold `merged` into `kept`: nothing is lost (every interaction, note, stage change and
    consent record moves over, blanks are filled), the merge is recorded with a snapshot of
    the removed contact and what undo needs, and the kept contact is rescored. `choices` maps
    fields of MERGE_FIELDS to the value to keep (one of the two records' values); the others
    follow the defaults (the kept record's value, else the other's non-empty one)."""
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
    sides = merge_choices_clean(kept=kept, merged=merged, choices=choices or {})
    before = _snapshot(kept)
    snapshot = _snapshot(merged)
    carried = _consent_carried(kept, merged)
    tags_added = sorted({t.name for t in merged.tags.all()} - {t.name for t in kept.tags.all()})
    moved, ids_moved = _move_related(merged, kept)
    changed = _fill(kept, merged)
    for name, side in sides.items():
        if side == "merged":
            changed |= _take(kept, merged, name)
            continue
        for each in ("external_source", "external_ref") if name == "external_ref" else (name,):  # the kept one's value
            if each in changed:
                setattr(kept, _ATTNAME.get(each, each), before[each])
                changed.discard(each)
    merged_id, merged_name = merged.pk, merged.display_name
    merged.delete()  # first: its email, phone and reference are unique and may now move to `kept`
    if changed:
        kept.save(update_fields=[*sorted(changed), "updated_at"])
    undo_data = {"kept_id": kept.pk, "moved": ids_moved, "tags_added": tags_added,
                 "kept_before": {name: before[name] for name in changed},
                 "kept_after": _fields_of(kept, changed),
                 "opt_ins_carried": sorted(name for name in carried if name.startswith("consent_"))}
    record = ContactMerge.objects.create(kept=kept, merged_contact_id=merged_id, merged_snapshot=snapshot, merged_by=by,
                                         undo_data=undo_data)
    if carried:
        consent_flags_set(contact=kept, flags=carried, fill=True, source="merge", by=by)
        changed |= set(carried)
    # Stored as a message id and parameters (what moved by model label), read in the viewer's language.
    counts: dict[str, int] = {}
    for key, ids in ids_moved.items():
        counts[key.rsplit(".", 1)[0]] = counts.get(key.rsplit(".", 1)[0], 0) + len(ids)
    note_add(contact=kept, author=by, kind=Note.Kind.SYSTEM,
             message=gettext_noop("Merged contact #%(id)d (%(name)s) into this one: %(moved)s."),
             params={"id": merged_id, "name": merged_name, "moved": [[label, n] for label, n in sorted(counts.items())]})
    audit(by, "merge", kept, merged_id=merged_id, moved=moved, filled=sorted(changed), chosen=sorted(sides))
    queue_rescore([kept.pk])
    return record


def merge_ids(*, keep_id: int, merge_id: int, queryset: QuerySet[Contact], by=None,
              choices: Mapping[str, Any] | None = None) -> ContactMerge:
    """Merge by ids, both looked up in what the user may see."""
    contacts = {c.pk: c for c in queryset.filter(pk__in=[keep_id, merge_id])}
    if keep_id not in contacts or merge_id not in contacts:
        raise ValidationError(_("One of the contacts no longer exists (merged already?)."))
    return contacts_merge(kept=contacts[keep_id], merged=contacts[merge_id], by=by, choices=choices)


def merge_of(merged_id: int) -> ContactMerge | None:
    """The merge that removed contact `merged_id`, if any (the latest not undone)."""
    return ContactMerge.objects.filter(merged_contact_id=merged_id, undone_at__isnull=True).select_related("kept").first()


# --- Undo ---------------------------------------------------------------------------

def merge_undo_refusal(record: ContactMerge, *, now=None) -> str | None:
    """Why `record` cannot be undone (a sentence for the user), or None when it can."""
    now = now or timezone.now()
    hours = settings.CRM_MERGE_UNDO_HOURS
    if record.undone_at is not None:
        return _("This merge has already been undone.")
    if not record.undo_data or not record.merged_snapshot:
        return _("This merge cannot be undone: it was made before undo existed, or the contact has been erased since.")
    if now > record.merged_at + timedelta(hours=hours):
        return ngettext("A merge can be undone for %(hours)d hour; this one is older.",
                        "A merge can be undone for %(hours)d hours; this one is older.", hours) % {"hours": hours}
    if record.kept_id != record.undo_data.get("kept_id"):
        return _("This merge cannot be undone: the kept contact has since been merged into another one.")
    kept = Contact.objects.filter(pk=record.kept_id).first()
    if kept is None or is_anonymised(kept):
        return _("This merge cannot be undone: the kept contact has been erased since.")
    if ContactMerge.objects.filter(kept_id=record.kept_id, undone_at__isnull=True, merged_at__gt=record.merged_at).exists():
        return _("This merge cannot be undone: another contact has been merged into the kept one since; undo that first.")
    return None


def merges_undoable(*, kept: Contact) -> list[ContactMerge]:
    """The merges into `kept` that can still be undone (newest first; only the newest can be, see merge_undo_refusal)."""
    since = timezone.now() - timedelta(hours=settings.CRM_MERGE_UNDO_HOURS)
    recent = ContactMerge.objects.filter(kept=kept, undone_at__isnull=True, merged_at__gte=since)[:1]
    return [record for record in recent if merge_undo_refusal(record) is None]


@transaction.atomic
def merge_undo(*, record: ContactMerge, by=None) -> Contact:
    """Undo a merge within CRM_MERGE_UNDO_HOURS: recreate the merged contact from the snapshot (same id, fields,
    consent flags, tags), move back the rows that moved to the kept contact (by id), put back the kept contact's
    values the merge filled (unless edited since), take back the tags and opt-ins it gained, audit it. Returns
    the restored contact. A refusal is a ValidationError saying why."""
    record = ContactMerge.objects.select_for_update().get(pk=record.pk)
    refusal = merge_undo_refusal(record)
    if refusal:
        raise ValidationError(refusal)
    kept = Contact.objects.select_for_update().get(pk=record.kept_id)
    data, snapshot = record.undo_data, record.merged_snapshot
    # The kept contact's filled values go back first (the merged contact's unique email/phone may be among them).
    after, now_values = data.get("kept_after", {}), _fields_of(kept, data.get("kept_before", {}))
    restore = {name: value for name, value in data.get("kept_before", {}).items() if now_values.get(name) == after.get(name)}
    if restore:
        _assign(kept, restore)
        kept.save(update_fields=[*sorted(restore), "updated_at"])
    for name in ("email", "phone"):
        if snapshot.get(name) and Contact.objects.filter(**{name: snapshot[name]}).exists():
            raise ValidationError({name: _("This merge cannot be undone: the %(field)s %(value)s now belongs to another "
                                           "contact.") % {"field": Contact._meta.get_field(name).verbose_name,
                                                          "value": snapshot[name]}})
    if snapshot.get("external_ref") and Contact.objects.filter(
            external_source=snapshot.get("external_source", ""), external_ref=snapshot["external_ref"]).exists():
        raise ValidationError({"external_ref": _("This merge cannot be undone: its record ID now belongs to another contact.")})
    merged = Contact(pk=snapshot["id"])
    _assign(merged, snapshot)
    merged.needs_rescore = True
    merged.save(force_insert=True)
    merged.tags.set([t for t in kept.tags.all() if t.name in snapshot.get("tags", [])])
    for key, ids in data.get("moved", {}).items():
        label, field_name = key.rsplit(".", 1)
        apps.get_model(label)._default_manager.filter(pk__in=ids, **{field_name: kept}).update(**{field_name: merged})
    kept.tags.remove(*[t for t in kept.tags.all() if t.name in data.get("tags_added", [])])
    opt_ins = data.get("opt_ins_carried", [])
    if opt_ins:
        consent_flags_set(contact=kept, flags={name: False for name in opt_ins}, source="merge undone", by=by)
    record.undone_at, record.undone_by = timezone.now(), by
    record.save(update_fields=["undone_at", "undone_by"])
    for contact, message in ((kept, gettext_noop("Undid the merge of contact #%(id)d into this one.")),
                             (merged, gettext_noop("Restored from the merge into contact #%(kept)d (merge undone)."))):
        note_add(contact=contact, author=by, kind=Note.Kind.SYSTEM, message=message, params={"id": merged.pk, "kept": kept.pk})
    audit(by, "merge_undo", kept, merged_id=merged.pk, restored=sorted(restore), moved_back={
        key.split(".")[1]: len(ids) for key, ids in data.get("moved", {}).items()})
    queue_rescore([kept.pk, merged.pk])
    return merged
