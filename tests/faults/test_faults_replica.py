"""A real streaming replica (DATABASE_REPLICA_URL): the fault tests' throwaway cluster as the
primary, `pg_basebackup -R` to a hot standby, gunicorn on both. The dashboard and the lists read the replica (shown by pausing
its replay: they show the replica's older data while the primary has newer), a user who just
changed a contact reads the primary, and a stopped replica costs one log line, not an error
page. Nothing here touches the shared PostgreSQL or Redis."""

from __future__ import annotations

import contextlib
import json
import re
import shutil
from dataclasses import dataclass

import pytest
import requests

from tests.conftest import skip_or_fail
from tests.faults.faultkit import (
    PostgresCluster,
    Proc,
    ProcessPool,
    RedisServer,
    django_env,
    free_port,
    manage,
    run_driver,
    sql,
    sql_value,
    wait_for,
)

pytestmark = [pytest.mark.faults, pytest.mark.slow]

DB = "saring_replica"
CSRF = "r" * 32  # a client-chosen CSRF secret: the cookie and the header carry the same value
UNAVAILABLE = "Read replica unavailable"

# Sessions made in the database directly, as force_login does: a login through the page is a
# POST, which (rightly) keeps that user on the primary for CRM_REPLICA_STICKY_SECONDS.
SESSIONS = """
import json
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY, get_user_model
from django.contrib.sessions.backends.db import SessionStore
keys = {}
for name in ("admin", "loader"):
    user = get_user_model().objects.get(username=name)
    store = SessionStore()
    store[SESSION_KEY], store[BACKEND_SESSION_KEY] = str(user.pk), "django.contrib.auth.backends.ModelBackend"
    store[HASH_SESSION_KEY] = user.get_session_auth_hash()
    store.create()
    keys[name] = store.session_key
print(json.dumps(keys))
"""

# A backtest as an admin starts one (queued on commit; without a broker the task runs at once, in this
# process): its outcome reads are the replica's.
BACKTEST = """
import json
from scoring.advisor.backtest import backtest_start
from scoring.models import Backtest, RuleSet
run = backtest_start(RuleSet.objects.get(industry="").active_version, None, {"outcome": "email_clicked"})
run = Backtest.objects.get(pk=run.pk)
print(json.dumps({"status": run.status, "message": run.message, "contacts": (run.results or {}).get("contacts")}))
"""


@dataclass
class Site:
    primary: PostgresCluster
    replica: PostgresCluster
    base: str
    web: Proc
    sessions: dict[str, str]

    @property
    def primary_url(self) -> str:
        return self.primary.url(DB)

    @property
    def replica_url(self) -> str:
        return self.replica.url(DB)

    def client(self, username: str) -> requests.Session:
        session = requests.Session()
        session.cookies.set("sessionid", self.sessions[username])
        session.cookies.set("csrftoken", CSRF)
        session.headers["X-CSRFToken"] = CSRF
        session.headers["Accept-Language"] = "en"
        return session

    def contacts(self, url: str) -> int:
        return sql_value(url, "SELECT count(*) FROM contacts_contact")

    def caught_up(self) -> None:
        """Wait until the replica has replayed everything the primary wrote."""
        lsn = sql_value(self.primary_url, "SELECT pg_current_wal_lsn()::text")
        wait_for(lambda: sql_value(self.replica_url, "SELECT pg_last_wal_replay_lsn() >= %s::pg_lsn", (lsn,)),
                 timeout=30, what="the replica to replay the primary's WAL")

    @contextlib.contextmanager
    def replay_paused(self):
        self.caught_up()
        sql(self.replica_url, "SELECT pg_wal_replay_pause()")
        wait_for(lambda: sql_value(self.replica_url, "SELECT pg_get_wal_replay_pause_state()") == "paused",
                 timeout=30, what="replay paused")
        try:
            yield
        finally:
            sql(self.replica_url, "SELECT pg_wal_replay_resume()")
            self.caught_up()


@pytest.fixture(scope="module")
def site(pg_cluster, tmp_path_factory):
    """The fault tests' throwaway cluster is the primary (a copy of its migrated template, with the
    playbooks and users); its replica lives as long as this module."""
    if not (pg_cluster.bin_dir / "pg_basebackup").exists():
        skip_or_fail("pg_basebackup is not installed next to initdb")
    redis_binary = shutil.which("redis-server")
    if redis_binary is None:
        skip_or_fail("redis-server is not installed")
    if not pg_cluster.is_running():
        pg_cluster.start()
    replica: PostgresCluster | None = None
    redis = RedisServer(redis_binary)
    pool = ProcessPool(root=tmp_path_factory.mktemp("replica-procs"))
    try:
        pg_cluster.create_database(DB, template=pg_cluster.template)
        env = django_env(pg_cluster.url(DB), None)
        run_driver(env, "seed", "--contacts", "30", "--prefix", "base")
        sessions = json.loads(manage(env, "shell", "-c", SESSIONS).strip().splitlines()[-1])
        replica = pg_cluster.replica()
        replica.start()
        redis.start()
        port = free_port()
        # One gunicorn process, so that "one log line" is this process's line; Redis holds the cache
        # (who wrote recently), as in production. Persistent connections, as in production.
        web_env = django_env(pg_cluster.url(DB), redis.url, DATABASE_REPLICA_URL=replica.url(DB), DB_CONN_MAX_AGE="60")
        web = pool.gunicorn(web_env, port=port, workers=1, threads=4)
        yield Site(pg_cluster, replica, f"http://127.0.0.1:{port}", web, sessions)
    finally:
        pool.stop_all()
        redis.destroy()
        if replica is not None:
            replica.destroy()
        with contextlib.closing(pg_cluster.connect()) as conn, conn.cursor() as cur:
            cur.execute(f'DROP DATABASE IF EXISTS "{DB}"')


