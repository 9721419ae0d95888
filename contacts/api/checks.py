"""What the contacts API checks before it writes (reads only; the writes are contacts.services).

A POST of a contact that already exists is refused (409; capture/ is the upsert path), naming the
field and the contact only to callers who may see that contact. A batch of events names its
contacts by id, email or phone among those the caller may change; every problem is reported at once.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _
from rest_framework import exceptions

from contacts.models import Contact, InteractionKind
from contacts.selectors import contacts_editable_by, contacts_visible_to, editable_scope
from contacts.services import Event, normalize_email, normalize_phone
from crm.api_common import Conflict
from crm.rows import rows_in


def identity_check(*, data: Mapping[str, Any], by) -> None:
    """Before creating: refuse (409, naming the field) when the email, phone or external
    reference belongs to an existing contact. POST /api/capture/ merges instead."""
    identity = _identity(data)
    duplicates: dict[str, list[str]] = {}
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
        raise _identity_conflict(duplicates, existing_id, by=by)


def created_meanwhile(contact_id: int, *, by) -> exceptions.APIException:
    """A concurrent request created the same identity between our check and the insert."""
    return _identity_conflict({"email": [_("A contact with this identity was just created by another request.")]},
                             contact_id, by=by)


def replay_conflict(indexes: Sequence[int], *, batch: bool) -> Conflict:
    """409 for events whose (source, external_id) another caller's hidden event holds (services.ReplayHidden)."""
    message = _("This source and external_id are taken by an event you cannot see; nothing was stored. "
                "Use another external_id.")
    return Conflict({f"{index}.external_id" if batch else "external_id": [message] for index in indexes}, message)


def kind_check(*, slug: str) -> None:
    if InteractionKind.objects.filter(slug=slug).exists():
        raise Conflict({"slug": [_("This kind exists already.")]})


def note_contact(*, user, contact_id: int) -> Contact:
    """The contact a note is for, among those the user may change (400 naming the field otherwise)."""
    contact = contacts_editable_by(user).filter(pk=contact_id).first()
    if contact is None:
        raise ValidationError({"contact": _("No contact you may change has this id.")})
    return contact


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


def _identity_conflict(fields: dict[str, list[str]], existing_id: int | None, *, by) -> exceptions.APIException:
    """409 naming the field and the contact, to callers who may see that contact. Anyone else
    (a rep, another rep's contact) gets one answer whatever matched, naming neither the field
    nor the contact, and only CRM_HIDDEN_DUPLICATE_LIMIT of them an hour: the unique email
    and phone make "this cannot be created" unavoidable, but not a free lookup service."""
    if existing_id and contacts_visible_to(by).filter(pk=existing_id).exists():
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


def events_resolve(items: Sequence[tuple[int, Mapping[str, Any]]], *, user, batch: bool,
                   errors: dict[str, list[str]] | None = None) -> list[Event]:
    """Check every (index, item) before anything is written: the contact (by id, email or
    phone, among those the user may change) and the kind. Problems are collected with
    those found earlier (`errors`) and raised together, named by item index and field."""
    scope = editable_scope(user)
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
    # Only what identifies the contact is read (an event needs its id, not 35 columns), in statements
    # built once (crm.rows): on the single-event path the ORM's compiler cost more than the reads.
    def contacts(key: str, values) -> dict:
        if scope is None or not values:
            return {}
        return {getattr(c, key): c for c in rows_in(Contact, key, values, fields=(key,), also=scope)}

    by_id = contacts("pk", {item["contact"] for _index, item in items if item.get("contact")})  # at most MAX_BATCH
    by_email = contacts("email", set(emails.values()))
    by_phone = contacts("phone", set(phones.values()))
    # The kinds as read here go with the events, so the service need not look them up again.
    known_kinds = {kind.slug: kind for kind in rows_in(InteractionKind, "slug", {item["kind"] for _index, item in items})}

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
                contact=contact, kind=known_kinds.get(item["kind"], item["kind"]), occurred_at=item.get("occurred_at"),
                channel=item.get("channel") or "", data=item.get("data") or {}, source=item.get("source") or "",
                external_id=item.get("external_id") or None,
            ))
    if errors:
        raise ValidationError(dict(sorted(errors.items(), key=lambda item: _natural(item[0]))))
    return resolved


def _natural(path: str) -> tuple:
    """ "10.kind" after "2.kind": item indexes sort as numbers."""
    return tuple((0, int(part), "") if part.isdigit() else (1, 0, part) for part in path.split("."))
