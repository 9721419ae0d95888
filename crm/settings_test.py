"""Settings for the test run (pyproject's DJANGO_SETTINGS_MODULE): the embedded default in
development mode. DEBUG is off unless DJANGO_DEBUG says otherwise, so the tests say it, here,
before crm.settings reads the environment; subprocesses that tests start inherit it.
(pytest-django still runs each test with DEBUG off, as production does.)

Under pytest-xdist (`make test JOBS=2`) each worker process gets Redis databases of its own,
as pytest-django gives it a test database of its own: worker N (gwN) uses REDIS_URL's
database + 2N for the broker and the one after for the cache, so one worker's cache.clear()
(FLUSHDB) or queue never meets another's. Written back to the environment so the Celery
workers and commands a test starts use the same ones."""

import os
from urllib.parse import urlsplit, urlunsplit

os.environ.setdefault("DJANGO_DEBUG", "1")


def _xdist_redis_url(url: str, worker: str) -> str:
    parts = urlsplit(url)
    db = int(parts.path.strip("/") or 0) + 2 * int(worker.removeprefix("gw"))
    return urlunsplit(parts._replace(path=f"/{db % 16}"))


_worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
# CRM_TEST_REDIS_WORKER: already done (a subprocess inherits both the worker name and the moved URL).
if _worker != "gw0" and os.environ.get("REDIS_URL") and os.environ.get("CRM_TEST_REDIS_WORKER") != _worker:
    os.environ["REDIS_URL"] = _xdist_redis_url(os.environ["REDIS_URL"], _worker)
    os.environ.pop("REDIS_CACHE_URL", None)  # the next database after the worker's broker one
    os.environ["CRM_TEST_REDIS_WORKER"] = _worker

# The in-process tests run on a test database that has no replica (a mirror alias would be a second
# connection that cannot see a test's uncommitted rows): they ignore DATABASE_REPLICA_URL. The replica
# tests start a real streaming replica and gunicorn in subprocesses (tests/faults/test_faults_replica.py).
os.environ.pop("DATABASE_REPLICA_URL", None)

from crm.settings import *  # noqa: E402, F403
