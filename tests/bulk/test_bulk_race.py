"""Two confirmations of one bulk action at the same moment (a double click that reaches two web
processes): the claim lets one run it; the other gets the stored result. PostgreSQL only: SQLite
serialises writers, so there is no race to lose."""

from __future__ import annotations

import threading

import pytest
from django.db import connection

from contacts.models import StageChange
from crm import bulk
from crm.models import AuditEvent, BulkAction
from tests.conftest import skip_or_fail


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_confirmations_at_once_run_the_action_once(marketer, team):
    if connection.vendor != "postgresql":
        skip_or_fail("SQLite serialises writers; the race needs PostgreSQL")
    ids = [c.pk for c in team.values()]
    draft = bulk.bulk_draft(user=marketer, action=bulk.STAGE, contact_ids=ids, selection={"scope": "ids"})
    barrier, outcomes, errors = threading.Barrier(4), [], []

    def confirm():
        try:
            barrier.wait()
            own = BulkAction.objects.get(pk=draft.pk)
            outcomes.append(bulk.bulk_run(bulk=own, user=marketer, params={"stage": "prospect"}, note="fair"))
        except Exception as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(repr(exc))
        finally:
            connection.close()

    threads = [threading.Thread(target=confirm) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert sorted(o.ran for o in outcomes) == [False, False, False, True]
    assert {o.result["done"] for o in outcomes} == {6}, "the same result for every confirmation"
    assert AuditEvent.objects.filter(details__what="bulk").count() == 1
    # Five leads moved; dewi was a prospect already and is only pinned.
    assert StageChange.objects.filter(reason_code="manual", to_stage="prospect").count() == 5
