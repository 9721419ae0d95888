"""Issue 15, finding 6: erasure reaches every copy of the person's data (the stored import
file, its bad-row report, the cached dashboard), and the access export lists the import
rows that mention the person."""

from __future__ import annotations

import pytest
from django.urls import reverse

from contacts import privacy
from contacts.imports.files import file_rows, job_format
from contacts.models import Contact, ImportJob
from tests.imports.conftest import csv_bytes, xlsx_bytes
from tests.imports.conftest import run_import as run_import  # the import fixture

pytestmark = pytest.mark.django_db

DEWI = ("Dewi Lestari", "dewi.lestari@example.co.id", "0812-3456-7890", "Suka kopi, alergi kacang")
OTHER = ("Budi Santoso", "budi@example.co.id", "0813-1111-2222", "Pelanggan lama")
MAPPING = {"source": "pameran", "identity": "auto", "columns": {
    "Nama": "full_name", "Email": "email", "No HP": "phone", "Catatan": "attribute", "Tanggal": {
        "target": "interaction", "kind": "page_viewed", "mode": "date"}}}


def _file(kind: str) -> bytes:
    rows = [["Nama", "Email", "No HP", "Catatan", "Tanggal"],
            [*DEWI, "2026-01-05"],
            [*OTHER, "2026-01-06"],
            # The same person again in a row that does not line up with the header (an extra cell): refused,
            # so it lands in the error report with her data. (A bad date alone is only a warning now.)
            [DEWI[0], DEWI[1], DEWI[2], "Minta dihubungi", "kemarin sore", "sel lebih"]]
    return xlsx_bytes(rows) if kind == "xlsx" else csv_bytes(rows)


def _held(job: ImportJob) -> str:
    job.refresh_from_db()
    _header, rows = file_rows(bytes(job.content), job_format(job))
    return repr([cells for _n, cells in rows]) + repr(job.errors) + repr(job.options)


@pytest.mark.parametrize("mode", ["delete", "anonymise"])
@pytest.mark.parametrize("kind", ["csv", "xlsx"])
def test_erasure_reaches_the_import_file_and_its_error_report(run_import, admin, client_for, mode, kind):
    job = run_import(_file(kind), name=f"pameran.{kind}", mapping=MAPPING, by=admin)
    assert job.failed == 1 and "Dewi" in _held(job)
    dewi = Contact.objects.get(email=DEWI[1])

    privacy.contact_erase(contact=dewi, by=admin, mode=mode)

    held = _held(job)
    for value in (*DEWI, "Minta dihubungi", "6281234567890", "81234567890"):
        assert value not in held
    assert "Budi Santoso" in held and "budi@example.co.id" in held  # other people's rows stay
    client = client_for(admin)
    report = b"".join(client.get(reverse("import_errors", args=[job.pk])).streaming_content).decode()
    assert "Dewi" not in report and DEWI[1] not in report
    admin_page = client.get(reverse("admin:contacts_importjob_change", args=[job.pk])).content.decode()
    assert "Dewi" not in admin_page and DEWI[1] not in admin_page


def test_access_export_lists_the_import_rows_that_mention_the_person(run_import, admin):
    job = run_import(_file("csv"), mapping=MAPPING, by=admin)
    dewi = Contact.objects.get(email=DEWI[1])
    data = privacy.subject_access_export(contact=dewi, by=admin)
    rows = data["import_rows"]
    assert {(r["import_job"], r["row"]) for r in rows} == {(job.pk, 2), (job.pk, 4)}
    assert rows[0]["values"]["Catatan"] == DEWI[3]
    assert [e["row"] for e in data["import_errors"]] == [4]
    assert "Budi" not in repr(data)


def test_erasure_clears_the_cached_dashboard(make_contact, admin, monkeypatch, django_capture_on_commit_callbacks):
    from crm import dashboard
    from scoring import analytics

    monkeypatch.setattr(dashboard, "CACHE_ABOVE_CONTACTS", 0)
    dewi = make_contact(full_name=DEWI[0], email=DEWI[1])
    make_contact(full_name=OTHER[0], email=OTHER[1])
    cached, through_cache = dashboard.panels({})
    assert through_cache
    with django_capture_on_commit_callbacks(execute=True):
        privacy.contact_erase(contact=dewi, by=admin, mode="delete")
    fresh, _cached = dashboard.panels({})
    assert fresh == analytics.dashboard() != cached
