"""Beat-able retention task: anonymise contacts inactive for CRM_RETENTION_MONTHS months.

Celery's autodiscovery only imports an app's `tasks.py`; this module is registered through
CELERY_IMPORTS (see the README's security and privacy section). The task keeps the name of the
module it came from (contacts.tasks_privacy), so queued messages and beat entries still find it."""

from celery import shared_task

from crm.retry import RETRY


@shared_task(name="contacts.tasks_privacy.retention_run_task", **RETRY)
def retention_run_task(months: int | None = None) -> int:
    """Idempotent: an anonymised contact is never a candidate again, so a rerun continues."""
    from contacts.privacy import retention_months_setting, retention_run

    months = months or retention_months_setting()
    if not months:
        return 0  # retention is off
    return retention_run(months=months, dry_run=False).anonymised
