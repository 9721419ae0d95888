"""An import job from upload to done: receive and parse the file, start with a mapping, run
in chunks (each in its own transaction with its claim, so several runners share a job and a
resumed run skips what is done), then one bulk rescore."""

from __future__ import annotations

import csv
import logging
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import timedelta
from itertools import islice
from pathlib import Path
from typing import Any

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, InterfaceError, OperationalError, transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from contacts.fields import types as custom_types
from contacts.imports.cells import cell_text
from contacts.imports.files import Inspection, ParseTimeout, file_format, file_inspect, file_rows, job_format
from contacts.imports.guess import column_profiles, mapping_guess, profiles_kept
from contacts.imports.mapping import mapping_for_header, mapping_normalise, mapping_validate
from contacts.imports.reports import empty_row_ranges
from contacts.imports.validation import Compiled
from contacts.imports.writing import ChunkOutcome, import_rows
from contacts.models import ImportChunk, ImportJob
from crm.audit import audit
from crm.celery import app
from crm.texts import texts_render
from scoring import tasks as scoring_tasks

log = logging.getLogger(__name__)


CHUNK_SIZE = 1000
ERRORS_KEPT = 10_000  # rows kept for the report; the `failed` counter counts them all


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
            stored = getattr(exc, "stored", None)  # files.unreadable: kept as stored text
            if stored:
                _parse_failed(job_id, **said(stored))
            else:
                _parse_failed(job_id, " ".join(exc.messages))
        except (ParseTimeout, SoftTimeLimitExceeded):
            _parse_failed(job_id, **import_parse_timeout_said(limit))
        except (csv.Error, UnicodeDecodeError) as exc:
            _parse_failed(job_id, **said((gettext_noop("This file could not be read as CSV: %(error)s"), {"error": str(exc)})))
        except (OperationalError, InterfaceError):
            raise  # transient (database restarting): the task retries
        except Exception as exc:  # a reader's own error on a broken file: the job must not stay "parsing"
            log.exception("Reading import %s failed.", job_id)
            _parse_failed(job_id, **said((gettext_noop("This file could not be read (%(error)s). Check that it opens in a "
                                                       "spreadsheet program, and upload it again."), {"error": type(exc).__name__})))
        else:
            fields["options"] = {**job.options, **fields["options"]}
            ImportJob.objects.filter(pk=job_id, status=ImportJob.Status.PARSING).update(
                status=ImportJob.Status.UPLOADED, **fields)
    return ImportJob.objects.defer("content").get(pk=job_id)


def said(*parts: tuple[str, dict[str, Any]]) -> dict[str, Any]:
    """A job's message as stored: the sentences as [msgid, params] pairs (`message_parts`, rendered
    in the reader's language by ImportJob.text) and, as written in this language, `message`."""
    stored = [[message, params] for message, params in parts]
    return {"message": texts_render(stored), "message_parts": stored}


def import_parse_timeout_said(seconds: float) -> dict[str, Any]:
    return said((gettext_noop("Reading this file took longer than %(seconds)d seconds, so it was stopped. Split it into "
                              "smaller files or save it as CSV, and upload it again."), {"seconds": int(seconds)}))


def import_parse_timeout_message(seconds: float) -> str:
    return import_parse_timeout_said(seconds)["message"]


def import_parse_overdue(job: ImportJob) -> bool:
    """A job still "parsing" well after its time limit (the worker was killed, or never ran
    the task): mark it failed so the page does not wait for ever. True if it was marked."""
    limit = import_parse_seconds()
    if job.status != ImportJob.Status.PARSING or timezone.now() - job.created_at < timedelta(seconds=2 * limit + 60):
        return False
    return bool(_parse_failed(job.pk, **import_parse_timeout_said(limit)))


def _parse_failed(job_id: int, message: str, message_parts: list | None = None) -> int:
    return ImportJob.objects.filter(pk=job_id, status=ImportJob.Status.PARSING).update(
        status=ImportJob.Status.FAILED, finished_at=timezone.now(), message=message, message_parts=message_parts or [])


