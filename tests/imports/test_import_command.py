"""`manage.py import_contacts` shares the import service and writes the bad-row report."""

from __future__ import annotations

import csv
import io
import json

import pytest
from django.core.management import CommandError, call_command

from contacts.models import Contact, ImportJob, Interaction

from .conftest import csv_bytes

pytestmark = pytest.mark.django_db


def _run(*args) -> str:
    out = io.StringIO()
    call_command("import_contacts", *[str(a) for a in args], stdout=out)
    return out.getvalue()


def test_imports_with_options_and_writes_the_report_next_to_the_file(tmp_path):
    path = tmp_path / "expo.csv"
    path.write_bytes(csv_bytes([
        ["Nama", "Email", "Terakhir Dikunjungi", "Durasi", "Beli"],
        ["Budi", "budi@contoh.co.id", "05/03/2026", "120", "ya"],
        ["Rusak", "rusak@", "", "", ""],
        ["Ani", "ani@contoh.co.id", "", "30", "tidak"],
    ], delimiter="|"))

    output = _run(path, "--source", "expo-2026", "--kind-column", "Terakhir Dikunjungi=page_viewed",
                  "--flag-column", "Beli=purchase", "--exclude", "Durasi")

    assert "rows=3 created=2 updated=0 unchanged=0 failed=1 status=done" in output
    report = tmp_path / "expo.errors.csv"
    assert str(report) in output
    rows = list(csv.reader(io.StringIO(report.read_text(encoding="utf-8-sig"))))
    assert (rows[1][0], rows[1][2]) == ("3", "Rusak") and rows[1][1].startswith("Email:")
    budi = Contact.objects.get(email="budi@contoh.co.id")
    assert sorted(budi.interactions.values_list("kind", flat=True)) == ["page_viewed", "purchase"]
    assert budi.attributes == {} and budi.source == "expo-2026"

    again = _run(path, "--source", "expo-2026", "--kind-column", "Terakhir Dikunjungi=page_viewed",
                 "--flag-column", "Beli=purchase", "--exclude", "Durasi", "--errors", tmp_path / "lagi.csv")
    assert "created=0 updated=0 unchanged=2 failed=1" in again
    assert (tmp_path / "lagi.csv").exists()
    assert Interaction.objects.count() == 2


def test_a_mapping_file_and_row_references(tmp_path):
    path = tmp_path / "survei.csv"
    path.write_bytes(csv_bytes([["umur", "kota"], ["30", "Solo"], ["41", "Medan"]]))
    mapping = tmp_path / "mapping.json"
    mapping.write_text(json.dumps({"source": "survei-2026", "identity": "auto", "columns": {"umur": "attribute"}}))

    output = _run(path, "--mapping", mapping, "--row-ref")

    assert "created=2" in output and "failed=0" in output
    assert sorted(Contact.objects.values_list("external_ref", flat=True)) == ["row:2", "row:3"]
    assert ImportJob.objects.get().mapping["identity"] == "row"


def test_problems_are_reported_as_command_errors(tmp_path):
    path = tmp_path / "nama.csv"
    path.write_bytes(csv_bytes([["Nama"], ["Budi"]]))

    mapping = tmp_path / "auto.json"
    mapping.write_text(json.dumps({"source": "x", "identity": "auto", "columns": {"Nama": "full_name"}}))

    with pytest.raises(CommandError, match="Map an email, phone or record-ID column"):
        _run(path, "--mapping", mapping)
    with pytest.raises(CommandError, match="No column 'Tidak Ada'"):
        _run(path, "--exclude", "Tidak Ada")
    with pytest.raises(CommandError, match="No such file"):
        _run(tmp_path / "hilang.csv")
