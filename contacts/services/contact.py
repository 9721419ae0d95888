"""The contact itself: find by identity, create, upsert (merge into the one with the same
identity), update. Consent flags in the data go through contacts.services.consent."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from contacts.events import contacts_created
from contacts.models import Contact
from contacts.services.consent import FLAG_CHANNELS, consent_flags_set
from contacts.services.normalise import CLEAR, CONSENT_FIELDS, SCORED_FIELDS, clean_contact_data
from contacts.services.owners import contact_assign_owner
from contacts.services.rescore import queue_rescore
from contacts.services.stage import contact_set_stage
from contacts.services.tags import tag_get_or_create
from crm.audit import audit


def _apply(contact: Contact, cleaned: Mapping[str, Any], *, overwrite: bool, fill_only: bool = False) -> set[str]:
    """Copy cleaned values onto the contact. Without overwrite, blanks never replace data
    and existing values are kept for identity fields. With fill_only (an anonymous form
    submission), no field that holds a value is replaced: only blanks are filled."""
    changed: set[str] = set()
    for name, value in cleaned.items():
        if name in ("attributes", "tags", "owner"):
            continue
        if name in CONSENT_FIELDS:
            continue  # contacts.services.consent writes these, with evidence
        current = getattr(contact, name)
        if value in (None, ""):
            if overwrite and current not in (None, ""):
                setattr(contact, name, None if name in ("email", "phone", "external_ref") else "")
                changed.add(name)
            continue
        if name in ("email", "phone", "external_ref") and current and not overwrite:
            continue  # never replace an identity silently
        if name == "external_source" and contact.external_ref and not overwrite:
            continue  # the source belongs to the reference we keep
        if fill_only and not overwrite and current not in (None, ""):
            continue  # someone set this: a fill-only merge leaves it
        if current != value:
            setattr(contact, name, value)
            changed.add(name)
    if cleaned.get("attributes"):
        given = {key: value for key, value in cleaned["attributes"].items() if value is not CLEAR}
        merged = ({**given, **contact.attributes} if fill_only and not overwrite else {**contact.attributes, **given})
        if overwrite:  # an explicit edit clears a custom field given blank
            merged = {key: value for key, value in merged.items() if cleaned["attributes"].get(key) is not CLEAR}
        if merged != contact.attributes:
            contact.attributes = merged
            changed.add("attributes")
    if "owner" in cleaned and (overwrite or contact.owner_id is None) and contact.owner_id != getattr(cleaned["owner"], "pk", cleaned["owner"]):
        contact.owner = cleaned["owner"]
        changed.add("owner")
    return changed


def contact_find(*, email: str | None = None, phone: str | None = None,
                 external_source: str = "", external_ref: str | None = None) -> Contact | None:
    """The existing contact for an identity: email first, then phone, then external reference."""
    if email and (found := Contact.objects.filter(email=email).first()):
        return found
    if phone and (found := Contact.objects.filter(phone=phone).first()):
        return found
    if external_ref and (found := Contact.objects.filter(external_source=external_source, external_ref=external_ref).first()):
        return found
    return None


@dataclass(frozen=True)
class UpsertResult:
    contact: Contact
    created: bool
    changed: frozenset[str]


def contact_upsert(*, data: Mapping[str, Any], by=None, rescore: bool = True, fill_only: bool = False,
                   consent_source: str = "crm", wording_version: str = "") -> UpsertResult:
    """Create a contact, or merge into the one with the same email, phone or external
    reference: new non-empty values fill in, blanks never overwrite. With fill_only, an
    existing contact's non-empty fields are kept too (anonymous landing-page submissions).
    Ticked consent flags (an opt-in, do-not-contact, an objection) are turned on through
    contacts.services.consent with evidence naming `consent_source`; an upsert never turns one off.

    Safe under concurrency: two simultaneous upserts of one email make one contact
    (the unique constraint decides; the loser merges into the winner)."""
    cleaned = clean_contact_data(data)
    if not (cleaned.get("email") or cleaned.get("phone") or cleaned.get("external_ref") or cleaned.get("full_name")):
        raise ValidationError({"email": _("Give at least an email, a phone, a name or an external reference.")})
    for attempt in range(3):
        try:
            with transaction.atomic():
                result = _contact_upsert_once(cleaned, by=by, rescore=rescore, fill_only=fill_only)
                return _upsert_consent(result, cleaned, by=by, source=consent_source, wording_version=wording_version)
        except IntegrityError:
            if attempt == 2:
                raise
            # A concurrent writer created the same identity between our read and insert.
    raise AssertionError("unreachable")


def contact_new(cleaned: Mapping[str, Any]) -> Contact:
    """A new contact from clean_contact_data's output, validated and not saved: contact_upsert's
    create path, and the importer's bulk insert of people it has never seen. Consent flags are
    left unset (contacts.services.consent writes them, with evidence); tags are added once it has an id."""
    contact = _blank_contact()
    _apply(contact, cleaned, overwrite=True)
    # Only the fields given: the others hold the model's defaults (checking them was half of an import's full_clean).
    contact.full_clean(exclude=[name for name in _CONTACT_COLUMNS if name not in cleaned or name in ("email", "phone")],
                       validate_unique=False, validate_constraints=False)
    return contact


_CONTACT_COLUMNS = tuple(f.name for f in Contact._meta.concrete_fields)
# Each column's default, computed once where it is a constant; a callable default (now, dict)
# is called per contact. Contact() called get_default() on all 35 fields: a fifth of an import's
# contact_new. Django's positional constructor (what from_db uses) then only assigns them.
_DEFAULTS = tuple(f.default if f.has_default() and callable(f.default) else f.get_default()
                  for f in Contact._meta.concrete_fields)
_CALLED = tuple(i for i, f in enumerate(Contact._meta.concrete_fields) if f.has_default() and callable(f.default))


def _blank_contact() -> Contact:
    """Contact() with every field at its default, as Django would build it (signals included)."""
    values = list(_DEFAULTS)
    for i in _CALLED:
        values[i] = values[i]()
    return Contact(*values)


class ContactExists(Exception):
    """contact_create found (or raced with) a contact holding the identity; nothing was written."""

    def __init__(self, contact_id: int):
        super().__init__(contact_id)
        self.contact_id = contact_id


@transaction.atomic
def contact_create(*, data: Mapping[str, Any], by=None, consent_source: str = "crm", wording_version: str = "",
                   stage: str | None = None) -> Contact:
    """Create a new contact, never merge: when its email, phone or external reference belongs
    to an existing contact (found now, or created by a concurrent request) nothing is written
    and ContactExists names that contact. Consent flags go through contacts.services.consent with
    evidence naming `consent_source`; the audit row ("create", field names only) is written here.
    A `stage` other than the new contact's is then set by hand (pinned), in the same transaction."""
    result = contact_upsert(data=data, by=by, consent_source=consent_source, wording_version=wording_version)
    if not result.created:
        raise ContactExists(result.contact.pk)  # rolls back the merge contact_upsert just made
    audit(by, "create", result.contact, fields=sorted(data))
    if stage and stage != result.contact.stage:
        return contact_set_stage(contact=result.contact, stage=stage, by=by)
    return result.contact


