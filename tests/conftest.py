"""Shared fixtures: one user per role (plus an outsider rep), the playbooks, and a
contact maker that goes through the services like real input does."""

from __future__ import annotations

import os

import pytest
from django.contrib.auth.models import Group
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from crm import roles

REQUIRE_SERVICES = os.environ.get("CRM_REQUIRE_SERVICES") == "1"


def skip_or_fail(reason: str) -> None:
    """Service-dependent tests may skip on a bare laptop, never in CI."""
    if REQUIRE_SERVICES:
        pytest.fail(f"CRM_REQUIRE_SERVICES=1 but {reason}")
    pytest.skip(reason)


@pytest.fixture(autouse=True)
def _eager_celery_by_default():
    """Most tests run Celery tasks in-process; tests marked `worker` use a real worker."""
    from crm.celery import app

    previous = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield
    # Eager work handed to a thread (crm.background: a publish's rescore, on a database other than the
    # in-memory SQLite) ends with its test, never writing into the next one's data.
    from crm.background import background_wait

    assert background_wait(120), "background work still running after 120 s"
    app.conf.task_always_eager = previous


@pytest.fixture(autouse=True)
def _fast_and_quiet(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.AXES_ENABLED = False


@pytest.fixture(autouse=True)
def _english_unless_asked(settings):
    """Tests read English by default; tests of the Indonesian UI ask for it explicitly
    (Accept-Language / the language cookie / translation.override("id"))."""
    from django.utils import translation

    settings.LANGUAGE_CODE = "en"
    with translation.override("en"):
        yield


@pytest.fixture
def reference_data(db):
    """Role groups and the built-in kind catalog. Migrations create them, but a
    transactional test's flush empties every table, so fixtures make sure they exist."""
    from contacts.catalog import catalog_ensure

    if Group.objects.count() < len(roles.ROLES):
        roles.ensure_groups()
    catalog_ensure()


@pytest.fixture
def make_user(django_user_model, reference_data):
    def make(username: str, *role_names: str, **fields):
        user = django_user_model.objects.create_user(username=username, password="pw-" + username, **fields)
        user.groups.set(Group.objects.filter(name__in=role_names))
        return user

    return make


@pytest.fixture
def admin(make_user):
    return make_user("ayu", roles.ADMIN, is_staff=True, first_name="Ayu")


@pytest.fixture
def marketer(make_user):
    return make_user("maya", roles.MARKETER, first_name="Maya")


@pytest.fixture
def rep(make_user):
    return make_user("sari", roles.SALES, first_name="Sari")


@pytest.fixture
def other_rep(make_user):
    """A rep who must NOT see `rep`'s contacts."""
    return make_user("budi", roles.SALES, first_name="Budi")


@pytest.fixture
def manager(make_user):
    return make_user("hendra", roles.SALES, roles.SALES_MANAGER, first_name="Hendra")


@pytest.fixture
def playbooks(reference_data):
    """All five playbooks, published (no rescore queued: the table is empty)."""
    from scoring.rulesets import playbook_load

    return {name: playbook_load(name=name, publish=True) for name in ("general", "ecommerce", "b2b", "healthcare", "education")}


@pytest.fixture
def make_contact(reference_data, django_capture_on_commit_callbacks):
    """Create a contact through contact_upsert, running the scoring hook like production does."""
    from contacts.services import contact_upsert

    counter = iter(range(1, 10**6))

    def make(**fields):
        n = next(counter)
        fields.setdefault("full_name", f"Kontak {n}")
        fields.setdefault("email", f"kontak{n}@example.co.id")
        owner = fields.pop("owner", None)
        with django_capture_on_commit_callbacks(execute=True):
            contact = contact_upsert(data=fields).contact
        if owner is not None:
            type(contact).objects.filter(pk=contact.pk).update(owner=owner)
        contact.refresh_from_db()
        return contact

    return make


@pytest.fixture
def on_commit(django_capture_on_commit_callbacks):
    """Run after-commit hooks (scoring) like production does after a request."""

    def run():
        return django_capture_on_commit_callbacks(execute=True)

    return run


@pytest.fixture
def log(django_capture_on_commit_callbacks):
    """Log an interaction through the service and run the scoring that follows the commit."""
    from contacts.services import interaction_log

    def do(contact, kind: str, **kwargs):
        with django_capture_on_commit_callbacks(execute=True):
            logged = interaction_log(contact=contact, kind=kind, **kwargs)
        contact.refresh_from_db()
        return logged

    return do


@pytest.fixture
def api_for(db):
    """An API client that authenticates like an integration: with the user's DRF token."""

    def make(user=None) -> APIClient:
        client = APIClient()
        if user is not None:
            token, _ = Token.objects.get_or_create(user=user)
            client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
        return client

    return make


@pytest.fixture
def client_for(client):
    def login(user):
        client.force_login(user)
        return client

    return login


@pytest.fixture
def celery_worker_process(transactional_db, settings):
    """A real `celery worker` subprocess on the configured Redis, reading the test database.

    Needs PostgreSQL (the SQLite test database lives in this process's memory) and Redis.
    Tasks of this test go to a queue of their own, so parallel test processes never
    consume each other's tasks."""
    import shutil
    import subprocess
    import sys
    import time
    import uuid
    from pathlib import Path

    from django.db import connection

    from crm.celery import app

    if connection.vendor != "postgresql":
        skip_or_fail("a real worker needs DATABASE_URL pointing at PostgreSQL")
    if not settings.REDIS_URL:
        skip_or_fail("a real worker needs REDIS_URL")
    import redis

    try:
        redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=1).ping()
    except redis.exceptions.RedisError:
        skip_or_fail(f"Redis at {settings.REDIS_URL} is not reachable")

    queue = f"test-{uuid.uuid4().hex[:10]}"
    db = connection.settings_dict
    env = {
        **os.environ,
        "DATABASE_URL": f"postgres://{db['USER'] or 'postgres'}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}",
        "REDIS_URL": settings.REDIS_URL,
        "CELERY_TASK_ALWAYS_EAGER": "0",
        # Tasks the worker queues itself (an email after a stage change) go to its queue too.
        "CELERY_TASK_DEFAULT_QUEUE": queue,
    }
    celery = shutil.which("celery", path=str(Path(sys.executable).parent)) or "celery"
    proc = subprocess.Popen(
        [celery, "-A", "crm", "worker", "-P", "solo", "-Q", queue, "-l", "warning",
         "--without-heartbeat", "--without-gossip", "--without-mingle"],
        env=env, cwd=str(Path(__file__).resolve().parent.parent),
    )
    from django.core.cache import cache

    from scoring.rescoring import PENDING_DRAIN_KEY, PENDING_WAKE_KEY

    cache.delete_many([PENDING_WAKE_KEY, PENDING_DRAIN_KEY])  # left by an earlier test, they would hold this test's back
    previous = (app.conf.task_always_eager, app.conf.task_default_queue)
    app.conf.task_always_eager = False
    app.conf.task_default_queue = queue
    # Wait until the worker answers a ping on its queue (limit=1: return at its answer, not after the timeout).
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not app.control.ping(timeout=0.5, limit=1):
        if proc.poll() is not None:
            pytest.fail("the celery worker exited at start-up")
    try:
        yield proc
    finally:
        app.conf.task_always_eager, app.conf.task_default_queue = previous
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
        redis.Redis.from_url(settings.REDIS_URL).delete(queue)
        cache.delete_many([PENDING_WAKE_KEY, PENDING_DRAIN_KEY])


def wait_for(predicate, timeout: float = 15.0, interval: float = 0.1):
    """Poll until predicate() is truthy (no fixed sleeps); returns its value or fails."""
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    pytest.fail(f"condition not met within {timeout}s")
