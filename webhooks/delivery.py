"""Sending deliveries: claim, POST, record; retry with backoff for about a day; disable an
endpoint that keeps failing and tell the admins.

At least once: a delivery is claimed (pending -> sending) with one UPDATE whose rows are picked
FOR UPDATE SKIP LOCKED (crm.claims), so two workers never send the same attempt; a worker that dies
mid-send leaves it `sending`, and the sweep puts it back after STUCK_AFTER (the receiver
may see that attempt twice, with the same event id: that is what the id is for)."""

from __future__ import annotations

import logging
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext_noop

from crm.claims import claim
from webhooks import http, signing
from webhooks.models import Delivery, Endpoint

log = logging.getLogger(__name__)
STUCK_AFTER = timedelta(minutes=5)
FIRST_RETRY_SECONDS = 30
MAX_RETRY_SECONDS = 4 * 3600
SENDERS = 8  # parallel requests per batch


def backoff(attempts: int) -> timedelta:
    """30 s, 1, 2, 4 … minutes, at most 4 hours: 15 attempts span a little over a day."""
    return timedelta(seconds=min(FIRST_RETRY_SECONDS * 2 ** max(attempts - 1, 0), MAX_RETRY_SECONDS))


def _claim(delivery_ids: list[int], now) -> list[int]:
    """pending and due -> sending (attempts + 1) in one statement that returns what it took (crm.claims): rows
    another worker holds are skipped, and a row is taken only while still pending, so one attempt has one sender."""
    active = Endpoint.objects.filter(is_active=True).values("pk")  # a sub-select: the endpoints are not locked
    return claim(Delivery.objects.filter(pk__in=delivery_ids, status=Delivery.Status.PENDING, next_attempt_at__lte=now,
                                         endpoint_id__in=active),
                 status=Delivery.Status.SENDING, attempts=F("attempts") + 1, claimed_at=now)


def deliveries_send(*, delivery_ids: list[int]) -> Counter:
    """Send the given deliveries that are due and not held by another worker; returns how many
    ended how (delivered, retry, failed; skipped: not claimed)."""
    now = timezone.now()
    claimed = _claim(list(delivery_ids), now)
    outcomes: Counter = Counter(skipped=len(delivery_ids) - len(claimed))
    if not claimed:
        return +outcomes
    rows = list(Delivery.objects.filter(pk__in=claimed).select_related("endpoint", "event").order_by("pk"))
    streaks: dict[int, list[bool]] = {}
    # The POSTs of a batch go out in parallel (they wait on the network, not on us); _attempt
    # touches no database, so the threads need no connection of their own.
    with ThreadPoolExecutor(max_workers=max(1, min(SENDERS, len(rows)))) as pool:
        results = list(pool.map(_attempt, rows))
    for delivery, ok in zip(rows, results, strict=True):
        streaks.setdefault(delivery.endpoint_id, []).append(ok)
        outcomes["delivered" if ok else "failed" if delivery.status == Delivery.Status.FAILED else "retry"] += 1
    _save_outcomes(rows)
    failures_before = {d.endpoint_id: d.endpoint.consecutive_failures for d in rows}
    for endpoint_id, results in streaks.items():
        if not (all(results) and failures_before[endpoint_id] == 0):  # nothing to count or reset: no write
            _count_failures(endpoint_id, results)
    return +outcomes


OUTCOME_FIELDS = ("status", "next_attempt_at", "last_attempt_at", "status_code", "response_excerpt", "error",
                  "error_message", "error_params", "duration_ms", "delivered_at")