def _upsert_consent(result: UpsertResult, cleaned: Mapping[str, Any], *, by, source: str, wording_version: str) -> UpsertResult:
    flags = {name: cleaned[name] for name in CONSENT_FIELDS if name in cleaned}
    if not any(flags.values()):
        return result
    records = consent_flags_set(contact=result.contact, flags=flags, fill=True, source=source, by=by,
                                wording_version=wording_version)
    if not records:
        return result
    result.contact.refresh_from_db()
    channels = {record.channel for record in records}
    changed = {flag for flag, channel in FLAG_CHANNELS.items() if channel in channels}
    return UpsertResult(contact=result.contact, created=result.created, changed=result.changed | changed)


def _contact_upsert_once(cleaned: dict[str, Any], *, by, rescore: bool, fill_only: bool = False) -> UpsertResult:
    existing = contact_find(
        email=cleaned.get("email"), phone=cleaned.get("phone"),
        external_source=cleaned.get("external_source", ""), external_ref=cleaned.get("external_ref"),
    )
    if existing is None:
        contact = contact_new(cleaned)
        contact.save()
        changed = frozenset(cleaned) - CONSENT_FIELDS
        created = True
        contacts_created.send(sender=Contact, contact_ids=[contact.pk])
    else:
        contact = Contact.objects.select_for_update().get(pk=existing.pk)
        # Identity values held by another contact are not copied over (would violate uniqueness).
        for name in ("email", "phone"):
            value = cleaned.get(name)
            if value and getattr(contact, name) != value and Contact.objects.filter(**{name: value}).exclude(pk=contact.pk).exists():
                cleaned = {k: v for k, v in cleaned.items() if k != name}
        changed = frozenset(_apply(contact, cleaned, overwrite=False, fill_only=fill_only))
        if changed:
            contact.save(update_fields=[*changed, "updated_at"])
        created = False
    if cleaned.get("tags"):
        contact.tags.add(*tag_get_or_create(cleaned["tags"]))
    if rescore and (created or changed & SCORED_FIELDS):
        queue_rescore([contact.pk])
    return UpsertResult(contact=contact, created=created, changed=changed)


