"""Big selections and erasures run on a worker: the confirmation claims the action (queued) and
queues one task after commit; the task runs it once, the sweep queues it again if the task was
lost, and the preview page shows "running", then the result."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth.models import Group
from django.utils import timezone

from contacts.models import Contact, StageChange
from crm import bulk
from crm.models import AuditEvent, BulkAction
from tests.bulk.conftest import text


@pytest.fixture(autouse=True)
def _small_inline_limits(monkeypatch):
    monkeypatch.setattr("crm.bulk.INLINE_ERASE_MAX", 1)
    monkeypatch.setattr("crm.bulk.INLINE_MAX", 2)


def test_an_erasure_runs_on_a_worker_once(client_for, admin, team, start, django_capture_on_commit_callbacks):
    client = client_for(admin)
    started = start(client, "erase", [team["eko"], team["fitri"]])
    url = started.url.split("?")[0]
    with django_capture_on_commit_callbacks() as queued:
        response = client.post(url, {"mode": "delete", "typed": "2"}, follow=True)
    assert len(queued) == 1, "one task, queued after commit"
    assert "Erase for 2 contacts is running in the background." in text(response)
    assert "Running in the background: reload this page to see the result." in text(response)
    started.bulk.refresh_from_db()
    assert started.bulk.status == "queued" and Contact.objects.filter(pk=team["eko"].pk).exists()
    again = client.post(url, {"mode": "delete", "typed": "2"}, follow=True)
    assert "This bulk action is running already." in text(again)

    queued[0]()  # the worker
    assert not Contact.objects.filter(pk__in=[team["eko"].pk, team["fitri"].pk]).exists()
    assert bulk.bulk_run_queued(bulk_id=started.bulk.pk) is False, "a second delivery does nothing"
    assert AuditEvent.objects.filter(details__what="bulk").count() == 1
    assert "Done. Erase: 2 of 2 contacts done." in text(client.get(url))


def test_a_big_stage_change_keeps_its_reason_for_the_worker(client_for, marketer, team, start,
                                                            django_capture_on_commit_callbacks):
    client = client_for(marketer)
    chosen = [team["ani"], team["budi"], team["citra"]]
    started = start(client, "stage", chosen, stage="customer")
    with django_capture_on_commit_callbacks(execute=True):
        client.post(started.url.split("?")[0], {"stage": "customer", "note": "Signed at the fair"})
    assert set(Contact.objects.filter(pk__in=[c.pk for c in chosen]).values_list("stage", flat=True)) == {"customer"}
    notes = StageChange.objects.filter(contact__in=chosen).values_list("reason_params__note", flat=True)
    assert list(notes) == ["Signed at the fair"] * 3


def test_an_actor_who_lost_the_role_leaves_everyone_skipped(client_for, admin, team, start, django_capture_on_commit_callbacks):
    client = client_for(admin)
    started = start(client, "erase", [team["eko"], team["fitri"]])
    with django_capture_on_commit_callbacks() as queued:
        client.post(started.url.split("?")[0], {"mode": "delete", "typed": "2"})
    admin.is_superuser = False
    admin.save()
    admin.groups.set([Group.objects.get(name="marketer")])
    queued[0]()
    started.bulk.refresh_from_db()
    assert started.bulk.status == "done" and started.bulk.result["skipped"] == {"not_allowed": 2}
    assert Contact.objects.filter(pk__in=[team["eko"].pk, team["fitri"].pk]).count() == 2


def test_the_sweep_queues_a_lost_run_again(admin, team, django_capture_on_commit_callbacks):
    lost = BulkAction.objects.create(actor=admin, action="tag", contact_ids=[team["ani"].pk], status="queued",
                                     params={"tag": "found"}, created_at=timezone.now() - timedelta(minutes=10))
    BulkAction.objects.create(actor=admin, action="tag", contact_ids=[team["ani"].pk], status="queued", params={"tag": "new"})
    with django_capture_on_commit_callbacks(execute=True):
        assert bulk.bulk_sweep() == 1
    lost.refresh_from_db()
    assert lost.status == "done" and list(Contact.objects.get(pk=team["ani"].pk).tags.values_list("name", flat=True)) == [
        "found", "webinar"]
