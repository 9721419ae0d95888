"""Reading files: encodings, delimiters, XLSX, headers; values; the mapping guess."""

from __future__ import annotations

from datetime import date, datetime

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from contacts.catalog import KINDS
from contacts.imports.cells import parse_datetime, truthy
from contacts.imports.files import detect_delimiter, file_inspect
from contacts.imports.guess import mapping_guess
from contacts.imports.mapping import saved_mappings

from .conftest import csv_bytes, xlsx_bytes

KIND_SLUGS = {slug for slug, *_rest in KINDS}
ROWS = [
    ["Nama", "Kota", "Catatan"],
    ["Müller Wijaya", "Jakarta", "Rp 1.500.000 – diskon"],
    ["Siti Nurhaliza", "Bandung", "“VIP” pelanggan"],
]


@pytest.mark.parametrize(("encoding", "expected"), [
    ("utf-8", "utf-8"),
    ("utf-8-sig", "utf-8-sig"),
    ("cp1252", "cp1252"),
])
def test_encodings_are_detected_and_decoded(encoding, expected):
    inspection = file_inspect(content=csv_bytes(ROWS, encoding=encoding))

    assert inspection.format.encoding == expected
    assert inspection.header == ["Nama", "Kota", "Catatan"]  # no BOM glued to the first name
    assert inspection.preview[0] == ROWS[1]
    assert inspection.preview[1][2] == "“VIP” pelanggan"
    assert inspection.total_rows == 2


def test_latin1_without_windows_characters_is_read_as_latin1():
    rows = [["Nama", "Kota"], ["Müller", "São Paulo"], ["Ñoño", "Köln"]]
    inspection = file_inspect(content=csv_bytes(rows, encoding="latin-1"))

    assert inspection.format.encoding == "latin-1"
    assert inspection.preview == rows[1:]


def test_utf16_excel_unicode_text_is_read():
    text = "Nama\tKota\r\nMüller\tJakarta\r\n"
    inspection = file_inspect(content=text.encode("utf-16"))

    assert inspection.format.delimiter == "\t"
    assert inspection.preview == [["Müller", "Jakarta"]]


@pytest.mark.parametrize("delimiter", [",", ";", "\t", "|"])
def test_delimiters_are_detected_with_quoted_delimiters_inside_values(delimiter):
    rows = [
        ["Nama", "Alamat", "No HP", "Email"],
        ["Budi", "Jl. Sudirman, No. 5; Lt. 2 | Blok A", "0812-3456-7890", "budi@contoh.co.id"],
        ["Ani", "Jl. Thamrin 1", "0813 1111 2222", "ani@contoh.co.id"],
        ["Cahya", "Jl. Gatot, Subroto", "+62 811 222 333", ""],
    ]
    inspection = file_inspect(content=csv_bytes(rows, delimiter=delimiter))

    assert inspection.format.delimiter == delimiter
    assert inspection.header == rows[0]
    assert inspection.preview == rows[1:]


def test_delimiter_fallback_when_the_sniffer_gives_up():
    # One column with commas inside quotes everywhere and a semicolon table: the sniffer
    # is easily fooled; the consistency check still finds ";".
    text = 'nama;kota\n"Budi, S.Kom";"Jakarta, Pusat"\n"Ani";"Bandung"\n'
    assert detect_delimiter(text) == ";"


def test_xlsx_reads_the_first_sheet_with_typed_cells():
    content = xlsx_bytes([
        ["Nama", "No HP", "Tanggal Daftar", "Nilai", None],
        ["Budi", 6281234567890, datetime(2026, 3, 5, 10, 30), 1.5, None],
        [None, None, None, None, None],
        ["Ani", 81311112222, date(2026, 2, 1), 2.0, None],
    ])
    inspection = file_inspect(content=content, file_name="leads.xlsx")

    assert inspection.format.kind == "xlsx"
    assert inspection.header == ["Nama", "No HP", "Tanggal Daftar", "Nilai"]  # trailing empty header dropped
    assert inspection.total_rows == 3  # the blank row counts (it is reported as skipped)
    assert inspection.preview[0] == ["Budi", "6281234567890", "2026-03-05T10:30:00", "1.5"]
    assert inspection.preview[2][3] == "2"  # integral floats become ints


def test_headers_are_trimmed_numbered_and_named():
    inspection = file_inspect(content=csv_bytes([[" Email ", "", "Email", "Kota"], ["a@b.co", "x", "c@d.co", "Solo"]]))
    assert inspection.header == ["Email", "Column 2", "Email (2)", "Kota"]


