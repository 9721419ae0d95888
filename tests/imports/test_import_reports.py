"""The bad-row and warning reports (issue 18, defect 10): written in the upload's dialect (`;` when
the upload used `;`), and the bad-row report lists the empty rows that were skipped, in file order."""

from __future__ import annotations

import csv
import io

import pytest
from django.test import TestCase

from contacts.imports.reports import empty_row_ranges
from contacts.models import ImportJob

from .test_import_views import _mapping_post, _upload

pytestmark = pytest.mark.django_db

ROWS = [
    ["Nama", "No. HP", "Surel", "Kota"],
    ["Budi Santoso", "0812-3456-7890", "budi@contoh.co.id", "Jakarta"],
    ["", "", "", ""],
    ["Email Rusak", "", "budi@", "Bandung"],
    ["", "", "", ""],
    ["", "", "", ""],
    ["Ani", "0813 1111 2222", "", "Solo"],
]


def _import(client, **kwargs) -> ImportJob:
    _upload(client, rows=ROWS, **kwargs)
    job = ImportJob.objects.get()
    data = _mapping_post(client.get(f"/import/{job.pk}/mapping/"))
    with TestCase.captureOnCommitCallbacks(execute=True):
        client.post(f"/import/{job.pk}/mapping/", data)
    job.refresh_from_db()
    assert (job.status, job.created, job.failed) == ("done", 2, 1), job.message
    return job


def _report(client, url: str) -> str:
    response = client.get(url)
    assert response.status_code == 200
    return b"".join(response.streaming_content).decode("utf-8-sig")


@pytest.mark.parametrize("delimiter", [";", ",", "\t"], ids=["semicolon", "comma", "tab"])
def test_the_bad_row_report_answers_in_the_uploads_dialect_and_lists_empty_rows(client_for, marketer, delimiter):
    client = client_for(marketer)
    job = _import(client, delimiter=delimiter)
    assert job.delimiter == delimiter and job.options["empty_rows"] == [[3, 3], [5, 6]]

    text = _report(client, f"/import/{job.pk}/errors.csv")
    assert text.splitlines()[0] == delimiter.join(["row", "reason", *ROWS[0]])
    rows = list(csv.reader(io.StringIO(text), delimiter=delimiter))
    assert [(r[0], r[1].split(":")[0]) for r in rows[1:]] == [
        ("3", "empty row"), ("4", "Surel"), ("5", "empty row"), ("6", "empty row")]
    assert rows[2][2:] == ROWS[3]  # a refused row keeps its original cells

    progress = client.get(f"/import/{job.pk}/").content.decode()
    assert "Empty rows that were skipped are listed too." in progress


def test_the_warnings_report_uses_the_uploads_delimiter(client_for, marketer):
    client = client_for(marketer)
    job = _import(client, delimiter=";")
    assert _report(client, f"/import/{job.pk}/warnings.csv").splitlines()[0] == "row;column;value;reason"


def test_a_file_without_empty_rows_offers_no_report_for_them(client_for, marketer):
    client = client_for(marketer)
    _upload(client, rows=[ROWS[0], ROWS[1]], delimiter=";")
    job = ImportJob.objects.get()
    data = _mapping_post(client.get(f"/import/{job.pk}/mapping/"))
    with TestCase.captureOnCommitCallbacks(execute=True):
        client.post(f"/import/{job.pk}/mapping/", data)
    job.refresh_from_db()
    assert job.options["empty_rows"] == [] and job.failed == 0
    assert f"/import/{job.pk}/errors.csv" not in client.get(f"/import/{job.pk}/").content.decode()


def test_empty_row_ranges_merge_runs_across_chunks():
    assert empty_row_ranges([7, 3, 4], [[5, 5], [10, 12]]) == [[3, 5], [7, 7], [10, 12]]
    assert empty_row_ranges([], []) == []
