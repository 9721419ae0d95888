"""The two downloadable reports of a job: refused rows (with their cells) and the empty rows
skipped, and warnings. They are written in the upload's CSV dialect (its delimiter)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from django.utils.translation import gettext as _

from contacts.models import ImportJob

EMPTY_RANGES_KEPT = 1_000  # runs of empty rows kept for the report; the `skipped` counter counts them all
EMPTY_ROWS_LISTED = 10_000


def empty_row_ranges(rows: Iterable[int], ranges: Iterable[Sequence[int]] = ()) -> list[list[int]]:
    """Row numbers as sorted runs of consecutive rows ([first, last]), merged with earlier runs."""
    merged: list[list[int]] = []
    for lo, hi in sorted([[n, n] for n in rows] + [list(r) for r in ranges]):
        if merged and lo <= merged[-1][1] + 1:
            merged[-1][1] = max(merged[-1][1], hi)
        else:
            merged.append([lo, hi])
    return merged[:EMPTY_RANGES_KEPT]


def report_delimiter(job: ImportJob) -> str:
    """The upload's delimiter (`;` for a European Excel export), a comma for an XLSX upload."""
    return job.delimiter if job.delimiter and len(job.delimiter) == 1 else ","


# --- The bad-row report ----------------------------------------------------------------

def error_report_rows(job: ImportJob) -> Iterator[list[Any]]:
    """Header then one line per row in file order: each failed row with its number, the reason
    and the original cells, and each empty row that was skipped."""
    lines = [(error.get("row") or 0, [error.get("row"), error.get("reason", ""), *error.get("values", [])])
             for error in job.errors]
    skipped = _("empty row: skipped")
    empty = (n for lo, hi in (job.options or {}).get("empty_rows", ()) for n in range(lo, hi + 1))
    lines += [(n, [n, skipped]) for _i, n in zip(range(EMPTY_ROWS_LISTED), empty, strict=False)]
    yield [_("row"), _("reason"), *job.header]
    for _number, line in sorted(lines, key=lambda pair: pair[0]):
        yield line


def warning_report_rows(job: ImportJob) -> Iterator[list[Any]]:
    """Header then one line per cell left out of an imported row: row, column, value, reason."""
    yield [_("row"), _("column"), _("value"), _("reason")]
    for warning in job.warnings:
        yield [warning.get("row"), warning.get("column", ""), warning.get("value", ""), warning.get("reason", "")]
