"""Cell values as spreadsheets and exports write them: text, yes/no, numbers, dates (with
Indonesian month names), industries, and phones that Excel stored as numbers. Pure parsing."""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import date, datetime
from datetime import time as dtime
from typing import Any

from django.utils import timezone

from contacts.imports import profiling

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

# Every character _DATE_FORMATS can read (lower case): digits, separators, month names.
_DATE_TEXT = re.compile(r"[0-9a-z\s./:\-]+")


def cell_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    return str(value).strip()


def numeric_phone(value: int) -> str:
    """A phone Excel stored as a number lost its "+" or its leading 0: 6281234567890, 81234567890."""
    digits = str(value)
    if digits.startswith("62"):
        return "+" + digits
    if digits.startswith("8") and 9 <= len(digits) <= 12:
        return "0" + digits  # an Indonesian mobile number without its trunk 0
    return digits


def json_value(value: Any) -> Any:
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
    text = cell_text(value).casefold()
    if words:
        return text in {w.casefold() for w in words}
    if text in TRUTHY:
        return True
    try:
        return float(text.replace(",", "")) > 0
    except ValueError:
        return False


def industry_value(value: Any) -> str:
    text = cell_text(value).casefold()
    return INDUSTRY_WORDS.get(text, INDUSTRY_WORDS.get(re.sub(r"[^a-z0-9]+", " ", text).strip(), text))


def parse_datetime(value: Any) -> datetime | None:
    """An aware datetime from an XLSX date or common text forms (ISO, day-first, Indonesian
    month names); naive values are local (Asia/Jakarta). None when it is not a date."""
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, date):
        parsed = datetime.combine(value, dtime())
    else:
        text = cell_text(value)
        if not text or len(text) > 40:
            return None
        try:
            parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            parsed = None
        if parsed is None:
            words = re.sub(r"[,]", " ", text.lower())
            if not _DATE_TEXT.fullmatch(words) or not any(ch.isdigit() for ch in words):
                return None  # a name, an email, a word: no format below could read it (20 failed strptime calls)
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


def cell_number(value: Any) -> int | float | None:
    found = profiling.number(value)
    if found is None:
        return None
    return int(found) if found.is_integer() and abs(found) < 1e15 else found


def is_blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())
