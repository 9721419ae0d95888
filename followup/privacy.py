"""What followup holds about a person, for contacts.privacy (registered in FollowupConfig.ready):
the access export lists the contact's tasks; anonymising clears their notes (a rep's free text
about the person). Deleting a contact cascades to its tasks and notifications."""

from __future__ import annotations

from typing import Any

from contacts.models import Contact
from followup.models import Task


def tasks_of(contact: Contact) -> list[dict[str, Any]]:
    return [
        {"id": t.pk, "type": t.type, "due_at": t.due_at.isoformat(), "assignee": t.assignee_id,
         "done_at": t.done_at.isoformat() if t.done_at else None, "outcome": t.outcome, "note": t.note}
        for t in Task.objects.filter(contact=contact).order_by("due_at", "pk")
    ]


def anonymise(contact_id: int) -> None:
    """Keep type, times and outcomes (the team's statistics); clear the free text."""
    Task.objects.filter(contact_id=contact_id).exclude(note="").update(note="", note_message="", note_params={})
