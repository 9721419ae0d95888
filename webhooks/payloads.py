"""What each event carries: ids, stages, kinds and times, never more personal data than a
receiver needs to act (no email, phone, name or free text). README "Webhooks" lists them.
Pure functions of what the signals hand over, plus one query for new contacts."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any


def _when(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def stage_changed(changes: Sequence[Any]) -> list[dict[str, Any]]:
    return [{"contact_id": c.contact_id, "from_stage": c.from_stage, "to_stage": c.to_stage, "reason": c.reason_code,
             "score": c.score, "changed_at": _when(c.changed_at), "by_user_id": c.user_id} for c in changes]


def contacts_created(contact_ids: Iterable[int]) -> list[dict[str, Any]]:
    from contacts.models import Contact

    rows = Contact.objects.filter(pk__in=list(contact_ids)).order_by("pk").values(
        "pk", "stage", "industry", "source", "owner_id", "created_at")
    return [{"contact_id": r["pk"], "stage": r["stage"], "industry": r["industry"], "source": r["source"],
             "owner_id": r["owner_id"], "created_at": _when(r["created_at"])} for r in rows]


def contacts_assigned(assignments: Iterable[tuple[int, int | None]], by_id: int | None) -> list[dict[str, Any]]:
    return [{"contact_id": contact_id, "owner_id": owner_id, "by_user_id": by_id} for contact_id, owner_id in assignments]


def interactions_logged(interactions: Sequence[Any]) -> list[dict[str, Any]]:
    # Not `data`: a form's fields or a page's URL can name the person.
    return [{"interaction_id": i.pk, "contact_id": i.contact_id, "kind": i.kind_id, "channel": i.channel,
             "occurred_at": _when(i.occurred_at), "source": i.source} for i in interactions]


def task_completed(task: Any, by_id: int | None) -> list[dict[str, Any]]:
    # A followup.Task (webhooks does not import followup: the signal hands the row over).
    return [{"task_id": task.pk, "contact_id": task.contact_id, "type": task.type, "outcome": task.outcome,
             "assignee_id": task.assignee_id, "done_at": _when(task.done_at), "by_user_id": by_id}]


def contact_erased(contact_id: int, external_ref: str | None) -> list[dict[str, Any]]:
    # The receiver's cue to erase its own copy: our id and the reference it may know the person by.
    return [{"contact_id": contact_id, "external_ref": external_ref or None, "erase": True}]
