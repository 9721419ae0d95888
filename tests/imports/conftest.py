"""Helpers for the import/export/merge tests: write files in any encoding and delimiter,
and run an import through the service exactly as the page and the command do."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
from django.conf import settings

DATA_DIR = Path(settings.BASE_DIR) / "data"


def csv_bytes(rows: list[list], *, delimiter: str = ",", encoding: str = "utf-8") -> bytes:
    buffer = io.StringIO(newline="")
    csv.writer(buffer, delimiter=delimiter, lineterminator="\r\n").writerows(rows)
    return buffer.getvalue().encode(encoding)


def xlsx_bytes(rows: list[list]) -> bytes:
    from openpyxl import Workbook

    workbook = Workbook()
    sheet = workbook.active
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


@pytest.fixture
def run_import(db):
    """Create, map and run an import of `content` through contacts.imports; returns the job."""
    from contacts.imports.mapping import mapping_normalise
    from contacts.imports.run import import_create, import_run, import_start

    def run(content: bytes, *, name: str = "leads.csv", mapping: dict | None = None, by=None, chunk_size: int = 1000,
            **overrides):
        job = import_create(file_name=name, content=content, by=by)
        chosen = mapping_normalise(mapping if mapping is not None else job.mapping, job.header)
        for key, value in overrides.items():
            chosen[key] = value
        import_start(job=job, mapping=chosen, by=by, run=False)
        return import_run(job_id=job.pk, chunk_size=chunk_size)

    return run
