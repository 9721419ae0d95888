"""Exports for people (issue 18, defect 10): by default headers and values in the reader's language
(CSV and XLSX); style=raw keeps the machine format exactly as it was (field names, codes, ISO dates)."""

from __future__ import annotations

import csv
import io

import pytest
from openpyxl import load_workbook

from contacts.exporting import COLUMNS
from contacts.models import Contact

pytestmark = pytest.mark.django_db

RAW_HEADER = ["id", "full_name", "email", "phone", "company", "job_title", "city", "industry", "stage", "score", "owner",
              "source", "utm_source", "utm_medium", "utm_campaign", "consent_email", "consent_whatsapp", "consent_sms",
              "do_not_contact", "tags", "last_interaction_at", "created_at"]


@pytest.fixture
def budi(make_contact, rep):
    contact = make_contact(full_name="Budi Santoso", email="budi@contoh.co.id", phone="081234567890", industry="b2b",
                           consent_email=True, tags=["webinar"], owner=rep)
    Contact.objects.filter(pk=contact.pk).update(stage="lead")
    return contact


def _csv_rows(response) -> list[list[str]]:
    body = b"".join(response.streaming_content).decode("utf-8")
    assert body.startswith("\ufeff")
    return list(csv.reader(io.StringIO(body[1:])))


def _xlsx_rows(response) -> list[list]:
    sheet = load_workbook(io.BytesIO(response.content)).active
    return [[c.value for c in row] for row in sheet.iter_rows()]


def _by_header(rows: list[list]) -> dict:
    return dict(zip(rows[0], rows[1], strict=True))


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_the_default_export_speaks_english_to_an_english_reader(client_for, marketer, budi, fmt):
    response = client_for(marketer).get(f"/contacts/export/?format={fmt}")
    row = _by_header(_csv_rows(response) if fmt == "csv" else _xlsx_rows(response))
    assert row["Full name"] == "Budi Santoso" and row["Email"] == "budi@contoh.co.id"
    assert (row["Stage"], row["Industry"], row["Owner"]) == ("Lead", "B2B", "Sari")
    assert (row["Email consent"], row["SMS consent"], row["Do not contact"]) == ("yes", "no", "no")
    assert "T" not in str(row["Added"]) and str(budi.created_at.year) in str(row["Added"])  # a local date, not ISO
    assert "full_name" not in row and "stage" not in row


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_the_default_export_speaks_indonesian_to_an_indonesian_reader(client_for, marketer, budi, fmt):
    client = client_for(marketer)
    client.cookies["django_language"] = "id"
    response = client.get(f"/contacts/export/?format={fmt}", HTTP_ACCEPT_LANGUAGE="id")
    row = _by_header(_csv_rows(response) if fmt == "csv" else _xlsx_rows(response))
    assert row["Nama lengkap"] == "Budi Santoso"
    assert row["Tahap"] == "Lead" and row["Pemilik"] == "Sari"
    assert (row["Persetujuan email"], row["Jangan dihubungi"]) == ("ya", "tidak")


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_the_raw_export_keeps_the_machine_format(client_for, marketer, budi, fmt):
    client = client_for(marketer)
    client.cookies["django_language"] = "id"  # the reader's language never changes the raw format
    response = client.get(f"/contacts/export/?format={fmt}&style=raw", HTTP_ACCEPT_LANGUAGE="id")
    rows = _csv_rows(response) if fmt == "csv" else _xlsx_rows(response)
    assert rows[0] == RAW_HEADER == [name for name, _getter in COLUMNS]
    row = _by_header(rows)
    assert (row["stage"], row["industry"], row["owner"]) == ("lead", "b2b", "sari")
    assert (row["consent_email"], row["consent_sms"], row["do_not_contact"]) == ("true", "false", "false")
    assert row["created_at"].startswith(str(budi.created_at.year)) and "T" in row["created_at"]  # ISO 8601
    assert response["Content-Disposition"].startswith('attachment; filename="contacts-raw-')


def test_the_list_offers_both_exports(client_for, marketer, budi):
    html = client_for(marketer).get("/contacts/?stage=lead").content.decode()
    assert 'href="/contacts/export/?stage=lead"' in html
    assert 'href="/contacts/export/?stage=lead&amp;style=raw"' in html
