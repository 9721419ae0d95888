"""Disabling a failing endpoint (with the admins' email through a real SMTP server), two
workers racing for the same deliveries, and a real Celery worker delivering a stage change."""

from __future__ import annotations

import threading
import time

import pytest
from django.db import connection, connections
from django.utils import timezone

from contacts.services import contact_set_stage
from tests.conftest import skip_or_fail, wait_for
from webhooks.delivery import deliveries_send
from webhooks.models import Delivery, Endpoint
from webhooks.services import endpoint_save


def test_an_endpoint_failing_again_and_again_is_disabled_and_admins_are_emailed(
        endpoint, receiver, smtp_server, make_contact, admin, on_commit, settings):
    admin.email = "ayu@example.co.id"
    admin.save()
    settings.CRM_WEBHOOK_DISABLE_AFTER = 3
    hook = endpoint(path="/error", events=["contact.stage_changed"])
    contacts = [make_contact() for _ in range(4)]
    for contact in contacts[:3]:
        with on_commit():
            contact_set_stage(contact=contact, stage="lead", by=admin)
    hook.refresh_from_db()
    assert not hook.is_active and hook.consecutive_failures == 3 and "3" in hook.disabled_reason
    (mail,) = smtp_server.messages()
    assert mail["To"] == "ayu@example.co.id" and hook.url in mail["Subject"]
    # Disabled: new events are not written for it, and waiting deliveries are not sent.
    with on_commit():
        contact_set_stage(contact=contacts[3], stage="lead", by=admin)
    assert Delivery.objects.count() == 3 and len(receiver.to("/error")) == 3
    Delivery.objects.update(next_attempt_at=timezone.now())
    assert deliveries_send(delivery_ids=list(Delivery.objects.values_list("pk", flat=True))) == {"skipped": 3}
    # Fixed and enabled again: the three waiting events go out.
    with on_commit():
        endpoint_save(data={"url": receiver.url("/hook"), "is_active": True}, endpoint=hook, by=admin)
    hook.refresh_from_db()
    assert hook.is_active and hook.consecutive_failures == 0 and hook.disabled_reason == ""
    assert len(receiver.to("/hook")) == 3 and all(r.verified for r in receiver.to("/hook"))
    assert len(smtp_server.messages()) == 1  # told once


@pytest.mark.postgres  # the embedded pass deselects it rather than skip it
@pytest.mark.django_db(transaction=True)
def test_two_workers_racing_send_each_attempt_once(endpoint, receiver, make_contact, admin):
    if connection.vendor != "postgresql":
        skip_or_fail("racing workers need PostgreSQL (row locks with SKIP LOCKED)")
    endpoint(events=["contact.stage_changed"])
    contacts = [make_contact() for _ in range(30)]
    for contact in contacts:
        contact_set_stage(contact=contact, stage="lead", by=admin)
    # Sent once already after each commit: make every delivery due again, as a retry would be.
    Delivery.objects.update(status="pending", attempts=0, next_attempt_at=timezone.now())
    with receiver.lock:
        receiver.requests.clear()
    ids = list(Delivery.objects.values_list("pk", flat=True))
    assert len(ids) == 30
    barrier = threading.Barrier(2)
    results = []

    def worker() -> None:
        try:
            barrier.wait()
            results.append(deliveries_send(delivery_ids=ids))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(r.get("delivered", 0) for r in results) == 30
    event_ids = [r.json()["id"] for r in receiver.to("/hook")]
    assert len(event_ids) == len(set(event_ids)) == 30
    assert set(Delivery.objects.values_list("attempts", flat=True)) == {1}


@pytest.fixture
def private_targets_for_the_worker(monkeypatch):
    """The worker process reads its settings from the environment."""
    monkeypatch.setenv("CRM_WEBHOOK_ALLOW_PRIVATE", "1")


@pytest.mark.worker
def test_a_real_worker_delivers_a_stage_change_within_seconds(private_targets_for_the_worker, celery_worker_process,
                                                               receiver, admin, reference_data):
    from contacts.services import contact_upsert

    endpoint_save(data={"url": receiver.url(), "secret": receiver.secret, "events": ["contact.stage_changed"]}, by=admin)
    contact = contact_upsert(data={"full_name": "Dewi", "email": "dewi@example.co.id"}, rescore=False).contact
    started = time.monotonic()
    contact_set_stage(contact=contact, stage="prospect", by=admin)  # autocommit: the worker is woken on commit
    (request,) = wait_for(lambda: receiver.to("/hook"), timeout=10)
    assert time.monotonic() - started < 10
    assert request.verified and request.json()["type"] == "contact.stage_changed"
    assert request.json()["data"]["to_stage"] == "prospect"
    wait_for(lambda: Delivery.objects.filter(status="delivered").exists(), timeout=10)
    assert Endpoint.objects.get().consecutive_failures == 0
