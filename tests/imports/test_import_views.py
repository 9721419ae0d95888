"""The /import/ pages: upload, mapping, progress (HTML and JSON), bad-row report, roles."""

from __future__ import annotations

import csv
import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import TestCase

from contacts.models import Contact, ImportJob, Interaction

from .conftest import csv_bytes

pytestmark = pytest.mark.django_db

MESSY = [
    ["Nama Lengkap", "No. HP", "Surel", "Perusahaan", "Kota", "Last Activity", "Catatan"],
    ["Budi Santoso", "0812-3456-7890", "budi@contoh.co.id", "PT Maju", "Jakarta", "05/03/2026", "=HYPERLINK(\"x\")"],
    ["Email Rusak", "", "budi@", "", "", "", "=1+1"],
    ["Ani", "0813 1111 2222", "", "CV Jaya", "Bandung", "", "pelanggan lama"],
]


def _upload(client, rows=MESSY, name="leads.csv", **kwargs):
    """Upload, then run what the upload queued after commit (the Celery task that reads the file)."""
    with TestCase.captureOnCommitCallbacks(execute=True):
        return client.post("/import/", {"file": SimpleUploadedFile(name, csv_bytes(rows, **kwargs), content_type="text/csv")})


def _mapping_post(page) -> dict:
    """The mapping form as the browser would submit it, with the guessed values."""
    data = {}
    for form in [page.context["options"], *page.context["formset"].forms]:
        for name in form.fields:
            value = form[name].value()
            if value not in (None, ""):
                data[form.add_prefix(name)] = value
    management = page.context["formset"].management_form
    data.update({management.add_prefix(k): v for k, v in management.initial.items()})
    return data


def test_upload_map_import_and_download_the_bad_rows(client_for, marketer, django_capture_on_commit_callbacks):
    client = client_for(marketer)

    response = _upload(client, delimiter=";", encoding="cp1252")
    job = ImportJob.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/import/{job.pk}/mapping/"
    assert (job.created_by, job.status, job.total_rows, job.delimiter) == (marketer, "uploaded", 3, ";")

    page = client.get(f"/import/{job.pk}/mapping/")
    html = page.content.decode()
    assert "Budi Santoso" in html and "Nama Lengkap" in html  # header and first rows
    guessed = {f["column"].value(): f["target"].value() for f in page.context["formset"].forms}
    assert guessed["No. HP"] == "phone" and guessed["Surel"] == "email" and guessed["Catatan"] == "attribute"

    data = _mapping_post(page)
    kind_field = next(f for f in page.context["formset"].forms if f["column"].value() == "Last Activity").add_prefix("kind")
    data[kind_field] = "webinar_attended"  # the user fixes the guessed kind
    with django_capture_on_commit_callbacks(execute=True):  # the Celery task runs after commit
        response = client.post(f"/import/{job.pk}/mapping/", data)
    assert response.status_code == 302 and response["Location"] == f"/import/{job.pk}/"

    job.refresh_from_db()
    assert (job.status, job.created, job.failed) == ("done", 2, 1)
    assert Interaction.objects.get().kind_id == "webinar_attended"
    assert Contact.objects.get(full_name="Budi Santoso").attributes == {"Catatan": "=HYPERLINK(\"x\")"}

    progress = client.get(f"/import/{job.pk}/")
    assert progress.status_code == 200
    assert progress.context["progress"]["percent"] == 100
    html = progress.content.decode()
    assert f"/import/{job.pk}/errors.csv" in html and "js/progress.js" not in html

    status = client.get(f"/import/{job.pk}/status.json").json()
    assert {k: status[k] for k in ("status", "running", "rows_done", "created", "failed")} == {
        "status": "done", "running": False, "rows_done": 3, "created": 2, "failed": 1}

    report = client.get(f"/import/{job.pk}/errors.csv")
    assert report["Content-Disposition"] == 'attachment; filename="leads-errors.csv"'
    # The upload used ";" (a European Excel export): the report answers in the same dialect.
    rows = list(csv.reader(io.StringIO(b"".join(report.streaming_content).decode("utf-8-sig")), delimiter=";"))
    assert rows[0] == ["row", "reason", *MESSY[0]]
    assert rows[1][0] == "3" and rows[1][1].startswith("Surel:")
    assert rows[1][2:] == [*MESSY[2][:-1], "'=1+1"]  # the original cells, formula-neutralised


