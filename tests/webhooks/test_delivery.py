"""Outbound webhooks against a real local HTTP receiver that verifies each signature with the
README's snippet: every event, the outbox in the change's transaction, failures of every kind,
retries with the same id, and the SSRF guard."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from contacts.models import Contact, Interaction
from contacts.privacy import contact_erase
from contacts.services import Event as InteractionEvent
from contacts.services import contact_set_stage, contacts_assign_owner, interaction_log, interactions_log_many
from followup.services import task_complete, task_create
from webhooks.delivery import deliveries_send, deliveries_sweep
from webhooks.models import Delivery, Endpoint, Event
from webhooks.services import delivery_redeliver, endpoint_save

PERSONAL = ("email", "phone", "full_name", "company")


def bodies(receiver, path="/hook", type=None):
    found = [r.json() for r in receiver.to(path)]
    return [b for b in found if type is None or b["type"] == type]


def test_each_event_reaches_the_receiver_signed_with_minimal_data(endpoint, receiver, make_contact, admin, rep,
                                                                   on_commit):
    endpoint()
    contact = make_contact(full_name="Rina Wulandari", email="rina@example.co.id", phone="081234567890",
                           external_ref="CRM-7")
    with on_commit():
        contact_set_stage(contact=contact, stage="prospect", by=admin)
    with on_commit():
        contacts_assign_owner(contact_ids=[contact.pk], owner=rep, by=admin)
    with on_commit():
        logged = interaction_log(contact=contact, kind="page_viewed", data={"url": "https://x.example/?email=rina"})
    with on_commit():
        many = interactions_log_many(events=[InteractionEvent(contact=contact, kind="email_opened"),
                                             InteractionEvent(contact=contact, kind="page_viewed")])
    task = task_create(contact=contact, type="call", due_at=timezone.now(), assignee=rep, by=admin)
    with on_commit():
        task_complete(task=task, outcome="reached", note="Called", by=rep)
    call = Interaction.objects.get(contact=contact, kind="call_made")  # the completed task's own interaction
    with on_commit():
        contact_erase(contact=contact, by=admin)

    received = receiver.to("/hook")
    assert received and all(r.verified for r in received)
    by_type = {}
    for r in received:
        by_type.setdefault(r.json()["type"], []).append(r.json())
    assert set(by_type) == {"contact.created", "contact.stage_changed", "contact.assigned", "interaction.logged",
                            "task.completed", "contact.erased"}
    assert by_type["contact.created"][0]["data"]["contact_id"] == contact.pk
    assert by_type["contact.stage_changed"][0]["data"] | {"changed_at": None} == {
        "contact_id": contact.pk, "from_stage": "contact", "to_stage": "prospect", "reason": "manual",
        "score": 0, "changed_at": None, "by_user_id": admin.pk}
    assert by_type["contact.assigned"][0]["data"] == {"contact_id": contact.pk, "owner_id": rep.pk, "by_user_id": admin.pk}
    assert sorted(b["data"]["interaction_id"] for b in by_type["interaction.logged"]) == sorted(
        [logged.interaction.pk] + [m.interaction.pk for m in many] + [call.pk])
    assert by_type["task.completed"][0]["data"] | {"done_at": None} == {
        "task_id": task.pk, "contact_id": contact.pk, "type": "call", "outcome": "reached", "assignee_id": rep.pk,
        "done_at": None, "by_user_id": rep.pk}
    assert by_type["contact.erased"][0]["data"] == {"contact_id": contact.pk, "external_ref": "CRM-7", "erase": True}
    for r in received:
        body = r.json()
        assert set(body) == {"id", "type", "created_at", "data"}
        assert r.headers["X-Saring-Event-Id"] == body["id"]
        # The whole phone number: "0812" alone also turns up in a timestamp's microseconds or an event id.
        assert not any(word in r.body.decode() for word in ("rina@example", "Rina", "81234567890"))
        assert not set(body["data"]) & set(PERSONAL)
    assert Delivery.objects.filter(status="delivered").count() == len(received)


def test_the_outbox_row_rolls_back_with_the_change(endpoint, receiver, make_contact, admin, on_commit):
    endpoint()
    contact = make_contact()
    before = Event.objects.count()
    with on_commit(), pytest.raises(RuntimeError), transaction.atomic():
        contact_set_stage(contact=contact, stage="lead", by=admin)
        assert Event.objects.count() == before + 1  # written inside the change's transaction
        raise RuntimeError("the change fails after the stage was written")
    assert Event.objects.count() == before
    assert bodies(receiver, type="contact.stage_changed") == []


def test_no_rows_for_events_nobody_subscribes_to(endpoint, receiver, make_contact, admin, on_commit,
                                                  django_assert_max_num_queries):
    endpoint(events=["contact.erased"])
    contact = make_contact()
    with on_commit():
        contact_set_stage(contact=contact, stage="lead", by=admin)
    assert Event.objects.count() == 0 and receiver.requests == []
    Endpoint.objects.update(is_active=False)
    from webhooks.outbox import subscriptions_changed

    subscriptions_changed()
    with on_commit():
        contact_erase(contact=contact, by=admin)
    assert Event.objects.count() == 0


def test_a_bulk_change_writes_the_outbox_in_a_few_queries(endpoint, receiver, make_contact, django_assert_max_num_queries):
    from webhooks import payloads
    from webhooks.outbox import events_record

    endpoint(events=["contact.created"])
    endpoint(path="/other", events=["contact.created"])
    contacts = [make_contact() for _ in range(3)]
    items = payloads.contacts_created([c.pk for c in contacts]) * 400  # 1,200 events, two endpoints
    # Batches, not rows: 3,600 rows in a few dozen INSERTs on SQLite (999 parameters a statement), fewer on PostgreSQL.
    with django_assert_max_num_queries(60), transaction.atomic():
        events_record(type="contact.created", items=items)
    assert Delivery.objects.count() == 2400 + 6


def test_timeout_500_and_redirect_are_failures_retried_later(endpoint, receiver, make_contact, admin, on_commit):
    contact = make_contact()
    for path in ("/slow", "/error", "/redirect"):
        endpoint(path=path, events=["contact.stage_changed"])
    started = time.monotonic()
    with on_commit():
        contact_set_stage(contact=contact, stage="lead", by=admin)
    assert time.monotonic() - started < 6  # three failures, each bounded by CRM_WEBHOOK_TIMEOUT (1 s)
    rows = {d.endpoint.url.rsplit("/", 1)[1]: d for d in Delivery.objects.select_related("endpoint")}
    for row in rows.values():
        assert row.status == "pending" and row.attempts == 1
        assert row.next_attempt_at > timezone.now() + timedelta(seconds=20)
    assert "timed out" in rows["slow"].error.lower() and rows["slow"].status_code is None
    assert rows["error"].status_code == 500 and rows["error"].response_excerpt == "receiver broke"
    assert rows["redirect"].status_code == 302 and "not followed" in rows["redirect"].error
    assert receiver.to("/hook") == []  # the redirect's target never got the event


def test_a_10_mb_answer_is_read_only_up_to_the_cap(endpoint, receiver, make_contact, admin, on_commit):
    endpoint(path="/big", events=["contact.stage_changed"])
    contact = make_contact()
    with on_commit():
        contact_set_stage(contact=contact, stage="lead", by=admin)
    (row,) = Delivery.objects.all()
    assert row.status == "delivered" and row.status_code == 200
    assert row.response_excerpt == "x" * 500
    assert row.duration_ms < 1000


def test_a_retry_carries_the_same_id_and_a_fresh_valid_signature(endpoint, receiver, make_contact, admin, on_commit):
    endpoint(path="/flaky", events=["contact.stage_changed"])
    receiver.fail_first["/flaky"] = 1
    contact = make_contact()
    with on_commit():
        contact_set_stage(contact=contact, stage="lead", by=admin)
    (row,) = Delivery.objects.all()
    assert row.status == "pending" and row.status_code == 500
    time.sleep(1.1)  # a later second: the new signature has its own timestamp
    Delivery.objects.update(next_attempt_at=timezone.now())
    assert deliveries_send(delivery_ids=[row.pk]) == {"delivered": 1}
    first, second = receiver.to("/flaky")
    assert first.json()["id"] == second.json()["id"] == str(row.event_id)
    assert first.body == second.body and first.verified and second.verified
    assert first.headers["X-Saring-Signature"] != second.headers["X-Saring-Signature"]
    row.refresh_from_db()
    assert row.attempts == 2 and row.status == "delivered"
    assert Endpoint.objects.get().consecutive_failures == 0


def test_a_delivery_gives_up_after_the_last_attempt(endpoint, receiver, make_contact, admin, on_commit, settings):
    settings.CRM_WEBHOOK_MAX_ATTEMPTS = 2
    endpoint(path="/error", events=["contact.stage_changed"])
    with on_commit():
        contact_set_stage(contact=make_contact(), stage="lead", by=admin)
    Delivery.objects.update(next_attempt_at=timezone.now())
    assert deliveries_send(delivery_ids=list(Delivery.objects.values_list("pk", flat=True))) == {"failed": 1}
    assert deliveries_send(delivery_ids=list(Delivery.objects.values_list("pk", flat=True))) == {"skipped": 1}
    assert len(receiver.to("/error")) == 2


def test_manual_redelivery_sends_the_same_event_again(endpoint, receiver, make_contact, admin, on_commit):
    endpoint(events=["contact.stage_changed"])
    with on_commit():
        contact_set_stage(contact=make_contact(), stage="lead", by=admin)
    (row,) = Delivery.objects.all()
    with on_commit():
        delivery_redeliver(delivery=row, by=admin)
    first, second = receiver.to("/hook")
    assert first.json()["id"] == second.json()["id"] and second.verified


def test_the_sweep_sends_what_was_never_queued(endpoint, receiver, make_contact, admin, on_commit,
                                               django_capture_on_commit_callbacks):
    """The broker was down at commit: the rows wait, and the minute's sweep sends them."""
    endpoint(events=["contact.stage_changed"])
    contact = make_contact()
    with django_capture_on_commit_callbacks(execute=False):  # the wake-up is lost
        contact_set_stage(contact=contact, stage="lead", by=admin)
    assert receiver.requests == [] and Delivery.objects.get().status == "pending"
    assert deliveries_sweep()["queued"] == 0  # too fresh: its own wake-up may still be on the way
    with on_commit():
        assert deliveries_sweep(now=timezone.now() + timedelta(minutes=2))["queued"] == 1
    assert [b["type"] for b in bodies(receiver)] == ["contact.stage_changed"]
    # a worker that died mid-send: the attempt goes again after a while
    Delivery.objects.update(status="sending", claimed_at=timezone.now() - timedelta(minutes=10))
    with on_commit():
        assert deliveries_sweep()["stuck"] == 1
    assert len(receiver.to("/hook")) == 2


