"""Notes: a rep's note or follow-up, the system's notes, and the first personal contact."""

from __future__ import annotations

from datetime import datetime

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from contacts.models import Contact, Note
from contacts.reasons import note_text
from crm.audit import audit


def note_add(*, contact: Contact | None = None, contact_id: int | None = None, author, body: str = "",
             due_at: datetime | None = None, kind: str = Note.Kind.NOTE, message: str = "",
             params: dict | None = None) -> Note:
    """A note; a system note passes `message` (an untranslated msgid, gettext_noop) and `params`
    instead of a body, so it reads in the viewer's language (the body keeps this language's text)."""
    if message:
        body = note_text(message, params or {})
    body = (body or "").strip()
    if not body:
        raise ValidationError({"body": _("Write something.")})
    if due_at is not None and kind == Note.Kind.NOTE:
        kind = Note.Kind.FOLLOW_UP
    contact_id = contact.pk if contact is not None else contact_id
    with transaction.atomic():
        note = Note.objects.create(contact_id=contact_id, author=author, body=body, due_at=due_at, kind=kind,
                                   message=message, params=params or {})
        if kind != Note.Kind.SYSTEM and author is not None:
            contact_mark_contacted(contact_id, note.created_at)  # a rep's note is a personal touch
        if kind != Note.Kind.SYSTEM:
            audit(author, "change", object_type=Contact._meta.label_lower, object_id=contact_id, fields=["notes"])
    return note


@transaction.atomic
def note_complete(*, note: Note, by=None) -> Note:
    if note.done_at is None:
        note.done_at = timezone.now()
        note.save(update_fields=["done_at", "updated_at"])
        audit(by, "change", object_type=Contact._meta.label_lower, object_id=note.contact_id, fields=["notes"])
    return note


def contact_mark_contacted(contact_id: int, when: datetime | None = None) -> None:
    """The first personal contact (a rep's note, a WhatsApp click, a completed call) ends "not yet contacted"."""
    Contact.objects.filter(pk=contact_id, first_contacted_at__isnull=True).update(first_contacted_at=when or timezone.now())
