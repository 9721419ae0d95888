"""python manage.py import_contacts FILE [--mapping JSON] [--source NAME] [--row-ref] ...

The same service as the /import/ page (contacts.imports), run in this process with a
progress bar. Failed rows are written to a CSV report (next to the file unless --errors).
"""

from __future__ import annotations

import json
from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from contacts import exporting
from contacts.imports.guess import guess_reason
from contacts.imports.mapping import mapping_load, mapping_normalise
from contacts.imports.reports import error_report_rows, warning_report_rows
from contacts.imports.run import CHUNK_SIZE, import_create, import_run, import_start
from crm.progress import Progress


def _pair(value: str) -> tuple[str, str]:
    column, sep, kind = value.rpartition("=")
    if not sep or not column or not kind:
        raise CommandError(f"Expected COLUMN=KIND, got {value!r}")
    return column, kind


class Command(BaseCommand):
    help = "Import contacts from a CSV or XLSX file through the import service (de-duplicated, validated, scored)."

    def add_arguments(self, parser):
        parser.add_argument("file", help="CSV (any common delimiter/encoding) or XLSX file")
        parser.add_argument("--mapping", help="a mapping JSON file, or the name of a shipped one in contacts/imports/mappings/")
        parser.add_argument("--source", help="source name (references are unique per source); default: from the file name")
        parser.add_argument("--row-ref", action="store_true", help="identify rows by source name + row number (anonymous data)")
        parser.add_argument("--industry", help="industry of new contacts (ecommerce, b2b, healthcare, education, other)")
        parser.add_argument("--kind-column", action="append", default=[], metavar="COLUMN=KIND",
                            help="the column holds the date of an interaction of KIND (repeatable)")
        parser.add_argument("--flag-column", action="append", default=[], metavar="COLUMN=KIND",
                            help="a yes/true cell in the column means an interaction of KIND, dated by the import (repeatable)")
        parser.add_argument("--outcome-column", action="append", default=[], metavar="COLUMN",
                            help="a yes/true cell means the person converted: logs the conversion of the contact's "
                                 "industry (repeatable)")
        parser.add_argument("--exclude", action="append", default=[], metavar="COLUMN", help="do not import this column (repeatable)")
        parser.add_argument("--errors", help="where to write the bad-row report (default: FILE.errors.csv next to the file)")
        parser.add_argument("--user", help="username recorded as the importer")
        parser.add_argument("--chunk-size", type=int, default=CHUNK_SIZE)
        parser.add_argument("--show-mapping", action="store_true",
                            help="print what each column holds and becomes, and the mapping as JSON, then import")

    def handle(self, *args, **options):
        path = Path(options["file"])
        if not path.is_file():
            raise CommandError(f"No such file: {path}")
        user = None
        if options["user"]:
            user = get_user_model().objects.filter(username=options["user"]).first()
            if user is None:
                raise CommandError(f"No user {options['user']!r}")
        try:
            job = import_create(file_name=path.name, content=path.read_bytes(), by=user)
            mapping = mapping_load(options["mapping"]) if options["mapping"] else dict(job.mapping)
            mapping = mapping_normalise(mapping, job.header)
            self._apply_options(mapping, options, job.header)
            if options["show_mapping"]:
                profiles = (job.options or {}).get("profiles") or {}
                for name in job.header:  # what each column holds, and what it becomes
                    self.stdout.write(guess_reason(name, profiles.get(name), mapping["columns"][name]))
                self.stdout.write(json.dumps(mapping, indent=2, ensure_ascii=False))
            job = import_start(job=job, mapping=mapping, by=user, run=False)
        except ValidationError as exc:
            raise CommandError(self._problems(exc)) from exc

        progress = Progress(job.total_rows, label=path.name, stream=self.stdout)

        def advance(current, outcome):
            progress.advance(outcome.rows, created=current.created, updated=current.updated, failed=current.failed)

        job = import_run(job_id=job.pk, chunk_size=options["chunk_size"], on_progress=advance)
        progress.finish(job.text)
        self.stdout.write(
            f"rows={job.total_rows} created={job.created} updated={job.updated} unchanged={job.skipped} "
            f"failed={job.failed} status={job.status} job={job.pk} warnings={job.warned}"
        )
        if job.warned:
            report = path.with_name(f"{path.stem}.warnings.csv")
            try:
                with report.open("wb") as handle:
                    for chunk in exporting.csv_stream(warning_report_rows(job)):
                        handle.write(chunk)
            except OSError as exc:
                raise CommandError(f"Could not write the warnings to {report}: {exc}") from exc
            self.stdout.write(f"Cells left out of imported rows ({job.warned}): {report}")
        if job.failed:
            report = Path(options["errors"]) if options["errors"] else path.with_name(f"{path.stem}.errors.csv")
            try:
                with report.open("wb") as handle:
                    for chunk in exporting.csv_stream(error_report_rows(job)):
                        handle.write(chunk)
            except OSError as exc:
                raise CommandError(f"Could not write the error report to {report}: {exc}") from exc
            self.stdout.write(f"Bad rows ({job.failed}) with their reasons: {report}")
        if job.status != "done":
            raise CommandError(job.text or f"Import ended with status {job.status}")

    def _apply_options(self, mapping: dict, options: dict, header: list[str]) -> None:
        columns = mapping["columns"]

        def column(name: str) -> dict:
            if name not in columns:
                raise CommandError(f"No column {name!r} in the file; columns: {', '.join(header)}")
            return columns[name]

        if options["source"]:
            mapping["source"] = options["source"]
        if options["row_ref"]:
            mapping["identity"] = "row"
        if options["industry"]:
            mapping["defaults"]["industry"] = options["industry"]
        for name in options["exclude"]:
            column(name).clear()
            column(name)["target"] = "ignore"
        for value in options["kind_column"]:
            name, kind = _pair(value)
            columns[name] = {**column(name), "target": "interaction", "kind": kind, "mode": "date"}
        for value in options["flag_column"]:
            name, kind = _pair(value)
            columns[name] = {**column(name), "target": "interaction", "kind": kind, "mode": "flag"}
        for name in options["outcome_column"]:
            columns[name] = {"target": "outcome"}

    @staticmethod
    def _problems(exc: ValidationError) -> str:
        if hasattr(exc, "error_dict"):
            return "; ".join(f"{'mapping' if k == '__all__' else k}: {' '.join(v)}" for k, v in exc.message_dict.items())
        return " ".join(exc.messages)
