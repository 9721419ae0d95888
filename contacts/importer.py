"""The one import service: spreadsheets in, contacts and interactions out.

The /import/ pages, the `import_contacts` command and the Celery task all go through here:

    file_inspect   read a CSV (any common delimiter and encoding) or XLSX: header, row count, preview
    mapping_guess  suggest a mapping of columns to contact fields (Indonesian and English headers)
    import_receive store an uploaded file as an ImportJob (status "parsing") after the cheap
                   checks, and queue import_parse (a Celery task with a time limit)
    import_parse   the heavy read (unpack, count rows, preview, guess a mapping): "parsing" to
                   "uploaded" (waiting for a mapping) or "failed" with the reason
    import_create  the same read in this process (the command): an ImportJob ready for a mapping
    import_start   validate and store the mapping, queue the run after commit
    import_run     import in chunks of CHUNK_SIZE rows, each chunk in its own transaction, resumable
                   from rows_done; then ONE bulk rescore of the contacts the import touched

Every row is written through contacts.services (contact_upsert / interaction_log) with
rescore=False, so de-duplication and validation are the same as for every other way in.

A mapping is plain JSON (stored on the job, downloadable, and shipped for known files in
contacts/import_mappings/):

    {"source": "crm_lama", "identity": "auto" | "row", "defaults": {"industry": "b2b"},
     "blank_values": ["unknown"],
     "columns": {"No HP": "phone", "duration": "ignore", "pdays": {"target": "attribute", "blank": ["-1"]},
                 "Last Activity Date": {"target": "interaction", "kind": "page_viewed", "mode": "date"},
                 "Last Activity": {"target": "activity", "values": {"Email Opened": "email_opened", "SMS Sent": ""}},
                 "TotalVisits": {"target": "count", "kind": "page_viewed"},
                 "Time on site": "number", "Do Not Email": "opt_out_email",
                 "y": {"target": "interaction", "kind": "purchase", "mode": "flag", "truthy": ["yes"]}}}

Columns not named in "columns" go into the contact's attributes under their header name.

Only what identifies a contact refuses a row (no email, phone or reference; an invalid email or
phone that is the only identity). A bad cell in any other column is left out of the row, which
is imported, and listed as a warning (row, column, value, reason) apart from the refused rows.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
import json
import logging
import re
import time
import unicodedata
import zipfile
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import nullcontext
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from datetime import time as dtime
from itertools import islice
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import DataError, IntegrityError, InterfaceError, OperationalError, transaction
from django.db.models import F
from django.utils import timezone, translation
from django.utils.text import slugify
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from contacts import import_activities, import_guess
from contacts.events import contacts_created, interactions_logged
from contacts.models import Contact, ImportJob, Industry, Interaction, InteractionKind
from contacts.services import CONSENT_FIELDS, clean_contact_data, contact_upsert, interaction_log, tag_get_or_create
from crm.audit import audit

log = logging.getLogger(__name__)

MAX_FILE_BYTES = 25 * 1024 * 1024
# Zip-bomb guards. A real workbook's XML compresses 5-20x (50,000 rows x 20 columns is ~5 MB
# packed, ~60 MB unpacked); a bomb of repeated shared strings compresses hundreds of times.
MAX_XLSX_UNPACKED_BYTES = 100 * 1024 * 1024
MAX_XLSX_RATIO = 50  # unpacked / packed, for the archive and for each member
# Bytes that never appear in a text file (NUL and C0 controls other than tab, CR, LF, FF).
_BINARY_BYTES = bytes([*range(0, 9), 11, *range(14, 32)])
MAX_COLUMNS = 250
CHUNK_SIZE = 1000
ERRORS_KEPT = 10_000  # rows kept for the report; the `failed` counter counts them all
PREVIEW_ROWS = 5
PARSE_CHECK_EVERY = 256  # rows between two looks at the parse deadline
DELIMITERS = ",;\t|"
ROW_REF_PREFIX = "row:"
# New people (no match for their email, phone or reference) are inserted in bulk; see _create_new.
BULK_CREATE_NEW = True  # external_ref of "source name + row number" references (the duplicate finder skips them)
MAPPINGS_DIR = Path(__file__).resolve().parent / "import_mappings"

# --- Targets a column can map to -------------------------------------------------

FIELD_TARGETS: dict[str, Any] = {
    "full_name": gettext_lazy("Full name"),
    "first_name": gettext_lazy("First name"),
    "last_name": gettext_lazy("Last name"),
    "email": gettext_lazy("Email"),
    "phone": gettext_lazy("Phone / WhatsApp"),
    "company": gettext_lazy("Company"),
    "job_title": gettext_lazy("Job title"),
    "city": gettext_lazy("City"),
    "industry": gettext_lazy("Industry"),
    "source": gettext_lazy("Source"),
    "utm_source": "UTM source",
    "utm_medium": "UTM medium",
    "utm_campaign": "UTM campaign",
    "social_handle": gettext_lazy("Social handle"),
    "external_ref": gettext_lazy("Record ID in the source system"),
    "tags": gettext_lazy("Tags (comma-separated)"),
    "consent_email": gettext_lazy("Email opt-in (yes/no)"),
    "consent_whatsapp": gettext_lazy("WhatsApp opt-in (yes/no)"),
    "consent_sms": gettext_lazy("SMS opt-in (yes/no)"),
    "do_not_contact": gettext_lazy("Do not contact (yes/no)"),
}
TARGETS: dict[str, Any] = {
    "attribute": gettext_lazy("Keep as attribute"),
    "number": gettext_lazy("Keep as a number (rules can compare it)"),
    "ignore": gettext_lazy("Do not import"),
    **FIELD_TARGETS,
    "opt_out_email": gettext_lazy("Email opt-out (yes = no emails)"),
    "opt_out_phone": gettext_lazy("Call, WhatsApp and SMS opt-out (yes = no calls or messages)"),
    "interaction": gettext_lazy("Interaction (choose the kind)"),
    "activity": gettext_lazy("Activity names (each value is an interaction)"),
    "count": gettext_lazy("Count of interactions (choose the kind)"),
}
# Several columns may use these.
MULTI_TARGETS = frozenset({"attribute", "number", "ignore", "interaction", "activity", "count", "opt_out_email", "opt_out_phone"})
# Opt-out columns: a "yes" withdraws these consents (contacts.consent, with the import job as evidence).
OPT_OUT_FLAGS: dict[str, tuple[str, ...]] = {
    "opt_out_email": ("consent_email",),
    "opt_out_phone": ("consent_whatsapp", "consent_sms"),
}
IDENTITY_TARGETS = ("email", "phone", "external_ref")
MODES = {
    "date": gettext_lazy("The cell is the date it happened"),
    "flag": gettext_lazy("It happened when the cell says yes/true"),
}
IDENTITY_MODES = {
    "auto": gettext_lazy("Email, phone or the record-ID column"),
    "row": gettext_lazy("Source name + row number (anonymous data)"),
}

TRUTHY = frozenset({"1", "y", "yes", "true", "t", "ya", "iya", "benar", "x", "v", "✓", "ok", "on", "converted", "won"})
INDUSTRY_WORDS = {
    "e commerce": "ecommerce", "ecommerce": "ecommerce", "e-commerce": "ecommerce", "online shop": "ecommerce",
    "toko online": "ecommerce", "retail": "ecommerce", "b2b": "b2b", "business": "b2b", "bisnis": "b2b",
    "healthcare": "healthcare", "health": "healthcare", "kesehatan": "healthcare", "klinik": "healthcare",
    "rumah sakit": "healthcare", "education": "education", "pendidikan": "education", "edukasi": "education",
    "sekolah": "education", "kampus": "education", "other": "other", "others": "other", "lainnya": "other",
    "lain lain": "other", "lain-lain": "other",
}
_ID_MONTHS = {
    "januari": "jan", "februari": "feb", "pebruari": "feb", "maret": "mar", "april": "apr", "mei": "may",
    "juni": "jun", "juli": "jul", "agustus": "aug", "agu": "aug", "agt": "aug", "september": "sep",
    "oktober": "oct", "okt": "oct", "november": "nov", "nopember": "nov", "desember": "dec", "des": "dec",
}
_DATE_FORMATS = (
    "%d/%m/%Y %H:%M:%S", "%d/%m/%Y %H:%M", "%d/%m/%Y", "%d-%m-%Y %H:%M:%S", "%d-%m-%Y %H:%M", "%d-%m-%Y",
    "%d.%m.%Y %H:%M", "%d.%m.%Y", "%Y/%m/%d %H:%M:%S", "%Y/%m/%d %H:%M", "%Y/%m/%d", "%d %b %Y %H:%M",
    "%d %b %Y", "%d %B %Y", "%b %d %Y", "%B %d %Y", "%d/%m/%y", "%m/%d/%Y %H:%M:%S", "%m/%d/%Y %H:%M", "%m/%d/%Y",
)


# --- Reading files -----------------------------------------------------------------

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


def _check_xlsx(content: bytes) -> None:
    try:
        with zipfile.ZipFile(io.BytesIO(content)) as archive:
            members = archive.infolist()
    except zipfile.BadZipFile as exc:
        raise ValidationError(_("This file is not a readable Excel (.xlsx) workbook.")) from exc
    unpacked = sum(info.file_size for info in members)
    if unpacked > MAX_XLSX_UNPACKED_BYTES:
        raise ValidationError(_("This workbook unpacks to more than %(mb)d MB; split it or save it as CSV.")
                              % {"mb": MAX_XLSX_UNPACKED_BYTES // 2**20})
    packed = sum(info.compress_size for info in members)
    if unpacked > 1024 * 1024 and (unpacked > MAX_XLSX_RATIO * max(packed, 1) or any(
            info.file_size > 1024 * 1024 and info.file_size > MAX_XLSX_RATIO * max(info.compress_size, 1) for info in members)):
        raise ValidationError(_("This workbook unpacks to far more than a real spreadsheet of its size (a compression "
                                "ratio above %(ratio)d to 1); it was refused. Save it again from Excel, or as CSV.")
                              % {"ratio": MAX_XLSX_RATIO})


def _xlsx_records(content: bytes) -> Iterator[list[Any]]:
    import openpyxl

    try:
        workbook = openpyxl.load_workbook(io.BytesIO(content), read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many types (KeyError, InvalidFileException, ...) for broken files
        raise ValidationError(_("This file is not a readable Excel (.xlsx) workbook.")) from exc
    try:
        sheet = workbook.worksheets[0]
        for values in sheet.iter_rows(values_only=True):
            yield [_cell(v) for v in values]
    finally:
        workbook.close()


def _records(content: bytes, fmt: FileFormat) -> Iterator[list[Any]]:
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


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def file_rows(content: bytes, fmt: FileFormat) -> tuple[list[str], Iterator[tuple[int, list[Any]]]]:
    """The header and an iterator of (row number, cells). Row numbers count records from 1
    with the header included, as a spreadsheet shows them (the first data row is 2)."""
    records = _records(content, fmt)
    number = 0
    for number, record in enumerate(records, 1):  # noqa: B007 - the header's number is used below
        if any(not _blank(c) for c in record):
            header = _header(record)
            break
    else:
        return [], iter(())
    return header, ((n, record) for n, record in enumerate(records, number + 1))


def file_format(content: bytes, file_name: str = "") -> FileFormat:
    if not content:
        raise ValidationError(_("The file is empty."))
    if len(content) > MAX_FILE_BYTES:
        raise ValidationError(_("The file is larger than %(mb)d MB; split it into parts.") % {"mb": MAX_FILE_BYTES // 2**20})
    if content[:4] == b"PK\x03\x04":
        _check_xlsx(content)
        return FileFormat("xlsx")
    if content[:8] == b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1":
        raise ValidationError(_("Old Excel files (.xls) are not supported: save it as .xlsx or CSV."))
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
        raise ValidationError(_("This file looks like UTF-16 text without a byte-order mark, which cannot be read "
                                "reliably. Save it as “CSV UTF-8” and upload it again."))
    controls = sum(sample.count(b) for b in _BINARY_BYTES)
    if controls > max(2, len(sample) // 100):
        raise ValidationError(_("This file is not text: it contains binary data (an image, a PDF or an archive "
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
                preview.append([_text(c) for c in cells[: len(header)]] + [""] * (len(header) - len(cells)))
    except csv.Error as exc:
        raise ValidationError(_("This file could not be read as CSV: %(error)s") % {"error": exc}) from exc
    if not header:
        raise ValidationError(_("The file has no header row."))
    if len(header) > MAX_COLUMNS:
        raise ValidationError(_("The file has %(n)d columns; at most %(max)d are supported.") % {"n": len(header), "max": MAX_COLUMNS})
    return Inspection(fmt, header, total, preview)


def job_format(job: ImportJob) -> FileFormat:
    return FileFormat("xlsx" if job.encoding == "xlsx" else "csv", "" if job.encoding == "xlsx" else job.encoding, job.delimiter)


def job_preview(job: ImportJob, n: int = PREVIEW_ROWS) -> list[list[str]]:
    """The first rows, as stored when the file was inspected (older jobs: read from the file)."""
    if "preview" in (job.options or {}) and n <= PREVIEW_ROWS:
        return [list(row) for row in job.options["preview"][:n]]
    _header_, rows = file_rows(bytes(job.content), job_format(job))
    width = len(job.header)
    return [[_text(c) for c in cells[:width]] + [""] * (width - len(cells)) for _n, cells in islice(rows, n)]


# --- Values ----------------------------------------------------------------------------

def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    return str(value).strip()


def _numeric_phone(value: int) -> str:
    """A phone Excel stored as a number lost its "+" or its leading 0: 6281234567890, 81234567890."""
    digits = str(value)
    if digits.startswith("62"):
        return "+" + digits
    if digits.startswith("8") and 9 <= len(digits) <= 12:
        return "0" + digits  # an Indonesian mobile number without its trunk 0
    return digits


def _json_value(value: Any) -> Any:
    """Attributes keep CSV text verbatim and XLSX numbers as numbers; dates become ISO text."""
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    return value


def truthy(value: Any, words: Iterable[str] | None = None) -> bool:
    """Yes/true/1/ya/x or a positive amount. With `words`, exactly those (case-insensitive)."""
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)):
        return value > 0
    text = _text(value).casefold()
    if words:
        return text in {w.casefold() for w in words}
    if text in TRUTHY:
        return True
    try:
        return float(text.replace(",", "")) > 0
    except ValueError:
        return False


def industry_value(value: Any) -> str:
    text = _text(value).casefold()
    return INDUSTRY_WORDS.get(text, INDUSTRY_WORDS.get(re.sub(r"[^a-z0-9]+", " ", text).strip(), text))


def parse_datetime(value: Any) -> datetime | None:
    """An aware datetime from an XLSX date or common text forms (ISO, day-first, Indonesian
    month names); naive values are local (Asia/Jakarta). None when it is not a date."""
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, date):
        parsed = datetime.combine(value, dtime())
    else:
        text = _text(value)
        if not text or len(text) > 40:
            return None
        try:
            parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            parsed = None
        if parsed is None:
            words = re.sub(r"[,]", " ", text.lower())
            words = re.sub(r"[a-z]+", lambda m: _ID_MONTHS.get(m.group(0), m.group(0)), words)
            words = " ".join(words.split())
            for fmt in _DATE_FORMATS:
                try:
                    parsed = datetime.strptime(words, fmt)
                    break
                except ValueError:
                    continue
        if parsed is None:
            return None
    if timezone.is_naive(parsed):
        parsed = timezone.make_aware(parsed)
    return parsed


# --- Mappings ---------------------------------------------------------------------------

def _norm_header(name: str) -> str:
    text = unicodedata.normalize("NFKD", str(name)).encode("ascii", "ignore").decode().lower()
    return re.sub(r"[^a-z0-9]+", " ", text).strip()


_GUESS_WORDS: dict[str, tuple[str, ...]] = {
    "full_name": ("nama", "nama lengkap", "name", "full name", "fullname", "nama pelanggan", "nama kontak",
                  "nama customer", "customer name", "contact name", "lead name", "nama peserta", "nama siswa",
                  "nama pasien", "nama calon siswa"),
    "first_name": ("first name", "firstname", "nama depan", "given name"),
    "last_name": ("last name", "lastname", "nama belakang", "surname", "family name"),
    "email": ("email", "e mail", "surel", "alamat email", "alamat e mail", "email address", "e mail address",
              "alamat surel", "mail"),
    "phone": ("no hp", "nomor hp", "no handphone", "nomor handphone", "hp", "handphone", "telepon", "telp",
              "no telp", "no telepon", "nomor telepon", "phone", "phone number", "mobile", "mobile phone",
              "whatsapp", "no whatsapp", "nomor whatsapp", "no wa", "nomor wa", "wa", "ponsel", "no ponsel",
              "tel", "telephone", "cell", "cellphone"),
    "company": ("perusahaan", "nama perusahaan", "company", "company name", "organisasi", "organization",
                "organisation", "instansi", "account name", "institusi", "kantor", "nama usaha", "usaha"),
    "job_title": ("jabatan", "job title", "title", "posisi", "position", "role", "peran"),
    "city": ("kota", "city", "kabupaten", "kota kabupaten", "kabupaten kota", "kab kota", "domisili",
             "kota domisili", "town"),
    "industry": ("industri", "industry", "sektor", "sector", "bidang usaha"),
    "source": ("sumber", "source", "lead source", "sumber lead", "sumber data", "sumber informasi", "original source"),
    "utm_source": ("utm source",),
    "utm_medium": ("utm medium",),
    "utm_campaign": ("utm campaign", "campaign", "kampanye", "campaign name", "nama kampanye"),
    "social_handle": ("instagram", "ig", "akun instagram", "twitter", "tiktok", "social handle",
                      "akun sosial media", "sosial media", "social media"),
    "external_ref": ("id", "lead id", "id lead", "record id", "contact id", "id kontak", "customer id",
                     "id pelanggan", "external id", "crm id", "ref", "reference", "referensi", "no ref", "prospect id"),
    "tags": ("tags", "tag", "label", "labels"),
    "consent_email": ("email opt in", "opt in email", "consent email", "persetujuan email", "izin email"),
    "consent_whatsapp": ("whatsapp opt in", "wa opt in", "opt in whatsapp", "opt in wa", "consent whatsapp",
                         "persetujuan whatsapp", "izin whatsapp", "izin wa"),
    "consent_sms": ("sms opt in", "opt in sms", "consent sms", "persetujuan sms", "izin sms"),
    "do_not_contact": ("do not contact", "dnc", "jangan dihubungi", "tidak bersedia dihubungi"),
}
_GUESS = {word: target for target, words in _GUESS_WORDS.items() for word in words}
# Columns that usually are an interaction: (kind, mode) for their normalised header.
_GUESS_INTERACTIONS: dict[str, tuple[str, str]] = {
    **dict.fromkeys(("last activity", "last activity date", "aktivitas terakhir", "tanggal aktivitas terakhir",
                     "tanggal aktivitas", "last seen", "terakhir aktif"), ("page_viewed", "date")),
    **dict.fromkeys(("tanggal daftar", "tanggal pendaftaran", "tanggal submit", "submitted at", "submission date",
                     "date submitted", "tanggal isi formulir", "timestamp", "stempel waktu", "cap waktu"),
                    ("form_submitted", "date")),
    **dict.fromkeys(("last message date", "last message time", "last message at", "last chat", "last chat date",
                     "pesan terakhir", "tanggal pesan terakhir", "waktu pesan terakhir"), ("whatsapp_message", "date")),
    **dict.fromkeys(("converted", "konversi", "revenue", "purchased", "pembelian", "sudah beli", "closed won"),
                    ("purchase", "flag")),
}
_EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def column_profiles(content: bytes, fmt: FileFormat, header: Sequence[str],
                    rows: int = import_guess.SAMPLE_ROWS) -> dict[str, dict[str, Any]]:
    """What each column holds, from its first `rows` values (contacts.import_guess), as JSON."""
    _header_, records = file_rows(content, fmt)
    values: list[list[Any]] = [[] for _name in header]
    for _number, cells in islice(records, rows):
        for position, cell in enumerate(cells[: len(header)]):
            values[position].append(cell)
    return {name: import_guess.profile(values[i], is_date=lambda v: parse_datetime(v) is not None).as_json()
            for i, name in enumerate(header)}


# Columns whose values name a person: their profile keeps no values, even when they repeat.
_PERSONAL_TARGETS = frozenset({"full_name", "first_name", "last_name", "email", "phone", "company", "social_handle",
                               "external_ref"})


def _profiles_kept(profiles: dict[str, dict[str, Any]], mapping: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """The profiles as stored on the job: without the values of columns that name a person."""
    columns = mapping.get("columns") or {}
    for name, profile in profiles.items():
        spec = columns.get(name)
        target = spec.get("target") if isinstance(spec, Mapping) else spec
        if target in _PERSONAL_TARGETS:
            profile["top"] = []
    return profiles


def _profiles_from_preview(header: Sequence[str], preview: Sequence[Sequence[Any]]) -> dict[str, dict[str, Any]]:
    return {name: import_guess.profile([row[i] for row in preview if i < len(row)],
                                       is_date=lambda v: parse_datetime(v) is not None).as_json()
            for i, name in enumerate(header)}


def activity_proposals(profile: Mapping[str, Any], kinds: Iterable[str] | None = None) -> dict[str, str]:
    """The kind proposed for each distinct value of an activity column ("" = ignore it)."""
    kinds = set(kinds) if kinds is not None else None
    return {str(value): import_activities.activity_kind(value, kinds) or "" for value, _count in profile.get("top", [])}


def _is_activity_column(name: str, profile: Mapping[str, Any]) -> bool:
    """Short repeating texts, under an "activity"-like header or mostly names we know."""
    if profile.get("kind") != "category" or import_activities.is_origin_header(name) or profile.get("date_share", 0) >= 0.5:
        return False
    if import_activities.is_activity_header(name):
        return True
    top = profile.get("top") or []
    known = sum(count for value, count in top if import_activities.is_known_activity(value))
    return bool(top) and known >= 0.5 * sum(count for _value, count in top)


def mapping_guess(header: Sequence[str], preview: Sequence[Sequence[Any]] = (), *, file_name: str = "",
                  kinds: Iterable[str] | None = None, profiles: Mapping[str, Mapping[str, Any]] | None = None) -> dict[str, Any]:
    """A suggested mapping from the headers and, above all, from what the columns hold
    (`profiles`, from column_profiles; else judged on the preview rows): a column whose
    values are not dates never becomes a date; activity names, counts and opt-outs are
    recognised; the rest is kept (numbers as numbers)."""
    kinds = set(kinds) if kinds is not None else set(InteractionKind.objects.values_list("slug", flat=True))
    profiles = dict(profiles) if profiles is not None else _profiles_from_preview(header, preview)
    columns: dict[str, Any] = {}
    used: set[str] = set()
    counted: set[str] = set()  # one count column per kind ("Number of Sessions" and "Number of Pageviews")
    for name in header:
        key = _norm_header(name)
        profile = profiles.get(name) or {"kind": "empty"}
        content = profile.get("kind")
        target = _GUESS.get(key) or _GUESS.get(key.replace(" ", ""))
        if target in CONSENT_FIELDS and content not in ("flag", "empty"):
            target = None
        if target and target not in used:
            columns[name] = target
            used.add(target)
            continue
        opt_out = import_activities.opt_out_target(name)
        if opt_out and content in ("flag", "empty"):
            columns[name] = opt_out
            continue
        if key in _GUESS_INTERACTIONS and _GUESS_INTERACTIONS[key][0] in kinds:
            kind, mode = _GUESS_INTERACTIONS[key]
            # The header and the values must agree: mostly dates (a few typos become warnings), or yes/no.
            dates = content == "date" or profile.get("date_share", 0) >= 0.5
            if content == "empty" or (mode == "date" and dates) or (mode == "flag" and content in ("flag", "number")):
                columns[name] = {"target": "interaction", "kind": kind, "mode": mode}
                continue
        count = import_activities.count_kind(name)
        if count and count in kinds and count not in counted and content in ("number", "empty") and (
                content == "empty" or profile.get("integer")):
            columns[name] = {"target": "count", "kind": count}
            counted.add(count)
            continue
        if _is_activity_column(name, profile):
            columns[name] = {"target": "activity", "values": activity_proposals(profile, kinds)}
            continue
        if content == "email" and "email" not in used:
            columns[name] = "email"
            used.add("email")
        elif content == "phone" and "phone" not in used:
            columns[name] = "phone"
            used.add("phone")
        elif content == "number":
            columns[name] = "number"
    if "full_name" in used:  # a full-name column wins over first/last name parts
        columns = {k: ("attribute" if v in ("first_name", "last_name") else v) for k, v in columns.items()}
    has_identity = any(v in IDENTITY_TARGETS for v in columns.values())
    return mapping_normalise({
        "source": source_from_file_name(file_name),
        "identity": "auto" if has_identity else "row",
        "columns": columns,
    }, header)


_CONTENT_WORDS: dict[str, Any] = {
    "empty": gettext_lazy("empty in the first rows"),
    "flag": gettext_lazy("yes/no values"),
    "email": gettext_lazy("email addresses"),
    "url": gettext_lazy("web addresses"),
    "phone": gettext_lazy("phone numbers"),
    "date": gettext_lazy("dates"),
    "identifier": gettext_lazy("a different code on every row"),
}


def _amount(value: float | None) -> str:
    return "" if value is None else str(int(value)) if float(value).is_integer() else f"{value:g}"


def guess_reason(name: str, profile: Mapping[str, Any] | None, spec: Mapping[str, Any]) -> str:
    """One line saying what the column holds and what it becomes, e.g.
    "Last Activity: 38 distinct texts such as “Email Opened” → activity names"."""
    profile = profile or {"kind": "empty"}
    content = profile.get("kind")
    examples = [str(v) for v, _n in (profile.get("top") or [])[:2]]
    such_as = ", ".join(f"“{v[:40]}”" for v in examples)
    if content == "number":
        low, high = profile.get("low"), profile.get("high")
        seen = (_("whole numbers from %(low)s to %(high)s") if profile.get("integer") else _("numbers from %(low)s to %(high)s")) % {
            "low": _amount(low), "high": _amount(high)}
    elif content in ("category", "text") and such_as:
        seen = _("%(n)d distinct texts such as %(examples)s") % {"n": profile.get("distinct", 0), "examples": such_as}
    elif content in ("category", "text"):
        seen = _("%(n)d distinct texts") % {"n": profile.get("distinct", 0)}
    else:
        seen = str(_CONTENT_WORDS.get(content, content))
        if such_as and content in ("date", "flag"):
            seen += " " + _("such as %(examples)s") % {"examples": such_as}
    target = spec.get("target", "attribute")
    if target == "activity":
        becomes = _("activity names")
    elif target in ("interaction", "count"):
        kind = spec.get("kind", "")
        becomes = (_("number of “%(kind)s” interactions") if target == "count" else
                   _("date of a “%(kind)s” interaction") if spec.get("mode") == "date" else
                   _("a “%(kind)s” interaction when yes")) % {"kind": kind}
    else:
        becomes = str(TARGETS.get(target, target))
    return f"{name}: {seen} → {becomes}"


def source_from_file_name(file_name: str) -> str:
    return slugify(Path(file_name or "import").stem)[:100] or "import"


def _column_spec(spec: Any) -> dict[str, Any]:
    if isinstance(spec, str):
        spec = {"target": spec}
    spec = dict(spec or {})
    out: dict[str, Any] = {"target": str(spec.get("target") or "attribute")}
    if out["target"] == "interaction":
        out["kind"] = str(spec.get("kind") or "")
        out["mode"] = str(spec.get("mode") or "date")
        if spec.get("date_column"):
            out["date_column"] = str(spec["date_column"])
        if spec.get("truthy"):
            out["truthy"] = [str(w) for w in spec["truthy"]]
        if spec.get("channel"):
            out["channel"] = str(spec["channel"])
    elif out["target"] == "count":
        out["kind"] = str(spec.get("kind") or "")
        if spec.get("date_column"):
            out["date_column"] = str(spec["date_column"])
    elif out["target"] == "activity":
        out["values"] = {str(k): str(v or "") for k, v in dict(spec.get("values") or {}).items()}
        if spec.get("date_column"):
            out["date_column"] = str(spec["date_column"])
    if spec.get("blank"):
        out["blank"] = [str(w) for w in spec["blank"]]
    return out


def mapping_normalise(mapping: Mapping[str, Any], header: Sequence[str]) -> dict[str, Any]:
    """The canonical form: every header column present (attribute by default), specs as dicts."""
    given = dict(mapping.get("columns") or {})
    defaults = {k: v for k, v in dict(mapping.get("defaults") or {}).items() if v not in (None, "")}
    return {
        "source": str(mapping.get("source") or "").strip()[:100],
        "identity": str(mapping.get("identity") or "auto"),
        "defaults": defaults,
        "blank_values": [str(w) for w in mapping.get("blank_values") or []],
        "columns": {name: _column_spec(given.get(name, "attribute")) for name in header},
    }


def mapping_validate(mapping: Mapping[str, Any], header: Sequence[str]) -> dict[str, list[str]]:
    """Problems per column name (or "__all__"); empty when the mapping can run."""
    problems: dict[str, list[str]] = {}

    def problem(where: str, message: str) -> None:
        problems.setdefault(where, []).append(message)

    columns = mapping.get("columns") or {}
    kinds = set(InteractionKind.objects.values_list("slug", flat=True))
    used: dict[str, str] = {}
    for name, spec in columns.items():
        target = spec.get("target")
        if target not in TARGETS:
            problem(name, _("Unknown target “%(target)s”.") % {"target": target})
            continue
        if target not in MULTI_TARGETS:
            if target in used:
                problem(name, _("“%(other)s” is already mapped to %(target)s.") % {"other": used[target], "target": TARGETS[target]})
            used.setdefault(target, name)
        if target == "interaction":
            if spec.get("kind") not in kinds:
                problem(name, _("Choose an interaction kind."))
            if spec.get("mode") not in MODES:
                problem(name, _("Choose how the cell says the interaction happened."))
        if target == "count" and spec.get("kind") not in kinds:
            problem(name, _("Choose the interaction kind one unit of the count stands for."))
        if target == "activity":
            unknown = sorted({kind for kind in (spec.get("values") or {}).values() if kind and kind not in kinds})
            if unknown:
                problem(name, _("Unknown interaction kind: %(kinds)s.") % {"kinds": ", ".join(unknown)})
        if target in ("interaction", "count", "activity") and spec.get("date_column") and spec["date_column"] not in header:
            problem(name, _("The date column “%(column)s” is not in the file.") % {"column": spec["date_column"]})
    if "full_name" in used and ({"first_name", "last_name"} & set(used)):
        problem("__all__", _("Map either a full name or first and last name, not both."))
    identity = mapping.get("identity")
    if identity not in IDENTITY_MODES:
        problem("__all__", _("Choose how rows are identified."))
    elif identity == "auto" and not set(IDENTITY_TARGETS) & set(used):
        problem("__all__", _("Map an email, phone or record-ID column, or identify rows by source name and row number."))
    if identity == "row" and "external_ref" in used:
        problem(used["external_ref"], _("The file has record IDs: identify rows by them, not by row number."))
    if (identity == "row" or "external_ref" in used) and not mapping.get("source"):
        problem("__all__", _("Give the source a name: references are unique per source."))
    industry = (mapping.get("defaults") or {}).get("industry")
    if industry and industry not in Industry.values:
        problem("__all__", _("Unknown industry “%(value)s”.") % {"value": industry})
    return problems


def saved_mappings() -> dict[str, dict[str, Any]]:
    """The mappings shipped in contacts/import_mappings/*.json, by file stem."""
    found = {}
    for path in sorted(MAPPINGS_DIR.glob("*.json")):
        found[path.stem] = json.loads(path.read_text(encoding="utf-8"))
    return found


def mapping_load(path_or_name: str | Path) -> dict[str, Any]:
    """A mapping from a JSON file path, or the name of a shipped mapping."""
    path = Path(path_or_name)
    if not path.exists() and (MAPPINGS_DIR / f"{path_or_name}.json").exists():
        path = MAPPINGS_DIR / f"{path_or_name}.json"
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ValidationError(_("Cannot read the mapping %(path)s: %(error)s") % {"path": path, "error": exc}) from exc


def mapping_for_header(header: Sequence[str], *, exclude_job: int | None = None) -> dict[str, Any] | None:
    """A remembered mapping for a file with this exact header: a shipped one, else the last
    import of the same columns (so a monthly export is mapped once)."""
    columns = set(header)
    for mapping in saved_mappings().values():
        if set(mapping.get("header") or ()) == columns:
            return mapping
    earlier = (ImportJob.objects.exclude(pk=exclude_job).exclude(mapping={})
               .exclude(status__in=[ImportJob.Status.UPLOADED, ImportJob.Status.PARSING])
               .filter(header=list(header)).only("mapping").first())
    return earlier.mapping if earlier else None


# --- Creating and starting jobs -----------------------------------------------------

def import_receive(*, file_name: str, content: bytes, by=None) -> ImportJob:
    """Store an uploaded file and return at once: only the cheap checks run here (size, the
    archive's directory and compression ratio, binary or UTF-16 text), so the form can refuse
    those; the heavy read (unpacking, counting rows, the preview) is import_parse, run by a
    Celery task with a time limit after commit (in-process on the embedded eager default)."""
    fmt = file_format(content, file_name)
    job = ImportJob.objects.create(
        created_by=by if getattr(by, "is_authenticated", False) else None,
        file_name=Path(file_name).name[:255] or "import", content=content, status=ImportJob.Status.PARSING,
        encoding="xlsx" if fmt.kind == "xlsx" else fmt.encoding, delimiter=fmt.delimiter,
        options={"language": translation.get_language() or settings.LANGUAGE_CODE},
    )
    transaction.on_commit(lambda: _queue_parse(job.pk))
    return job


def import_parse_seconds() -> int:
    return int(getattr(settings, "CRM_IMPORT_PARSE_SECONDS", 120))


def import_parse(*, job_id: int, seconds: float | None = None) -> ImportJob | None:
    """Read a "parsing" job's file once, within `seconds` (default CRM_IMPORT_PARSE_SECONDS):
    store its header, row count, preview and suggested mapping and move it to "uploaded"; an
    unreadable file, or one that takes too long, ends "failed" with the reason. Safe to call
    twice (a job no longer parsing is left alone)."""
    from celery.exceptions import SoftTimeLimitExceeded

    job = ImportJob.objects.filter(pk=job_id, status=ImportJob.Status.PARSING).first()
    if job is None:
        return ImportJob.objects.filter(pk=job_id).defer("content").first()
    limit = import_parse_seconds() if seconds is None else seconds
    with translation.override(job.options.get("language") or settings.LANGUAGE_CODE):
        try:
            content = bytes(job.content)
            inspection = file_inspect(content=content, file_name=job.file_name, deadline=time.monotonic() + limit)
            fields = _inspected_fields(content, inspection, job.file_name, exclude_job=job.pk)
        except ValidationError as exc:
            _parse_failed(job_id, " ".join(exc.messages))
        except (ParseTimeout, SoftTimeLimitExceeded):
            _parse_failed(job_id, import_parse_timeout_message(limit))
        except (csv.Error, UnicodeDecodeError) as exc:
            _parse_failed(job_id, _("This file could not be read as CSV: %(error)s") % {"error": exc})
        except (OperationalError, InterfaceError):
            raise  # transient (database restarting): the task retries
        except Exception as exc:  # a reader's own error on a broken file: the job must not stay "parsing"
            log.exception("Reading import %s failed.", job_id)
            _parse_failed(job_id, _("This file could not be read (%(error)s). Check that it opens in a spreadsheet "
                                    "program, and upload it again.") % {"error": type(exc).__name__})
        else:
            fields["options"] = {**job.options, **fields["options"]}
            ImportJob.objects.filter(pk=job_id, status=ImportJob.Status.PARSING).update(
                status=ImportJob.Status.UPLOADED, **fields)
    return ImportJob.objects.defer("content").get(pk=job_id)


def import_parse_timeout_message(seconds: float) -> str:
    return _("Reading this file took longer than %(seconds)d seconds, so it was stopped. Split it into smaller files "
             "or save it as CSV, and upload it again.") % {"seconds": seconds}


def import_parse_overdue(job: ImportJob) -> bool:
    """A job still "parsing" well after its time limit (the worker was killed, or never ran
    the task): mark it failed so the page does not wait for ever. True if it was marked."""
    limit = import_parse_seconds()
    if job.status != ImportJob.Status.PARSING or timezone.now() - job.created_at < timedelta(seconds=2 * limit + 60):
        return False
    return bool(_parse_failed(job.pk, import_parse_timeout_message(limit)))


def _parse_failed(job_id: int, message: str) -> int:
    return ImportJob.objects.filter(pk=job_id, status=ImportJob.Status.PARSING).update(
        status=ImportJob.Status.FAILED, finished_at=timezone.now(), message=message)


def _queue_parse(job_id: int) -> None:
    from contacts.tasks import import_parse_task
    from crm.celery import app

    try:
        import_parse_task.delay(job_id)
    except Exception as exc:
        if app.conf.task_always_eager:
            raise
        log.warning("Could not queue reading import %s (%s).", job_id, type(exc).__name__)
        _parse_failed(job_id, _("The task queue could not be reached; upload the file again."))


def _inspected_fields(content: bytes, inspection: Inspection, file_name: str, *,
                      exclude_job: int | None = None) -> dict[str, Any]:
    """What reading the file stores on its job: format, header, row count, the preview (parsed
    once: the mapping page shows it instead of reading the file again) and a suggested (or
    remembered) mapping with the column profiles it was guessed from."""
    fmt = inspection.format
    # What each column holds, from a sample of its values (shown on the mapping page with the guess).
    profiles = column_profiles(content, fmt, inspection.header)
    remembered = mapping_for_header(inspection.header, exclude_job=exclude_job)
    mapping = (mapping_normalise(remembered, inspection.header) if remembered
               else mapping_guess(inspection.header, inspection.preview, file_name=file_name, profiles=profiles))
    return {"encoding": "xlsx" if fmt.kind == "xlsx" else fmt.encoding, "delimiter": fmt.delimiter,
            "header": inspection.header, "mapping": mapping, "total_rows": inspection.total_rows,
            "options": {"preview": [[_text(c) for c in row] for row in inspection.preview],
                        "profiles": _profiles_kept(profiles, mapping)}}


def import_create(*, file_name: str, content: bytes, by=None) -> ImportJob:
    """Read a file in this process and store it with its header and a suggested (or
    remembered) mapping (the command; the pages use import_receive). Raises ValidationError."""
    try:
        inspection = file_inspect(content=content, file_name=file_name, deadline=time.monotonic() + import_parse_seconds())
    except ParseTimeout as exc:
        raise ValidationError(import_parse_timeout_message(import_parse_seconds())) from exc
    return ImportJob.objects.create(
        created_by=by if getattr(by, "is_authenticated", False) else None,
        file_name=Path(file_name).name[:255] or "import", content=content,
        **_inspected_fields(content, inspection, file_name),
    )


def import_start(*, job: ImportJob, mapping: Mapping[str, Any], by=None, run: bool = True) -> ImportJob:
    """Fix the mapping and queue the import (after commit). With run=False the caller runs
    import_run itself (the command does, to draw its progress bar)."""
    mapping = mapping_normalise(mapping, job.header)
    problems = mapping_validate(mapping, job.header)
    if problems:
        raise ValidationError({k: v for k, v in problems.items()})
    with transaction.atomic():
        job = ImportJob.objects.select_for_update().get(pk=job.pk)
        if job.status != ImportJob.Status.UPLOADED:
            raise ValidationError(_("This import has already been started."))
        job.mapping = mapping
        job.status = ImportJob.Status.QUEUED
        job.options = {**job.options, "language": translation.get_language() or settings.LANGUAGE_CODE}
        job.save(update_fields=["mapping", "status", "options"])
        targets = sorted({s["target"] for s in mapping["columns"].values()})
        audit(by, "import", job, file=job.file_name, rows=job.total_rows, source=mapping["source"],
              identity=mapping["identity"], targets=targets)
        if run:
            transaction.on_commit(lambda: _queue(job.pk))
    return job


def _queue(job_id: int) -> None:
    from contacts.tasks import import_run_task
    from crm.celery import app

    try:
        import_run_task.delay(job_id)
    except Exception as exc:
        if app.conf.task_always_eager:
            raise  # in-process: the error is ours, not the broker's
        # The job is saved as queued; the progress page offers "start again".
        log.warning("Could not queue import %s (%s).", job_id, type(exc).__name__)
        ImportJob.objects.filter(pk=job_id).update(message=_("The task queue could not be reached; start the import again."))


def import_requeue(*, job: ImportJob) -> bool:
    """Queue a job that is still waiting (its first queueing failed). Harmless if it is already
    running somewhere: chunks are claimed, so no row is counted twice."""
    if job.status != ImportJob.Status.QUEUED:
        return False
    ImportJob.objects.filter(pk=job.pk).update(message="")
    _queue(job.pk)
    return True


# --- Running ------------------------------------------------------------------------------

class RowError(Exception):
    """A row that cannot be imported; the message is the reason shown in the report."""


@dataclass(frozen=True)
class _InteractionSpec:
    column: str
    position: int
    kind: str
    mode: str  # "date" | "flag" | "activity" | "count"
    date_position: int | None
    truthy: tuple[str, ...]
    channel: str
    values: Mapping[str, str] = field(default_factory=dict)  # activity columns: normalised value -> kind ("" = ignore)


@dataclass
class _RowPlan:
    number: int
    data: dict[str, Any]
    interactions: list[tuple[_InteractionSpec, datetime, str, str]]  # spec, when, stable key, raw value
    defaults: dict[str, Any]
    # Consent columns ("yes" turns an opt-in or do-not-contact on): written by contacts.consent with the job as evidence.
    consents: dict[str, bool] = field(default_factory=dict)
    # Opt-out columns ("Do Not Email: yes"): consents withdrawn, also with the job as evidence.
    opt_outs: dict[str, bool] = field(default_factory=dict)
    # Cells left out of the row: {"row", "column", "value", "reason"}.
    warnings: list[dict[str, Any]] = field(default_factory=list)
    # Normalised identities, filled by _Known.load (None: absent or invalid; the upsert names the error).
    email: str | None = None
    phone: str | None = None


def _number(value: Any) -> int | float | None:
    found = import_guess.number(value)
    if found is None:
        return None
    return int(found) if found.is_integer() and abs(found) < 1e15 else found


@dataclass
class _Compiled:
    """A mapping turned into column positions, ready for thousands of rows."""

    header: list[str]
    source: str
    identity: str
    defaults: dict[str, Any]
    fields: list[tuple[int, str]]
    attributes: list[tuple[int, str]]
    interactions: list[_InteractionSpec]
    blank: dict[int, frozenset[str]]
    imported_at: datetime
    column_of: dict[str, str] = field(default_factory=dict)  # field -> column name, for error messages
    job: ImportJob | None = None  # named in the consent evidence
    numbers: list[tuple[int, str]] = field(default_factory=list)  # attributes kept as numbers
    opt_outs: list[tuple[int, tuple[str, ...]]] = field(default_factory=list)
    kinds: frozenset[str] = frozenset()
    count_cap: int = 25

    @classmethod
    def build(cls, mapping: Mapping[str, Any], header: list[str], imported_at: datetime) -> _Compiled:
        index = {name: i for i, name in enumerate(header)}
        everywhere = {w.casefold() for w in mapping.get("blank_values") or []}
        compiled = cls(header=header, source=mapping.get("source") or "", identity=mapping.get("identity") or "auto",
                       defaults=dict(mapping.get("defaults") or {}), fields=[], attributes=[], interactions=[],
                       blank={}, imported_at=imported_at, count_cap=max(int(settings.CRM_IMPORT_COUNT_CAP), 0))
        specs = mapping.get("columns") or {}
        if any(spec.get("target") == "activity" for spec in specs.values()):
            compiled.kinds = frozenset(InteractionKind.objects.values_list("slug", flat=True))
        for name, spec in specs.items():
            if name not in index:
                continue
            position, target = index[name], spec["target"]
            compiled.blank[position] = frozenset(everywhere | {w.casefold() for w in spec.get("blank", ())})
            if target == "ignore":
                continue
            if target == "attribute":
                compiled.attributes.append((position, name))
            elif target == "number":
                compiled.numbers.append((position, name))
            elif target in OPT_OUT_FLAGS:
                compiled.opt_outs.append((position, OPT_OUT_FLAGS[target]))
            elif target in ("interaction", "activity", "count"):
                compiled.interactions.append(_InteractionSpec(
                    column=name, position=position, kind=spec.get("kind", ""),
                    mode=spec.get("mode", "date") if target == "interaction" else target,
                    date_position=index.get(spec.get("date_column") or ""), truthy=tuple(spec.get("truthy", ())),
                    channel=spec.get("channel", ""),
                    values={import_activities.norm(k): v for k, v in (spec.get("values") or {}).items()},
                ))
                # The activity's name and the count stay on the contact too (a count as a number, for rules).
                if target == "activity":
                    compiled.attributes.append((position, name))
                elif target == "count":
                    compiled.numbers.append((position, name))
            else:
                compiled.fields.append((position, target))
                compiled.column_of[target] = name
        if "full_name" not in compiled.column_of and {"first_name", "last_name"} & set(compiled.column_of):
            compiled.column_of["full_name"] = compiled.column_of.get("first_name") or compiled.column_of["last_name"]
        return compiled

    def value(self, cells: Sequence[Any], position: int) -> Any:
        """The cell, or None when it is blank or one of the column's "blank" words."""
        value = cells[position] if position < len(cells) else None
        if _blank(value):
            return None
        if self.blank.get(position) and _text(value).casefold() in self.blank[position]:
            return None
        return value

    def plan(self, number: int, cells: Sequence[Any], now: datetime) -> _RowPlan:
        """What the row writes. Raises RowError only when the row cannot be imported at all
        (no usable identity, or cells that do not line up with the header); a bad cell in any
        other column is left out and listed in the plan's warnings."""
        width = len(self.header)
        if any(not _blank(c) for c in cells[width:]):
            raise RowError(_("The row has %(n)d cells but the header has %(m)d (a delimiter inside an unquoted value?).")
                           % {"n": len(cells), "m": width})
        warnings: list[dict[str, Any]] = []

        def warn(column: str, value: Any, reason: str) -> None:
            if not any(w["column"] == column for w in warnings):  # a date column read by several interactions
                warnings.append({"row": number, "column": column, "value": _text(value), "reason": reason})

        data: dict[str, Any] = {}
        consents: dict[str, bool] = {}
        names: dict[str, str] = {}
        for position, target in self.fields:
            value = self.value(cells, position)
            if value is None:
                continue
            if target in CONSENT_FIELDS:
                consents[target] = truthy(value)
            elif target == "tags":
                data["tags"] = [t.strip() for t in re.split(r"[,;]", _text(value)) if t.strip()]
            elif target == "industry":
                data["industry"] = industry_value(value)
            elif target in ("first_name", "last_name"):
                names[target] = _text(value)
            elif target == "phone" and isinstance(value, int):
                data["phone"] = _numeric_phone(value)
            else:
                data[target] = _text(value)
        if names:
            data["full_name"] = " ".join(n for n in (names.get("first_name"), names.get("last_name")) if n)
        attributes = {key: _json_value(v) for position, key in self.attributes if (v := self.value(cells, position)) is not None}
        for position, key in self.numbers:
            if (raw := self.value(cells, position)) is None:
                continue
            if (amount := _number(raw)) is None:
                warn(key, raw, _("“%(value)s” is not a number.") % {"value": _text(raw)})
            else:
                attributes[key] = amount
        if attributes:
            data["attributes"] = attributes
        opt_outs: dict[str, bool] = {}
        for position, flags in self.opt_outs:
            if (raw := self.value(cells, position)) is not None and truthy(raw):
                opt_outs.update(dict.fromkeys(flags, False))
        if self.identity == "row":
            data["external_ref"] = f"{ROW_REF_PREFIX}{number}"
        if data.get("external_ref"):
            data["external_source"] = self.source
        self._check_identity(data, warn)
        self._check_fields(data, warn)
        interactions = []
        activities: set[tuple[str, str]] = set()
        for spec in self.interactions:
            raw = self.value(cells, spec.position)
            if raw is None:
                continue
            for kind, when, dated, index in self._occurrences(spec, raw, cells, now, warn):
                moment = when.isoformat() if dated else "import"
                if spec.mode == "activity":
                    # Exports repeat the latest activity ("Last Activity", "Last Notable Activity"): one event, once.
                    if (kind, moment) in activities:
                        continue
                    activities.add((kind, moment))
                key = f"{spec.column}|{kind}|{moment}" + (f"|{index}" if index else "")
                occurrence = spec if kind == spec.kind else _InteractionSpec(
                    column=spec.column, position=spec.position, kind=kind, mode=spec.mode,
                    date_position=spec.date_position, truthy=spec.truthy, channel=spec.channel)
                interactions.append((occurrence, when, key, _text(raw)))
        defaults = {k: v for k, v in self.defaults.items() if k not in data and k not in CONSENT_FIELDS}
        for name in CONSENT_FIELDS:
            if name in self.defaults and name not in consents:
                consents[name] = truthy(self.defaults[name])
        if "source" not in data and self.source:
            defaults.setdefault("source", self.source)
        # An opt-out in the same row wins over an opt-in.
        consents = {k: v for k, v in consents.items() if v and k not in opt_outs}
        return _RowPlan(number=number, data=data, interactions=interactions, defaults=defaults,
                        consents=consents, opt_outs=opt_outs, warnings=warnings)

    def _check_identity(self, data: dict[str, Any], warn: Callable[[str, Any, str], None]) -> None:
        """Refuse the row only when nothing identifies it; an invalid email or phone beside
        another identity is left out with a warning."""
        from contacts.services import normalize_email, normalize_phone

        problems: dict[str, str] = {}
        for name, normalise in (("email", normalize_email), ("phone", normalize_phone)):
            if data.get(name):
                try:
                    normalise(data[name])
                except ValidationError as exc:
                    problems[name] = " ".join(exc.messages)
        usable = [name for name in ("email", "phone", "external_ref") if data.get(name) and name not in problems]
        if not usable:
            if problems:
                raise RowError("; ".join(f"{self.column_of.get(name, name)}: {message}" for name, message in problems.items()))
            raise RowError(_("No identity: the row has no email, phone or record ID."))
        for name, message in problems.items():
            warn(self.column_of.get(name, name), data.pop(name), message)

    def _check_fields(self, data: dict[str, Any], warn: Callable[[str, Any, str], None]) -> None:
        """Other contact fields the services would refuse (an unknown industry, a value too long):
        left out with a warning."""
        checked = {k: v for k, v in data.items() if k not in ("email", "phone", "external_ref", "external_source", "tags")}
        try:
            clean_contact_data(checked)
        except ValidationError as exc:
            for name, messages in exc.message_dict.items():
                if name in data:
                    value = data.pop(name)
                    warn(self.column_of.get(name, name), value if name != "attributes" else "", " ".join(messages))

    def _when(self, spec: _InteractionSpec, cells: Sequence[Any], now: datetime,
              warn: Callable[[str, Any, str], None]) -> tuple[datetime, bool]:
        """The date from the spec's date column, else the import's (dated=False)."""
        day = self.value(cells, spec.date_position) if spec.date_position is not None else None
        if day is None:
            return self.imported_at, False
        column = self.header[spec.date_position]
        when = parse_datetime(day)
        if when is None:
            warn(column, day, _("“%(value)s” is not a date; the import date is used.") % {"value": _text(day)})
            return self.imported_at, False
        if when > now + settings.CRM_FUTURE_SKEW:
            warn(column, day, _("%(value)s is in the future; the import date is used.") % {"value": _text(day)})
            return self.imported_at, False
        return when, True

    def _occurrences(self, spec: _InteractionSpec, raw: Any, cells: Sequence[Any], now: datetime,
                     warn: Callable[[str, Any, str], None]) -> list[tuple[str, datetime, bool, int]]:
        """(kind, when, dated, index) of each interaction one cell stands for."""
        if spec.mode == "date":
            when = parse_datetime(raw)
            if when is None:
                warn(spec.column, raw, _("“%(value)s” is not a date.") % {"value": _text(raw)})
                return []
            if when > now + settings.CRM_FUTURE_SKEW:
                warn(spec.column, raw, _("%(value)s is in the future.") % {"value": _text(raw)})
                return []
            return [(spec.kind, when, True, 0)]
        if spec.mode == "flag":
            if not truthy(raw, spec.truthy):
                return []
            return [(spec.kind, *self._when(spec, cells, now, warn), 0)]
        if spec.mode == "activity":
            key = import_activities.norm(raw)
            kind = spec.values[key] if key in spec.values else import_activities.activity_kind(raw, self.kinds)
            if not kind:
                return []  # a value mapped to "ignore" (it stays as the column's attribute)
            return [(kind, *self._when(spec, cells, now, warn), 0)]
        # A count: N interactions, capped (a bot with 10,000 visits does not write 10,000 rows).
        amount = _number(raw)
        if amount is None or amount < 0:
            return []  # the number check has warned already
        when, dated = self._when(spec, cells, now, warn)
        return [(spec.kind, when, dated, i) for i in range(min(int(amount), self.count_cap))]

    def reason(self, exc: ValidationError) -> str:
        """A service's ValidationError as one line, naming the file's columns."""
        if not hasattr(exc, "error_dict"):
            return " ".join(exc.messages)
        parts = []
        for name, errors in exc.message_dict.items():
            label = self.column_of.get(name, name)
            parts.append(f"{label}: {' '.join(errors)}")
        return "; ".join(parts)


@dataclass
class _Known:
    """Identities that exist in the database, looked up once per chunk instead of per row."""

    by_email: dict[str, tuple[int, str, str | None]] = field(default_factory=dict)
    by_phone: dict[str, tuple[int, str, str | None]] = field(default_factory=dict)
    by_ref: dict[tuple[str, str], int] = field(default_factory=dict)

    @classmethod
    def load(cls, plans: Sequence[_RowPlan]) -> _Known:
        from contacts.services import normalize_email, normalize_phone

        for plan in plans:
            try:
                plan.email = normalize_email(plan.data.get("email"))
            except ValidationError:
                plan.email = None
            try:
                plan.phone = normalize_phone(plan.data.get("phone"))
            except ValidationError:
                plan.phone = None
        emails = {p.email for p in plans if p.email}
        phones = {p.phone for p in plans if p.phone}
        refs = {p.data["external_ref"] for p in plans if p.data.get("external_ref")}
        sources = {p.data.get("external_source", "") for p in plans if p.data.get("external_ref")}
        known = cls()
        columns = ("pk", "email", "phone", "external_source", "external_ref")
        if emails:
            for pk, email, _phone, source, ref in Contact.objects.filter(email__in=emails).values_list(*columns):
                known.by_email[email] = (pk, source, ref)
        if phones:
            for pk, _email, phone, source, ref in Contact.objects.filter(phone__in=phones).values_list(*columns):
                known.by_phone[phone] = (pk, source, ref)
        if refs:
            for pk, _email, _phone, source, ref in Contact.objects.filter(
                    external_ref__in=refs, external_source__in=sources).values_list(*columns):
                known.by_ref[(source, ref)] = pk
        return known

    def remember(self, contact: Contact) -> None:
        entry = (contact.pk, contact.external_source, contact.external_ref)
        if contact.email:
            self.by_email[contact.email] = entry
        if contact.phone:
            self.by_phone[contact.phone] = entry
        if contact.external_ref:
            self.by_ref[(contact.external_source, contact.external_ref)] = contact.pk

    def is_new(self, plan: _RowPlan) -> bool:
        """No contact in the database has this row's email, phone or reference."""
        ref = plan.data.get("external_ref")
        return not ((plan.email and plan.email in self.by_email) or (plan.phone and plan.phone in self.by_phone)
                    or (ref and (plan.data.get("external_source", ""), ref) in self.by_ref))

    def settle(self, plan: _RowPlan) -> None:
        """Decide what the row may write given who it matches: defaults only for new
        contacts, and a reference only where it would not overwrite or collide with another."""
        data = plan.data
        email, phone = plan.email, plan.phone
        if (data.get("email") and not email) or (data.get("phone") and not phone):
            return  # the upsert rejects the row and names the field
        ref = data.get("external_ref")
        ref_owner = self.by_ref.get((data.get("external_source", ""), ref)) if ref else None
        match = self.by_email.get(email) if email else None
        match = match or (self.by_phone.get(phone) if phone else None)
        if match is None:
            if ref_owner is None:
                data.update(plan.defaults)  # a new contact: the mapping's defaults apply
            return
        pk, their_source, their_ref = match
        if ref and (ref_owner not in (None, pk) or (their_ref and (their_source, their_ref) != (data["external_source"], ref))):
            # The contact found by email/phone has another reference (or ours belongs to someone else):
            # keep theirs, as contact_upsert keeps an existing email or phone.
            data.pop("external_ref", None)
            data.pop("external_source", None)


def _ranges(ids: Iterable[int], ranges: Iterable[Sequence[int]] = (), gap: int = 200) -> list[list[int]]:
    """Sorted, merged id ranges (ids closer than `gap` share a range: a rescore of a few extra
    contacts is cheaper than many small ranges)."""
    spans = sorted([[i, i] for i in ids] + [list(r) for r in ranges])
    merged: list[list[int]] = []
    for lo, hi in spans:
        if merged and lo <= merged[-1][1] + gap:
            merged[-1][1] = max(merged[-1][1], hi)
        else:
            merged.append([lo, hi])
    if len(merged) > 500:
        return _ranges((), merged, gap * 4)
    return merged


def _batches(rows: Iterator[tuple[int, list[Any]]], size: int) -> Iterator[list[tuple[int, list[Any]]]]:
    while batch := list(islice(rows, size)):
        yield batch


@dataclass
class ChunkOutcome:
    rows: int = 0
    created: int = 0
    updated: int = 0
    skipped: int = 0
    failed: int = 0
    errors: list[dict[str, Any]] = field(default_factory=list)
    touched: set[int] = field(default_factory=set)  # to be scored after the last chunk
    scored: set[int] = field(default_factory=set)  # new contacts inserted scored
    consents: dict[int, dict[str, bool]] = field(default_factory=dict)  # ticked consent columns, by contact id
    opt_outs: dict[int, dict[str, bool]] = field(default_factory=dict)  # opt-out columns said yes, by contact id
    warnings: list[dict[str, Any]] = field(default_factory=list)  # cells left out of imported rows


def _interaction_external_id(contact_id: int, key: str) -> str:
    """Stable across re-imports of the same data (whatever the job): the contact plus
    column, kind and date, hashed to fit the column."""
    return "import:" + hashlib.sha1(f"{contact_id}|{key}".encode()).hexdigest()


def _fail(outcome: ChunkOutcome, number: int, cells: Sequence[Any], reason: str) -> None:
    outcome.failed += 1
    outcome.errors.append({"row": number, "values": [_text(c) for c in cells], "reason": reason})


def _identities(plan: _RowPlan) -> set[tuple[str, Any]]:
    ids = {("email", plan.email), ("phone", plan.phone)}
    if plan.data.get("external_ref"):
        ids.add(("ref", (plan.data.get("external_source", ""), plan.data["external_ref"])))
    return {i for i in ids if i[1]}


def _split_new(plans: list[_RowPlan], known: _Known) -> tuple[list[_RowPlan], list[_RowPlan]]:
    """Rows that are certainly new people (no match in the database, no other row of the
    chunk shares an identity with them), and the rest, in file order."""
    new, rest, seen = [], [], set()
    for plan in plans:
        identities = _identities(plan)
        if BULK_CREATE_NEW and known.is_new(plan) and not identities & seen:
            new.append(plan)
        else:
            rest.append(plan)
        seen |= identities
    return new, rest


def _create_new(compiled: _Compiled, plans: list[_RowPlan], known: _Known, by, outcome: ChunkOutcome,
                cells_of: Mapping[int, Sequence[Any]]) -> list[_RowPlan]:
    """Insert brand-new contacts (and their interactions) in a few statements instead of a few per row.

    This is contact_upsert's create path in bulk: the same clean_contact_data and the same
    full_clean, so a new contact is stored exactly as contact_upsert would store it; a test
    imports one file both ways and compares. Rows that fail validation are reported; if the
    insert meets a concurrent writer (a unique email, phone or reference taken meanwhile), the
    rows are handed back to the row-by-row path, which merges them like any upsert."""
    contacts: list[Contact] = []
    ready: list[_RowPlan] = []
    for plan in plans:
        try:
            # A new contact: the mapping's defaults apply (plan.data stays as it was, for a hand-back).
            cleaned = clean_contact_data({**plan.data, **plan.defaults})
            contact = Contact(**{k: v for k, v in cleaned.items() if k not in ("attributes", "tags", "owner", *CONSENT_FIELDS)},
                              attributes=cleaned.get("attributes") or {})
            contact.full_clean(exclude=["email", "phone"], validate_unique=False, validate_constraints=False)
        except ValidationError as exc:
            _fail(outcome, plan.number, cells_of[plan.number], compiled.reason(exc))
            continue
        if plan.interactions:
            contact.last_interaction_at = max(when for _spec, when, _key, _raw in plan.interactions)
        contacts.append(contact)
        ready.append(plan)
    if not contacts:
        return []
    from scoring.services import new_contacts_record_moves, new_contacts_score

    # Rows without interactions are scored now and inserted scored; the rest after the chunk, with them.
    now = timezone.now()
    from contacts.consent import consent_values_after

    # Scored with the consent flags the row ticks; they are inserted unset and contacts.consent sets them
    # (with the job as evidence) in the same transaction, at the end of the chunk.
    ticked = [(c, plan.consents) for c, plan in zip(contacts, ready, strict=True) if plan.consents]
    for contact, consents in ticked:
        for name, value in consent_values_after(contact, consents, fill=True).items():
            setattr(contact, name, value)
    moves = new_contacts_score((c for c, plan in zip(contacts, ready, strict=True) if not plan.interactions), now=now)
    for contact, _consents in ticked:
        for name in CONSENT_FIELDS:
            setattr(contact, name, Contact._meta.get_field(name).default)
    try:
        with transaction.atomic():
            Contact.objects.bulk_create(contacts, batch_size=500)
            contacts_created.send(sender=Contact, contact_ids=[contact.pk for contact in contacts])
            new_contacts_record_moves(moves, now=now)
            interactions_logged.send(sender=Interaction, interactions=Interaction.objects.bulk_create([
                Interaction(contact_id=contact.pk, kind_id=spec.kind, occurred_at=when, channel=spec.channel,
                            data={"import_column": spec.column, "value": raw}, source=compiled.source,
                            external_id=_interaction_external_id(contact.pk, key), created_by=by)
                for contact, plan in zip(contacts, ready, strict=True) for spec, when, key, raw in plan.interactions
            ], batch_size=500))
            tagged = [(contact, plan.data["tags"]) for contact, plan in zip(contacts, ready, strict=True) if plan.data.get("tags")]
            if tagged:
                tags = {t.name: t for t in tag_get_or_create({n.strip()[:50] for _c, names in tagged for n in names})}
                Contact.tags.through.objects.bulk_create([
                    Contact.tags.through(contact_id=contact.pk, tag_id=tags[n.strip()[:50]].pk)
                    for contact, names in tagged for n in set(names) if n.strip()[:50] in tags
                ], ignore_conflicts=True)
    except IntegrityError:
        return ready  # someone else wrote one of these identities meanwhile: go row by row
    for contact, plan in zip(contacts, ready, strict=True):
        known.remember(contact)
        if plan.consents:
            outcome.consents[contact.pk] = plan.consents
        if plan.opt_outs:
            outcome.opt_outs[contact.pk] = plan.opt_outs
        outcome.warnings.extend(plan.warnings)
        if plan.interactions:
            outcome.touched.add(contact.pk)
        elif contact.scored_at is not None:
            outcome.scored.add(contact.pk)
    outcome.created += len(contacts)
    return []


def _import_rows(compiled: _Compiled, rows: list[tuple[int, list[Any]]], by) -> ChunkOutcome:
    outcome = ChunkOutcome(rows=len(rows))
    now = timezone.now()
    cells_of = dict(rows)
    plans: list[_RowPlan] = []
    for number, cells in rows:
        if all(_blank(c) for c in cells):
            outcome.skipped += 1
            continue
        try:
            plans.append(compiled.plan(number, cells, now))
        except RowError as exc:
            _fail(outcome, number, cells, str(exc))
    known = _Known.load(plans)
    new, rest = _split_new(plans, known)
    handed_back = _create_new(compiled, new, known, by, outcome, cells_of)
    if handed_back:
        rest = sorted(rest + handed_back, key=lambda plan: plan.number)
    for plan in rest:
        known.settle(plan)
        try:
            # A savepoint per row with interactions, so the contact and its interactions go in together;
            # contact_upsert has its own, so a row the database refuses never takes its neighbours with it.
            with transaction.atomic() if plan.interactions else nullcontext():
                result = contact_upsert(data=plan.data, by=by, rescore=False)
                new_interactions = 0
                for spec, when, key, raw in plan.interactions:
                    logged = interaction_log(
                        contact=result.contact, kind=spec.kind, occurred_at=when, channel=spec.channel,
                        data={"import_column": spec.column, "value": raw}, source=compiled.source,
                        external_id=_interaction_external_id(result.contact.pk, key), by=by, rescore=False,
                        audited=False,  # the import job is audited as a whole
                    )
                    new_interactions += logged.created
        except ValidationError as exc:
            _fail(outcome, plan.number, cells_of[plan.number], compiled.reason(exc))
            continue
        except (IntegrityError, DataError) as exc:
            log.info("Import row %s refused by the database (%s).", plan.number, type(exc).__name__)
            _fail(outcome, plan.number, cells_of[plan.number],
                  _("The database refused the row (an email, phone or reference that belongs to another contact?)."))
            continue
        known.remember(result.contact)
        outcome.warnings.extend(plan.warnings)
        if plan.opt_outs:
            outcome.opt_outs[result.contact.pk] = {**outcome.opt_outs.get(result.contact.pk, {}), **plan.opt_outs}
        consent_changes = []
        if plan.consents:
            from contacts.consent import consent_flags_changes

            outcome.consents[result.contact.pk] = {**outcome.consents.get(result.contact.pk, {}), **plan.consents}
            consent_changes = consent_flags_changes(result.contact, plan.consents, fill=True)
        if result.created:
            outcome.created += 1
        elif result.changed or new_interactions or consent_changes:
            outcome.updated += 1
        else:
            outcome.skipped += 1
        if result.created or result.changed or new_interactions:
            outcome.touched.add(result.contact.pk)
    if outcome.consents:
        from contacts.consent import consents_import

        changed = consents_import(ticked=outcome.consents, job=compiled.job, by=by)
        outcome.touched |= changed - outcome.scored  # those inserted scored were scored with these flags
    if outcome.opt_outs:
        _opt_outs_record(outcome.opt_outs, job=compiled.job, by=by)
    outcome.errors.sort(key=lambda error: error["row"])
    outcome.warnings.sort(key=lambda warning: warning["row"])
    return outcome


def _opt_outs_record(opt_outs: Mapping[int, Mapping[str, bool]], *, job: ImportJob | None, by) -> None:
    """Opt-out columns ("Do Not Email: yes"): each consent withdrawn through the consent
    service, with the import job as evidence, recorded even when the flag was already off
    (the file is the evidence). The service rescores the contacts whose flags changed.
    This is the importer's one call into consent for opt-outs."""
    from contacts.consent import consent_flags_set

    for pk, flags in sorted(opt_outs.items()):
        try:
            consent_flags_set(contact=Contact(pk=pk), flags=flags, source="import", by=by, import_job=job,
                              record_unchanged=True)
        except ValidationError:
            log.info("Import opt-out skipped for contact %s (anonymised).", pk)


def _claim(job_id: int) -> ImportJob | None:
    with transaction.atomic():
        job = ImportJob.objects.select_for_update().filter(
            pk=job_id, status__in=[ImportJob.Status.QUEUED, ImportJob.Status.RUNNING]).first()
        if job is None:
            return None
        if job.status == ImportJob.Status.QUEUED or job.started_at is None:
            job.status = ImportJob.Status.RUNNING
            job.started_at = job.started_at or timezone.now()
            job.save(update_fields=["status", "started_at"])
    return job


def _commit_chunk(job: ImportJob, compiled: _Compiled, rows: list[tuple[int, list[Any]]], by) -> ChunkOutcome | None:
    """One chunk in one transaction, with the job's counters: committed together, so a
    resumed run continues exactly after the last committed row. None if another runner
    took this chunk first (a redelivered task running beside the original)."""
    with transaction.atomic():
        start = job.rows_done
        # Claim the chunk first: the row lock makes a concurrent runner wait, then find rows_done moved.
        if not ImportJob.objects.filter(pk=job.pk, rows_done=start, status=ImportJob.Status.RUNNING).update(
                rows_done=start + len(rows)):
            return None
        outcome = _import_rows(compiled, rows, by)
        errors = job.errors
        room = max(ERRORS_KEPT - len(errors), 0)
        if outcome.errors and room:
            errors = errors + outcome.errors[:room]
        warnings = job.warnings
        room = max(ERRORS_KEPT - len(warnings), 0)
        if outcome.warnings and room:
            warnings = warnings + outcome.warnings[:room]
        ranges = _ranges(outcome.touched, job.options.get("rescore_ranges", ()))
        options = {**job.options, "rescore_ranges": ranges,
                   "scored_at_insert": job.options.get("scored_at_insert", 0) + len(outcome.scored),
                   "scored_ranges": _ranges(outcome.scored, job.options.get("scored_ranges", ())),
                   "to_rescore": job.options.get("to_rescore", 0) + len(outcome.touched)}
        ImportJob.objects.filter(pk=job.pk).update(
            created=F("created") + outcome.created, updated=F("updated") + outcome.updated,
            skipped=F("skipped") + outcome.skipped, failed=F("failed") + outcome.failed, errors=errors, options=options,
            warned=F("warned") + len(outcome.warnings), warnings=warnings,
        )
    job.rows_done = start + len(rows)
    job.created += outcome.created
    job.updated += outcome.updated
    job.skipped += outcome.skipped
    job.failed += outcome.failed
    job.warned += len(outcome.warnings)
    job.errors, job.options, job.warnings = errors, options, warnings
    return outcome


def import_rescore(job: ImportJob) -> int:
    """One bulk rescore over the contacts the import touched (as id ranges), instead of a task per row."""
    from scoring.models import RuleSetVersion
    from scoring.selectors import active_rulesets
    from scoring.services import rescore_range

    rulesets = active_rulesets()
    ranges = job.options.get("rescore_ranges", [])
    if job.started_at and RuleSetVersion.objects.filter(published_at__gte=job.started_at).exists():
        # Rules were published during the import: a chunk scored under the old ones may have
        # committed after the publish's rescore had read the contacts. Score those again too.
        ranges = _ranges((), [*ranges, *job.options.get("scored_ranges", ())])
    scored = 0
    for lo, hi in ranges:
        # One transaction per range: on SQLite each autocommitted UPDATE would wait for its own fsync.
        with transaction.atomic():
            scored += rescore_range(first_id=lo, last_id=hi, rulesets=rulesets).scored
    return scored


def import_run(*, job_id: int, chunk_size: int = CHUNK_SIZE, time_budget: float | None = None,
               on_progress: Callable[[ImportJob, ChunkOutcome], None] | None = None) -> ImportJob | None:
    """Import the job's rows from where it stopped. Returns the job; its status is still
    "running" when the time budget ran out (call again to continue). Safe to call twice."""
    job = _claim(job_id)
    if job is None:
        return ImportJob.objects.filter(pk=job_id).defer("content").first()
    started = time.monotonic()
    with translation.override(job.options.get("language") or settings.LANGUAGE_CODE):
        try:
            compiled = _Compiled.build(job.mapping, list(job.header), job.started_at)
            compiled.job = job
            _header_, rows = file_rows(bytes(job.content), job_format(job))
            remaining = islice(rows, job.rows_done, None)
            for batch in _batches(remaining, chunk_size):
                outcome = _commit_chunk(job, compiled, batch, job.created_by)
                if outcome is None:
                    return ImportJob.objects.defer("content").get(pk=job_id)
                if on_progress:
                    on_progress(job, outcome)
                if time_budget is not None and time.monotonic() - started > time_budget:
                    return job
            ImportJob.objects.filter(pk=job.pk).update(message=_("Scoring the imported contacts…"))
            # The rescore's ranges also hold untouched neighbours (and contacts inserted scored): count the touched.
            scored = job.options.get("scored_at_insert", 0) + min(import_rescore(job), job.options.get("to_rescore", 0))
        except (ValidationError, csv.Error, UnicodeDecodeError) as exc:
            # The file itself is unreadable from here on: stop with a message; counted rows stay counted.
            _mark_failed(job_id, " ".join(exc.messages) if isinstance(exc, ValidationError) else str(exc))
            return ImportJob.objects.defer("content").get(pk=job_id)
        except (OperationalError, InterfaceError):
            raise  # transient (database restarting): the task retries and resumes from rows_done
        except Exception as exc:
            _mark_failed(job_id, _("The import stopped on an unexpected error (%(error)s); the rows imported so far are kept.")
                         % {"error": type(exc).__name__})
            raise
        message = _("%(created)d created, %(updated)d updated, %(skipped)d unchanged, %(failed)d failed; %(scored)d contacts scored.") % {
            "created": job.created, "updated": job.updated, "skipped": job.skipped, "failed": job.failed, "scored": scored}
        if job.failed > len(job.errors):
            message += " " + _("The report lists the first %(n)d failed rows.") % {"n": len(job.errors)}
        if job.warned:
            message += " " + _("%(n)d cells were left out of imported rows; the warnings report lists them.") % {"n": job.warned}
    ImportJob.objects.filter(pk=job.pk, status=ImportJob.Status.RUNNING).update(
        status=ImportJob.Status.DONE, finished_at=timezone.now(), message=message)
    return ImportJob.objects.defer("content").get(pk=job_id)


def _mark_failed(job_id: int, message: str) -> None:
    ImportJob.objects.filter(pk=job_id).update(status=ImportJob.Status.FAILED, finished_at=timezone.now(), message=message)


def import_file(*, path: str | Path, mapping: Mapping[str, Any] | None = None, by=None,
                chunk_size: int = CHUNK_SIZE, on_progress=None) -> ImportJob:
    """Import a file from disk in this process (the command and tests): create, map, run."""
    path = Path(path)
    job = import_create(file_name=path.name, content=path.read_bytes(), by=by)
    job = import_start(job=job, mapping=mapping if mapping is not None else job.mapping, by=by, run=False)
    result = import_run(job_id=job.pk, chunk_size=chunk_size, on_progress=on_progress)
    assert result is not None
    return result


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


# --- Personal data held in import jobs (erasure and access, UU PDP) ----------------------

@dataclass(frozen=True)
class Identity:
    """What identifies one person in an import file: email, phone (E.164) and external reference."""

    email: str | None = None
    phone: str | None = None
    external_source: str = ""
    external_ref: str | None = None

    @classmethod
    def of(cls, contact: Contact) -> Identity:
        return cls(contact.email, contact.phone, contact.external_source or "", contact.external_ref)

    @classmethod
    def from_snapshot(cls, snapshot: Mapping[str, Any]) -> Identity:
        return cls(snapshot.get("email"), snapshot.get("phone"), snapshot.get("external_source") or "",
                   snapshot.get("external_ref"))

    @property
    def phone_digits(self) -> str:
        """The national number's digits (+6281234567890 -> 81234567890): how files write it, with or without 0/62."""
        digits = re.sub(r"\D", "", self.phone or "")
        return digits[2:] if digits.startswith("62") else digits


def _cell_mentions(value: Any, who: Identity) -> bool:
    text = _text(value).strip()
    if not text:
        return False
    if who.email and text.casefold() == who.email:
        return True
    if who.external_ref and text == who.external_ref:
        return True
    national = who.phone_digits
    if national and len(national) >= 8:
        digits = re.sub(r"\D", "", text)
        digits = digits[2:] if digits.startswith("62") else digits.lstrip("0")
        return digits == national
    return False


def _row_mentions(job: ImportJob, number: int, cells: Sequence[Any], people: Sequence[Identity]) -> bool:
    source = (job.mapping or {}).get("source", "")
    for who in people:
        if who.external_ref == f"{ROW_REF_PREFIX}{number}" and who.external_source == source:
            return True
        if any(_cell_mentions(cell, who) for cell in cells):
            return True
    return False


def _could_mention(job: ImportJob, people: Sequence[Identity]) -> bool:
    """A cheap test on the raw text of a CSV before parsing it (an XLSX is always parsed)."""
    if job.encoding == "xlsx":
        return True
    text = bytes(job.content).decode(job.encoding, errors="replace").casefold()
    for who in people:
        if (who.email and who.email in text) or (who.external_ref and who.external_ref.casefold() in text):
            return True
        if who.external_ref and who.external_ref.startswith(ROW_REF_PREFIX):
            return True
        national = who.phone_digits
        if national and re.search(r"\D{0,3}".join(national), text):
            return True
    return False


def import_rows_mentioning(*, people: Sequence[Identity], jobs=None) -> Iterator[tuple[ImportJob, int, list[Any]]]:
    """(job, row number, cells) of every stored import row that names one of these people."""
    people = [p for p in people if p.email or p.phone or p.external_ref]
    if not people:
        return
    for job in (jobs if jobs is not None else ImportJob.objects.order_by("pk")).iterator(chunk_size=1):
        if not job.content or not _could_mention(job, people):
            continue
        try:
            _header_, rows = file_rows(bytes(job.content), job_format(job))
            for number, cells in rows:
                if _row_mentions(job, number, cells, people):
                    yield job, number, cells
        except (ValidationError, csv.Error, UnicodeDecodeError):
            log.warning("Import job %s could not be read for personal data.", job.pk)


def import_errors_mentioning(*, people: Sequence[Identity]) -> Iterator[tuple[ImportJob, dict[str, Any]]]:
    """(job, error entry) of every bad-row report entry that names one of these people."""
    people = [p for p in people if p.email or p.phone or p.external_ref]
    for job in ImportJob.objects.exclude(errors=[]).defer("content").order_by("pk").iterator(chunk_size=20):
        for error in job.errors:
            if people and _row_mentions(job, error.get("row") or 0, error.get("values") or [], people):
                yield job, error


def _rewrite(job: ImportJob, blank: set[int]) -> bytes:
    """The job's file with the given rows' cells emptied (row numbers, and so a running job's
    position, stay as they were)."""
    if job.encoding == "xlsx":
        import openpyxl

        source = openpyxl.load_workbook(io.BytesIO(bytes(job.content)), read_only=True, data_only=True)
        target = openpyxl.Workbook(write_only=True)
        sheet = target.create_sheet()
        try:
            for number, values in enumerate(source.worksheets[0].iter_rows(values_only=True), 1):
                sheet.append([None] * len(values) if number in blank else list(values))
        finally:
            source.close()
        buffer = io.BytesIO()
        target.save(buffer)
        return buffer.getvalue()
    fmt = job_format(job)
    out = io.StringIO(newline="")
    writer = csv.writer(out, delimiter=fmt.delimiter or ",", lineterminator="\r\n")
    for number, record in enumerate(_records(bytes(job.content), fmt), 1):
        writer.writerow([""] * len(record) if number in blank else record)
    return out.getvalue().encode(fmt.encoding or "utf-8")


@transaction.atomic
def imports_erase(*, people: Sequence[Identity], by=None) -> int:
    """Erasure's reach into imports: every stored file row and bad-row report entry naming one
    of these people is emptied (the row number stays, so reports and a running import still
    line up). Returns the number of jobs changed."""
    people = [p for p in people if p.email or p.phone or p.external_ref]
    if not people:
        return 0
    rows: dict[int, set[int]] = {}
    for job, number, _cells in import_rows_mentioning(people=people, jobs=ImportJob.objects.only("pk", "content", "encoding",
                                                                                                  "delimiter", "mapping")):
        rows.setdefault(job.pk, set()).add(number)
    erased = _("Erased (the person's data was deleted).")
    errors_of: dict[int, list[dict[str, Any]]] = {}
    for job, _error in import_errors_mentioning(people=people):
        if job.pk not in errors_of:
            errors_of[job.pk] = [
                {"row": e.get("row"), "values": [], "reason": erased} if _row_mentions(job, e.get("row") or 0, e.get("values") or [], people)
                else e for e in job.errors]
    warnings_of: dict[int, list[dict[str, Any]]] = {}
    for job in ImportJob.objects.exclude(warnings=[]).only("pk", "warnings", "mapping").order_by("pk"):
        erase = rows.get(job.pk, set())
        kept = [{"row": w.get("row"), "column": w.get("column", ""), "value": "", "reason": erased}
                if w.get("row") in erase or any(_cell_mentions(w.get("value"), who) for who in people) else w
                for w in job.warnings]
        if kept != job.warnings:
            warnings_of[job.pk] = kept
    for pk in sorted(set(rows) | set(errors_of) | set(warnings_of)):
        job = ImportJob.objects.select_for_update().get(pk=pk)
        fields = []
        if pk in warnings_of:
            job.warnings = warnings_of[pk]
            fields.append("warnings")
        if pk in rows:
            job.content = _rewrite(job, rows[pk])
            fields.append("content")
            if "preview" in (job.options or {}):
                job.options = {k: v for k, v in job.options.items() if k != "preview"}
                job.options["preview"] = job_preview(job)  # read again from the emptied file
                fields.append("options")
            if "profiles" in (job.options or {}):  # the values of a column that repeat: read again too
                job.options["profiles"] = _profiles_kept(
                    column_profiles(bytes(job.content), job_format(job), list(job.header)), job.mapping)
                if "options" not in fields:
                    fields.append("options")
        if pk in errors_of:
            job.errors = errors_of[pk]
            fields.append("errors")
        job.save(update_fields=fields)
        audit(by, "change", job, what="erasure", rows=len(rows.get(pk, ())), fields=fields)
    return len(set(rows) | set(errors_of) | set(warnings_of))
