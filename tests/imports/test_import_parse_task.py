"""Issue 15, finding 9 (the rest): an upload is stored and answered at once; the heavy read
(unpacking, counting rows, the preview) runs in a Celery task with a time limit
(CRM_IMPORT_PARSE_SECONDS), moving the job from "parsing" to "uploaded" or "failed"."""

from __future__ import annotations

import io
import zipfile
from datetime import timedelta

import pytest
from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone, translation

from contacts.imports import files
from contacts.imports.files import file_rows
from contacts.imports.run import import_parse_timeout_message, import_receive
from contacts.imports.tasks import import_parse_task
from contacts.models import ImportJob

from .conftest import csv_bytes
from .test_import_limits import _bomb

pytestmark = pytest.mark.django_db

ROWS = [["Nama", "Email"], ["Dewi", "dewi@example.co.id"], ["Budi", "budi@example.co.id"]]


def _post(client, content: bytes, name: str = "leads.csv"):
    return client.post(reverse("import"), {"file": SimpleUploadedFile(name, content)})


@pytest.fixture
def reads(monkeypatch):
    """Counts full reads of a file (file_rows walks the rows: the heavy part)."""
    calls = []
    real = file_rows

    def counting(content, fmt):
        calls.append(fmt)
        return real(content, fmt)

    monkeypatch.setattr(files, "file_rows", counting)
    return calls


def test_the_upload_answers_before_the_file_is_read_and_the_task_reads_it(
        client_for, marketer, reads, django_capture_on_commit_callbacks):
    client = client_for(marketer)
    with django_capture_on_commit_callbacks(execute=False) as queued:
        response = _post(client, csv_bytes(ROWS))

    job = ImportJob.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse("import_mapping", args=[job.pk])
    assert (job.status, job.total_rows, job.header, reads) == ("parsing", 0, [], [])  # nothing read in the request
    assert len(queued) == 1  # the task, sent after commit

    page = client.get(reverse("import_mapping", args=[job.pk]))
    html = page.content.decode()
    assert page.status_code == 200 and "formset" not in page.context
    assert f'data-progress-url="{reverse("import_status", args=[job.pk])}"' in html and "js/progress.js" in html
    assert "<script>" not in html  # strict CSP: no inline script
    assert client.get(reverse("import_status", args=[job.pk])).json()["running"] is True
    assert client.get(reverse("import_progress", args=[job.pk]))["Location"] == reverse("import_mapping", args=[job.pk])

    queued[0]()  # the worker (eager here: the same task, in-process)

    job.refresh_from_db()
    assert (job.status, job.total_rows, job.header) == ("uploaded", 2, ["Nama", "Email"])
    assert reads  # read by the task: the rows counted, and a sample profiled for the guess
    assert job.options["preview"][0] == ["Dewi", "dewi@example.co.id"]
    assert client.get(reverse("import_status", args=[job.pk])).json()["running"] is False
    page = client.get(reverse("import_mapping", args=[job.pk]))
    assert "dewi@example.co.id" in page.content.decode() and page.context["formset"]


def test_the_task_has_the_configured_time_limits():
    assert import_parse_task.soft_time_limit == settings.CRM_IMPORT_PARSE_SECONDS == 120
    assert import_parse_task.time_limit > import_parse_task.soft_time_limit


def test_a_read_longer_than_its_limit_ends_failed_with_a_message(marketer, client_for):
    job = import_receive(file_name="besar.csv", content=csv_bytes([["Email"]] + [[f"x{i}@contoh.co.id"] for i in range(2000)]),
                                  by=marketer)
    import_parse_task.apply(args=[job.pk], kwargs={"seconds": 0.000001})

    job.refresh_from_db()
    assert job.status == "failed" and job.total_rows == 0
    assert "took longer than" in job.message and "upload it again" in job.message
    client = client_for(marketer)
    page = client.get(reverse("import_mapping", args=[job.pk]), follow=True)
    assert job.message in page.content.decode()


