"""Redis down while interactions arrive: every write is stored, nothing waits long on the
dead broker, and the stale-score sweeper catches up when Redis is back."""

from __future__ import annotations

import os
import signal
import subprocess
import time

import pytest

from tests.faults.faultkit import sql_value, wait_for

pytestmark = [pytest.mark.faults, pytest.mark.slow]

CONTACTS, EVENTS_DOWN, EVENTS_UP = 30, 300, 60
# A write may try the broker briefly (publish retry policy) but never hang on it.
MAX_WRITE_SECONDS = 3.0


def test_redis_down_writes_are_stored_and_scores_catch_up(redis_server, env_for, fault_db, procs, driver, figures):
    redis_server.stop()
    env = env_for(redis_server)

    down = driver(env, "log", "--contacts", str(CONTACTS), "--events", str(EVENTS_DOWN), "--prefix", "rd")
    assert down["created"] == down["sent"] == EVENTS_DOWN
    stored = sql_value(fault_db, "SELECT count(*) FROM contacts_interaction WHERE source = 'rd'")
    stale = sql_value(fault_db, "SELECT count(*) FROM contacts_contact WHERE needs_rescore")
    assert stored == EVENTS_DOWN, "an acknowledged write was lost"
    assert stale == CONTACTS, "the outbox mark (needs_rescore) must survive a failed publish"
    assert down["max_latency"] < MAX_WRITE_SECONDS, f"a write waited {down['max_latency']}s on the dead broker"

    # Redis returns (empty: no persistence); a worker starts and the beat job's sweeper runs.
    restarted = time.monotonic()
    redis_server.start()
    procs.worker(env, name="sweeper")
    swept = time.monotonic()
    driver(env, "send", "rescore_stale_task")
    wait_for(lambda: sql_value(fault_db, "SELECT count(*) FROM contacts_contact WHERE needs_rescore") == 0,
             timeout=120, interval=0.2, what="the sweeper to clear every stale mark")
    recovery, sweep = time.monotonic() - restarted, time.monotonic() - swept

    # Normal service afterwards: new events are scored by the per-contact task.
    up = driver(env, "log", "--contacts", "10", "--events", str(EVENTS_UP), "--prefix", "ru")
    wait_for(lambda: redis_server.queue_depth() == 0
             and sql_value(fault_db, "SELECT count(*) FROM contacts_contact WHERE needs_rescore") == 0,
             timeout=120, interval=0.2, what="the queue to drain")

    check = driver(env, "check")
    sent = EVENTS_DOWN + EVENTS_UP
    total_stored = sql_value(fault_db, "SELECT count(*) FROM contacts_interaction")
    figures("redis down", {
        "events_sent": sent, "stored": total_stored, "lost": sent - total_stored,
        "max_write_latency_s": down["max_latency"], "mean_write_latency_s": down["mean_latency"],
        "max_recovery_s": round(recovery, 2), "sweep_s": round(sweep, 2), "contacts_checked": check["checked"], "score_mismatches": check["mismatched"],
        "stage_changes": check["stage_changes"],
    })
    assert up["created"] == EVENTS_UP
    assert total_stored == sent
    assert check["mismatched"] == 0, check["mismatch_sample"]
    assert check["unscored"] == 0 and check["stale"] == 0
    assert check["duplicate_stage_changes"] == {}
    assert check["duplicate_follow_ups"] == {}
    assert check["stages"].get("contact", 0) < check["checked"], "the scenario should promote contacts"


def test_redis_unresponsive_does_not_hang_writes(redis_server, env_for, fault_db, driver, figures):
    """A frozen Redis (accepts connections, never answers: a network partition or a stuck
    server) must not hang a write either: the publish gives up and the mark stays."""
    env = env_for(redis_server)
    os.kill(redis_server.proc.pid, signal.SIGSTOP)
    try:
        started = time.monotonic()
        try:
            result = driver(env, "log", "--contacts", "2", "--events", "4", "--prefix", "rf", timeout=60)
        except subprocess.TimeoutExpired:
            pytest.fail("writes hang while Redis does not answer: the broker connection needs socket timeouts "
                        "(CELERY_BROKER_TRANSPORT_OPTIONS socket_timeout / socket_connect_timeout)")
        elapsed = time.monotonic() - started
    finally:
        os.kill(redis_server.proc.pid, signal.SIGCONT)
    stored = sql_value(fault_db, "SELECT count(*) FROM contacts_interaction WHERE source = 'rf'")
    figures("redis frozen", {"events_sent": 4, "stored": stored, "lost": 4 - stored,
                             "max_write_latency_s": result["max_latency"], "elapsed_s": round(elapsed, 1)})
    assert stored == 4
    assert result["max_latency"] < 5.0


def test_redis_down_api_writes_are_stored(pg_cluster, redis_server, env_for, fault_db, procs, driver, figures):
    """The same through the real entry point: gunicorn and POST /api/interactions/ with a token."""
    import requests

    from tests.faults.faultkit import free_port

    env = env_for(redis_server, DJANGO_DEBUG="1")
    contact_ids = driver(env, "log", "--contacts", "5", "--events", "0", "--prefix", "ra", "--no-rescore")["contact_ids"]
    port = free_port()
    procs.gunicorn(env, port=port, workers=1, threads=4)
    redis_server.stop()
    session = requests.Session()
    session.headers["Authorization"] = f"Token {pg_cluster.setup['token']}"
    statuses, slowest = [], 0.0
    for n in range(20):
        started = time.monotonic()
        r = session.post(f"http://127.0.0.1:{port}/api/interactions/", timeout=30, json={
            "contact": contact_ids[n % 5], "kind": "page_viewed", "source": "ra", "external_id": f"ra-{n}"})
        slowest = max(slowest, time.monotonic() - started)
        statuses.append(r.status_code)
    stored = sql_value(fault_db, "SELECT count(*) FROM contacts_interaction WHERE source = 'ra'")
    figures("redis down via API", {"events_sent": 20, "acknowledged": statuses.count(201), "stored": stored,
                                   "lost": statuses.count(201) - stored, "errors_5xx": sum(s >= 500 for s in statuses),
                                   "max_request_s": round(slowest, 2)})
    assert statuses == [201] * 20, f"statuses {statuses}: {r.text[:500]}"
    assert stored == 20
    assert sql_value(fault_db, "SELECT count(*) FROM contacts_contact WHERE needs_rescore AND email LIKE 'ra%%'") == 5
