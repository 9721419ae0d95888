"""The claim (crm.claims, used by webhooks.delivery._claim and nurture's sends): one UPDATE … RETURNING
that takes only due pending rows of active endpoints, and, on PostgreSQL, never gives one row to two
claims running at once nor waits for a row another transaction holds."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest
from django.db import connection, connections, transaction
from django.utils import timezone

from tests.conftest import skip_or_fail
from webhooks.delivery import _claim
from webhooks.models import Delivery, Endpoint, Event


def _deliveries(count: int, *, endpoint: Endpoint | None = None, due_in: float = -1, **fields) -> list[int]:
    endpoint = endpoint or Endpoint.objects.create(url="https://hooks.example.co.id/in", secret="s" * 20)
    events = Event.objects.bulk_create([Event(type="contact.created") for _ in range(count)])
    due = timezone.now() + timedelta(seconds=due_in)
    rows = [Delivery(endpoint=endpoint, event=event, next_attempt_at=due, **fields) for event in events]
    return [row.pk for row in Delivery.objects.bulk_create(rows)]


@pytest.mark.django_db
def test_a_claim_takes_due_pending_rows_of_active_endpoints_once():
    due = _deliveries(3)
    later = _deliveries(1, due_in=3600)  # a retry not due yet
    delivered = _deliveries(1, status=Delivery.Status.DELIVERED)
    paused = Endpoint.objects.create(url="https://hooks.example.co.id/off", secret="s" * 20, is_active=False)
    disabled = _deliveries(1, endpoint=paused)
    now = timezone.now()

    claimed = _claim([*due, *later, *delivered, *disabled, 10**9], now)

    assert sorted(claimed) == sorted(due)
    assert set(Delivery.objects.filter(pk__in=due).values_list("status", "attempts", "claimed_at")) == {
        (Delivery.Status.SENDING, 1, now)}
    assert set(Delivery.objects.exclude(pk__in=due).values_list("status", "attempts")) == {
        (Delivery.Status.PENDING, 0), (Delivery.Status.DELIVERED, 0)}
    assert _claim(due, timezone.now()) == []  # already sending: a second claim gets nothing
    assert _claim([], now) == []


@pytest.mark.postgres  # the embedded pass deselects it: SQLite has one writer and no row locks to race for
@pytest.mark.django_db(transaction=True)
def test_concurrent_claims_of_the_same_ids_never_both_win():
    if connection.vendor != "postgresql":
        skip_or_fail("racing claims need PostgreSQL (row locks with SKIP LOCKED)")
    ids = _deliveries(60)
    workers, rounds = 4, 15
    barrier = threading.Barrier(workers)
    won: list[list[list[int]]] = [[] for _ in range(rounds)]
    errors: list[str] = []

    def worker(n: int) -> None:
        order = ids[::-1] if n % 2 else ids  # opposite orders: lock order must not matter
        try:
            for round_no in range(rounds):
                barrier.wait()
                won[round_no].append(_claim(order, timezone.now()))
                barrier.wait()
                if n == 0:  # one thread puts them back for the next round, while the others wait
                    Delivery.objects.filter(pk__in=ids).update(status=Delivery.Status.PENDING)
                barrier.wait()
        except Exception as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(repr(exc))
            barrier.abort()
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    for claims in won:
        assert len(claims) == workers
        taken = [pk for claim in claims for pk in claim]
        assert sorted(taken) == sorted(ids), "every row claimed once a round, none by two claims"
    assert set(Delivery.objects.values_list("attempts", flat=True)) == {rounds}


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_claim_skips_a_row_another_transaction_holds_without_waiting():
    if connection.vendor != "postgresql":
        skip_or_fail("row locks with SKIP LOCKED need PostgreSQL")
    held, free = _deliveries(2)
    locked, release = threading.Event(), threading.Event()

    def holder() -> None:  # another worker's transaction, on its own connection, holding one row
        try:
            with transaction.atomic():
                Delivery.objects.select_for_update().get(pk=held)
                locked.set()
                release.wait(10)
        finally:
            connections.close_all()

    thread = threading.Thread(target=holder)
    thread.start()
    try:
        assert locked.wait(10)
        started = time.monotonic()
        assert _claim([held, free], timezone.now()) == [free]
        assert time.monotonic() - started < 2, "skipped, not waited for"
    finally:
        release.set()
        thread.join()
    assert _claim([held, free], timezone.now()) == [held]  # released: now it can be taken