def _save_outcomes(rows: list[Delivery]) -> None:
    """Write each attempt's outcome. On PostgreSQL one UPDATE ... FROM (VALUES ...) for the batch:
    Django's bulk_update builds a CASE per field and row, and that was 80 % of a batch's time."""
    if connection.vendor != "postgresql":
        with transaction.atomic():
            for row in rows:
                Delivery.objects.filter(pk=row.pk, status=Delivery.Status.SENDING).update(
                    **{name: getattr(row, name) for name in OUTCOME_FIELDS})
        return
    from psycopg2.extras import execute_values

    table = Delivery._meta.db_table
    columns = ", ".join(OUTCOME_FIELDS)
    assignments = ", ".join(f"{name} = v.{name}" for name in OUTCOME_FIELDS)
    sql = (f"UPDATE {table} AS d SET {assignments} FROM (VALUES %s) AS v(id, {columns})"
           f" WHERE d.id = v.id AND d.status = 'sending'")
    from psycopg2.extras import Json

    template = ("(%s, %s, %s::timestamptz, %s::timestamptz, %s::integer, %s, %s, %s, %s::jsonb, %s::integer,"
                " %s::timestamptz)")
    values = [(row.pk, *(Json(value) if name == "error_params" else value
                         for name in OUTCOME_FIELDS for value in [getattr(row, name)])) for row in rows]
    with connection.cursor() as cursor:
        execute_values(cursor.cursor, sql, values, template=template, page_size=500)


def _attempt(delivery: Delivery) -> bool:
    """One POST for a claimed delivery; the outcome is written onto the instance (saved in bulk)."""
    event, endpoint = delivery.event, delivery.endpoint
    raw = signing.body(event_id=str(event.pk), type=event.type, created_at=event.created_at.isoformat(), data=event.data)
    headers = {signing.HEADER: signing.signature(endpoint.secret, int(time.time()), raw),
               "X-Saring-Event": event.type, "X-Saring-Event-Id": str(event.pk)}
    result = http.post(endpoint.url, raw, headers, timeout=settings.CRM_WEBHOOK_TIMEOUT,
                       allow_private=settings.CRM_WEBHOOK_ALLOW_PRIVATE)
    now = timezone.now()
    delivery.last_attempt_at, delivery.status_code, delivery.duration_ms = now, result.status_code, result.duration_ms
    delivery.response_excerpt, delivery.error = result.excerpt, result.error
    delivery.error_message, delivery.error_params = result.message, result.params or {}
    if result.ok:
        delivery.status, delivery.delivered_at = Delivery.Status.DELIVERED, now
    elif delivery.attempts >= settings.CRM_WEBHOOK_MAX_ATTEMPTS:
        delivery.status = Delivery.Status.FAILED
    else:
        delivery.status, delivery.next_attempt_at = Delivery.Status.PENDING, now + backoff(delivery.attempts)
    return result.ok


def _count_failures(endpoint_id: int, results: list[bool]) -> None:
    """Failures in a row per endpoint; at CRM_WEBHOOK_DISABLE_AFTER it is disabled (once) and admins are told."""
    trailing = len(results) - (max(i for i, ok in enumerate(results) if ok) + 1) if any(results) else len(results)
    rows = Endpoint.objects.filter(pk=endpoint_id)
    if any(results):
        rows.update(consecutive_failures=trailing)
    elif trailing:
        rows.update(consecutive_failures=F("consecutive_failures") + trailing)
    limit = settings.CRM_WEBHOOK_DISABLE_AFTER
    if limit and trailing and Endpoint.objects.filter(pk=endpoint_id, is_active=True,
                                                      consecutive_failures__gte=limit).exists():
        from webhooks.services import endpoint_disable_failing

        endpoint_disable_failing(endpoint_id=endpoint_id)


def deliveries_sweep(*, now=None) -> dict[str, int]:
    """The minute's sweep: deliveries whose retry time came, first attempts whose wake-up was
    lost (older than a minute), and attempts a dead worker left `sending`, are queued again."""
    from webhooks.outbox import queue_sends

    now = now or timezone.now()
    stuck = Delivery.objects.filter(status=Delivery.Status.SENDING, claimed_at__lt=now - STUCK_AFTER).update(
        status=Delivery.Status.PENDING, next_attempt_at=now, error="interrupted while sending; sent again",
        error_message=gettext_noop("Interrupted while sending; sent again."), error_params={})
    due = (Delivery.objects.filter(status=Delivery.Status.PENDING, next_attempt_at__lte=now,
                                   endpoint__is_active=True)
           .exclude(attempts=0, created_at__gt=now - timedelta(minutes=1))
           .order_by("next_attempt_at").values_list("pk", flat=True)[:5000])
    ids = list(due)
    queue_sends(ids)
    return {"queued": len(ids), "stuck": stuck}
