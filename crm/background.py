"""Work that a request starts but must not wait for, on the embedded default (no broker).

With a broker, a task queued after commit runs on a worker and the request returns at once. On the
embedded default Celery runs tasks eagerly, in the request, so a publish's full rescore held the
admin's request for seconds. `in_background` runs the same callable (the task, through the same
eager Celery call) on a thread of its own instead, so the request returns at once and the progress
card tells the truth while it runs (docs/decisions.md, "Publishing returns at once").

It runs the callable inline instead when another connection could not work beside this one:
- this connection is inside a transaction: what it wrote is not committed, so a second connection
  would not see it (e.g. a test wrapped in a transaction, running its on-commit callbacks);
- the database is an in-memory SQLite one (the test database): its shared-cache locks fail at once
  instead of waiting, so two connections cannot write side by side. A SQLite file (the embedded
  default) waits for the lock (WAL, a busy timeout and IMMEDIATE transactions, crm/settings.py).

Work a request starts begins once the response has been sent (Django's request_finished): the
request's own last writes (its session, its messages) then never wait behind the work's first
transaction. Outside a request (a command, a task) it begins at once.

Threads are not daemons: a command that publishes (load_playbook) exits once its rescore is done.
`background_wait` joins them (tests, and anything that needs the work finished).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from django.db import connection, connections

log = logging.getLogger(__name__)

_threads: list[threading.Thread] = []
_lock = threading.Lock()
_request = threading.local()  # .pending: the threads this thread's request starts once it has answered


def _request_started(**kwargs) -> None:
    _request.pending = []


def _request_finished(**kwargs) -> None:
    pending, _request.pending = getattr(_request, "pending", None) or [], None
    for thread in pending:
        thread.start()


def connect_signals() -> None:
    from django.core.signals import request_finished, request_started

    request_started.connect(_request_started, dispatch_uid="crm.background.started")
    request_finished.connect(_request_finished, dispatch_uid="crm.background.finished")


def runs_inline() -> bool:
    """Whether `in_background` would run its callable here and now (see the module's docstring)."""
    if connection.in_atomic_block:
        return True
    return connection.vendor == "sqlite" and connection.is_in_memory_db()


def in_background(work: Callable[[], object], *, name: str) -> threading.Thread | None:
    """Run `work` on a thread of its own (its own database connection, closed at the end), or
    inline when another connection could not work beside this one. Returns the thread, if any."""
    if runs_inline():
        work()
        return None
    thread = threading.Thread(target=_run, args=(work, name), name=f"crm-background: {name}", daemon=False)
    with _lock:
        _threads[:] = [t for t in _threads if t.is_alive() or not t.ident]
        _threads.append(thread)
    pending = getattr(_request, "pending", None)
    if pending is not None:
        pending.append(thread)  # started once the response has been sent
    else:
        thread.start()
    return thread


def _run(work: Callable[[], object], name: str) -> None:
    try:
        work()
    except Exception:
        log.exception("Background work %r failed.", name)
    finally:
        connections.close_all()  # this thread's connections; the request's are its own


def background_wait(timeout: float | None = None) -> bool:
    """Wait for the background work started so far; True when all of it has finished."""
    with _lock:
        threads = [t for t in _threads if t.ident]  # started (one still waiting for its response is not)
    for thread in threads:
        thread.join(timeout)
    return not any(t.is_alive() for t in threads)