def test_a_mapping_without_identity_is_shown_again_with_the_problem(client_for, admin):
    client = client_for(admin)
    _upload(client, rows=[["Nama", "Kota"], ["Budi", "Solo"]])
    job = ImportJob.objects.get()
    page = client.get(f"/import/{job.pk}/mapping/")
    data = _mapping_post(page)
    data["identity"] = "auto"

    response = client.post(f"/import/{job.pk}/mapping/", data)

    assert response.status_code == 200
    assert "Map an email, phone or record-ID column" in response.content.decode()
    job.refresh_from_db()
    assert job.status == "uploaded" and not Contact.objects.exists()


def test_an_unreadable_upload_is_refused_on_the_form(client_for, admin):
    response = client_for(admin).post("/import/", {"file": SimpleUploadedFile("x.xlsx", b"PK\x03\x04broken")})
    assert response.status_code == 200
    assert response.context["form"].errors["file"]
    assert not ImportJob.objects.exists()


def test_a_saved_mapping_can_be_applied_on_the_mapping_page(client_for, admin, django_capture_on_commit_callbacks):
    client = client_for(admin)
    _upload(client, rows=[["age", "duration", "y"], ["30", "100", "yes"]])
    job = ImportJob.objects.get()

    page = client.get(f"/import/{job.pk}/mapping/?saved=uci_bank_full")

    targets = {f["column"].value(): f["target"].value() for f in page.context["formset"].forms}
    assert targets == {"age": "attribute", "duration": "ignore", "y": "interaction"}
    assert page.context["options"]["identity"].value() == "row"

    data = {**_mapping_post(page), "saved": "uci_bank_full"}
    assert client.post(f"/import/{job.pk}/mapping/", data).status_code == 302
    job.refresh_from_db()
    assert job.mapping["source"] == "uci_bank_marketing"
    assert job.mapping["blank_values"] == ["unknown"]
    assert job.mapping["columns"]["y"] == {"target": "interaction", "kind": "purchase", "mode": "flag", "truthy": ["yes"], "channel": "phone"}


def test_a_running_import_polls_and_has_a_no_script_refresh(client_for, admin):
    job = ImportJob.objects.create(file_name="besar.csv", content=b"Email\n", header=["Email"], status="running",
                                   total_rows=40_000, rows_done=10_000, created=9_000, failed=1_000,
                                   mapping={"source": "besar"})
    client = client_for(admin)

    html = client.get(f"/import/{job.pk}/").content.decode()

    assert "js/progress.js" in html
    assert '<noscript><meta http-equiv="refresh"' in html
    assert f'data-progress-url="/import/{job.pk}/status.json"' in html
    assert "progress-bar w-25" in html
    assert client.get(f"/import/{job.pk}/status.json").json()["percent"] == 25


def test_recent_imports_are_listed_in_constant_queries(client_for, marketer, django_assert_max_num_queries):
    for i in range(8):
        ImportJob.objects.create(file_name=f"f{i}.csv", content=b"x" * 1000, header=["Email"], created_by=marketer if i else None,
                                 status="done", total_rows=10, created=10)
    client = client_for(marketer)
    with django_assert_max_num_queries(6):
        page = client.get("/import/")
    assert page.status_code == 200
    assert page.content.decode().count("f7.csv") == 1


def test_the_mapping_can_be_downloaded_for_the_command(client_for, admin, run_import):
    job = run_import(csv_bytes([["Email", "Kota"], ["a@contoh.co.id", "Solo"]]), by=admin)
    response = client_for(admin).get(f"/import/{job.pk}/mapping.json")
    assert response.json()["columns"]["Email"] == {"target": "email"}
    assert response.json()["header"] == ["Email", "Kota"]


@pytest.mark.parametrize("url", ["/import/", "/import/{pk}/", "/import/{pk}/mapping/", "/import/{pk}/status.json",
                                 "/import/{pk}/errors.csv", "/import/{pk}/mapping.json", "/contacts/export/",
                                 "/contacts/duplicates/"])
def test_sales_reps_get_403_everywhere(client_for, rep, manager, url):
    job = ImportJob.objects.create(file_name="x.csv", content=b"Email\n", header=["Email"])
    for user in (rep, manager):
        assert client_for(user).get(url.format(pk=job.pk)).status_code == 403
    assert _upload(client_for(rep)).status_code == 403
    assert not ImportJob.objects.exclude(pk=job.pk).exists()


def test_anonymous_visitors_are_sent_to_login(client):
    response = client.get("/import/")
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_report_file_names_from_uploads_are_encoded_safely(client_for, admin):
    job = ImportJob.objects.create(file_name='daftar "VIP" Müller.csv', content=b"Email\n", header=["Email"], status="done",
                                   errors=[{"row": 2, "values": ["x@"], "reason": "Email: tidak valid"}], failed=1)
    response = client_for(admin).get(f"/import/{job.pk}/errors.csv")
    assert response["Content-Disposition"].startswith("attachment; filename*=utf-8''daftar%20%22VIP%22%20M%C3%BCller-errors.csv")


