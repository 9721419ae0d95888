"""Thin Celery tasks: ids in, one service call. Both are safe to run twice: a delivery is claimed
with a conditional UPDATE before it is sent, and the sweep only queues what is still queued."""

from celery import shared_task

from scoring.tasks import RETRY


@shared_task(**RETRY)
def delivery_send_task(delivery_id: int) -> str:
    from nurture.services import delivery_send

    return delivery_send(delivery_id=delivery_id)


@shared_task(**RETRY)
def deliveries_sweep_task() -> dict:
    from nurture.services import deliveries_sweep

    return deliveries_sweep()
