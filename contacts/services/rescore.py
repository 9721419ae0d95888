"""After a write that can change a score: mark the contacts stale and wake the scorer.

This module holds the one import from contacts into scoring (`scoring.tasks`, DESIGN.md).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from django.db import DatabaseError, InterfaceError, transaction

from contacts.models import Contact
from crm.celery import app
from scoring.tasks import pending_wake  # the one door from contacts into scoring (docs/architecture.md)

log = logging.getLogger(__name__)


def queue_rescore(contact_ids: Iterable[int], *, marked: bool = False) -> None:
    """Mark contacts stale now (inside the caller's transaction) and wake the scorer after
    commit. If the broker is down the mark stays and the sweeper catches up later.
    `marked`: the caller's own UPDATE of these rows set needs_rescore already."""
    ids = sorted(set(contact_ids))
    if not ids:
        return
    if not marked:
        Contact.objects.filter(pk__in=ids, needs_rescore=False).update(needs_rescore=True)
    transaction.on_commit(_wake_scorer)


def _wake_scorer() -> None:
    """Wake the bulk scorer, which scores every marked contact in one pass (one run per burst,
    not per event). With a broker it runs on a worker; on the embedded default (eager Celery)
    the very same task runs here, synchronously."""
    try:
        pending_wake()
    except (DatabaseError, InterfaceError) as exc:
        # In-process scoring hit a busy or lost database after the write was committed: the
        # write stands, the mark stays, and the stale sweeper scores it.
        log.warning("Scoring deferred (%s); contact left for the stale sweeper.", type(exc).__name__)
    except Exception as exc:
        if app.conf.task_always_eager:
            raise  # in-process: the error is ours, not the broker's
        # The write is committed and marked stale; rescore_stale_task will score it.
        log.warning("Could not queue scoring (%s); contact left for the stale sweeper.", type(exc).__name__)
