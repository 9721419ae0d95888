"""The importer's staging-table insert of new people (contacts.imports.staging): what a set-based
write could get wrong. Runs on the embedded SQLite (executemany into the staging table) and on
PostgreSQL (COPY), the same INSERT … SELECT … ON CONFLICT DO NOTHING on both."""

from __future__ import annotations

import pytest

from contacts.imports.staging import contacts_insert_staged
from contacts.imports.writing import Known
from contacts.models import ConsentRecord, Contact
from contacts.rollup import rollup_stored, rollup_truth
from contacts.services import clean_contact_data, contact_new

from .conftest import csv_bytes

pytestmark = pytest.mark.django_db


def test_awkward_text_and_json_survive_the_staging_table(db):
    """COPY's text format escapes backslashes, tabs and newlines; "\\N" typed by someone is text, not NULL."""
    awkward = "tab\there, line\nbreak, back\\slash, \\N, “kutip” 'x' \"y\", émoji 🙂"
    contact = contact_new(clean_contact_data({
        "full_name": awkward, "email": "aneh@contoh.co.id", "company": "\\N", "city": "",
        "attributes": {"catatan": awkward, "angka": 1.5, "daftar": [1, "dua"], "kosong": None}}))

    assert contacts_insert_staged([contact]) == []

    stored = Contact.objects.get(pk=contact.pk)
    assert (stored.full_name, stored.company, stored.city, stored.phone, stored.external_ref) == (awkward, "\\N", "", None, None)
    assert stored.attributes == {"catatan": awkward, "angka": 1.5, "daftar": [1, "dua"], "kosong": None}
    assert stored.created_at is not None and stored.created_at == contact.created_at
    assert (stored.stage, stored.score, stored.needs_rescore, stored.consent_email) == ("contact", 0, False, False)


def test_a_column_escaped_for_one_awkward_value_keeps_its_neighbours_and_nulls_exact(db):
    """COPY text is built column by column, escaped only where a column needs it: a plain value beside
    an awkward one, a NULL beside "\\N" typed by someone, and shared moments all come back as given."""
    plain, awkward, none = (contact_new(clean_contact_data(data)) for data in (
        {"full_name": "Biasa Saja", "email": "biasa@contoh.co.id", "job_title": "Staf", "attributes": {"a": "b"}},
        {"full_name": "Tab\tdan\\garis", "email": "aneh2@contoh.co.id", "job_title": "\\N"},
        {"full_name": "Tanpa", "phone": "0812-3456-7000"},
    ))
    assert contacts_insert_staged([plain, awkward, none]) == []

    stored = {c.pk: c for c in Contact.objects.filter(pk__in=[plain.pk, awkward.pk, none.pk])}
    assert (stored[plain.pk].full_name, stored[plain.pk].job_title, stored[plain.pk].attributes) == ("Biasa Saja", "Staf", {"a": "b"})
    assert (stored[awkward.pk].full_name, stored[awkward.pk].job_title) == ("Tab\tdan\\garis", "\\N")
    assert (stored[none.pk].email, stored[none.pk].phone, stored[none.pk].scored_at) == (None, "+6281234567000", None)
    assert all(stored[c.pk].created_at == c.created_at for c in (plain, awkward, none))


def test_a_taken_identity_comes_back_alone_and_the_rest_keep_file_order(db, make_contact):
    taken = make_contact(phone="0812-5555-0002", full_name="Sudah Ada")
    contacts = [contact_new(clean_contact_data(data)) for data in (
        {"full_name": "Satu", "email": "satu@contoh.co.id"},
        {"full_name": "Dua", "phone": "0812-5555-0002"},  # a concurrent writer created this phone meanwhile
        {"full_name": "Tiga", "external_source": "crm_lama", "external_ref": "T-3"},
    )]

    refused = contacts_insert_staged(contacts)

    assert [c.full_name for c in refused] == ["Dua"] and refused[0].pk is None
    one, three = contacts[0], contacts[2]
    assert one.pk < three.pk  # inserted in file order
    assert Contact.objects.get(pk=three.pk).external_ref == "T-3"
    assert Contact.objects.get(phone="+6281255550002").pk == taken.pk
    assert Contact.objects.count() == 3


def test_duplicates_inside_one_file_make_one_contact_within_and_across_chunks(run_import):
    rows = [["Email", "No HP", "Nama", "Kota"],
            ["dobel@contoh.co.id", "", "Dobel", ""],
            ["", "0812-7777-0001", "Telepon", ""],
            ["DOBEL@contoh.co.id ", "0812-7777-0001", "Dobel Lagi", "Medan"],  # same person by email, then phone
            ["lain@contoh.co.id", "", "Lain", ""],
            ["dobel@contoh.co.id", "", "", "Medan"]]  # the next chunk (size 4): nothing new

    job = run_import(csv_bytes(rows), chunk_size=4)

    assert (job.created, job.updated, job.skipped, job.failed) == (3, 1, 1, 0)
    dobel = Contact.objects.get(email="dobel@contoh.co.id")
    # A later row's values fill in (as any upsert); the phone belongs to the contact row 3 created: not copied.
    assert (dobel.full_name, dobel.city, dobel.phone) == ("Dobel Lagi", "Medan", None)
    assert Contact.objects.get(phone="+6281277770001").full_name == "Telepon"
    assert Contact.objects.count() == 3

    again = run_import(csv_bytes(rows), chunk_size=4)
    assert (again.created, again.failed) == (0, 0) and Contact.objects.count() == 3