def _queue_parse(job_id: int) -> None:
    from contacts.imports.tasks import import_parse_task  # the tasks module imports this one

    try:
        import_parse_task.delay(job_id)
    except Exception as exc:
        if app.conf.task_always_eager:
            raise
        log.warning("Could not queue reading import %s (%s).", job_id, type(exc).__name__)
        _parse_failed(job_id, **said((gettext_noop("The task queue could not be reached; upload the file again."), {})))


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
            "options": {"preview": [[cell_text(c) for c in row] for row in inspection.preview],
                        "profiles": profiles_kept(profiles, mapping)}}


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
            transaction.on_commit(lambda: _queue(job.pk, job.total_rows))
    return job


def import_runners(total_rows: int, chunk_size: int = CHUNK_SIZE) -> int:
    """How many tasks share one job: CRM_IMPORT_RUNNERS (default 2, one per core of the bench's
    worker), never more than the file has chunks."""
    return max(1, min(int(getattr(settings, "CRM_IMPORT_RUNNERS", 2)), -(-total_rows // chunk_size)))


def _queue(job_id: int, total_rows: int) -> None:
    from contacts.imports.tasks import import_run_task

    runners = import_runners(total_rows)
    try:
        for runner in range(runners):
            import_run_task.delay(job_id, runner, runners)
    except Exception as exc:
        if app.conf.task_always_eager:
            raise  # in-process: the error is ours, not the broker's
        # The job is saved as queued; the progress page offers "start again" (a runner that did get queued
        # meanwhile does the whole job: each one takes any chunk left).
        log.warning("Could not queue import %s (%s).", job_id, type(exc).__name__)
        ImportJob.objects.filter(pk=job_id).update(**said((gettext_noop("The task queue could not be reached; start the import again."), {})))


def import_requeue(*, job: ImportJob) -> bool:
    """Queue a job that is still waiting (its first queueing failed). Harmless if it is already
    running somewhere: chunks are claimed (ImportChunk), so no row is counted twice."""
    if job.status != ImportJob.Status.QUEUED:
        return False
    ImportJob.objects.filter(pk=job.pk).update(message="", message_parts=[])
    _queue(job.pk, job.total_rows)
    return True


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


_PROGRESS = ("rows_done", "created", "updated", "skipped", "failed", "warned", "errors", "warnings", "options")


def _progress_copy(stored: ImportJob, job: ImportJob) -> None:
    """The runner's job object catches up with what every runner has written."""
    for name in _PROGRESS:
        setattr(job, name, getattr(stored, name))


class _Stopped(Exception):
    """The job stopped running (another runner failed it) while a chunk was written."""


def _chunk_claim(job_id: int, number: int) -> bool:
    """Record the chunk as done, in the caller's transaction. False when another runner has: its
    uncommitted claim makes this insert wait for its commit, then fail on the unique pair."""
    try:
        with transaction.atomic():
            ImportChunk.objects.create(job_id=job_id, number=number)
    except IntegrityError:
        return False
    return True


def _kept(stored: list[dict[str, Any]], new: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The report's rows, by row number, at most ERRORS_KEPT (chunks may commit out of order)."""
    if not new or len(stored) >= ERRORS_KEPT and stored[-1]["row"] < new[0]["row"]:
        return stored
    return sorted(stored + new, key=lambda entry: entry["row"])[:ERRORS_KEPT]


def _commit_chunk(job: ImportJob, compiled: Compiled, number: int, rows: list[tuple[int, list[Any]]],
                  by) -> ChunkOutcome | None:
    """One chunk in one transaction with its claim and the job's counters: committed together, so
    a resumed run continues with exactly the chunks not done. None if another runner did this
    chunk (or is doing it and commits first); _Stopped if the job no longer runs."""
    with transaction.atomic():
        if not _chunk_claim(job.pk, number):
            return None
        outcome = import_rows(compiled, rows, by)
        # The job's row last: its lock is held only until this commit, so runners wait on each other
        # for milliseconds, not for a chunk.
        stored = ImportJob.objects.select_for_update().defer("content").filter(pk=job.pk).first()
        if stored is None or stored.status != ImportJob.Status.RUNNING:
            raise _Stopped
        options = {**stored.options,
                   "rescore_ranges": _ranges(outcome.touched, stored.options.get("rescore_ranges", ())),
                   "empty_rows": empty_row_ranges(outcome.empty, stored.options.get("empty_rows", ())),
                   "scored_at_insert": stored.options.get("scored_at_insert", 0) + len(outcome.scored),
                   "scored_ranges": _ranges(outcome.scored, stored.options.get("scored_ranges", ())),
                   "to_rescore": stored.options.get("to_rescore", 0) + len(outcome.touched)}
        stored.rows_done += len(rows)
        stored.created += outcome.created
        stored.updated += outcome.updated
        stored.skipped += outcome.skipped
        stored.failed += outcome.failed
        stored.warned += len(outcome.warnings)
        stored.errors, stored.warnings = _kept(stored.errors, outcome.errors), _kept(stored.warnings, outcome.warnings)
        stored.options = options
        stored.save(update_fields=list(_PROGRESS))
    _progress_copy(stored, job)
    return outcome


def import_rescore(job: ImportJob) -> int:
    """One bulk rescore over the contacts the import touched (as id ranges), instead of a task per row."""
    ranges = job.options.get("rescore_ranges", [])
    if job.started_at and scoring_tasks.published_since(job.started_at):
        # Rules were published during the import: a chunk scored under the old ones may have
        # committed after the publish's rescore had read the contacts. Score those again too.
        ranges = _ranges((), [*ranges, *job.options.get("scored_ranges", ())])
    return scoring_tasks.rescore_ranges(ranges)


def _chunk_size(job: ImportJob, asked: int) -> int:
    """A job's chunk size, fixed by its first run: chunk numbers mean the same rows to every runner."""
    if "chunk_size" not in job.options:
        with transaction.atomic():
            stored = ImportJob.objects.select_for_update().only("options").get(pk=job.pk)
            stored.options.setdefault("chunk_size", asked)
            ImportJob.objects.filter(pk=job.pk).update(options=stored.options)
        job.options = {**job.options, "chunk_size": stored.options["chunk_size"]}
    return job.options["chunk_size"]


def _chunks(job: ImportJob, chunk_size: int, first: int) -> Iterator[tuple[int, list[tuple[int, list[Any]]]]]:
    """The file's chunks as (number, rows), from chunk `first` to the end, then from the start:
    runners start at different places and each goes all the way round, so the job ends even if
    the others never run."""
    def numbered():
        _header, rows = file_rows(bytes(job.content), job_format(job))
        return enumerate(_batches(rows, chunk_size))

    for number, batch in numbered():
        if number >= first:
            yield number, batch
    if first:
        for number, batch in numbered():
            if number >= first:
                return
            yield number, batch


def _finisher(job: ImportJob, runner: int, chunk_count: int) -> bool:
    """Whether this runner finishes the job (the one rescore and the summary): every chunk is
    done and no other runner took the finish. The same runner again (a retried task) may."""
    if ImportChunk.objects.filter(job_id=job.pk).count() < chunk_count:
        return False  # another runner is still writing one
    with transaction.atomic():
        stored = ImportJob.objects.select_for_update().defer("content").filter(pk=job.pk).first()
        if stored is None or stored.status != ImportJob.Status.RUNNING:
            return False
        if stored.options.get("finisher", runner) != runner:
            return False
        if "finisher" not in stored.options:
            stored.options = {**stored.options, "finisher": runner}
            stored.save(update_fields=["options"])
    _progress_copy(stored, job)
    return True


def import_run(*, job_id: int, chunk_size: int = CHUNK_SIZE, time_budget: float | None = None,
               on_progress: Callable[[ImportJob, ChunkOutcome], None] | None = None,
               runner: int = 0, runners: int = 1) -> ImportJob | None:
    """Import the job's chunks not done yet, starting at this runner's share of the file (runner
    of runners: the task queues several, which import the file's parts side by side). Returns
    the job; its status is still "running" when the time budget ran out (call again to
    continue) or another runner has chunks to finish. Safe to call twice."""
    job = _claim(job_id)
    if job is None:
        return ImportJob.objects.filter(pk=job_id).defer("content").first()
    started = time.monotonic()
    chunk_size = _chunk_size(job, chunk_size)
    first = runner * -(-job.total_rows // chunk_size) // max(runners, 1)
    # The custom fields are read once for the whole run (every row's values are checked by type).
    with translation.override(job.options.get("language") or settings.LANGUAGE_CODE), custom_types.cached():
        try:
            compiled = Compiled.build(job.mapping, list(job.header), job.started_at)
            compiled.job = job
            done = set(ImportChunk.objects.filter(job_id=job.pk).values_list("number", flat=True))
            chunk_count = 0
            for number, batch in _chunks(job, chunk_size, first):
                chunk_count = max(chunk_count, number + 1)
                if number in done:
                    continue
                try:
                    outcome = _commit_chunk(job, compiled, number, batch, job.created_by)
                except _Stopped:
                    return ImportJob.objects.defer("content").get(pk=job_id)
                if outcome is None:
                    continue  # another runner did it
                if on_progress:
                    on_progress(job, outcome)
                if time_budget is not None and time.monotonic() - started > time_budget:
                    return job
            if not _finisher(job, runner, chunk_count):
                return ImportJob.objects.defer("content").get(pk=job_id)
            ImportJob.objects.filter(pk=job.pk).update(**said((gettext_noop("Scoring the imported contacts…"), {})))
            # The rescore's ranges also hold untouched neighbours (and contacts inserted scored): count the touched.
            scored = job.options.get("scored_at_insert", 0) + min(import_rescore(job), job.options.get("to_rescore", 0))
        except (ValidationError, csv.Error, UnicodeDecodeError) as exc:
            # The file itself is unreadable from here on: stop with a message; counted rows stay counted.
            _mark_failed(job_id, " ".join(exc.messages) if isinstance(exc, ValidationError) else str(exc))
            return ImportJob.objects.defer("content").get(pk=job_id)
        except (OperationalError, InterfaceError):
            raise  # transient (database restarting, a deadlock between runners): the task retries the chunks not done
        except Exception as exc:
            _mark_failed(job_id, **said((gettext_noop("The import stopped on an unexpected error (%(error)s); the rows "
                                                      "imported so far are kept."), {"error": type(exc).__name__})))
            raise
        # Stored as message ids and numbers: the summary reads in its reader's language (issue 18).
        parts = [(gettext_noop("%(created)d created, %(updated)d updated, %(skipped)d unchanged, %(failed)d failed; "
                               "%(scored)d contacts scored."), {
            "created": job.created, "updated": job.updated, "skipped": job.skipped, "failed": job.failed, "scored": scored})]
        if job.failed > len(job.errors):
            parts.append((gettext_noop("The report lists the first %(n)d failed rows."), {"n": len(job.errors)}))
        if job.warned:
            parts.append((gettext_noop("%(n)d cells were left out of imported rows; the warnings report lists them."),
                          {"n": job.warned}))
        summary = said(*parts)
    ImportJob.objects.filter(pk=job.pk, status=ImportJob.Status.RUNNING).update(
        status=ImportJob.Status.DONE, finished_at=timezone.now(), **summary)
    return ImportJob.objects.defer("content").get(pk=job_id)


def _mark_failed(job_id: int, message: str, message_parts: list | None = None) -> None:
    ImportJob.objects.filter(pk=job_id).update(status=ImportJob.Status.FAILED, finished_at=timezone.now(), message=message,
                                               message_parts=message_parts or [])


def import_file(*, path: str | Path, mapping: Mapping[str, Any] | None = None, by=None,
                chunk_size: int = CHUNK_SIZE, on_progress=None) -> ImportJob:
    """Import a file from disk in this process (the command and tests): create, map, run."""
    path = Path(path)
    job = import_create(file_name=path.name, content=path.read_bytes(), by=by)
    job = import_start(job=job, mapping=mapping if mapping is not None else job.mapping, by=by, run=False)
    result = import_run(job_id=job.pk, chunk_size=chunk_size, on_progress=on_progress)
    assert result is not None
    return result
