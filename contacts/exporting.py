"""Contacts out: CSV (streamed) and XLSX of a list a user may see, safe to open in a spreadsheet.

Two styles. "human" (the default): headers and values in the reader's language ("Full name",
"Lead", "yes", a local date). "raw", for machines and scripts: header names are the public field
names (`full_name`, `email`, ...) and values are the stored codes (`lead`, `true`, ISO dates),
exactly as before the human style existed, so an export can be imported again with the guessed
mapping and scripts keep working.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any

from django.db.models import QuerySet
from django.utils import formats, timezone, translation
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from contacts.models import Contact
from contacts.selectors import contact_list, contacts_visible_to
from crm.audit import audit

CAMPAIGN_CHANNELS = {
    "email": _("Email campaign"),
    "whatsapp": _("WhatsApp campaign"),
    "sms": _("SMS campaign"),
}
# (header, how to read it from a contact)
COLUMNS: tuple[tuple[str, Any], ...] = (
    ("id", "pk"),
    ("full_name", "full_name"),
    ("email", "email"),
    ("phone", "phone"),
    ("company", "company"),
    ("job_title", "job_title"),
    ("city", "city"),
    ("industry", "industry"),
    ("stage", "stage"),
    ("score", "score"),
    ("owner", lambda c: c.owner.get_username() if c.owner_id else ""),
    ("source", "source"),
    ("utm_source", "utm_source"),
    ("utm_medium", "utm_medium"),
    ("utm_campaign", "utm_campaign"),
    ("consent_email", "consent_email"),
    ("consent_whatsapp", "consent_whatsapp"),
    ("consent_sms", "consent_sms"),
    ("do_not_contact", "do_not_contact"),
    ("tags", lambda c: ", ".join(sorted(t.name for t in c.tags.all()))),
    ("last_interaction_at", "last_interaction_at"),
    ("created_at", "created_at"),
)
STYLES = ("human", "raw")
# The human header of each column (same order as COLUMNS) and the value shown for a human reader.
HUMAN_HEADERS: dict[str, Any] = {
    "id": _("ID"), "full_name": _("Full name"), "email": _("Email"), "phone": _("Phone"), "company": _("Company"),
    "job_title": _("Job title"), "city": _("City"), "industry": _("Industry"), "stage": _("Stage"), "score": _("Score"),
    "owner": _("Owner"), "source": _("Source"), "utm_source": _("UTM source"), "utm_medium": _("UTM medium"),
    "utm_campaign": _("UTM campaign"), "consent_email": _("Email consent"), "consent_whatsapp": _("WhatsApp consent"),
    "consent_sms": _("SMS consent"), "do_not_contact": _("Do not contact"), "tags": _("Tags"),
    "last_interaction_at": _("Last activity"), "created_at": _("Added"),
}
HUMAN_GETTERS: dict[str, Any] = {
    "industry": lambda c: c.get_industry_display() if c.industry else "",
    "stage": lambda c: c.get_stage_display(),
    "owner": lambda c: (c.owner.get_full_name() or c.owner.get_username()) if c.owner_id else "",
}
# A spreadsheet runs a cell that starts with one of these as a formula (OWASP "CSV injection").
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER = re.compile(r"^[+-]?\d+(\.\d+)?$")
ITERATOR_CHUNK = 2000


def neutralise(value: Any) -> Any:
    """Prefix a text cell that a spreadsheet would run as a formula with a single quote.

    A plain signed number (an E.164 phone like +6281234567890, or -5) cannot carry a formula
    and stays as it is, so phone numbers remain usable in campaign tools."""
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES) and not _PLAIN_NUMBER.match(value):
        return "'" + value
    return value


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return timezone.localtime(value).isoformat(timespec="seconds")
    return neutralise(value)


def export_queryset(*, user, params: Mapping[str, Any] | None = None, ids: Sequence[int] | None = None,
                    campaign: str = "", request=None) -> QuerySet[Contact]:
    """What the user may export: the /contacts/ list for these filters, or a selection of ids
    among the contacts they may see; for a campaign, only contacts reachable with consent."""
    if ids is not None:
        queryset = contacts_visible_to(user).filter(pk__in=list(ids)).select_related("owner")
    else:
        queryset, _filterset = contact_list(user, params or {}, request=request)
    if campaign:
        queryset = campaign_ready(queryset, campaign)
    return queryset


def contacts_export(*, user, params: Mapping[str, Any] | None = None, ids: Sequence[int] | None = None,
                    campaign: str = "", fmt: str = "csv", request=None) -> tuple[QuerySet[Contact], int]:
    """Start an export: what the user may export (export_queryset) and how many rows, with the
    audit row (the count, format, campaign and filters; free-text search recorded as present only)."""
    queryset = export_queryset(user=user, params=params, ids=ids, campaign=campaign, request=request)
    count = queryset.count()
    audit(user, "export", object_type=Contact._meta.label_lower, rows=count, format=fmt, campaign=campaign,
          filters=audit_filters(params or {}), selection=len(ids) if ids is not None else None)
    return queryset, count


def campaign_ready(queryset: QuerySet[Contact], channel: str) -> QuerySet[Contact]:
    """Leave out do-not-contact, contacts without opt-in for the channel, and contacts the
    channel cannot reach (no email for email, no phone for WhatsApp and SMS)."""
    if channel not in CAMPAIGN_CHANNELS:
        raise ValueError(f"unknown campaign channel {channel!r}")
    reach = {"email__isnull": False} if channel == "email" else {"phone__isnull": False}
    return queryset.filter(do_not_contact=False, **{f"consent_{channel}": True}, **reach)


def _human_cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, bool):
        return gettext("yes") if value else gettext("no")
    if isinstance(value, datetime):
        return formats.date_format(timezone.localtime(value), "SHORT_DATETIME_FORMAT")
    return neutralise(value)


def export_rows(queryset: QuerySet[Contact], *, style: str = "raw") -> Iterator[list[Any]]:
    """The header, then one list of neutralised cells per contact (tags prefetched per chunk).
    style="raw": field names and stored codes (the machine format, unchanged); style="human":
    headers and values in the language active now (a streamed response is read after the
    request's language is gone, so it is captured here)."""
    if style not in STYLES:
        raise ValueError(f"unknown export style {style!r}")
    return _rows(queryset, style, translation.get_language())


def _rows(queryset: QuerySet[Contact], style: str, language: str | None) -> Iterator[list[Any]]:
    human = style == "human"
    with translation.override(language):
        getters = [(HUMAN_GETTERS.get(name, getter) if human else getter) for name, getter in COLUMNS]
        cell = _human_cell if human else _cell
        yield [str(HUMAN_HEADERS[name]) if human else name for name, _getter in COLUMNS]
        for contact in queryset.prefetch_related("tags").iterator(chunk_size=ITERATOR_CHUNK):
            yield [cell(getter(contact) if callable(getter) else getattr(contact, getter)) for getter in getters]


class _Echo:
    def write(self, value: str) -> str:
        return value


def csv_stream(rows: Iterable[Sequence[Any]], *, neutralise_cells: bool = True, delimiter: str = ",") -> Iterator[bytes]:
    """CSV bytes line by line (for StreamingHttpResponse), UTF-8 with a BOM so Excel reads it right;
    `delimiter` answers a file in the dialect it came in (`;`)."""
    writer = csv.writer(_Echo(), delimiter=delimiter)
    yield "\ufeff".encode()
    for row in rows:
        cells = [neutralise(c) for c in row] if neutralise_cells else row
        yield writer.writerow(cells).encode("utf-8")


def xlsx_bytes(rows: Iterable[Sequence[Any]], *, title: str = "contacts") -> bytes:
    """A write-only workbook. Cells are written as text or numbers; openpyxl would store a
    string starting with "=" as a formula, which neutralise() has already defused."""
    from openpyxl import Workbook

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(title[:31])
    for row in rows:
        sheet.append([neutralise(c) for c in row])
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def audit_filters(params: Mapping[str, Any]) -> dict[str, str]:
    """The filters of an export for the audit log: names and values, except free-text search
    (it may be a person's name or email), which is recorded as present only."""
    from contacts.selectors import ContactFilter

    known = set(ContactFilter.base_filters)
    recorded = {}
    for name in sorted(known & set(params)):
        value = params.get(name)
        if value in (None, ""):
            continue
        recorded[name] = "…" if name == "search" else str(value)[:100]
    return recorded
