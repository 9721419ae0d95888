"""Thin Celery tasks of the crm app (the beat schedule is in settings)."""

from celery import shared_task


@shared_task
def dashboard_warm_task() -> int:
    from crm.dashboard import warm

    return warm()
