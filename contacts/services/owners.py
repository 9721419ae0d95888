"""Owners: one contact's or many contacts' owner, with a system note and the contacts_assigned signal."""

from __future__ import annotations

from collections.abc import Iterable

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_noop

from contacts.events import contacts_assigned
from contacts.models import Contact, Note
from contacts.services.notes import note_add
from crm.audit import audit


def _assign_owner(ids: list[int], owner, by) -> int:
    count = Contact.objects.filter(pk__in=ids).update(owner=owner, updated_at=timezone.now())
    for contact_id in ids:
        if owner:
            note_add(contact_id=contact_id, author=by, kind=Note.Kind.SYSTEM, message=gettext_noop("Assigned to %(owner)s."),
                     params={"owner": owner.get_full_name() or owner.username})
        else:
            note_add(contact_id=contact_id, author=by, kind=Note.Kind.SYSTEM, message=gettext_noop("Owner removed."))
    # In the caller's transaction: the follow-up tasks and the rep's notification commit with it.
    contacts_assigned.send(sender=Contact, assignments=[(pk, owner.pk if owner else None) for pk in ids], by=by)
    return count


@transaction.atomic
def contacts_assign_owner(*, contact_ids: Iterable[int], owner, by=None) -> int:
    ids = list(contact_ids)
    count = _assign_owner(ids, owner, by)
    audit(by, "change", object_type=Contact._meta.label_lower, fields=["owner"], count=count, ids=ids)
    return count


@transaction.atomic
def contact_assign_owner(*, contact: Contact, owner, by) -> Contact:
    _assign_owner([contact.pk], owner, by)
    audit(by, "change", contact, fields=["owner"])
    contact.refresh_from_db()
    return contact
