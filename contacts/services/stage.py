"""A contact's stage set by hand (pinned) and unpinned."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from contacts.events import stage_changes_recorded
from contacts.models import Contact, Note, Stage, StageChange
from contacts.services.notes import note_add
from contacts.services.rescore import queue_rescore
from crm.audit import audit


@transaction.atomic
def contact_set_stage(*, contact: Contact, stage: str, by, note: str = "") -> Contact:
    """A person sets the stage: it is pinned, so rules no longer move it until unpinned."""
    if stage not in Stage.values:
        raise ValidationError({"stage": _("Unknown stage “%(stage)s”.") % {"stage": stage}})
    contact = Contact.objects.select_for_update().get(pk=contact.pk)
    now = timezone.now()
    change = None
    if contact.stage != stage:
        change = StageChange.objects.create(
            contact=contact, from_stage=contact.stage, to_stage=stage, changed_at=now,
            reason_code=StageChange.Reason.MANUAL, reason_params={"note": note[:200]} if note else {},
            score=contact.score, user=by,
        )
        contact.stage = stage
        contact.stage_changed_at = now
    contact.stage_pinned = True
    contact.save(update_fields=["stage", "stage_changed_at", "stage_pinned", "updated_at"])
    if change is not None:
        stage_changes_recorded([change])
    audit(by, "change", contact, fields=["stage", "stage_pinned"])
    return contact


@transaction.atomic
def contact_unpin(*, contact: Contact, by) -> Contact:
    updated = Contact.objects.filter(pk=contact.pk, stage_pinned=True).update(stage_pinned=False, updated_at=timezone.now())
    if updated:
        note_add(contact_id=contact.pk, author=by, kind=Note.Kind.SYSTEM, message=gettext_noop("Stage unpinned: rules move it again."))
        queue_rescore([contact.pk])
        audit(by, "change", contact, fields=["stage_pinned"])
    contact.refresh_from_db()
    return contact