# --- Where webhooks may go ------------------------------------------------------------------

@pytest.mark.parametrize("url", ["http://127.0.0.1:8080/hook", "http://localhost/hook", "http://[::1]/hook",
                                 "http://10.1.2.3/hook", "http://169.254.169.254/latest/meta-data/",
                                 "http://192.168.1.10/", "ftp://example.com/x", "http://user:pw@example.com/"])
def test_private_and_odd_urls_are_refused_at_registration(url, admin, settings, reference_data):
    settings.CRM_WEBHOOK_ALLOW_PRIVATE = False
    with pytest.raises(ValidationError) as refused:
        endpoint_save(data={"url": url, "events": ["contact.created"]}, by=admin)
    assert list(refused.value.message_dict) == ["url"]
    assert Endpoint.objects.count() == 0


def test_metadata_address_is_refused_even_when_private_targets_are_allowed(admin, settings, reference_data):
    settings.CRM_WEBHOOK_ALLOW_PRIVATE = True
    with pytest.raises(ValidationError):
        endpoint_save(data={"url": "http://169.254.169.254/", "events": ["contact.created"]}, by=admin)
    endpoint_save(data={"url": "http://127.0.0.1:9/", "events": ["contact.created"]}, by=admin)


def test_the_address_is_checked_again_at_send(endpoint, receiver, make_contact, admin, on_commit, settings):
    """Registered while allowed; by send time it is not (as if its DNS now answered 127.0.0.1)."""
    endpoint(events=["contact.stage_changed"])
    settings.CRM_WEBHOOK_ALLOW_PRIVATE = False
    with on_commit():
        contact_set_stage(contact=make_contact(), stage="lead", by=admin)
    (row,) = Delivery.objects.all()
    assert row.status == "pending" and row.error.startswith("refused:") and "127.0.0.1" in row.error
    assert receiver.requests == []


