"""A contact's stage set by hand (pinned) and unpinned."""

from __future__ import annotations

from collections.abc import Iterable

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


def _set_stage(ids: list[int], stage: str, by, note: str) -> tuple[list[StageChange], int]:
    """Pin `stage` on these contacts (locked): a StageChange for each that moves, then one
    stage_changed signal for all of them (sequences, tasks and webhooks hear it in this transaction).
    Returns the changes and how many contacts were touched (moved, or pinned where they were)."""
    if stage not in Stage.values:
        raise ValidationError({"stage": _("Unknown stage “%(stage)s”.") % {"stage": stage}})
    rows = list(Contact.objects.select_for_update().filter(pk__in=ids).order_by("pk")
                .values_list("pk", "stage", "score", "stage_pinned"))
    now = timezone.now()
    user = by if getattr(by, "is_authenticated", False) else None
    changes = StageChange.objects.bulk_create([
        StageChange(contact_id=pk, from_stage=old, to_stage=stage, changed_at=now, reason_code=StageChange.Reason.MANUAL,
                    reason_params={"note": note[:200]} if note else {}, score=score, user=user)
        for pk, old, score, _pinned in rows if old != stage
    ])
    moved = [change.contact_id for change in changes]
    if moved:
        Contact.objects.filter(pk__in=moved).update(stage=stage, stage_changed_at=now, stage_pinned=True, updated_at=now)
    pinned = [pk for pk, old, _score, is_pinned in rows if old == stage and not is_pinned]
    if pinned:
        Contact.objects.filter(pk__in=pinned).update(stage_pinned=True, updated_at=now)
    stage_changes_recorded(changes)
    return changes, len(moved) + len(pinned)


@transaction.atomic
def contact_set_stage(*, contact: Contact, stage: str, by, note: str = "") -> Contact:
    """A person sets the stage: it is pinned, so rules no longer move it until unpinned."""
    _set_stage([contact.pk], stage, by, note)
    audit(by, "change", contact, fields=["stage", "stage_pinned"])
    contact.refresh_from_db()
    return contact


@transaction.atomic
def contacts_set_stage(*, contact_ids: Iterable[int], stage: str, by, note: str = "") -> int:
    """contact_set_stage for many contacts at once (bulk actions): the same StageChange rows and
    signal, one audit row naming the ids. Returns how many contacts moved or were pinned."""
    ids = list(contact_ids)
    changes, count = _set_stage(ids, stage, by, note)
    audit(by, "change", object_type=Contact._meta.label_lower, fields=["stage", "stage_pinned"], count=count,
          ids=ids, moved=len(changes))
    return count


@transaction.atomic
def contact_unpin(*, contact: Contact, by) -> Contact:
    updated = Contact.objects.filter(pk=contact.pk, stage_pinned=True).update(stage_pinned=False, updated_at=timezone.now())
    if updated:
        note_add(contact_id=contact.pk, author=by, kind=Note.Kind.SYSTEM, message=gettext_noop("Stage unpinned: rules move it again."))
        queue_rescore([contact.pk])
        audit(by, "change", contact, fields=["stage_pinned"])
    contact.refresh_from_db()
    return contact