def test_the_workers_soft_time_limit_ends_the_job_failed(marketer, monkeypatch):
    job = import_receive(file_name="lambat.csv", content=csv_bytes(ROWS), by=marketer)

    def stuck(content, fmt):
        raise SoftTimeLimitExceeded()  # what Celery raises in the task when soft_time_limit passes

    monkeypatch.setattr(files, "file_rows", stuck)
    import_parse_task.apply(args=[job.pk])

    job.refresh_from_db()
    assert job.status == "failed"
    assert f"{settings.CRM_IMPORT_PARSE_SECONDS} seconds" in job.message


def test_a_file_unreadable_when_read_ends_failed_with_the_reason(marketer):
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("hello.txt", "not a workbook")
    job = import_receive(file_name="palsu.xlsx", content=archive.getvalue(), by=marketer)
    import_parse_task.apply(args=[job.pk])
    job.refresh_from_db()
    assert (job.status, job.message) == ("failed", "This file is not a readable Excel (.xlsx) workbook.")


def test_why_a_file_is_unreadable_reads_in_the_viewers_language(marketer):
    """The job stores the reason as a msgid with parameters, not the uploader's language (issue 18, defect 3)."""
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("hello.txt", "not a workbook")
    with translation.override("id"):
        job = import_receive(file_name="palsu.xlsx", content=archive.getvalue(), by=marketer)
        import_parse_task.apply(args=[job.pk])
    job.refresh_from_db()
    english = "This file is not a readable Excel (.xlsx) workbook."
    assert job.status == "failed" and job.message_parts == [[english, {}]]
    with translation.override("en"):
        assert job.text == english
    with translation.override("id"):
        assert job.text == translation.gettext(english) != english


def test_the_zip_bomb_is_still_refused_on_the_upload_form(client_for, admin, reads):
    response = _post(client_for(admin), _bomb(40), name="bomb.xlsx")
    assert response.status_code == 200 and "compression ratio" in str(response.context["form"].errors["file"])
    assert not ImportJob.objects.exists() and reads == []


def test_a_job_left_parsing_long_after_its_limit_is_shown_as_failed(client_for, admin):
    job = import_receive(file_name="hilang.csv", content=csv_bytes(ROWS), by=admin)  # its task never ran
    ImportJob.objects.filter(pk=job.pk).update(created_at=timezone.now() - timedelta(hours=1))
    response = client_for(admin).get(reverse("import_mapping", args=[job.pk]))
    assert response.status_code == 302
    job.refresh_from_db()
    assert job.status == "failed" and "took longer than" in job.message
    import_parse_task.apply(args=[job.pk])  # a late task leaves it alone
    job.refresh_from_db()
    assert job.status == "failed"


def test_the_waiting_page_and_the_reasons_are_in_indonesian(client_for, marketer, settings):
    settings.LANGUAGE_CODE = "id"
    job = import_receive(file_name="antri.csv", content=csv_bytes(ROWS), by=marketer)
    html = client_for(marketer).get(reverse("import_mapping", args=[job.pk]), HTTP_ACCEPT_LANGUAGE="id").content.decode()
    assert "Membaca berkas" in html and "Berkas sedang dibaca" in html
    from django.utils import translation

    with translation.override("id"):
        assert "detik" in import_parse_timeout_message(120)


def test_an_unexpected_reader_error_ends_failed_not_parsing(marketer, monkeypatch):
    job = import_receive(file_name="aneh.csv", content=csv_bytes(ROWS), by=marketer)

    def broken(content, fmt):
        raise KeyError("xl/sharedStrings.xml")

    monkeypatch.setattr(files, "file_rows", broken)
    import_parse_task.apply(args=[job.pk])
    job.refresh_from_db()
    assert job.status == "failed" and "KeyError" in job.message
    assert import_parse_task.acks_late is False  # a file that kills the worker is not delivered again