def test_a_job_whose_queueing_failed_can_be_started_again(client_for, admin, run_import, django_capture_on_commit_callbacks):
    from contacts.imports.run import import_create, import_start

    job = import_create(file_name="antri.csv", content=csv_bytes([["Email"], ["a@contoh.co.id"]]), by=admin)
    import_start(job=job, mapping=job.mapping, by=admin, run=False)  # saved as queued, never sent to a worker
    client = client_for(admin)
    assert "Start again" in client.get(f"/import/{job.pk}/").content.decode()

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"/import/{job.pk}/start/")

    assert response.status_code == 302
    job.refresh_from_db()
    assert (job.status, job.created) == ("done", 1)
    assert client.post(f"/import/{job.pk}/start/").status_code == 302  # done: nothing happens
    assert Contact.objects.count() == 1


def test_the_mapping_page_shows_the_guess_its_reason_and_activity_values(client_for, marketer,
                                                                         django_capture_on_commit_callbacks):
    from pathlib import Path

    client = client_for(marketer)
    content = (Path(__file__).resolve().parent / "fixtures" / "leadsquared_leads.csv").read_bytes()
    with django_capture_on_commit_callbacks(execute=True):  # the task that reads the file
        client.post("/import/", {"file": SimpleUploadedFile("leads.csv", content, content_type="text/csv")})
    job = ImportJob.objects.get()

    page = client.get(f"/import/{job.pk}/mapping/")
    html = page.content.decode()
    assert "Last Activity: 14 distinct texts such as “Email Opened”, “SMS Sent” → activity names" in html
    assert 'name="activity-10-0-value" value="Email Opened"' in html  # "Last Activity" is the 11th column
    data = _mapping_post(page)
    data["activity-10-0-value"], data["activity-10-0"] = "Email Opened", "email_clicked"  # the admin's choice
    data["activity-10-1-value"], data["activity-10-1"] = "SMS Sent", ""
    with django_capture_on_commit_callbacks(execute=True):
        client.post(f"/import/{job.pk}/mapping/", data)

    job.refresh_from_db()
    assert job.mapping["columns"]["Last Activity"]["values"]["Email Opened"] == "email_clicked"
    assert (job.status, job.failed, job.warned) == ("done", 1, 1)
    assert Interaction.objects.filter(kind="email_clicked", data__import_column="Last Activity").count() == 13 + 2  # one "Email Opened" row is refused
    progress = client.get(f"/import/{job.pk}/").content.decode()
    assert "Refused rows (no identity)" in progress and "Warnings (cells left out)" in progress
    assert f"/import/{job.pk}/warnings.csv" in progress and f"/import/{job.pk}/errors.csv" in progress
    assert client.get(f"/import/{job.pk}/status.json").json()["warned"] == 1
    report = client.get(f"/import/{job.pk}/warnings.csv")
    rows = list(csv.reader(io.StringIO(b"".join(report.streaming_content).decode("utf-8-sig"))))
    assert rows == [["row", "column", "value", "reason"], ["18", "TotalVisits", "banyak", "“banyak” is not a number."]]


def test_the_summary_reads_in_the_readers_language(client_for, admin, run_import):
    """The summary is stored as message ids and numbers: an import run for an Indonesian uploader
    reads in English for an English reader and in Indonesian for an Indonesian one; a job from
    before (its message only) keeps its text (issue 18, defect 3)."""
    from django.utils import translation

    rows = [["Email", "Nama"], ["a@contoh.co.id", "A"], ["b@contoh.co.id", "B"], ["rusak@", "C"]]
    with translation.override("id"):
        job = run_import(csv_bytes(rows), by=admin)
    assert job.message.startswith("2 dibuat")  # as written, in the uploader's language
    client = client_for(admin)
    english = client.get(f"/import/{job.pk}/status.json", HTTP_ACCEPT_LANGUAGE="en").json()["message"]
    assert english.startswith("2 created, 0 updated, 0 unchanged, 1 failed;"), english
    page = client.get(f"/import/{job.pk}/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "2 created, 0 updated" in page and "dibuat" not in page
    indonesian = client.get(f"/import/{job.pk}/status.json", HTTP_ACCEPT_LANGUAGE="id").json()["message"]
    assert indonesian.startswith("2 dibuat"), indonesian
    old = ImportJob.objects.create(file_name="lama.csv", content=b"Email\n", header=["Email"], status="done",
                                   message="196 dibuat, 0 diperbarui")
    assert client.get(f"/import/{old.pk}/status.json", HTTP_ACCEPT_LANGUAGE="en").json()["message"] == "196 dibuat, 0 diperbarui"
