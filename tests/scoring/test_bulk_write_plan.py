"""The bulk score write finds its contacts by primary key. Its batch sits in a temporary table
that has no statistics; guessed at ~11,000 rows, a join on it alone made the planner read every
contact for each batch (docs/performance.md, round two, session eleven)."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from contacts.models import Contact
from scoring.rescoring import contacts_rescore

pytestmark = pytest.mark.django_db


@pytest.mark.postgres
def test_the_bulk_write_reads_contacts_by_primary_key_not_by_scanning_them(playbooks):
    # Enough contacts that scanning them costs the planner more than a few index probes.
    Contact.objects.bulk_create(Contact(full_name=f"Kontak {n}", email=f"kontak{n}@example.co.id", industry="general")
                                for n in range(5000))
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE contacts_contact")
    batch = list(Contact.objects.order_by("pk").values_list("pk", flat=True)[:3])  # more than ROW_BY_ROW_UP_TO

    with CaptureQueriesContext(connection) as queries:
        outcome = contacts_rescore(contact_ids=batch)
    assert outcome.written == set(batch) and outcome.one_by_one == 0
    [update] = [q["sql"] for q in queries if q["sql"].startswith("UPDATE contacts_contact AS c SET score =")]

    # Still inside the test's transaction: the temporary table holds the batch the UPDATE read.
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN {update}")
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "Seq Scan on contacts_contact" not in plan, plan
    assert "contacts_contact_pkey" in plan, plan
