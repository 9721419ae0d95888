"""Thin Celery tasks: ids in, one service call. All are safe to run twice: a delivery is claimed
with a conditional UPDATE before it is sent, the sweep only queues what is still queued, and a
sequence step is claimed before its delivery is written."""

import logging

from celery import shared_task

from scoring.tasks import RETRY

log = logging.getLogger(__name__)


@shared_task(**RETRY)
def delivery_send_task(delivery_id: int) -> str:
    from nurture.services import delivery_send

    return delivery_send(delivery_id=delivery_id)


@shared_task(**RETRY)
def deliveries_sweep_task() -> dict:
    from nurture.services import deliveries_sweep

    return deliveries_sweep()


@shared_task(**RETRY)
def sequences_run_task() -> int:
    from nurture.sequences import sequences_run

    return sequences_run()


def queue_deliveries(delivery_ids: list[int]) -> None:
    """After commit: one send task per delivery. The rows are the outbox: if the broker is down, the
    minute's sweep sends them. On the embedded default the tasks run here, and their errors are ours."""
    from crm.celery import app

    for delivery_id in delivery_ids:
        try:
            delivery_send_task.delay(delivery_id)
        except Exception as exc:
            if app.conf.task_always_eager:
                raise
            log.warning("Could not queue delivery %s (%s); the sweep will send it.", delivery_id, type(exc).__name__)
            return
