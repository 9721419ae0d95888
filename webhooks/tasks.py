"""Thin Celery tasks: ids in, one service call. Safe to run twice (deliveries are claimed)."""

from celery import shared_task

from crm.retry import RETRY


@shared_task(**RETRY)
def deliveries_send_task(delivery_ids: list[int]) -> dict:
    from webhooks.delivery import deliveries_send

    return dict(deliveries_send(delivery_ids=delivery_ids))


@shared_task(**RETRY)
def deliveries_sweep_task() -> dict:
    from webhooks.delivery import deliveries_sweep

    return deliveries_sweep()
