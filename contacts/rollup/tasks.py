"""Beat tasks of the stage rollup (registered through CELERY_IMPORTS): fold the delta log every
minute, recompute it nightly."""

from celery import shared_task

from crm.retry import RETRY


@shared_task(name="contacts.rollup.tasks.rollup_compact_task", **RETRY)
def rollup_compact_task() -> int:
    from contacts.rollup import rollup_compact

    return rollup_compact()


@shared_task(name="contacts.rollup.tasks.rollup_reconcile_task", **RETRY)
def rollup_reconcile_task() -> dict:
    from contacts.rollup import rollup_reconcile

    return rollup_reconcile()
