"""Issue 20: a short local number in an import is refused per cell, with the column named."""

from __future__ import annotations

import pytest

from contacts.models import Contact

from .conftest import csv_bytes

pytestmark = pytest.mark.django_db


def test_a_too_short_phone_beside_an_email_is_a_warning_on_its_cell_and_the_row_lands(run_import):
    rows = [["Nama", "No HP", "Email"],
            ["Budi", "0812345", "budi@contoh.co.id"],
            ["Ani", "0812345", ""],
            ["Citra", "0812-3456-7890", "citra@contoh.co.id"]]
    job = run_import(csv_bytes(rows))

    assert (job.created, job.failed, job.warned) == (2, 1, 1)
    [warning] = job.warnings
    assert (warning["row"], warning["column"], warning["value"]) == (2, "No HP", "0812345")
    assert "too short" in warning["reason"]
    [error] = job.errors
    assert error["row"] == 3 and error["reason"].startswith("No HP:") and "too short" in error["reason"]
    assert Contact.objects.get(email="budi@contoh.co.id").phone is None  # never +620812345
    assert Contact.objects.get(email="citra@contoh.co.id").phone == "+6281234567890"