@pytest.mark.parametrize(("content", "message"), [
    (b"", "empty"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 100, ".xls"),
    (b"PK\x03\x04not really a zip", "Excel"),
    (b"\n\n\n", "header"),
])
def test_unreadable_files_are_refused_with_a_reason(content, message):
    with pytest.raises(ValidationError) as caught:
        file_inspect(content=content)
    assert message in " ".join(caught.value.messages)


def test_dates_in_common_indonesian_and_iso_forms():
    local = timezone.get_current_timezone()
    assert parse_datetime("05/03/2026") == datetime(2026, 3, 5, tzinfo=local)
    assert parse_datetime("5 Maret 2026") == datetime(2026, 3, 5, tzinfo=local)
    assert parse_datetime("17 Agustus 2025 09:15") == datetime(2025, 8, 17, 9, 15, tzinfo=local)
    assert parse_datetime("2026-03-05T10:00:00+07:00").isoformat() == "2026-03-05T10:00:00+07:00"
    assert parse_datetime("2026-03-05 10:00").tzinfo is not None
    assert parse_datetime("12/31/2025") == datetime(2025, 12, 31, tzinfo=local)  # month-first only when day-first fails
    assert parse_datetime("kemarin") is None
    assert parse_datetime("") is None


def test_truthy_values():
    assert all(truthy(v) for v in ("yes", "TRUE", "1", "ya", "Y", "x", "150000", 2, True))
    assert not any(truthy(v) for v in ("no", "FALSE", "0", "tidak", "", "-", 0, False))
    assert truthy("yes", ["yes"]) and not truthy("ya", ["yes"])


def test_mapping_guess_for_indonesian_headers():
    header = ["Nama Lengkap", "No. HP", "Surel", "Perusahaan", "Jabatan", "Kota", "Industri", "Sumber",
              "utm_source", "utm_medium", "utm_campaign", "Last Activity", "Catatan"]
    mapping = mapping_guess(header, file_name="Leads Expo Maret.csv", kinds=KIND_SLUGS)
    targets = {name: spec["target"] for name, spec in mapping["columns"].items()}

    assert targets == {
        "Nama Lengkap": "full_name", "No. HP": "phone", "Surel": "email", "Perusahaan": "company",
        "Jabatan": "job_title", "Kota": "city", "Industri": "industry", "Sumber": "source",
        "utm_source": "utm_source", "utm_medium": "utm_medium", "utm_campaign": "utm_campaign",
        "Last Activity": "interaction", "Catatan": "attribute",
    }
    assert mapping["columns"]["Last Activity"] == {"target": "interaction", "kind": "page_viewed", "mode": "date"}
    assert mapping["identity"] == "auto"
    assert mapping["source"] == "leads-expo-maret"


def test_mapping_guess_for_english_and_variant_headers():
    header = ["First Name", "Last Name", "E-mail", "WhatsApp", "Company", "Job Title", "City", "Lead ID", "Converted"]
    mapping = mapping_guess(header, kinds=KIND_SLUGS)
    targets = {name: spec["target"] for name, spec in mapping["columns"].items()}

    assert targets == {
        "First Name": "first_name", "Last Name": "last_name", "E-mail": "email", "WhatsApp": "phone",
        "Company": "company", "Job Title": "job_title", "City": "city", "Lead ID": "external_ref",
        "Converted": "outcome",  # the conversion of each contact's industry, resolved when the row is written
    }


def test_mapping_guess_uses_values_and_falls_back_to_row_references():
    by_values = mapping_guess(["Kontak", "Kota"], [["a@contoh.co.id", "Solo"], ["b@contoh.co.id", "Medan"]], kinds=KIND_SLUGS)
    assert by_values["columns"]["Kontak"]["target"] == "email"

    anonymous = mapping_guess(["age", "job", "y"], kinds=KIND_SLUGS)
    assert anonymous["identity"] == "row"
    assert {spec["target"] for spec in anonymous["columns"].values()} == {"attribute"}


def test_shipped_mappings_match_the_shared_files_headers():
    saved = saved_mappings()
    assert {"uci_bank_full", "uci_online_shoppers_intention"} <= set(saved)
    bank = saved["uci_bank_full"]
    assert bank["columns"]["duration"] == "ignore"
    assert bank["identity"] == "row"
