"""Thin Celery tasks: ids in, one call. Safe to run twice: a notification's email is claimed
with a conditional UPDATE before it is sent, and a day's digest has a unique key."""

import logging

from celery import shared_task

from crm.retry import RETRY

log = logging.getLogger(__name__)


@shared_task(**RETRY)
def notification_email_task(notification_id: int) -> str:
    from followup.emails import notification_email_send

    return notification_email_send(notification_id=notification_id)


@shared_task(**RETRY)
def digests_task() -> dict:
    from followup.emails import digests_send

    return digests_send()


@shared_task(**RETRY)
def emails_sweep_task() -> dict:
    from followup.emails import emails_sweep

    return emails_sweep()


def queue_emails(notification_ids: list[int]) -> None:
    """After commit: one task per email. The rows are the outbox: if the broker is down, the
    sweep queues them again. On the embedded default they run here."""
    from crm.celery import app

    for pk in notification_ids:
        try:
            notification_email_task.delay(pk)
        except Exception as exc:
            if app.conf.task_always_eager:
                raise
            log.warning("Could not queue notification email %s (%s); the sweep will.", pk, type(exc).__name__)
            return
