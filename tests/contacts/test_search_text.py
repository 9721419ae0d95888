"""The search text (contacts.search_text): database triggers keep one row per contact with its name,
email, company and phone, through every kind of write, and a write that sets none of those columns
(the scorer's) does not touch it. Runs on SQLite and on PostgreSQL (where it also checks that the row
is not rewritten and that the search reads the trigram index)."""

from __future__ import annotations

import pytest
from django.db import connection

from contacts.models import Contact, ContactSearch
from contacts.search_text import TABLE, rebuild_sql, text_sql
from contacts.services import contact_update
from crm.search import search_contacts
from tests.conftest import skip_or_fail

pytestmark = pytest.mark.django_db


def _text(contact: Contact) -> str:
    return ContactSearch.objects.get(contact_id=contact.pk).text


def _expected(contact: Contact) -> str:
    contact.refresh_from_db()
    return "\n".join(getattr(contact, column) or "" for column in ("full_name", "email", "company", "phone"))


def _row_version(contact: Contact):
    """PostgreSQL's physical address of the row: it moves whenever the row is rewritten."""
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT ctid::text FROM {TABLE} WHERE contact_id = %s", [contact.pk])
        return cursor.fetchone()[0]


def test_a_new_contact_has_its_search_text(make_contact):
    dewi = make_contact(full_name="Dewi Lestari", email="dewi@maju.co.id", phone="0812-3456-7890", company="PT Maju")
    assert _text(dewi) == "Dewi Lestari\ndewi@maju.co.id\nPT Maju\n+6281234567890"
    no_phone = make_contact(full_name="Agus", email="agus@contoh.id")
    assert _text(no_phone) == "Agus\nagus@contoh.id\n\n"


def test_an_edit_of_a_searched_column_rewrites_it_and_the_search_follows(make_contact, admin):
    dewi = make_contact(full_name="Dewi Lestari", email="dewi@maju.co.id")
    contact_update(contact=dewi, data={"full_name": "Dewi Kartika", "company": "CV Sentosa"}, by=admin)
    assert _text(dewi) == _expected(dewi) == "Dewi Kartika\ndewi@maju.co.id\nCV Sentosa\n"
    assert [c.pk for c in search_contacts(admin, "kartika")] == [dewi.pk]
    assert list(search_contacts(admin, "lestari")) == []
    assert [c.pk for c in search_contacts(admin, "sentosa")] == [dewi.pk]


def test_the_scorers_update_and_other_edits_leave_the_row_alone(make_contact):
    dewi = make_contact(full_name="Dewi Lestari", email="dewi@maju.co.id")
    before = _text(dewi)
    version = _row_version(dewi) if connection.vendor == "postgresql" else None
    Contact.objects.filter(pk=dewi.pk).update(score=42, stage="lead", city="Bandung", needs_rescore=False)
    # Setting a searched column to the value it has is no change either (the trigger's WHEN).
    Contact.objects.filter(pk=dewi.pk).update(full_name="Dewi Lestari")
    assert _text(dewi) == before
    if version is not None:
        assert _row_version(dewi) == version


def test_bulk_writes_and_deletes_keep_one_row_per_contact(make_contact):
    Contact.objects.bulk_create([Contact(full_name=f"Impor {n}", email=f"impor{n}@contoh.id") for n in range(30)])
    imported = Contact.objects.filter(full_name__startswith="Impor")
    assert ContactSearch.objects.filter(contact_id__in=imported.values("pk")).count() == 30
    Contact.objects.filter(pk__in=imported.values("pk")[:10]).update(company="PT Baru")
    assert ContactSearch.objects.filter(text__endswith="\nPT Baru\n").count() == 10
    kept = make_contact(full_name="Tetap")
    imported.delete()
    assert list(ContactSearch.objects.values_list("contact_id", flat=True)) == [kept.pk]
    kept.delete()
    assert not ContactSearch.objects.exists()


def test_a_rebuild_gives_what_the_triggers_keep(make_contact, admin):
    for n in range(5):
        contact = make_contact(full_name=f"Orang {n}", phone=f"0812000000{n:02d}", company="PT X" if n % 2 else "")
        contact_update(contact=contact, data={"city": "Medan", "full_name": f"Orang {n} Baru"}, by=admin)
    kept = dict(ContactSearch.objects.values_list("contact_id", "text"))
    with connection.cursor() as cursor:
        for statement in rebuild_sql(connection.vendor):
            cursor.execute(statement)
        cursor.execute(f"SELECT c.id, {text_sql('c', connection.vendor)} FROM contacts_contact c")
        from_contacts = dict(cursor.fetchall())
    assert dict(ContactSearch.objects.values_list("contact_id", "text")) == kept == from_contacts
    assert len(kept) == 5


@pytest.mark.postgres
def test_the_search_reads_the_trigram_index_on_postgresql(make_contact, admin):
    if connection.vendor != "postgresql":
        skip_or_fail("the trigram index is PostgreSQL's; set DATABASE_URL")
    make_contact(full_name="Dewi Lestari")
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")  # a tiny table: ask whether the index can serve it
        sql, params = ContactSearch.objects.filter(text__icontains="lestari").values("contact_id").query.sql_with_params()
        cursor.execute("EXPLAIN " + sql, params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "contact_search_trgm" in plan
