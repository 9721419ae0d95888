"""What nurture holds about a person, for contacts.privacy (registered in NurtureConfig.ready):
the access export lists each message sent and each sequence the contact is in; anonymising
clears the one free-text field (a mail server's error can quote the address). Deleting a
contact cascades to its deliveries and enrollments (foreign keys with on_delete=CASCADE)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from contacts.models import Contact
from nurture.models import Delivery, Enrollment


def _when(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def deliveries_of(contact: Contact) -> list[dict[str, Any]]:
    return [
        {"id": d.pk, "message": d.message_id, "message_name": d.message.name, "channel": d.channel, "status": d.status,
         "campaign": d.campaign_id, "enrollment": d.enrollment_id, "step": d.step_position, "attempts": d.attempts,
         "error": d.error, "created_at": _when(d.created_at), "sent_at": _when(d.sent_at),
         "opened_at": _when(d.opened_at), "clicked_at": _when(d.clicked_at), "unsubscribed_at": _when(d.unsubscribed_at)}
        for d in Delivery.objects.filter(contact=contact).select_related("message").order_by("created_at", "pk")
    ]


def enrollments_of(contact: Contact) -> list[dict[str, Any]]:
    return [
        {"id": e.pk, "sequence": e.sequence_id, "sequence_name": e.sequence.name, "status": e.status,
         "exit_reason": e.exit_reason, "enrolled_at": _when(e.enrolled_at), "next_step": e.next_position,
         "next_due_at": _when(e.next_due_at), "ended_at": _when(e.ended_at)}
        for e in Enrollment.objects.filter(contact=contact).select_related("sequence").order_by("enrolled_at", "pk")
    ]


def anonymise(contact_id: int) -> None:
    """Keep the ids, statuses and times (campaign statistics); clear the mail server's text."""
    Delivery.objects.filter(contact_id=contact_id).exclude(error="").update(error="")
