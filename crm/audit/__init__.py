"""One call to record an audit event; ids and field names only, never personal data."""

from typing import Any

from crm.models import AuditEvent
from crm.rows import row_insert


def audit(actor, action: str, obj=None, *, object_type: str = "", object_id: Any = "", **details: Any) -> AuditEvent:
    if obj is not None:
        object_type = object_type or obj._meta.label_lower
        object_id = object_id or obj.pk
    user = actor if getattr(actor, "is_authenticated", False) else None
    event = AuditEvent(actor=user, action=action, object_type=object_type, object_id=str(object_id or ""), details=details)
    row_insert(event)  # written with most changes, and with every event logged through the API
    return event
