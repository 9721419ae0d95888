"""The one retry policy of Celery tasks: `@shared_task(**RETRY)`. Every task is idempotent
(it recomputes, never adds to a stored total), so only transient database errors are
retried, backing off up to a minute."""

from django.db import InterfaceError, OperationalError

TRANSIENT = (OperationalError, InterfaceError)
RETRY = {"autoretry_for": TRANSIENT, "retry_backoff": True, "retry_backoff_max": 60, "max_retries": 8}
