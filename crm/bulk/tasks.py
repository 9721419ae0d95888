"""Bulk actions a worker runs (big selections, erasures) and the sweep that queues them again when
their task was lost. Registered through CELERY_IMPORTS; thin: the services are in crm.bulk."""

from celery import shared_task

from crm.retry import RETRY


@shared_task(name="crm.bulk.tasks.bulk_run_task", **RETRY)
def bulk_run_task(bulk_id: int) -> bool:
    """Idempotent: the run claims the action (queued → done), so a second delivery does nothing."""
    from crm.bulk import bulk_run_queued

    return bulk_run_queued(bulk_id=bulk_id)


@shared_task(name="crm.bulk.tasks.bulk_sweep_task", **RETRY)
def bulk_sweep_task() -> int:
    from crm.bulk import bulk_sweep

    return bulk_sweep()
