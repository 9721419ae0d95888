"""Reads from a streaming read replica (DATABASE_REPLICA_URL), explicitly and nowhere else.

The mechanism is one context manager, `reads_from_replica()`, and its view decorator,
`replica_view`. Code inside the block reads from the replica; everything else reads and
writes the primary, as if no replica existed. The pages that use it are the read-only ones
that aggregate or stream many rows: the dashboard, the contact lists, the export, and the
backtest and advisor tasks' reads of outcomes. (docs/scaling.md lists them.)

Inside a block, a read still goes to the primary when
- the request is not a GET/HEAD/OPTIONS, or it already wrote (read-after-write, same request);
- the user wrote during the last CRM_REPLICA_STICKY_SECONDS (read-after-write, same user: a
  key in the cache, set at the end of a request that wrote);
- a transaction is open on the primary (it may hold the rows just written);
- the model is bookkeeping of the login (auth, sessions, tokens, axes, content types): a
  session created a moment ago must be found;
- the replica is down. Its health is checked per process at most every
  CRM_REPLICA_CHECK_SECONDS (an existing connection answers `SELECT 1`, else a connect with a
  1 s timeout); a change is logged once. A query that fails on the replica inside a
  `replica_view` (the replica stopped, or cancelled the query for a conflict with replay) runs
  the view again on the primary, so a stopped replica costs one log line, not an error page.

Writes always go to the primary (the router's db_for_write), and migrations run only there.
Bookkeeping writes (an audit row, a backtest's progress, the login's tables) do not count as
"wrote". Without DATABASE_REPLICA_URL there is no `replica` alias, no router and no middleware work.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import math
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import DEFAULT_DB_ALIAS, InterfaceError, OperationalError, connections

REPLICA = "replica"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# Read from the primary always: the login's bookkeeping (a session written a moment ago must be found).
PRIMARY_ONLY_APPS = frozenset({"auth", "sessions", "authtoken", "axes", "contenttypes", "admin"})
# Writes that do not make the request, the block or the user "one who wrote": nobody reads them back
# in a replica block (the export's audit row; a backtest's progress, written while it reads outcomes).
BOOKKEEPING_WRITES = frozenset({"crm.auditevent", "scoring.backtest"})

log = logging.getLogger(__name__)


@dataclass
class _RequestState:
    request: Any = None
    wrote: bool = False
    used_replica: bool = False


@dataclass
class _Health:
    up: bool = True
    checked: float = -math.inf
    lock: threading.Lock = field(default_factory=threading.Lock)


_request_state: ContextVar[_RequestState | None] = ContextVar("crm_replica_request", default=None)
_block: ContextVar[_RequestState | None] = ContextVar("crm_replica_block", default=None)
_health = _Health()


def configured() -> bool:
    return REPLICA in settings.DATABASES


def _sticky_key(user_id: int) -> str:
    return f"replica:primary-for-user:{user_id}"


def remember_write(user_id: int | None) -> None:
    """This user wrote: their reads go to the primary for CRM_REPLICA_STICKY_SECONDS."""
    seconds = settings.CRM_REPLICA_STICKY_SECONDS
    if user_id is not None and seconds > 0:
        cache.set(_sticky_key(user_id), 1, seconds)


def _user_is_sticky(user_id: int | None) -> bool:
    return user_id is not None and bool(cache.get(_sticky_key(user_id)))


def _request_user_id(state: _RequestState | None) -> int | None:
    user = getattr(state.request, "user", None) if state is not None else None
    return user.pk if user is not None and user.is_authenticated else None


# --- Health ---------------------------------------------------------------------------

def _probe() -> Exception | None:
    """None when the replica answers; the error otherwise. Cheap: an open connection runs
    SELECT 1, a closed one connects (connect_timeout 1 s)."""
    conn = connections[REPLICA]
    try:
        if conn.connection is not None and not conn.is_usable():
            conn.close()
        conn.ensure_connection()
    except (OperationalError, InterfaceError) as exc:
        with contextlib.suppress(Exception):
            conn.close()
        return exc
    return None


def _set_health(up: bool, error: Exception | None = None) -> None:
    was_up = _health.up
    _health.up, _health.checked = up, time.monotonic()
    if was_up and not up:
        log.warning("Read replica unavailable (%s); reading from the primary for now.", type(error).__name__)
    elif up and not was_up:
        log.info("Read replica answers again; reading from it.")


def replica_available() -> bool:
    """Whether this process may read from the replica now (checked at most every
    CRM_REPLICA_CHECK_SECONDS)."""
    if time.monotonic() - _health.checked < settings.CRM_REPLICA_CHECK_SECONDS:
        return _health.up
    with _health.lock:
        if time.monotonic() - _health.checked >= settings.CRM_REPLICA_CHECK_SECONDS:
            error = _probe()
            _set_health(error is None, error)
    return _health.up


def replica_failed(error: Exception) -> None:
    """A query on the replica failed: close its connection and check it now (logs if it is down)."""
    with contextlib.suppress(Exception):
        connections[REPLICA].close()
    probe_error = _probe()
    _set_health(probe_error is None, probe_error or error)


# --- The block ----------------------------------------------------------------------------

@contextlib.contextmanager
def reads_from_replica(*, user_id: int | None = None) -> Iterator[_RequestState]:
    """Inside: read-only queries go to the replica (see the module's rules). `user_id`: whose
    read-after-write to respect outside a request (a task started by a user); inside a request
    the request's user is used."""
    if not configured():
        yield _RequestState()
        return
    state = _request_state.get()
    uid = user_id if user_id is not None else _request_user_id(state)
    wanted = not (state is not None and state.wrote) and not _user_is_sticky(uid)
    block = _RequestState()
    token = _block.set(block if wanted else None)
    try:
        yield block
    except (OperationalError, InterfaceError) as exc:
        if block.used_replica:
            replica_failed(exc)
        raise
    finally:
        _block.reset(token)


def replica_view(view: Callable) -> Callable:
    """A read-only view whose queries go to the replica; if the replica fails during the view,
    the view runs again on the primary (it only reads, so running it twice is harmless)."""

    @functools.wraps(view)
    def wrapped(request, *args, **kwargs):
        if not configured():
            return view(request, *args, **kwargs)
        block = None
        try:
            with reads_from_replica() as block:
                return view(request, *args, **kwargs)
        except (OperationalError, InterfaceError):
            if block is None or not block.used_replica:
                raise  # the primary failed: DatabaseUnavailableMiddleware answers
        # The replica failed (stopped, or it cancelled a query that conflicted with replay).
        return view(request, *args, **kwargs)

    return wrapped


def replica_iter(items: Iterable) -> Iterable:
    """Iterate `items` (a lazy stream, e.g. a StreamingHttpResponse's rows) reading from the
    replica: each step runs inside the block decided now, in the view, so a stream consumed after
    the view returned still reads there (one decision, not a cache lookup per row). A failure
    mid-stream is not retried (the response has begun)."""
    if not configured():
        return items
    state = _request_state.get()
    wanted = not (state is not None and state.wrote) and not _user_is_sticky(_request_user_id(state))
    block = _RequestState() if wanted else None

    def steps() -> Iterator:
        iterator = iter(items)
        while True:
            token = _block.set(block)
            try:
                item = next(iterator)
            except StopIteration:
                return
            except (OperationalError, InterfaceError) as exc:
                if block is not None and block.used_replica:
                    replica_failed(exc)
                raise
            finally:
                _block.reset(token)
            yield item

    return steps()


# --- Router and middleware ---------------------------------------------------------------

class ReplicaRouter:
    """Installed only when DATABASE_REPLICA_URL is set (settings)."""

    def db_for_read(self, model, **hints):
        block = _block.get()
        if (
            block is None
            or block.wrote
            or model._meta.app_label in PRIMARY_ONLY_APPS
            or connections[DEFAULT_DB_ALIAS].in_atomic_block
            or not replica_available()
        ):
            return DEFAULT_DB_ALIAS
        block.used_replica = True
        return REPLICA

    def db_for_write(self, model, **hints):
        if model._meta.label_lower not in BOOKKEEPING_WRITES and model._meta.app_label not in PRIMARY_ONLY_APPS:
            for state in (_request_state.get(), _block.get()):
                if state is not None:
                    state.wrote = True
        return DEFAULT_DB_ALIAS

    def allow_relation(self, obj1, obj2, **hints):
        # The replica is a copy of the primary: an object read there may refer to one read here.
        return {obj1._state.db, obj2._state.db} <= {DEFAULT_DB_ALIAS, REPLICA, None}

    def allow_migrate(self, db, app_label, model_name=None, **hints):
        return db == DEFAULT_DB_ALIAS


class ReplicaMiddleware:
    """Knows the request for the block (its user, whether it wrote), and after a request that
    wrote remembers its user for CRM_REPLICA_STICKY_SECONDS. A request that is not
    GET/HEAD/OPTIONS counts as one that writes from its first line."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if not configured():
            return self.get_response(request)
        state = _RequestState(request=request, wrote=request.method not in SAFE_METHODS)
        token = _request_state.set(state)
        try:
            response = self.get_response(request)
        finally:
            _request_state.reset(token)
        if state.wrote:
            remember_write(_request_user_id(state))
        return response
