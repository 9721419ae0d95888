"""PostgreSQL stopped and restarted while gunicorn serves logged-in users: requests fail
cleanly (503, a message, Retry-After, no traceback) while it is down, and succeed after."""

from __future__ import annotations

import re
import threading
import time
from dataclasses import dataclass

import pytest
import requests

from tests.faults.faultkit import free_port, wait_for

pytestmark = [pytest.mark.faults, pytest.mark.slow]

CLIENTS = 8
DOWN_SECONDS = 4.0
PAGE = "/accounts/profile/"  # login_required: the session and the user come from the database


@dataclass
class Hit:
    sent: float
    done: float
    status: int  # 0: no HTTP answer at all (connection refused or reset)
    body: str
    retry_after: str | None


def _login(base: str, username: str, password: str) -> str:
    session = requests.Session()
    page = session.get(f"{base}/accounts/login/", timeout=10)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
    answer = session.post(f"{base}/accounts/login/", data={"username": username, "password": password,
                                                           "csrfmiddlewaretoken": token}, timeout=10, allow_redirects=False)
    assert answer.status_code == 302, answer.text[:500]
    return session.cookies["sessionid"]


def _client(base: str, sessionid: str, hits: list[Hit], stop: threading.Event) -> None:
    session = requests.Session()
    session.cookies.set("sessionid", sessionid)
    while not stop.is_set():
        sent = time.monotonic()
        try:
            r = session.get(base + PAGE, timeout=15, allow_redirects=False)
            hits.append(Hit(sent, time.monotonic(), r.status_code, r.text[:4000], r.headers.get("Retry-After")))
        except requests.RequestException as exc:
            hits.append(Hit(sent, time.monotonic(), 0, repr(exc), None))
        time.sleep(0.02)


def test_postgres_restart_under_load(pg_cluster, env_for, procs, figures):
    port = free_port()
    # DEBUG on: an exception that escaped the 503 handler would show its traceback, so the
    # "no traceback" check below is the strict one. Persistent connections as in production.
    env = env_for(None, DJANGO_DEBUG="1", DB_CONN_MAX_AGE="60", AXES_ENABLED="1")
    procs.gunicorn(env, port=port, workers=2, threads=4)
    base = f"http://127.0.0.1:{port}"
    sessionid = _login(base, "rep1", "pw-rep1-faults")

    per_client: list[list[Hit]] = [[] for _ in range(CLIENTS)]
    stop = threading.Event()
    threads = [threading.Thread(target=_client, args=(base, sessionid, hits, stop)) for hits in per_client]
    for thread in threads:
        thread.start()
    try:
        time.sleep(2)
        # The down window is measured from when pg_ctl says the server is gone until the restart begins:
        # a fast shutdown can take a while on a loaded machine, and requests keep succeeding until it ends.
        pg_cluster.stop("fast")
        stopped_at = time.monotonic()
        time.sleep(DOWN_SECONDS)
        restart_at = time.monotonic()
        pg_cluster.start()
        started_at = time.monotonic()
        # Load continues until every client has had a run of successes after the restart.
        wait_for(lambda: all(len(h) >= 5 and all(x.status == 200 for x in h[-5:]) and h[-5].sent > started_at
                             for h in per_client), timeout=60, interval=0.2, what="every client to succeed again")
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=30)
        if not pg_cluster.is_running():
            pg_cluster.start()

    hits = [h for client in per_client for h in client]
    down = [h for h in hits if h.sent >= stopped_at and h.done <= restart_at]
    failures = [h for h in hits if h.status != 200]
    late_failures = [h.done - started_at for h in failures if h.sent >= started_at]
    recovery = max(late_failures, default=0.0)
    statuses = sorted({h.status for h in hits})
    figures("postgres restart", {
        "requests": len(hits), "ok_before_stop": sum(h.status == 200 and h.done < stopped_at for h in hits),
        "ok_after_restart": sum(h.status == 200 and h.sent >= started_at for h in hits),
        "unavailable_503": sum(h.status == 503 for h in hits),
        "errors_5xx_other": sum(h.status >= 500 and h.status != 503 for h in hits), "no_answer": sum(h.status == 0 for h in hits),
        "down_s": DOWN_SECONDS, "max_recovery_s": round(recovery, 2),
    })
    assert set(statuses) <= {200, 503}, f"unexpected statuses {statuses}: " + next(
        (h.body[:800] for h in hits if h.status not in (200, 503)), "")
    assert down and all(h.status == 503 for h in down), "every request while the database was down must be a 503"
    for hit in failures:
        assert "database" in hit.body.lower() and "Traceback" not in hit.body, hit.body[:800]  # either language
        assert "Traceback" not in hit.body and "OperationalError" not in hit.body, hit.body[:800]
        assert hit.retry_after == "5"
    assert recovery < 15
