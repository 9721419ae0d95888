"""Writing the outbox: events and their deliveries, in bulk, in the caller's transaction.
Rows commit or roll back with the change; after commit a worker is woken, and if the broker
is down then, the minute's sweep (webhooks.delivery.deliveries_sweep) finds the rows anyway."""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence
from typing import Any

from django.core.cache import cache
from django.db import transaction
from django.utils import timezone

from webhooks.models import Delivery, Endpoint, Event

SUBSCRIPTIONS_KEY = "webhooks:subscribed-types"
SUBSCRIPTIONS_TTL = 300  # seconds; endpoint changes invalidate it at once, the TTL only bounds a lost delete
BATCH = 500


def subscribed_types() -> frozenset[str]:
    """Event types some active endpoint subscribes to (cached; one cache read when warm)."""
    cached = cache.get(SUBSCRIPTIONS_KEY)
    if cached is None:
        types: set[str] = set()
        for events in Endpoint.objects.filter(is_active=True).values_list("events", flat=True):
            types.update(events or [])
        cached = sorted(types)
        cache.set(SUBSCRIPTIONS_KEY, cached, SUBSCRIPTIONS_TTL)
    return frozenset(cached)


def is_subscribed(event_type: str) -> bool:
    return event_type in subscribed_types()


def subscriptions_changed() -> None:
    """Forget the cached set now and again after commit (a reader in between may cache the old one)."""
    cache.delete(SUBSCRIPTIONS_KEY)
    transaction.on_commit(lambda: cache.delete(SUBSCRIPTIONS_KEY))


def events_record(*, type: str, items: Sequence[dict[str, Any]], endpoints: Iterable[Endpoint] | None = None) -> list[Event]:
    """One event per item and one delivery per event and subscribed active endpoint, in a few
    INSERTs whatever the count; the send is queued after commit."""
    if endpoints is None:
        targets = [pk for pk, events in Endpoint.objects.filter(is_active=True).values_list("pk", "events")
                   if type in (events or [])]
    else:
        targets = [endpoint.pk for endpoint in endpoints]
    if not items or not targets:
        return []
    now = timezone.now()
    events = Event.objects.bulk_create([Event(type=type, created_at=now, data=item) for item in items], batch_size=BATCH)
    deliveries = Delivery.objects.bulk_create(
        [Delivery(endpoint_id=endpoint_id, event_id=event.pk, created_at=now, next_attempt_at=now)
         for event in events for endpoint_id in targets], batch_size=BATCH)
    _send_after_commit([d.pk for d in deliveries])
    return events


_buffer = threading.local()


def _send_after_commit(ids: list[int]) -> None:
    """One wake-up per transaction, not per change: 1,000 stage changes in one transaction
    become 20 tasks of 50, not 1,000 tasks of one. The list rides on the transaction's pending
    on-commit hook while that hook is still registered (a rollback discards it, and the next
    change starts a new list)."""
    from django.db import connection

    hook = getattr(_buffer, "hook", None)
    if hook is not None and connection.in_atomic_block and any(entry[1] is hook for entry in connection.run_on_commit):
        _buffer.ids.extend(ids)
        return
    pending = list(ids)

    def send() -> None:
        if getattr(_buffer, "hook", None) is send:
            _buffer.hook = _buffer.ids = None
        queue_sends(pending)

    _buffer.hook, _buffer.ids = send, pending
    transaction.on_commit(send)


SEND_BATCH = 50  # deliveries per task: several workers share a burst, each task claims its own


def queue_sends(delivery_ids: list[int]) -> None:
    """After commit: wake workers. If the broker is down the rows wait for the sweep; on the
    embedded default the tasks run here."""
    import logging

    from crm.celery import app
    from webhooks.tasks import deliveries_send_task

    for start in range(0, len(delivery_ids), SEND_BATCH):
        try:
            deliveries_send_task.delay(delivery_ids[start:start + SEND_BATCH])
        except Exception as exc:
            if app.conf.task_always_eager:
                raise
            logging.getLogger(__name__).warning("Could not queue webhook deliveries (%s); the sweep will send them.",
                                                type(exc).__name__)
            return
