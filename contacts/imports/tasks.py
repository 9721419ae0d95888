"""Thin Celery tasks of the import: arguments are ids, bodies call one service. Their names
stay those of the module they came from (contacts.tasks), so messages queued before an
upgrade still find them."""

import time

from celery import shared_task
from django.conf import settings

from contacts.imports.run import import_parse, import_run
from contacts.models import ImportJob
from crm.retry import RETRY

# Seconds per task run before a runner queues itself again behind whatever arrived meanwhile: the
# runners may hold every worker process, and events must not wait for a whole import. Reading the
# file again to the runner's place costs ~0.2 s per 100,000 CSV rows.
IMPORT_TIME_BUDGET = 30


@shared_task(name="contacts.tasks.import_run_task", **RETRY)
def import_run_task(job_id: int, runner: int = 0, runners: int = 1) -> None:
    """One of a job's runners (import_start queues several): import the chunks not done, from this
    runner's share of the file onwards; a long share continues in a fresh task. Idempotent: done
    chunks are recorded with their rows, so a redelivered or retried task just goes on."""
    started = time.monotonic()
    job = import_run(job_id=job_id, time_budget=IMPORT_TIME_BUDGET, runner=runner, runners=runners)
    # Still running after the budget: this runner stopped there. (Running sooner: another runner
    # is writing the last chunks or finishing the job.)
    if job is not None and job.status == ImportJob.Status.RUNNING and time.monotonic() - started > IMPORT_TIME_BUDGET:
        import_run_task.delay(job_id, runner, runners)


# Reading an upload (unpacking an XLSX, counting rows) has its own, short limit: the soft one
# ends the job "failed" with a message; the hard one kills a parse stuck in C code.
PARSE_SECONDS = getattr(settings, "CRM_IMPORT_PARSE_SECONDS", 120)


# Acknowledged on receipt, not after: a file that gets the worker killed (out of memory) must not
# be delivered again and again; the lost job is marked failed once overdue (import_parse_overdue).
@shared_task(name="contacts.tasks.import_parse_task", **RETRY,
             soft_time_limit=PARSE_SECONDS, time_limit=PARSE_SECONDS + 30, acks_late=False, reject_on_worker_lost=False)
def import_parse_task(job_id: int, seconds: float | None = None) -> None:
    """Read an uploaded file ("parsing" -> "uploaded" or "failed"); a job already read is left alone."""
    import_parse(job_id=job_id, seconds=seconds)
