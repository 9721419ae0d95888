"""Thin Celery tasks: ids in, one service call. All are safe to run twice: a delivery is claimed
with a conditional UPDATE before it is sent, the sweep only queues what is still queued, and a
sequence step is claimed before its delivery is written."""

import logging

from celery import shared_task
from celery.signals import worker_process_shutdown

from crm.retry import RETRY

log = logging.getLogger(__name__)


@shared_task(**RETRY)
def delivery_send_task(delivery_id: int) -> str:
    from nurture.services import delivery_send

    return delivery_send(delivery_id=delivery_id)


@shared_task(**RETRY)
def deliveries_sweep_task() -> dict:
    from nurture.campaigns import campaigns_resume
    from nurture.services import deliveries_sweep

    return {**deliveries_sweep(), "campaigns_refilled": campaigns_resume()}


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


@shared_task(**RETRY)
def campaign_fill_task(campaign_id: int) -> int:
    from nurture.campaigns import campaign_fill

    return campaign_fill(campaign_id=campaign_id)


@shared_task(**RETRY)
def campaign_batch_task(campaign_id: int, delivery_ids: list[int]) -> dict:
    from nurture.campaigns import campaign_send_batch

    return campaign_send_batch(campaign_id=campaign_id, delivery_ids=delivery_ids)


def queue_campaign_fill(campaign_id: int) -> None:
    campaign_fill_task.delay(campaign_id)


def queue_campaign_batches(campaign_id: int, batches: list[list[int]], *, seconds_apart: float) -> None:
    """Paced: batch n starts n * seconds_apart after the first. A lost batch is sent by the minute's sweep."""
    from crm.celery import app

    for n, batch in enumerate(batches):
        try:
            campaign_batch_task.apply_async(args=[campaign_id, batch], countdown=n * seconds_apart)
        except Exception as exc:
            if app.conf.task_always_eager:
                raise
            log.warning("Could not queue campaign %s batch %d (%s); the sweep will send it.", campaign_id, n,
                        type(exc).__name__)
            return


@worker_process_shutdown.connect(weak=False, dispatch_uid="nurture.smtp_pool")
def _close_smtp_connections(**kwargs) -> None:
    """A stopping worker process says QUIT on the SMTP connections it kept open between campaign batches."""
    from nurture.smtp_pool import close_shared

    close_shared()