def test_existing_contacts_are_updated_beside_new_ones_in_the_same_chunk(run_import, make_contact):
    old = make_contact(email="lama@contoh.co.id", full_name="Lama", company="")
    rows = [["Email", "Nama", "Perusahaan"],
            ["baru1@contoh.co.id", "Baru Satu", "PT A"],
            ["lama@contoh.co.id", "", "PT Lama"],
            ["baru2@contoh.co.id", "Baru Dua", ""]]

    job = run_import(csv_bytes(rows))

    assert (job.created, job.updated, job.failed) == (2, 1, 0)
    old.refresh_from_db()
    assert (old.full_name, old.company) == ("Lama", "PT Lama")  # a blank never overwrites
    assert set(Contact.objects.values_list("email", flat=True)) == {"lama@contoh.co.id", "baru1@contoh.co.id", "baru2@contoh.co.id"}


def test_consent_columns_of_new_contacts_are_written_with_the_job_as_evidence(run_import, marketer):
    rows = [["Email", "Nama", "Email Opt-in", "WA Opt-in"],
            ["setuju@contoh.co.id", "Setuju", "ya", "ya"],
            ["tidak@contoh.co.id", "Tidak", "tidak", ""]]
    mapping = {"source": "pameran", "identity": "auto", "columns": {
        "Email": "email", "Nama": "full_name", "Email Opt-in": "consent_email", "WA Opt-in": "consent_whatsapp"}}

    job = run_import(csv_bytes(rows), mapping=mapping, by=marketer)

    yes, no = Contact.objects.get(email="setuju@contoh.co.id"), Contact.objects.get(email="tidak@contoh.co.id")
    assert (yes.consent_email, yes.consent_whatsapp, no.consent_email) == (True, True, False)
    records = ConsentRecord.objects.filter(contact=yes)
    assert sorted(records.values_list("channel", "granted")) == [("email", True), ("whatsapp", True)]
    assert all(r.import_job_id == job.pk and r.recorded_by_id == marketer.pk and r.source == "import" for r in records)
    assert not ConsentRecord.objects.filter(contact=no).exists()


def test_the_rollup_equals_group_by_after_an_import(run_import, playbooks, make_contact):
    make_contact(email="ada@contoh.co.id", industry="b2b")
    rows = [["Nama", "Email", "No HP", "Perusahaan", "Jabatan", "Industri", "Sumber"]]
    rows += [[f"Orang {i}", f"orang{i}@pabrik.co.id", f"0812-3000-{i:04d}", "PT Baja" if i % 2 else "",
              "Direktur" if i % 3 == 0 else "Staf", ("b2b", "ecommerce", "kesehatan")[i % 3], ("pameran", "web")[i % 2]]
             for i in range(1, 31)]
    rows.append(["Ada", "ada@contoh.co.id", "", "PT Ada", "Direktur", "b2b", "pameran"])  # an update

    job = run_import(csv_bytes(rows), chunk_size=7)

    assert (job.created, job.updated, job.failed) == (30, 1, 0)
    assert Contact.objects.exclude(stage="contact").exists()  # some moved on insert: moves are counted too
    counts, moves = rollup_truth()
    assert rollup_stored() == (counts, moves)
    assert sum(counts.values()) == 31 and moves


def test_bad_cells_are_reported_by_row_and_column_and_good_rows_kept(run_import):
    rows = [["Email", "No HP", "Industri", "Nama"],
            ["baik@contoh.co.id", "0812-4444-0001", "b2b", "Baik"],
            ["rusak@", "", "b2b", "Email Rusak"],
            ["sebagian@contoh.co.id", "12", "pertanian", "Sebagian"]]

    job = run_import(csv_bytes(rows))

    assert (job.created, job.failed, job.warned) == (2, 1, 2)
    assert [e["row"] for e in job.errors] == [3] and job.errors[0]["reason"].startswith("Email:")
    assert sorted((w["row"], w["column"], w["value"]) for w in job.warnings) == [(4, "Industri", "pertanian"), (4, "No HP", "12")]
    partial = Contact.objects.get(email="sebagian@contoh.co.id")
    assert (partial.phone, partial.industry) == (None, "other")


def test_a_lookup_that_missed_merges_the_row_without_losing_the_chunk(run_import, make_contact, monkeypatch):
    """Every row looks new to the chunk (as if the lookup raced a writer): the staged insert
    refuses the two taken identities and only those rows are merged row by row."""
    make_contact(email="a@contoh.co.id", full_name="A")
    make_contact(phone="0812-6666-0001", full_name="B")
    monkeypatch.setattr(Known, "is_new", lambda self, plan: True)
    rows = [["Email", "No HP", "Kota"], ["a@contoh.co.id", "", "Bogor"], ["c@contoh.co.id", "", "Depok"],
            ["", "0812-6666-0001", "Bekasi"], ["d@contoh.co.id", "", "Tangerang"]]

    job = run_import(csv_bytes(rows))

    assert (job.created, job.updated, job.failed) == (2, 2, 0)
    assert dict(Contact.objects.values_list("full_name", "city").exclude(full_name="")) == {"A": "Bogor", "B": "Bekasi"}
    assert Contact.objects.count() == 4


def test_a_new_contact_starts_from_the_same_defaults_as_the_model():
    """contact_new builds its blank contact from precomputed defaults (a fifth of its time was
    Contact() computing 35 of them): the same values, fresh mutable ones, the current time."""
    from contacts.services.contact import _blank_contact

    blank, model = _blank_contact(), Contact()
    for f in Contact._meta.concrete_fields:
        if f.name != "created_at":
            assert getattr(blank, f.attname) == getattr(model, f.attname), f.name
    assert abs((blank.created_at - model.created_at).total_seconds()) < 5
    assert blank._state.adding and blank.pk is None
    other = _blank_contact()
    assert other.attributes is not blank.attributes and other.score_breakdown is not blank.score_breakdown
