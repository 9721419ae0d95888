"""Personal data held in import jobs (UU PDP): find the stored file rows and report entries
that name a person, and empty them on erasure."""

from __future__ import annotations

import csv
import io
import logging
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from contacts.imports.cells import cell_text
from contacts.imports.files import file_records, file_rows, job_format, job_preview
from contacts.imports.guess import column_profiles, profiles_kept
from contacts.imports.mapping import ROW_REF_PREFIX
from contacts.models import Contact, ImportJob
from crm.audit import audit

log = logging.getLogger(__name__)


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
    text = cell_text(value).strip()
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
    for number, record in enumerate(file_records(bytes(job.content), fmt), 1):
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
                job.options["profiles"] = profiles_kept(
                    column_profiles(bytes(job.content), job_format(job), list(job.header)), job.mapping)
                if "options" not in fields:
                    fields.append("options")
        if pk in errors_of:
            job.errors = errors_of[pk]
            fields.append("errors")
        job.save(update_fields=fields)
        audit(by, "change", job, what="erasure", rows=len(rows.get(pk, ())), fields=fields)
    return len(set(rows) | set(errors_of) | set(warnings_of))
