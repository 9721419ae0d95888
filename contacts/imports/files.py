"""Reading an uploaded file: CSV in any common delimiter and encoding, or XLSX (with zip-bomb
guards); the header, the rows with their spreadsheet numbers, and a preview."""

from __future__ import annotations

import codecs
import csv
import io
import time
import zipfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from datetime import time as dtime
from itertools import islice
from typing import Any

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from contacts.imports.cells import cell_text, is_blank
from contacts.models import ImportJob

MAX_FILE_BYTES = 25 * 1024 * 1024
# Zip-bomb guards. A real workbook's XML compresses 5-20x (50,000 rows x 20 columns is ~5 MB
# packed, ~60 MB unpacked); a bomb of repeated shared strings compresses hundreds of times.
MAX_XLSX_UNPACKED_BYTES = 100 * 1024 * 1024
MAX_XLSX_RATIO = 50  # unpacked / packed, for the archive and for each member
# Bytes that never appear in a text file (NUL and C0 controls other than tab, CR, LF, FF).
_BINARY_BYTES = bytes([*range(0, 9), 11, *range(14, 32)])
MAX_COLUMNS = 250


PREVIEW_ROWS = 5
PARSE_CHECK_EVERY = 256  # rows between two looks at the parse deadline
DELIMITERS = ",;\t|"


@dataclass(frozen=True)
class FileFormat:
    kind: str  # "csv" | "xlsx"
    encoding: str = ""
    delimiter: str = ""


@dataclass(frozen=True)
class Inspection:
    format: FileFormat
    header: list[str]
    total_rows: int
    preview: list[list[str]]


def detect_encoding(content: bytes) -> str:
    """UTF-8 (with or without BOM) when it decodes; else Windows-1252 when the bytes use
    its printable 0x80-0x9F range (“smart quotes”, en dash, €); else Latin-1, which
    decodes anything and equals cp1252 for every other byte."""
    if content.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if content.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"  # Excel's "Unicode text" export
    try:
        content.decode("utf-8")
        return "utf-8"
    except UnicodeDecodeError:
        pass
    c1 = {b for b in set(content) if 0x80 <= b <= 0x9F}
    if c1 and not c1 & {0x81, 0x8D, 0x8F, 0x90, 0x9D}:
        return "cp1252"
    return "latin-1"


def _delimiter_fit(sample: str, delimiter: str) -> tuple[float, int]:
    """How well a delimiter explains the sample: share of rows as wide as the header, and that width."""
    rows = [r for r in csv.reader(io.StringIO(sample, newline=""), delimiter=delimiter) if any(c.strip() for c in r)]
    rows = rows[:-1] if len(rows) > 2 else rows  # the last line of a sample may be cut off
    if not rows or len(rows[0]) < 2:
        return (0.0, 0)
    width = len(rows[0])
    return (sum(len(r) == width for r in rows) / len(rows), width)


def detect_delimiter(text: str) -> str:
    """csv.Sniffer's guess when it explains the sample as well as any candidate, else the best candidate."""
    sample = text[:64 * 1024]
    if len(text) > len(sample) and "\n" in sample:
        sample = sample[: sample.rfind("\n") + 1]
    try:
        sniffed = csv.Sniffer().sniff(sample, delimiters=DELIMITERS).delimiter
    except csv.Error:
        sniffed = None
    fits = {d: _delimiter_fit(sample, d) for d in DELIMITERS}
    best = max(DELIMITERS, key=lambda d: fits[d])
    if sniffed and fits[sniffed] >= fits[best]:
        return sniffed
    return best if fits[best][1] else ","


