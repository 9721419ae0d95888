"""Issue 15, findings 9 and 10: zip bombs, binary files and UTF-16 without a BOM are refused
with a message naming the problem, and the mapping page never parses the file again."""

from __future__ import annotations

import io
import zipfile

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from contacts.imports.files import MAX_XLSX_UNPACKED_BYTES, file_inspect
from contacts.imports.run import import_create
from contacts.models import ImportJob

from .conftest import csv_bytes, xlsx_bytes

ROWS = [["Nama", "Email"], ["Dewi", "dewi@example.co.id"], ["Budi", "budi@example.co.id"]]


def _bomb(unpacked_mb: int) -> bytes:
    """A valid workbook whose sheet XML carries `unpacked_mb` MB of one repeated character (packs ~1000:1)."""
    source = zipfile.ZipFile(io.BytesIO(xlsx_bytes(ROWS)))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            data = source.read(info.filename)
            if info.filename == "xl/worksheets/sheet1.xml":
                data = data.replace(b"</worksheet>", b"<!--" + b"A" * (unpacked_mb * 2**20) + b"--></worksheet>")
            target.writestr(info.filename, data)
    return out.getvalue()


def test_a_compressed_xlsx_bomb_under_the_size_limit_is_refused_by_ratio():
    content = _bomb(40)
    assert len(content) < 2**20  # small on the wire
    with pytest.raises(ValidationError) as caught:
        file_inspect(content=content, file_name="bomb.xlsx")
    assert "compression ratio" in " ".join(caught.value.messages)


def test_the_unpacked_limit_fits_a_real_spreadsheet():
    assert MAX_XLSX_UNPACKED_BYTES <= 100 * 2**20
    rows = [["Nama", "Email", "Kota"]] + [[f"Orang {i}", f"orang{i}@example.co.id", "Bandung"] for i in range(3000)]
    inspection = file_inspect(content=xlsx_bytes(rows), file_name="real.xlsx")
    assert inspection.total_rows == 3000


def test_binary_renamed_csv_is_refused():
    png = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 8
    with pytest.raises(ValidationError) as caught:
        file_inspect(content=png, file_name="leads.csv")
    assert "binary" in " ".join(caught.value.messages)


@pytest.mark.parametrize("codec", ["utf-16-le", "utf-16-be"])
def test_utf16_without_a_bom_is_refused(codec):
    content = "Nama,Email\r\nDewi,dewi@example.co.id\r\n".encode(codec)
    with pytest.raises(ValidationError) as caught:
        file_inspect(content=content, file_name="leads.csv")
    assert "UTF-16" in " ".join(caught.value.messages)


def test_utf16_with_a_bom_and_plain_csv_still_import():
    assert file_inspect(content=csv_bytes(ROWS, encoding="utf-16"), file_name="a.csv").total_rows == 2
    assert file_inspect(content=csv_bytes(ROWS), file_name="a.csv").total_rows == 2


def test_the_mapping_page_uses_the_preview_stored_at_upload(db, client_for, marketer, django_assert_max_num_queries):
    job = import_create(file_name="leads.csv", content=csv_bytes(ROWS), by=marketer)
    assert job.options["preview"][0] == ["Dewi", "dewi@example.co.id"]
    ImportJob.objects.filter(pk=job.pk).update(content=b"\x00not the file any more")  # a re-parse would show junk
    html = client_for(marketer).get(reverse("import_mapping", args=[job.pk])).content.decode()
    assert "dewi@example.co.id" in html
