"""The API's use cases, composed from contacts.services in one transaction each.

Views parse and render; this module decides what an API request means: a POST of a
contact that already exists is refused (capture/ is the upsert path), a batch of
events is all-or-nothing with one rescore per contact, consent changes leave evidence.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _
from rest_framework import exceptions

from contacts import services
from contacts.models import Contact, InteractionKind, Note
from contacts.selectors import contacts_editable_by, contacts_visible_to
from contacts.services import (
    Event,
    LoggedInteraction,
    contact_assign_owner,
    contact_set_stage,
    contact_update,
    interaction_log,
    interactions_log_many,
    normalize_email,
    normalize_phone,
    note_add,
)
from contacts.services.consent import CONSENT_FLAGS, consent_flags_set
from crm.api_common import Conflict

UNSET: Any = object()
__all__ = ["CONSENT_FLAGS", "consent_evidence"]


def consent_evidence(*, contact: Contact, flags: Mapping[str, bool], source: str, wording_version: str = "", by=None) -> None:
    """Record consent evidence (UU PDP) through contacts.services.consent for each given flag: a
    ticked opt-in is consent granted, do_not_contact set to true is consent withdrawn. A
    flag the contact already has is only recorded, not changed again."""
    consent_flags_set(contact=contact, flags=flags, source=source, wording_version=wording_version, by=by,
                      record_unchanged=True)


def _identity(data: Mapping[str, Any]) -> dict[str, Any]:
    """Normalised identity values of the input, for the duplicate check."""
    found: dict[str, Any] = {}
    errors: dict[str, list[str]] = {}
    for name, normalise in (("email", normalize_email), ("phone", normalize_phone)):
        try:
            found[name] = normalise(data.get(name))
        except ValidationError as exc:
            errors[name] = exc.messages  # every bad field named at once, not only the first
    if errors:
        raise ValidationError(errors)
    return found


@transaction.atomic
def contact_create(*, data: Mapping[str, Any], by, owner=UNSET, stage: str | None = None) -> Contact:
    """Create a new contact; refuse (409, naming the field) when its email, phone or
    external reference belongs to an existing contact. POST /api/capture/ merges instead."""
    identity = _identity(data)
    duplicates: dict[str, list[str]] = {}
    visible = contacts_visible_to(by)
    existing_id = None
    for name, value in identity.items():
        if value and (pk := Contact.objects.filter(**{name: value}).values_list("pk", flat=True).first()):
            duplicates[name] = [_("A contact with this %(field)s exists already.") % {"field": name}]
            existing_id = existing_id or pk
    if data.get("external_ref") and (pk := Contact.objects.filter(
            external_source=data.get("external_source", "") or "", external_ref=data["external_ref"]).values_list("pk", flat=True).first()):
        duplicates["external_ref"] = [_("A contact with this external reference exists already.")]
        existing_id = existing_id or pk
    if duplicates:
        raise _conflict(duplicates, existing_id, visible, by=by)
    values = dict(data)
    if owner is not UNSET:
        values["owner"] = owner
    try:
        # Consent with evidence (source "api") and the audit row: both written by the service.
        contact = services.contact_create(data=values, by=by, consent_source="api")
    except services.ContactExists as exc:
        # A concurrent request created the same identity between our check and the insert.
        raise _conflict({"email": [_("A contact with this identity was just created by another request.")]},
                        exc.contact_id, visible, by=by) from None
    if stage and stage != contact.stage:
        contact = contact_set_stage(contact=contact, stage=stage, by=by)
    return contact


def _conflict(fields: dict[str, list[str]], existing_id: int | None, visible, *, by) -> exceptions.APIException:
    """409 naming the field and the contact, to callers who may see that contact. Anyone else
    (a rep, another rep's contact) gets one answer whatever matched, naming neither the field
    nor the contact, and only CRM_HIDDEN_DUPLICATE_LIMIT of them an hour: the unique email
    and phone make "this cannot be created" unavoidable, but not a free lookup service."""
    if existing_id and visible.filter(pk=existing_id).exists():
        return Conflict(fields, _("Contact #%(id)s has this identity already; PATCH it, or POST /api/capture/ to merge.")
                        % {"id": existing_id})
    if not _hidden_duplicate_allowed(by):
        return exceptions.Throttled(wait=HIDDEN_DUPLICATE_WINDOW, detail=_(
            "Too many contacts refused in the last hour; ask an admin or a sales manager."))
    return Conflict({}, _("This contact cannot be created from your account; ask an admin or a sales manager to look "
                          "it up."))


HIDDEN_DUPLICATE_WINDOW = 3600


def _hidden_duplicate_allowed(user) -> bool:
    """Count one refusal that named no contact; False once the hour's budget is spent."""
    key = f"crm:hidden-duplicate:{getattr(user, 'pk', None)}"
    cache.add(key, 0, HIDDEN_DUPLICATE_WINDOW)
    try:
        count = cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.set(key, 1, HIDDEN_DUPLICATE_WINDOW)
        count = 1
    return count <= settings.CRM_HIDDEN_DUPLICATE_LIMIT


@transaction.atomic
def contact_patch(*, contact: Contact, data: Mapping[str, Any], by, owner=UNSET, stage: str | None = None) -> Contact:
    """An explicit edit: the given fields are set exactly; consent changes go through
    contacts.services.consent (evidence, source "api"); owner and stage (callers allowed to set them)
    go through their own services. Each service writes its own audit row."""
    if data:
        contact = contact_update(contact=contact, data=data, by=by, consent_source="api")
    contact.refresh_from_db()
    if owner is not UNSET and getattr(owner, "pk", None) != contact.owner_id:
        contact = contact_assign_owner(contact=contact, owner=owner, by=by)
    if stage and (stage != contact.stage or not contact.stage_pinned):
        contact = contact_set_stage(contact=contact, stage=stage, by=by)
    return contact


# --- Interactions ---------------------------------------------------------------------------

def events_resolve(items: Sequence[tuple[int, Mapping[str, Any]]], *, user, batch: bool,
                   errors: dict[str, list[str]] | None = None) -> list[Event]:
    """Check every (index, item) before anything is written: the contact (by id, email or
    phone, among those the user may change) and the kind. Problems are collected with
    those found earlier (`errors`) and raised together, named by item index and field."""
    editable = contacts_editable_by(user)
    errors = dict(errors or {})

    def error(index: int, name: str, message: str) -> None:
        errors.setdefault(f"{index}.{name}" if batch else name, []).append(message)

    emails, phones = {}, {}
    for index, item in items:
        for name, normalise, bucket in (("contact_email", normalize_email, emails), ("contact_phone", normalize_phone, phones)):
            if item.get(name):
                try:
                    bucket[index] = normalise(item[name])
                except ValidationError as exc:
                    error(index, name, exc.messages[0])
    ids = {item["contact"] for _index, item in items if item.get("contact")}
    by_id = editable.in_bulk(ids) if ids else {}
    by_email = {c.email: c for c in editable.filter(email__in=set(emails.values()))} if emails else {}
    by_phone = {c.phone: c for c in editable.filter(phone__in=set(phones.values()))} if phones else {}
    named_kinds = {item["kind"] for _index, item in items}
    known_kinds = set(InteractionKind.objects.filter(slug__in=named_kinds).values_list("slug", flat=True)) if named_kinds else set()

    resolved: list[Event] = []
    for index, item in items:
        contact = None
        if item.get("contact"):
            contact = by_id.get(item["contact"])
            if contact is None:
                error(index, "contact", _("No contact you may change has this id."))
        elif index in emails:
            contact = by_email.get(emails[index])
            if contact is None:
                error(index, "contact_email", _("No contact you may change has this email."))
        elif index in phones:
            contact = by_phone.get(phones[index])
            if contact is None:
                error(index, "contact_phone", _("No contact you may change has this phone."))
        if item["kind"] not in known_kinds:
            error(index, "kind", _("Unknown interaction kind “%(kind)s”.") % {"kind": item["kind"]})
        if contact is not None:
            resolved.append(Event(
                contact=contact, kind=item["kind"], occurred_at=item.get("occurred_at"), channel=item.get("channel") or "",
                data=item.get("data") or {}, source=item.get("source") or "", external_id=item.get("external_id") or None,
            ))
    if errors:
        raise ValidationError(dict(sorted(errors.items(), key=lambda item: _natural(item[0]))))
    return resolved


def _natural(path: str) -> tuple:
    """ "10.kind" after "2.kind": item indexes sort as numbers."""
    return tuple((0, int(part), "") if part.isdigit() else (1, 0, part) for part in path.split("."))


@transaction.atomic
def events_log(*, events: Sequence[Event], by, batch: bool) -> list[LoggedInteraction]:
    """Log events all-or-nothing; retries (same source and external_id) come back as the
    original rows. Each touched contact is rescored once, after commit. A batch goes
    through the bulk service (a few queries for the whole batch).

    A replay only ever answers with a row the caller may read: a (source, external_id)
    taken by an event on a contact the caller cannot see is a 409 that names the field
    and nothing else, and the whole request is rolled back (nothing stored)."""
    if batch:
        logged = interactions_log_many(events=events, by=by)
    else:
        (event,) = events
        logged = [interaction_log(
            contact=event.contact, kind=event.kind, occurred_at=event.occurred_at, channel=event.channel,
            data=event.data, source=event.source, external_id=event.external_id, by=by,
        )]
    replayed = {item.interaction.contact_id for item in logged if not item.created}
    if replayed:
        readable = set(contacts_visible_to(by).filter(pk__in=replayed).values_list("pk", flat=True))
        hidden = [index for index, item in enumerate(logged) if not item.created and item.interaction.contact_id not in readable]
        if hidden:
            message = _("This source and external_id are taken by an event you cannot see; nothing was stored. "
                        "Use another external_id.")
            raise Conflict({f"{index}.external_id" if batch else "external_id": [message] for index in hidden}, message)
    return logged


# --- Notes, kinds ------------------------------------------------------------------------------

def note_create(*, user, contact_id: int, body: str, due_at=None) -> Note:
    contact = contacts_editable_by(user).filter(pk=contact_id).first()
    if contact is None:
        raise ValidationError({"contact": _("No contact you may change has this id.")})
    return note_add(contact=contact, author=user, body=body, due_at=due_at)


@transaction.atomic
def interaction_kind_create(*, data: Mapping[str, Any], by) -> InteractionKind:
    if InteractionKind.objects.filter(slug=data["slug"]).exists():
        raise Conflict({"slug": [_("This kind exists already.")]})
    return services.interaction_kind_create(data=data, by=by)