_KEEP: Any = object()  # contact_update's owner when none is given


@transaction.atomic
def contact_update(*, contact: Contact, data: Mapping[str, Any], by=None, consent_source: str = "crm",
                   owner: Any = _KEEP, stage: str | None = None) -> Contact:
    """An explicit edit (a form or PATCH): given fields are set exactly, blanks included.
    Consent flags that change go through contacts.services.consent (evidence naming `consent_source`;
    lifting the objection to profiling is refused unless `by` is an admin). An `owner` (None: nobody)
    goes through contact_assign_owner, a `stage` through contact_set_stage (pinned; set again when
    it was not pinned); each writes its own audit row."""
    cleaned = clean_contact_data(data)
    for name in ("email", "phone"):
        value = cleaned.get(name)
        if value and Contact.objects.filter(**{name: value}).exclude(pk=contact.pk).exists():
            raise ValidationError({name: _("Another contact already has this %(field)s.") % {"field": name}})
    if {"external_ref", "external_source"} & set(cleaned):
        # Unique per source (a constraint): a clear error naming the field, not an IntegrityError.
        ref = cleaned.get("external_ref", contact.external_ref)
        source = cleaned.get("external_source", contact.external_source) or ""
        if ref and Contact.objects.filter(external_source=source, external_ref=ref).exclude(pk=contact.pk).exists():
            raise ValidationError({"external_ref": _("Another contact already has this external reference.")})
    attributes_before = dict(contact.attributes or {})
    changed = _apply(contact, cleaned, overwrite=True)
    if changed:
        # Only the edited columns: a stale instance must not roll back a score the worker just wrote.
        contact.save(update_fields=[*(changed - {"tags"}), "updated_at"])
        extra = {}
        if "attributes" in changed:
            # Which keys changed (the audit log names them, by a custom field's label when read).
            after, missing = contact.attributes or {}, object()
            extra["keys"] = sorted(key for key in {*attributes_before, *after}
                                   if attributes_before.get(key, missing) != after.get(key, missing))
        audit(by, "change", contact, fields=sorted(changed), **extra)
    if changed & SCORED_FIELDS:
        queue_rescore([contact.pk])
    flags = {name: cleaned[name] for name in CONSENT_FIELDS if name in cleaned}
    if flags:
        if consent_flags_set(contact=contact, flags=flags, source=consent_source, by=by):
            fresh = Contact.objects.only(*CONSENT_FIELDS).get(pk=contact.pk)
            for name in CONSENT_FIELDS:
                setattr(contact, name, getattr(fresh, name))
    if owner is not _KEEP or stage:
        contact.refresh_from_db()
        if owner is not _KEEP and getattr(owner, "pk", None) != contact.owner_id:
            contact = contact_assign_owner(contact=contact, owner=owner, by=by)
        if stage and (stage != contact.stage or not contact.stage_pinned):
            contact = contact_set_stage(contact=contact, stage=stage, by=by)
    return contact
