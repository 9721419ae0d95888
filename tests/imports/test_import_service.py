"""The import service: validation per row, chunks, de-duplication, interactions, resume, scoring."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from contacts.imports import run
from contacts.imports.run import _claim, _commit_chunk, import_create, import_run, import_start
from contacts.imports.validation import Compiled
from contacts.imports.writing import Known, import_rows
from contacts.models import Contact, ImportJob, Interaction, StageChange
from crm.models import AuditEvent

from .conftest import csv_bytes, xlsx_bytes

pytestmark = pytest.mark.django_db

HEADER = ["Nama", "No HP", "Email", "Perusahaan", "Kota", "Industri"]


def test_only_missing_identity_refuses_a_row_and_a_bad_optional_cell_is_a_warning(run_import):
    rows = [
        HEADER,
        ["Budi", "0812-3456-7890", "budi@contoh.co.id", "PT Maju", "Jakarta", "b2b"],
        ["Email Rusak", "", "bukan-email", "", "", ""],
        ["Ani", "0813 1111 2222", "", "", "Bandung", "kesehatan"],
        ["HP Rusak", "abc-def", "", "", "", ""],
        ["Citra", "", "citra@contoh.co.id", "", "", "pendidikan"],
        ["Industri Aneh", "", "aneh@contoh.co.id", "", "", "pertanian"],
        ["Tanpa Identitas", "", "", "CV Sepi", "Solo", ""],
        ["Dedi", "+62 811-222-3333", "", "", "", ""],
    ]
    job = run_import(csv_bytes(rows))

    assert job.status == ImportJob.Status.DONE
    assert (job.total_rows, job.rows_done, job.created, job.failed, job.warned) == (8, 8, 5, 3, 1)
    assert job.created + job.updated + job.skipped + job.failed == job.total_rows
    assert set(Contact.objects.values_list("full_name", flat=True)) == {"Budi", "Ani", "Citra", "Industri Aneh", "Dedi"}
    reasons = {e["row"]: e["reason"] for e in job.errors}
    assert sorted(reasons) == [3, 5, 8]  # an invalid email or phone that is the only identity; no identity at all
    assert reasons[3].startswith("Email:")
    assert "abc-def" in reasons[5] and reasons[5].startswith("No HP:")
    assert "No identity" in reasons[8]
    # An unknown industry is an optional cell: the row lands without it, and the cell is a warning.
    [warning] = job.warnings
    assert (warning["row"], warning["column"], warning["value"]) == (7, "Industri", "pertanian")
    assert "pertanian" in warning["reason"]
    assert Contact.objects.get(email="aneh@contoh.co.id").industry == "other"
    # The original row, cell for cell, so the report can be fixed and imported again.
    assert next(e for e in job.errors if e["row"] == 5)["values"] == rows[4]
    assert Contact.objects.get(full_name="Ani").industry == "healthcare"  # Indonesian industry words are understood


def test_a_bad_row_never_loses_its_neighbours_across_chunks(run_import):
    rows = [["Email", "Nama"]] + [[f"orang{i}@contoh.co.id" if i != 5 else "rusak@", f"Orang {i}"] for i in range(1, 11)]
    job = run_import(csv_bytes(rows), chunk_size=3)

    assert (job.created, job.failed) == (9, 1)
    assert job.errors[0]["row"] == 6
    assert Contact.objects.count() == 9


def test_reimport_creates_nothing_new_and_only_fills_blanks(run_import):
    first = [HEADER, ["Budi", "0812-3456-7890", "budi@contoh.co.id", "PT Maju", "", "b2b"]]
    run_import(csv_bytes(first))
    budi = Contact.objects.get()

    again = run_import(csv_bytes(first))
    assert (again.created, again.updated, again.skipped, again.failed) == (0, 0, 1, 0)

    # A later export: the city is now known, the company cell is empty (blank never overwrites).
    later = [HEADER, ["Budi", "0812-3456-7890", "budi@contoh.co.id", "", "Jakarta", "b2b"]]
    filled = run_import(csv_bytes(later))
    assert (filled.created, filled.updated) == (0, 1)
    budi.refresh_from_db()
    assert (budi.company, budi.city, Contact.objects.count()) == ("PT Maju", "Jakarta", 1)


def test_matches_by_phone_when_the_email_is_missing(run_import):
    run_import(csv_bytes([HEADER, ["Ani", "0813 1111 2222", "", "", "", ""]]))
    job = run_import(csv_bytes([HEADER, ["Ani", "+62 813-1111-2222", "ani@contoh.co.id", "", "", ""]]))

    assert (job.created, job.updated) == (0, 1)
    assert Contact.objects.get().email == "ani@contoh.co.id"


def test_interactions_from_date_and_flag_columns_are_logged_once(run_import):
    rows = [
        ["Email", "Last Activity", "Converted", "Tanggal Beli"],
        ["a@contoh.co.id", "05/03/2026", "yes", "2026-03-06 14:00"],
        ["b@contoh.co.id", "", "no", ""],
        ["c@contoh.co.id", "1 Februari 2026", "TRUE", ""],
    ]
    mapping = {
        "source": "crm-lama", "identity": "auto",
        "columns": {
            "Email": "email",
            "Last Activity": {"target": "interaction", "kind": "page_viewed", "mode": "date"},
            "Converted": {"target": "interaction", "kind": "purchase", "mode": "flag", "date_column": "Tanggal Beli", "channel": "store"},
            "Tanggal Beli": "ignore",
        },
    }
    job = run_import(csv_bytes(rows), mapping=mapping)

    a = Contact.objects.get(email="a@contoh.co.id")
    local = timezone.get_current_timezone()
    assert {(i.kind_id, i.occurred_at) for i in a.interactions.all()} == {
        ("page_viewed", datetime(2026, 3, 5, tzinfo=local)),
        ("purchase", datetime(2026, 3, 6, 14, 0, tzinfo=local)),
    }
    purchase = a.interactions.get(kind="purchase")
    assert (purchase.channel, purchase.source, purchase.data) == ("store", "crm-lama", {"import_column": "Converted", "value": "yes"})
    assert not Contact.objects.get(email="b@contoh.co.id").interactions.exists()
    c_purchase = Contact.objects.get(email="c@contoh.co.id").interactions.get(kind="purchase")
    assert c_purchase.occurred_at == job.started_at  # no date column value: dated by the import
    assert Interaction.objects.count() == 4
    assert "Tanggal Beli" not in a.attributes

    again = run_import(csv_bytes(rows), mapping=mapping)
    assert Interaction.objects.count() == 4  # the same rows never log twice, even in a new job
    assert (again.created, again.updated, again.skipped) == (0, 0, 3)


def test_an_unparseable_or_future_date_is_a_warning_and_the_row_lands(run_import):
    rows = [["Email", "Last Activity"], ["a@contoh.co.id", "kemarin"], ["b@contoh.co.id", "01/01/2099"], ["c@contoh.co.id", "02/01/2026"]]
    mapping = {"identity": "auto", "columns": {"Email": "email",
                                               "Last Activity": {"target": "interaction", "kind": "page_viewed", "mode": "date"}}}
    job = run_import(csv_bytes(rows), mapping=mapping)

    assert (job.created, job.failed, job.warned) == (3, 0, 2)
    assert [(w["row"], w["column"], w["value"]) for w in job.warnings] == [
        (2, "Last Activity", "kemarin"), (3, "Last Activity", "01/01/2099")]
    assert "is not a date" in job.warnings[0]["reason"]
    assert "future" in job.warnings[1]["reason"]
    assert not Interaction.objects.filter(contact__email__in=["a@contoh.co.id", "b@contoh.co.id"]).exists()
    assert Contact.objects.get(email="c@contoh.co.id").interactions.count() == 1


def test_record_ids_identify_rows_per_source(run_import):
    rows = [["Lead ID", "Nama", "Kota"], ["L-001", "Budi", "Solo"], ["L-002", "Ani", "Medan"]]
    run_import(csv_bytes(rows), mapping={"source": "crm-lama", "identity": "auto", "columns": {"Lead ID": "external_ref", "Nama": "full_name"}})
    # Same ids in another system are other people; the same ids again are the same people.
    run_import(csv_bytes(rows), mapping={"source": "crm-baru", "identity": "auto", "columns": {"Lead ID": "external_ref", "Nama": "full_name"}})
    job = run_import(csv_bytes([["Lead ID", "Nama", "Kota"], ["L-001", "Budi", "Surakarta"]]),
                     mapping={"source": "crm-lama", "identity": "auto", "columns": {"Lead ID": "external_ref", "Nama": "full_name"}})

    assert Contact.objects.count() == 4
    assert (job.created, job.updated) == (0, 1)
    budi = Contact.objects.get(external_source="crm-lama", external_ref="L-001")
    assert budi.attributes == {"Kota": "Surakarta"}


def test_anonymous_rows_get_a_source_and_row_number_reference(run_import):
    rows = [["age", "job", "duration", "pdays", "y"], ["58", "management", "261", "-1", "no"], ["44", "unknown", "151", "3", "yes"]]
    mapping = {"source": "survei", "identity": "row", "defaults": {"industry": "b2b"}, "blank_values": ["unknown"],
               "columns": {"duration": "ignore", "pdays": {"target": "attribute", "blank": ["-1"]},
                           "y": {"target": "interaction", "kind": "purchase", "mode": "flag", "truthy": ["yes"]}}}
    job = run_import(csv_bytes(rows), mapping=mapping)

    assert job.created == 2
    first, second = Contact.objects.order_by("pk")
    assert (first.external_source, first.external_ref, second.external_ref) == ("survei", "row:2", "row:3")
    assert first.attributes == {"age": "58", "job": "management"}  # duration excluded, pdays -1 blank
    assert second.attributes == {"age": "44", "pdays": "3"}  # "unknown" is blank everywhere
    assert (first.industry, first.source) == ("b2b", "survei")
    assert second.interactions.get().kind_id == "purchase"

    again = run_import(csv_bytes(rows), mapping=mapping)
    assert (again.created, Contact.objects.count(), Interaction.objects.count()) == (0, 2, 1)


def test_defaults_and_references_never_overwrite_an_existing_contact(run_import, make_contact):
    known = make_contact(email="budi@contoh.co.id", source="website", industry="healthcare",
                         external_source="crm-lama", external_ref="X-9")
    rows = [["Email", "Nama"], ["budi@contoh.co.id", "Budi Santoso"], ["baru@contoh.co.id", "Baru"]]
    job = run_import(csv_bytes(rows), mapping={"source": "expo", "identity": "row", "defaults": {"industry": "b2b"},
                                               "columns": {"Email": "email", "Nama": "full_name"}})

    assert (job.created, job.updated, job.failed) == (1, 1, 0)
    known.refresh_from_db()
    assert (known.source, known.industry, known.external_source, known.external_ref) == ("website", "healthcare", "crm-lama", "X-9")
    assert known.full_name == "Budi Santoso"
    new = Contact.objects.get(email="baru@contoh.co.id")
    assert (new.source, new.industry, new.external_source, new.external_ref) == ("expo", "b2b", "expo", "row:3")


def test_xlsx_import_with_numeric_phones_and_date_cells(run_import):
    content = xlsx_bytes([
        ["Nama", "No HP", "Tanggal Daftar", "Skor Lama"],
        ["Budi", 6281234567890, datetime(2026, 3, 5, 10, 30), 7],
        ["Ani", 81311112222, None, 3.5],
    ])
    job = run_import(content, name="leads.xlsx")

    assert (job.created, job.failed) == (2, 0)
    budi = Contact.objects.get(phone="+6281234567890")
    assert budi.attributes == {"Skor Lama": 7}
    assert budi.interactions.get().kind_id == "form_submitted"
    assert Contact.objects.get(full_name="Ani").phone == "+6281311112222"


def test_imported_contacts_are_scored_in_one_bulk_pass(run_import, playbooks):
    rows = [["Email", "Converted"], ["beli@contoh.co.id", "yes"], ["lihat@contoh.co.id", "no"]]
    job = run_import(csv_bytes(rows), mapping={"identity": "auto", "defaults": {"industry": "ecommerce"}, "columns": {
        "Email": "email", "Converted": {"target": "interaction", "kind": "purchase", "mode": "flag"}}})

    buyer = Contact.objects.get(email="beli@contoh.co.id")
    assert buyer.stage == "customer" and buyer.score > 0 and buyer.scored_at is not None
    assert StageChange.objects.filter(contact=buyer, to_stage="customer").exists()
    assert Contact.objects.get(email="lihat@contoh.co.id").scored_at is not None
    assert "2 contacts scored" in job.message


def test_an_interrupted_import_resumes_after_the_last_committed_chunk(run_import):
    rows = [["Email"]] + [[f"orang{i}@contoh.co.id"] for i in range(10)]
    job = import_create(file_name="leads.csv", content=csv_bytes(rows))
    import_start(job=job, mapping=job.mapping, run=False)

    partial = import_run(job_id=job.pk, chunk_size=4, time_budget=0)  # stops after one chunk, like a time limit
    assert (partial.status, partial.rows_done, Contact.objects.count()) == (ImportJob.Status.RUNNING, 4, 4)

    done = import_run(job_id=job.pk, chunk_size=4)
    assert (done.status, done.rows_done, done.created) == (ImportJob.Status.DONE, 10, 10)
    assert Contact.objects.count() == 10
    assert import_run(job_id=job.pk).rows_done == 10  # a redelivered task after the end does nothing


def test_a_second_runner_does_not_count_a_chunk_twice(run_import):
    rows = [["Email"]] + [[f"orang{i}@contoh.co.id"] for i in range(4)]
    job = import_create(file_name="leads.csv", content=csv_bytes(rows))
    import_start(job=job, mapping=job.mapping, run=False)
    stale = _claim(job.pk)
    import_run(job_id=job.pk, chunk_size=2, time_budget=0)  # the other runner commits rows 1-2

    compiled = Compiled.build(stale.mapping, stale.header, stale.started_at)
    assert _commit_chunk(stale, compiled, 0, [(2, ["orang0@contoh.co.id"])], None) is None
    assert ImportJob.objects.get(pk=job.pk).rows_done == 2


def test_the_report_keeps_a_bounded_number_of_rows(run_import, monkeypatch):
    monkeypatch.setattr(run, "ERRORS_KEPT", 2)
    job = run_import(csv_bytes([["Email"], ["x@"], ["y@"], ["z@"]]))

    assert (job.failed, len(job.errors)) == (3, 2)
    assert "first 2" in job.message


def test_starting_an_import_is_audited_without_personal_data(run_import, marketer):
    job = run_import(csv_bytes([["Email", "Nama"], ["rahasia@contoh.co.id", "Rahasia"]]), by=marketer)

    event = AuditEvent.objects.get(action="import")
    assert (event.actor, event.object_id) == (marketer, str(job.pk))
    assert event.details["rows"] == 1
    assert "rahasia" not in str(event.details).lower()


def test_a_mapping_without_identity_is_refused(db):
    job = import_create(file_name="x.csv", content=csv_bytes([["Nama"], ["Budi"]]))
    with pytest.raises(ValidationError) as caught:
        import_start(job=job, mapping={"identity": "auto", "columns": {"Nama": "full_name"}}, run=False)
    assert "__all__" in caught.value.message_dict
    job.refresh_from_db()
    assert job.status == ImportJob.Status.UPLOADED


def test_a_remembered_mapping_is_offered_for_the_same_header(run_import):
    header = ["Kode", "Surel Kantor", "Skor"]
    mapping = {"source": "bulanan", "identity": "auto", "columns": {"Kode": "external_ref", "Surel Kantor": "email", "Skor": "ignore"}}
    run_import(csv_bytes([header, ["A1", "a@contoh.co.id", "3"]]), mapping=mapping)

    next_month = import_create(file_name="bulan-depan.csv", content=csv_bytes([header, ["A2", "b@contoh.co.id", "4"]]))
    assert next_month.mapping["columns"]["Skor"]["target"] == "ignore"
    assert next_month.mapping["source"] == "bulanan"


def _stored(contact: Contact) -> dict:
    skip = {"id", "created_at", "updated_at", "scored_at", "stage_changed_at", "score_breakdown", "last_interaction_at",
            "score_stable_until"}  # a moment after scoring, like scored_at: compared apart below
    fields = {f.attname: getattr(contact, f.attname) for f in Contact._meta.concrete_fields if f.attname not in skip}
    fields["tags"] = sorted(contact.tags.values_list("name", flat=True))
    fields["interactions"] = sorted((i.kind_id, i.occurred_at, i.channel, i.source, i.data) for i in contact.interactions.all())
    return fields


MIXED = [
    ["Nama", "No HP", "Email", "Perusahaan", "Industri", "Tags", "Email Opt-in", "Last Activity", "Skor"],
    ["Budi", "0812-3456-7890", "Budi@Contoh.co.id", "PT Maju", "B2B", "vip, expo", "ya", "05/03/2026", "7"],
    ["Ani", "0813 1111 2222", "", "", "kesehatan", "", "", "", ""],
    ["Budi lagi", "", "budi@contoh.co.id", "", "", "expo", "", "06/03/2026", "8"],
    ["Rusak", "", "rusak@", "", "", "", "", "", ""],
    ["Citra", "", "citra@contoh.co.id", "CV Jaya", "lainnya", "", "no", "", ""],
]


def test_bulk_created_contacts_equal_what_contact_upsert_stores(run_import, monkeypatch):
    mapping = {"source": "setara", "identity": "auto", "defaults": {"industry": "education"}, "columns": {
        "Nama": "full_name", "No HP": "phone", "Email": "email", "Perusahaan": "company", "Industri": "industry",
        "Tags": "tags", "Email Opt-in": "consent_email",
        "Last Activity": {"target": "interaction", "kind": "page_viewed", "mode": "date"}}}
    fast = run_import(csv_bytes(MIXED), mapping=mapping)
    by_fast = {c.full_name: _stored(c) for c in Contact.objects.all()}
    Contact.objects.all().delete()

    monkeypatch.setattr(Known, "is_new", lambda self, plan: False)  # every row through contact_upsert
    slow = run_import(csv_bytes(MIXED), mapping=mapping)
    by_slow = {c.full_name: _stored(c) for c in Contact.objects.all()}

    assert by_fast == by_slow
    assert set(by_fast) == {"Budi lagi", "Ani", "Citra"}
    assert (fast.created, fast.updated, fast.failed) == (slow.created, slow.updated, slow.failed) == (3, 1, 1)
    assert fast.errors == slow.errors


SCORED = [
    ["Nama", "Email", "No HP", "Perusahaan", "Jabatan", "Industri", "WA Opt-in", "Kota", "Last Activity"],
    ["Dian", "dian@pabrik.co.id", "0812-1111-0001", "PT Baja", "Direktur Utama", "B2B", "", "", ""],  # 15+5+5: lead
    ["Eko", "eko@gmail.com", "", "PT Kayu", "Manager", "b2b", "", "", ""],  # 10+5-5: contact
    ["Fitri", "fitri@toko.id", "0812-1111-0003", "", "", "e-commerce", "ya", "Jakarta", ""],  # 5+3+2: contact
    ["Gita", "gita@pabrik.co.id", "0812-1111-0004", "PT Besi", "Direktur", "B2B", "", "", "05/03/2026"],
    ["Hadi", "hadi@klinik.id", "", "", "", "kesehatan", "", "", ""],
]


def test_new_contacts_are_inserted_scored_as_the_row_by_row_path_scores_them(run_import, playbooks, rep, monkeypatch):
    """Rows without interactions are scored before the insert (no UPDATE after it); the
    stored score, stage, digest, breakdown and stage changes equal those of the row-by-row
    path, which scores after the import."""
    mapping = {"source": "pameran", "identity": "auto", "columns": {
        "Nama": "full_name", "Email": "email", "No HP": "phone", "Perusahaan": "company", "Jabatan": "job_title",
        "Industri": "industry", "WA Opt-in": "consent_whatsapp", "Kota": "city",
        "Last Activity": {"target": "interaction", "kind": "page_viewed", "mode": "date"}}}

    def stored() -> dict:
        return {c.full_name: {**_stored(c), "hits": c.score_breakdown.get("hits"), "moves": list(
            c.stage_changes.values_list("from_stage", "to_stage", "reason_code", "score"))}
            for c in Contact.objects.prefetch_related("tags", "interactions")}

    fast = run_import(csv_bytes(SCORED), mapping=mapping)
    by_fast = stored()
    # Only Gita (who has an interaction) was left for the rescore after the chunk.
    gita = Contact.objects.get(full_name="Gita").pk
    assert fast.options["rescore_ranges"] == [[gita, gita]] and fast.options["scored_at_insert"] == 4
    assert "5 created" in fast.message and "5 contacts scored" in fast.message
    StageChange.objects.all().delete()
    Contact.objects.all().delete()

    monkeypatch.setattr(Known, "is_new", lambda self, plan: False)  # every row through contact_upsert
    run_import(csv_bytes(SCORED), mapping=mapping)
    by_slow = stored()

    assert by_fast == by_slow
    assert by_fast["Dian"]["stage"] == "lead" and by_fast["Dian"]["score"] == 25
    assert by_fast["Dian"]["moves"] == [("contact", "lead", "lead", 25)]
    assert by_fast["Eko"]["stage"] == "contact" and by_fast["Eko"]["score"] == 10
    assert by_fast["Fitri"]["score"] == 10
    assert {name: row["stage"] for name, row in by_fast.items() if row["stage"] != "contact"} == {"Dian": "lead", "Gita": "lead"}
    assert not any(row["needs_rescore"] for row in by_fast.values())
    assert all(row["score_digest"] is not None for row in by_fast.values())
    # Both paths date every result (when a nightly rescore must read it again), a week ahead at most.
    assert all(c.score_stable_until and c.scored_at <= c.score_stable_until <= c.scored_at + timedelta(days=7)
               for c in Contact.objects.all())


def test_rules_published_during_an_import_rescore_the_contacts_inserted_scored(run_import, playbooks, monkeypatch):
    """A chunk scored under the old rules may commit after the publish's rescore read the
    contacts: when a version was published while the import ran, its inserted-scored
    contacts are scored again at the end, under the rules in force then."""
    from scoring.models import Rule, RuleSetVersion
    from scoring.rulesets import rule_save, version_draft, version_publish

    real_rows = import_rows
    calls = []

    def publish_after_the_first_chunk(*args, **kwargs):
        outcome = real_rows(*args, **kwargs)
        if not calls:
            # The first chunk was scored under the playbook: a director of a company with a phone is a lead (25).
            draft = version_draft(ruleset=playbooks["b2b"].ruleset)
            rule = draft.rules.get(field="job_title", value="direktur")
            rule.points = 0
            rule_save(version=draft, rule=rule)
            version_publish(version=draft, rescore=False)  # its rescore ran before this chunk committed
        calls.append(1)
        return outcome

    monkeypatch.setattr(run, "import_rows", publish_after_the_first_chunk)
    rows = [SCORED[0], SCORED[1], ["Dewa", "dewa@pabrik.co.id", "0812-1111-0009", "PT Timah", "Direktur", "B2B", "", "", ""]]
    job = run_import(csv_bytes(rows), chunk_size=1)

    assert len(calls) == 2 and job.options["rescore_ranges"] == []
    assert Rule.objects.filter(field="job_title", value="direktur", points=0).exists()
    # Both scored under the new rules: 0 + company 5 + phone 5. Dian became a lead under the old
    # ones, and stages do not fall back with the score (only inactivity demotes).
    stored = {c.full_name: (c.score, c.stage, c.score_breakdown["version"]) for c in Contact.objects.all()}
    version = RuleSetVersion.objects.filter(ruleset=playbooks["b2b"].ruleset, status="published").get().pk
    assert stored == {"Dian": (10, "lead", version), "Dewa": (10, "contact", version)}


def test_a_concurrent_writer_sends_new_rows_back_through_contact_upsert(run_import, make_contact, monkeypatch):
    taken = make_contact(email="balapan@contoh.co.id", full_name="")
    # The chunk's lookup misses the contact (as if it was created just after the lookup).
    monkeypatch.setattr(Known, "is_new", lambda self, plan: True)

    job = run_import(csv_bytes([["Email", "Nama"], ["baru@contoh.co.id", "Baru"], ["balapan@contoh.co.id", "Pemenang"]]))

    assert (job.created, job.updated, job.failed) == (1, 1, 0)
    taken.refresh_from_db()
    assert taken.full_name == "Pemenang" and Contact.objects.count() == 2


def test_an_unexpected_error_marks_the_job_failed_and_keeps_committed_rows(run_import, monkeypatch):
    rows = [["Email"]] + [[f"orang{i}@contoh.co.id"] for i in range(6)]
    job = import_create(file_name="leads.csv", content=csv_bytes(rows))
    import_start(job=job, mapping=job.mapping, run=False)
    real = import_rows
    calls = []

    def second_chunk_breaks(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError("boom")
        return real(*args, **kwargs)

    monkeypatch.setattr(run, "import_rows", second_chunk_breaks)
    with pytest.raises(RuntimeError):
        import_run(job_id=job.pk, chunk_size=3)

    job.refresh_from_db()
    assert (job.status, job.rows_done, job.created) == (ImportJob.Status.FAILED, 3, 3)
    assert "RuntimeError" in job.message
    assert Contact.objects.count() == 3


def test_row_numbers_and_a_record_id_column_do_not_mix(db):
    job = import_create(file_name="x.csv", content=csv_bytes([["ID", "Email"], ["1", "a@contoh.co.id"]]))
    with pytest.raises(ValidationError) as caught:
        import_start(job=job, mapping={**job.mapping, "identity": "row"}, run=False)
    assert "ID" in caught.value.message_dict


def test_the_task_continues_a_long_import_in_fresh_tasks(db, monkeypatch):
    from contacts.imports import tasks

    monkeypatch.setattr(tasks, "IMPORT_TIME_BUDGET", 0)  # every task run stops after one chunk
    rows = [["Email"]] + [[f"orang{i}@contoh.co.id"] for i in range(2500)]
    job = import_create(file_name="panjang.csv", content=csv_bytes(rows))
    import_start(job=job, mapping=job.mapping, run=False)

    tasks.import_run_task.delay(job.pk)  # eager here, as in the embedded default: each re-queue runs inline

    job.refresh_from_db()
    assert (job.status, job.rows_done, job.created) == (ImportJob.Status.DONE, 2500, 2500)
    assert Contact.objects.count() == 2500