def test_pure_address_checks():
    from crm.net import AddressRefused, public_address

    for host in ("127.0.0.1", "169.254.169.254", "10.0.0.1", "::1", "224.0.0.1", "0.0.0.0", "100.64.0.1", "::ffff:127.0.0.1"):
        with pytest.raises(AddressRefused):
            public_address(host, 80)
    assert public_address("8.8.8.8", 80) == "8.8.8.8"
    assert public_address("127.0.0.1", 80, allow_private=True) == "127.0.0.1"
    with pytest.raises(AddressRefused):
        public_address("169.254.169.254", 80, allow_private=True)


def test_changes_of_one_transaction_wake_the_workers_once(endpoint, receiver, make_contact, admin, on_commit):
    from celery.signals import task_prerun

    endpoint(events=["contact.stage_changed"])
    contacts = [make_contact() for _ in range(30)]
    started: list[str] = []

    def count(sender=None, **kwargs) -> None:
        started.append(sender.name)

    task_prerun.connect(count, weak=False)
    try:
        with on_commit(), transaction.atomic():
            for contact in contacts:
                contact_set_stage(contact=contact, stage="lead", by=admin)
        with on_commit(), pytest.raises(RuntimeError), transaction.atomic():  # a rolled-back change leaves nothing behind
            contact_set_stage(contact=contacts[0], stage="prospect", by=admin)
            raise RuntimeError
        with on_commit():
            contact_set_stage(contact=contacts[1], stage="customer", by=admin)
    finally:
        task_prerun.disconnect(count)
    assert started.count("webhooks.tasks.deliveries_send_task") == 2  # 30 in one task, then the last change
    assert len(receiver.to("/hook")) == 31 and Delivery.objects.filter(status="delivered").count() == 31


