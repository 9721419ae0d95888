"""The two downloadable reports of a job: refused rows (with their cells) and warnings."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from django.utils.translation import gettext as _

from contacts.models import ImportJob

# --- The bad-row report ----------------------------------------------------------------

def error_report_rows(job: ImportJob) -> Iterator[list[Any]]:
    """Header then one line per failed row: its number, the reason and the original cells."""
    yield [_("row"), _("reason"), *job.header]
    for error in job.errors:
        yield [error.get("row"), error.get("reason", ""), *error.get("values", [])]


def warning_report_rows(job: ImportJob) -> Iterator[list[Any]]:
    """Header then one line per cell left out of an imported row: row, column, value, reason."""
    yield [_("row"), _("column"), _("value"), _("reason")]
    for warning in job.warnings:
        yield [warning.get("row"), warning.get("column", ""), warning.get("value", ""), warning.get("reason", "")]
