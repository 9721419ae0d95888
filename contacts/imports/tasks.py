"""Thin Celery tasks of the import: arguments are ids, bodies call one service. Their names
stay those of the module they came from (contacts.tasks), so messages queued before an
upgrade still find them."""

from celery import shared_task
from django.conf import settings

from contacts.imports.run import import_parse, import_run
from contacts.models import ImportJob
from crm.retry import RETRY

IMPORT_TIME_BUDGET = 10 * 60  # seconds per task run, well inside CELERY_TASK_SOFT_TIME_LIMIT


@shared_task(name="contacts.tasks.import_run_task", **RETRY)
def import_run_task(job_id: int) -> None:
    """Import a job from where it stopped; a long file continues in a fresh task (idempotent:
    the job's rows_done says where, so a redelivered or retried task just resumes)."""
    job = import_run(job_id=job_id, time_budget=IMPORT_TIME_BUDGET)
    if job is not None and job.status == ImportJob.Status.RUNNING:
        import_run_task.delay(job_id)


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
