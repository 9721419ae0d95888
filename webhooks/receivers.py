"""contacts.events -> outbox rows, inside the sender's transaction. Each receiver first asks
whether any active endpoint subscribes to the event (a cached set), so a CRM without webhooks
pays one cache read per change and nothing else."""

from __future__ import annotations

from webhooks import payloads
from webhooks.models import EventType
from webhooks.outbox import events_record, is_subscribed


def _user_id(user) -> int | None:
    return user.pk if getattr(user, "is_authenticated", False) else None


def on_stage_changed(sender, changes, **kwargs) -> None:
    if changes and is_subscribed(EventType.CONTACT_STAGE_CHANGED):
        events_record(type=EventType.CONTACT_STAGE_CHANGED, items=payloads.stage_changed(changes))


def on_contacts_created(sender, contact_ids, **kwargs) -> None:
    if contact_ids and is_subscribed(EventType.CONTACT_CREATED):
        events_record(type=EventType.CONTACT_CREATED, items=payloads.contacts_created(contact_ids))


def on_contacts_assigned(sender, assignments, by=None, **kwargs) -> None:
    if assignments and is_subscribed(EventType.CONTACT_ASSIGNED):
        events_record(type=EventType.CONTACT_ASSIGNED, items=payloads.contacts_assigned(assignments, _user_id(by)))


def on_interactions_logged(sender, interactions, **kwargs) -> None:
    if interactions and is_subscribed(EventType.INTERACTION_LOGGED):
        events_record(type=EventType.INTERACTION_LOGGED, items=payloads.interactions_logged(interactions))


def on_task_completed(sender, task, by=None, **kwargs) -> None:
    if is_subscribed(EventType.TASK_COMPLETED):
        events_record(type=EventType.TASK_COMPLETED, items=payloads.task_completed(task, _user_id(by)))


def on_contact_erased(sender, contact_id, external_ref=None, **kwargs) -> None:
    if is_subscribed(EventType.CONTACT_ERASED):
        events_record(type=EventType.CONTACT_ERASED, items=payloads.contact_erased(contact_id, external_ref))


def connect() -> None:
    from contacts import events

    for signal, receiver in ((events.stage_changed, on_stage_changed), (events.contacts_created, on_contacts_created),
                             (events.contacts_assigned, on_contacts_assigned),
                             (events.interactions_logged, on_interactions_logged),
                             (events.task_completed, on_task_completed), (events.contact_erased, on_contact_erased)):
        signal.connect(receiver, weak=False, dispatch_uid=f"webhooks.{receiver.__name__}")