def _cell(value: Any) -> Any:
    """Normalise an XLSX cell: strings trimmed, integral floats as ints (phones!), times as text."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return int(value)
    if isinstance(value, (bool, int, float, datetime, date)):
        return value
    if isinstance(value, dtime):
        return value.isoformat()
    return str(value).strip()


def unreadable(message: str, params: dict | None = None) -> ValidationError:
    """Why a file cannot be read: the error in the active language for the upload form, and its msgid and
    parameters (`stored`) so the import job keeps it as stored text (ImportJob.message_parts)."""
    error = ValidationError(_(message) % params if params else _(message), code="unreadable")
    error.stored = (message, dict(params or {}))
    return error


def _check_xlsx(content: bytes) -> None:
    try:
        with zipfile.ZipFile(io.BytesIO(content)) as archive:
            members = archive.infolist()
    except zipfile.BadZipFile as exc:
        raise unreadable(gettext_noop("This file is not a readable Excel (.xlsx) workbook.")) from exc
    unpacked = sum(info.file_size for info in members)
    if unpacked > MAX_XLSX_UNPACKED_BYTES:
        raise unreadable(gettext_noop("This workbook unpacks to more than %(mb)d MB; split it or save it as CSV."),
                         {"mb": MAX_XLSX_UNPACKED_BYTES // 2**20})
    packed = sum(info.compress_size for info in members)
    if unpacked > 1024 * 1024 and (unpacked > MAX_XLSX_RATIO * max(packed, 1) or any(
            info.file_size > 1024 * 1024 and info.file_size > MAX_XLSX_RATIO * max(info.compress_size, 1) for info in members)):
        raise unreadable(gettext_noop("This workbook unpacks to far more than a real spreadsheet of its size (a compression "
                                      "ratio above %(ratio)d to 1); it was refused. Save it again from Excel, or as CSV."),
                         {"ratio": MAX_XLSX_RATIO})


def _xlsx_records(content: bytes) -> Iterator[list[Any]]:
    import openpyxl

    try:
        workbook = openpyxl.load_workbook(io.BytesIO(content), read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many types (KeyError, InvalidFileException, ...) for broken files
        raise unreadable(gettext_noop("This file is not a readable Excel (.xlsx) workbook.")) from exc
    try:
        sheet = workbook.worksheets[0]
        for values in sheet.iter_rows(values_only=True):
            yield [_cell(v) for v in values]
    finally:
        workbook.close()


def file_records(content: bytes, fmt: FileFormat) -> Iterator[list[Any]]:
    if fmt.kind == "xlsx":
        return _xlsx_records(content)
    text = content.decode(fmt.encoding).replace("\x00", "")
    return csv.reader(io.StringIO(text, newline=""), delimiter=fmt.delimiter)


def _header(cells: Sequence[Any]) -> list[str]:
    """Header names: trimmed, blanks named after their position, duplicates numbered, trailing blanks dropped."""
    names = [str(c).replace("\ufeff", "").strip() if c not in (None, "") else "" for c in cells]
    while names and not names[-1]:
        names.pop()
    seen: dict[str, int] = {}
    header = []
    for position, name in enumerate(names, 1):
        name = name or _("Column %(n)d") % {"n": position}
        if name in seen:
            seen[name] += 1
            name = f"{name} ({seen[name]})"
        else:
            seen[name] = 1
        header.append(name)
    return header


def file_rows(content: bytes, fmt: FileFormat) -> tuple[list[str], Iterator[tuple[int, list[Any]]]]:
    """The header and an iterator of (row number, cells). Row numbers count records from 1
    with the header included, as a spreadsheet shows them (the first data row is 2)."""
    records = file_records(content, fmt)
    number = 0
    for number, record in enumerate(records, 1):  # noqa: B007 - the header's number is used below
        if any(not is_blank(c) for c in record):
            header = _header(record)
            break
    else:
        return [], iter(())
    return header, ((n, record) for n, record in enumerate(records, number + 1))


def file_format(content: bytes, file_name: str = "") -> FileFormat:
    if not content:
        raise unreadable(gettext_noop("The file is empty."))
    if len(content) > MAX_FILE_BYTES:
        raise unreadable(gettext_noop("The file is larger than %(mb)d MB; split it into parts."), {"mb": MAX_FILE_BYTES // 2**20})
    if content[:4] == b"PK\x03\x04":
        _check_xlsx(content)
        return FileFormat("xlsx")
    if content[:8] == b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1":
        raise unreadable(gettext_noop("Old Excel files (.xls) are not supported: save it as .xlsx or CSV."))
    _check_text(content)
    encoding = detect_encoding(content)
    text = content.decode(encoding)
    return FileFormat("csv", encoding, detect_delimiter(text.replace("\x00", "")))


def _check_text(content: bytes) -> None:
    """Refuse what would otherwise import as junk rows: UTF-16 without a byte-order mark, and
    binary files (an image, a PDF, a zip) renamed .csv."""
    if content.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return
    sample = content[:8192]
    nul_odd, nul_even = sample[1::2].count(0), sample[0::2].count(0)
    half = max(len(sample) // 2, 1)
    if max(nul_odd, nul_even) > 0.3 * half and min(nul_odd, nul_even) < 0.05 * half:
        raise unreadable(gettext_noop("This file looks like UTF-16 text without a byte-order mark, which cannot be read "
                                      "reliably. Save it as “CSV UTF-8” and upload it again."))
    controls = sum(sample.count(b) for b in _BINARY_BYTES)
    if controls > max(2, len(sample) // 100):
        raise unreadable(gettext_noop("This file is not text: it contains binary data (an image, a PDF or an archive "
                                      "renamed .csv?). Upload a CSV or an Excel (.xlsx) file."))


class ParseTimeout(Exception):
    """Reading the file took longer than its time limit (CRM_IMPORT_PARSE_SECONDS)."""


def file_inspect(*, content: bytes, file_name: str = "", deadline: float | None = None) -> Inspection:
    """Read the whole file once: format, header, number of data rows and the first rows.
    With a deadline (time.monotonic()), stop with ParseTimeout once it has passed."""
    fmt = file_format(content, file_name)
    try:
        header, rows = file_rows(content, fmt)
        preview: list[list[str]] = []
        total = 0
        for _number, cells in rows:
            if deadline is not None and total % PARSE_CHECK_EVERY == 0 and time.monotonic() > deadline:
                raise ParseTimeout
            total += 1
            if len(preview) < PREVIEW_ROWS:
                preview.append([cell_text(c) for c in cells[: len(header)]] + [""] * (len(header) - len(cells)))
    except csv.Error as exc:
        raise unreadable(gettext_noop("This file could not be read as CSV: %(error)s"), {"error": str(exc)}) from exc
    if not header:
        raise unreadable(gettext_noop("The file has no header row."))
    if len(header) > MAX_COLUMNS:
        raise unreadable(gettext_noop("The file has %(n)d columns; at most %(max)d are supported."), {"n": len(header), "max": MAX_COLUMNS})
    return Inspection(fmt, header, total, preview)


def job_format(job: ImportJob) -> FileFormat:
    return FileFormat("xlsx" if job.encoding == "xlsx" else "csv", "" if job.encoding == "xlsx" else job.encoding, job.delimiter)


def job_preview(job: ImportJob, n: int = PREVIEW_ROWS) -> list[list[str]]:
    """The first rows, as stored when the file was inspected (older jobs: read from the file)."""
    if "preview" in (job.options or {}) and n <= PREVIEW_ROWS:
        return [list(row) for row in job.options["preview"][:n]]
    _header_, rows = file_rows(bytes(job.content), job_format(job))
    width = len(job.header)
    return [[cell_text(c) for c in cells[:width]] + [""] * (width - len(cells)) for _n, cells in islice(rows, n)]
