"""What a column holds, judged by a sample of its values, not by its header. Pure logic (no
Django): contacts.imports.guess turns a profile into a suggested target and a sentence for the
mapping page ("Last Activity: 38 distinct texts such as “Email Opened” → activity names").

    profile(["Email Opened", "SMS Sent", "Email Opened"]).kind  == "category"
    profile(["2024-03-01", "02/03/2024"]).kind                  == "date"
    profile(["0", "3", "12"]).kind, .integer                     == "number", True

Kinds: empty, flag (yes/no), number, email, phone, url, date, identifier (every value
distinct, no spaces: a record ID), category (short texts that repeat), text.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

SAMPLE_ROWS = 2000  # rows read for the profiles
MAX_DISTINCT = 60  # distinct values kept (with their counts) for categories
MAX_CATEGORY_LENGTH = 60
SHARE = 0.8  # share of values that must fit a kind

FLAG_WORDS = frozenset({"yes", "no", "y", "n", "true", "false", "t", "f", "1", "0", "ya", "tidak", "iya", "ga",
                        "gak", "benar", "salah", "x", "on", "off", "v", "✓"})
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_URL = re.compile(r"^(https?://|www\.)\S+$", re.IGNORECASE)
_PHONE = re.compile(r"^\+?[\d\s()\-]{8,22}$")
_NUMBER = re.compile(r"^[-+]?(\d+|\d{1,3}(,\d{3})+)(\.\d+)?$|^[-+]?\d+,\d+$")
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}([ T]\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?(Z|[+-]\d{2}:?\d{2})?$")
_SLASH_DATE = re.compile(r"^\d{1,4}[/.\-]\d{1,2}[/.\-]\d{1,4}([ T]\d{1,2}[:.]\d{2}([:.]\d{2})?( ?[AP]M)?)?$", re.IGNORECASE)


@dataclass
class ColumnProfile:
    kind: str
    filled: int = 0  # non-blank values in the sample
    distinct: int = 0
    top: list[tuple[str, int]] = field(default_factory=list)  # most frequent values, up to MAX_DISTINCT
    integer: bool = False  # numbers: all whole and not negative (a count)
    low: float | None = None
    high: float | None = None
    date_share: float = 0.0  # share of the values that are dates (a "Last Activity" of dates with a few typos)

    def as_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "filled": self.filled, "distinct": self.distinct, "top": [list(t) for t in self.top],
                "integer": self.integer, "low": self.low, "high": self.high, "date_share": self.date_share}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ColumnProfile:
        return cls(kind=data.get("kind", "text"), filled=data.get("filled", 0), distinct=data.get("distinct", 0),
                   top=[(str(v), int(n)) for v, n in data.get("top", [])], integer=bool(data.get("integer")),
                   low=data.get("low"), high=data.get("high"), date_share=float(data.get("date_share") or 0))

    def examples(self, n: int = 3) -> list[str]:
        return [value for value, _count in self.top[:n]]


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    return str(value).strip()


def number(value: Any) -> float | None:
    """A number from a cell: 12, 3.5, "1,234", "2,5" (decimal comma); None when it is not one."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    text = _text(value).replace(" ", "")
    if not text or not _NUMBER.match(text):
        return None
    if re.match(r"^[-+]?\d+,\d+$", text) and not re.match(r"^[-+]?\d{1,3},\d{3}$", text):
        text = text.replace(",", ".")  # 2,5 is two and a half; 1,234 is a thousand and more
    return float(text.replace(",", ""))


def looks_like_date(value: Any) -> bool:
    """Dates as spreadsheets and exports write them (the importer parses them; this only sorts)."""
    if isinstance(value, (datetime, date)):
        return True
    text = _text(value)
    return bool(_ISO_DATE.match(text) or _SLASH_DATE.match(text)) or bool(
        re.match(r"^\d{1,2} [A-Za-z]{3,9},? \d{4}( \d{1,2}[:.]\d{2})?$|^[A-Za-z]{3,9} \d{1,2},? \d{4}", text))


def _is_phone(text: str) -> bool:
    if not _PHONE.match(text):
        return False
    digits = re.sub(r"\D", "", text)
    return 8 <= len(digits) <= 15 and (text.startswith(("+", "0", "62", "(")) or " " in text or "-" in text)


def _share(values: list[str], test: Callable[[str], bool]) -> float:
    return sum(1 for v in values if test(v)) / len(values)


def profile(values: Iterable[Any], *, is_date: Callable[[Any], bool] = looks_like_date) -> ColumnProfile:
    """The kind of a column from a sample of its cells (blanks are left out). Values are kept
    (`top`) only for categories and flags: a profile is stored with the import job, and the
    values of a name, email or phone column are personal data."""
    result = _profile(values, is_date)
    if result.kind not in ("category", "flag"):
        result.top = []
    return result


def _profile(values: Iterable[Any], is_date: Callable[[Any], bool]) -> ColumnProfile:
    raw = [v for v in values if _text(v)]
    texts = [_text(v) for v in raw]
    if not texts:
        return ColumnProfile("empty")
    counts = Counter(texts)
    result = ColumnProfile("text", filled=len(texts), distinct=len(counts), top=counts.most_common(MAX_DISTINCT))
    if ({t.casefold() for t in counts} <= FLAG_WORDS and len(counts) <= 3) or all(isinstance(v, bool) for v in raw):
        result.kind = "flag"
        return result
    if _share(texts, lambda t: bool(_EMAIL.match(t))) >= SHARE:
        result.kind = "email"
        return result
    if _share(texts, lambda t: bool(_URL.match(t))) >= SHARE:
        result.kind = "url"
        return result
    if _share(texts, _is_phone) >= SHARE and not all(number(t) is not None and "." in t for t in texts):
        result.kind = "phone"
        return result
    numbers = [n for n in (number(v) for v in raw) if n is not None]
    if len(numbers) >= SHARE * len(texts) and len(numbers) >= len(texts) - 2:
        result.kind = "number"
        result.integer = all(n.is_integer() and n >= 0 for n in numbers)
        result.low, result.high = min(numbers), max(numbers)
        return result
    result.date_share = round(sum(1 for v in raw if is_date(v)) / len(texts), 3)
    if result.date_share >= SHARE:
        result.kind = "date"
        return result
    if len(counts) == len(texts) and len(texts) >= 2 and all(
            " " not in t and len(t) >= 4 and any(c.isdigit() for c in t) for t in texts):
        result.kind = "identifier"
        return result
    average = sum(len(t) for t in texts) / len(texts)
    if average <= MAX_CATEGORY_LENGTH and len(counts) <= MAX_DISTINCT and (len(counts) <= 0.8 * len(texts) or len(texts) <= 3):
        result.kind = "category"
    return result