def test_an_import_announces_its_new_contacts_and_their_activity(endpoint, receiver, admin, on_commit, tmp_path):
    """The importer's bulk insert sends contacts_created and interactions_logged like the services do."""
    from contacts.imports.run import import_file

    endpoint(events=["contact.created", "interaction.logged"])
    path = tmp_path / "pameran.csv"
    path.write_text("email,full name,Page Views\n" + "".join(f"peserta{n}@example.co.id,Peserta {n},2\n" for n in range(5)),
                    encoding="utf-8")
    with on_commit():
        job = import_file(path=path, by=admin)
    assert job.created == 5
    created = bodies(receiver, type="contact.created")
    assert len(created) == 5 and all(r.verified for r in receiver.to("/hook"))
    assert {b["data"]["contact_id"] for b in created} == set(Contact.objects.values_list("pk", flat=True))
    logged = bodies(receiver, type="interaction.logged")
    assert Interaction.objects.count() == 10  # two page views per row, written in bulk
    assert sorted(b["data"]["interaction_id"] for b in logged) == sorted(Interaction.objects.values_list("pk", flat=True))


def test_why_an_attempt_failed_reads_in_the_viewers_language(endpoint, receiver, make_contact, admin, on_commit,
                                                             client_for):
    """The failure is stored as a msgid and parameters: the log reads it in Indonesian, the API keeps the detail."""
    for path in ("/slow", "/error", "/redirect"):
        endpoint(path=path, events=["contact.stage_changed"])
    with on_commit():
        contact_set_stage(contact=make_contact(), stage="lead", by=admin)
    rows = {d.endpoint.url.rsplit("/", 1)[1]: d for d in Delivery.objects.select_related("endpoint")}
    assert rows["error"].error_message == "The receiver answered HTTP %(code)s." and rows["error"].error_params == {"code": 500}
    assert rows["slow"].error_params == {"seconds": "1"}
    client = client_for(admin)
    client.cookies["django_language"] = "id"
    pages = {path: client.get(f"/webhooks/{row.endpoint_id}/", HTTP_ACCEPT_LANGUAGE="id").content.decode()
             for path, row in rows.items()}
    assert "Penerima menjawab HTTP 500." in pages["error"]
    assert "Tidak ada jawaban dalam 1 detik." in pages["slow"] and "timed out" in pages["slow"]  # the detail, in <code>
    assert "pengalihan tidak diikuti" in pages["redirect"]
    client.cookies["django_language"] = "en"
    english = client.get(f"/webhooks/{rows['error'].endpoint_id}/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "The receiver answered HTTP 500." in english

    Delivery.objects.filter(pk=rows["error"].pk).update(status="sending", claimed_at=timezone.now() - timedelta(hours=1))
    Endpoint.objects.filter(pk=rows["error"].endpoint_id).update(is_active=False)  # released, not sent again at once
    deliveries_sweep()
    client.cookies["django_language"] = "id"
    page = client.get(f"/webhooks/{rows['error'].endpoint_id}/", HTTP_ACCEPT_LANGUAGE="id").content.decode()
    assert "Terputus saat mengirim; dikirim ulang." in page