def _total_contacts(html: str) -> int:
    """The dashboard's "Contacts" figure."""
    found = re.search(r'stat-label">Contacts</span>\s*<span class="stat-value">([\d,]+)</span>', html)
    assert found, html[:3000]
    return int(found.group(1).replace(",", ""))


def _dashboard(site: Site, username: str) -> int:
    answer = site.client(username).get(site.base + "/", timeout=30, allow_redirects=False)
    assert answer.status_code == 200, answer.text[:2000]
    return _total_contacts(answer.text)


def test_dashboard_reads_the_replica(site):
    with site.replay_paused():
        before = site.contacts(site.primary_url)
        run_driver(django_env(site.primary_url, None), "seed", "--contacts", "7", "--prefix", "late")
        assert site.contacts(site.primary_url) == before + 7
        assert site.contacts(site.replica_url) == before
        # The replica has not replayed the 7 new contacts: the dashboard shows its older figure.
        assert _dashboard(site, "admin") == before
        # ... from a connection of the web process on the replica.
        on_replica = sql_value(site.replica_url, "SELECT count(*) FROM pg_stat_activity WHERE datname = %s "
                                                 "AND backend_type = 'client backend' AND pid <> pg_backend_pid()", (DB,))
        assert on_replica >= 1
        # The export streams its rows from the replica too (each step of the stream reads there).
        export = site.client("admin").get(site.base + "/contacts/export/", timeout=30)
        assert export.status_code == 200
        assert len(export.content.decode("utf-8-sig").splitlines()) == 1 + before  # the header, then one row each
    # Replay resumed and caught up: the dashboard follows.
    assert _dashboard(site, "admin") == before + 7
    assert UNAVAILABLE not in site.web.log()


def test_a_user_who_just_changed_a_contact_sees_the_change(site):
    contact_id = sql_value(site.primary_url, "SELECT min(id) FROM contacts_contact WHERE stage = 'contact' "
                                             "AND full_name LIKE 'base %%'")
    link = f'href="/contacts/{contact_id}/"'
    writer, viewer = site.client("loader"), site.client("admin")
    with site.replay_paused():
        answer = writer.post(f"{site.base}/contacts/{contact_id}/stage/", data={"stage": "customer", "note": "replica test"},
                             timeout=30, allow_redirects=False)
        assert answer.status_code == 302, answer.text[:2000]
        assert sql_value(site.replica_url, "SELECT stage FROM contacts_contact WHERE id = %s", (contact_id,)) == "contact"
        # The writer's list reads the primary (read-after-write, for CRM_REPLICA_STICKY_SECONDS) ...
        mine = writer.get(f"{site.base}/contacts/?stage=customer", timeout=30)
        assert mine.status_code == 200 and link in mine.text
        # ... while another user's list still reads the paused replica.
        theirs = viewer.get(f"{site.base}/contacts/?stage=customer", timeout=30)
        assert theirs.status_code == 200 and link not in theirs.text
    # Once replay resumes, the other user sees it too (on a loaded machine the page may need a moment more).
    wait_for(lambda: link in viewer.get(f"{site.base}/contacts/?stage=customer", timeout=30).text,
             timeout=30, what="the change visible on the replica")


def test_a_stopped_replica_degrades_to_the_primary(site):
    assert _dashboard(site, "admin") == site.contacts(site.primary_url)  # the replica answers
    assert site.web.log().count(UNAVAILABLE) == 0
    site.replica.stop("fast")
    try:
        for _ in range(3):
            assert _dashboard(site, "admin") == site.contacts(site.primary_url)
            answer = site.client("admin").get(site.base + "/contacts/", timeout=30)
            assert answer.status_code == 200
        # One line for the outage, not one per request; no error page, no 503.
        assert site.web.log().count(UNAVAILABLE) == 1, site.web.log()[-3000:]
        assert "Database unavailable" not in site.web.log()
    finally:
        site.replica.start()


def _interaction_scans(url: str) -> int:
    """Scans of the interactions table on this server (its own statistics: a standby counts its readers)."""
    return sql_value(url, "SELECT seq_scan + coalesce(idx_scan, 0) FROM pg_stat_user_tables WHERE relname = 'contacts_interaction'")


def test_a_backtest_reads_its_outcomes_on_the_replica(site):
    site.caught_up()
    before = _interaction_scans(site.replica_url)
    env = django_env(site.primary_url, None, DATABASE_REPLICA_URL=site.replica_url)
    run = json.loads(manage(env, "shell", "-c", BACKTEST).strip().splitlines()[-1])
    assert run["status"] == "done", run
    contacts = site.contacts(site.primary_url)
    assert run["contacts"] == contacts
    # The interactions were read on the replica: its statistics counted the scan (nothing else reads
    # that table there; a backend's counts are written when its connection closes).
    wait_for(lambda: _interaction_scans(site.replica_url) > before, timeout=15,
             what="the replica's statistics to count the backtest's reads")
