"""Load: 32 concurrent clients post interactions to gunicorn on loopback for
CRM_LOAD_SECONDS (60 in CI): zero 5xx, stored == acknowledged, and once the queue has
drained every score equals the engine's. Every tenth event is also sent again (a client
retry), which must be answered as a replay and stored once."""

from __future__ import annotations

import os
import random
import statistics
import threading
import time
from dataclasses import dataclass, field

import pytest
import requests

from tests.faults.faultkit import free_port, sql_value, wait_for

pytestmark = [pytest.mark.faults, pytest.mark.slow]

CLIENTS = 32
SECONDS = float(os.environ.get("CRM_LOAD_SECONDS", "60"))
CONTACTS = 64
KINDS = ("page_viewed", "email_opened", "email_clicked", "ad_clicked", "form_submitted", "content_downloaded",
         "price_requested", "demo_requested", "competitor_compared", "email_bounced", "purchase")


@dataclass
class Tally:
    sent: int = 0  # distinct events (a retry of one is not counted again)
    acknowledged: set[str] = field(default_factory=set)
    statuses: dict[int, int] = field(default_factory=dict)
    latencies: list[float] = field(default_factory=list)
    replays_ok: int = 0
    replays_bad: int = 0
    failures: list[str] = field(default_factory=list)


def _client(n: int, base: str, token: str, contact_ids: list[int], until: float, tally: Tally, lock: threading.Lock) -> None:
    session = requests.Session()
    session.headers.update({"Authorization": f"Token {token}", "Content-Type": "application/json"})
    rng = random.Random(n)
    sent = 0
    while time.monotonic() < until:
        external_id = f"load-{n}-{sent}"
        payload = {"contact": rng.choice(contact_ids), "kind": rng.choice(KINDS), "source": "load", "external_id": external_id}
        for attempt in (1, 2) if sent % 10 == 9 else (1,):
            t0 = time.monotonic()
            try:
                r = session.post(f"{base}/api/interactions/", json=payload, timeout=30)
            except requests.RequestException as exc:
                with lock:
                    tally.statuses[0] = tally.statuses.get(0, 0) + 1
                    tally.failures.append(repr(exc))
                continue
            with lock:
                tally.latencies.append(time.monotonic() - t0)
                tally.statuses[r.status_code] = tally.statuses.get(r.status_code, 0) + 1
                if r.status_code in (200, 201):
                    tally.acknowledged.add(external_id)
                    if attempt == 2:
                        ok = r.status_code == 200 and r.json().get("replayed") is True
                        tally.replays_ok += ok
                        tally.replays_bad += not ok
                elif len(tally.failures) < 5:
                    tally.failures.append(f"{r.status_code}: {r.text[:300]}")
        sent += 1
        with lock:
            tally.sent += 1


def test_load_32_clients_post_interactions(pg_cluster, redis_server, env_for, fault_db, procs, driver, figures):
    env = env_for(redis_server, CRM_API_RATE="1000000/min", DJANGO_DEBUG="1")
    contact_ids = driver(env, "log", "--contacts", str(CONTACTS), "--events", "0", "--prefix", "ld")["contact_ids"]
    procs.worker(env, name="scorer", concurrency=2)
    port = free_port()
    procs.gunicorn(env, port=port, workers=2, threads=16)
    base = f"http://127.0.0.1:{port}"
    token = pg_cluster.setup["token"]

    tally, lock = Tally(), threading.Lock()
    until = time.monotonic() + SECONDS
    threads = [threading.Thread(target=_client, args=(n, base, token, contact_ids, until, tally, lock)) for n in range(CLIENTS)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - started

    # Drain: the per-event tasks, then the beat job's sweep for anything whose publish failed.
    drain_started = time.monotonic()
    wait_for(lambda: redis_server.queue_depth() == 0, timeout=600, interval=0.5, what="the scoring queue to drain")
    driver(env, "send", "rescore_stale_task")
    wait_for(lambda: redis_server.queue_depth() == 0
             and sql_value(fault_db, "SELECT count(*) FROM contacts_contact WHERE needs_rescore") == 0,
             timeout=300, interval=0.5, what="every stale score to be swept")
    drained = time.monotonic() - drain_started

    stored = sql_value(fault_db, "SELECT count(*) FROM contacts_interaction WHERE source = 'load'")
    check = driver(env, "check", "--prefix", "ld")
    requests_total = sum(tally.statuses.values())
    errors_5xx = sum(n for code, n in tally.statuses.items() if code >= 500)
    latencies = sorted(tally.latencies)
    figures("load", {
        "clients": CLIENTS, "seconds": SECONDS, "requests": requests_total, "events_sent": tally.sent,
        "acknowledged": len(tally.acknowledged), "stored": stored, "lost": len(tally.acknowledged) - stored,
        "errors_5xx": errors_5xx, "no_answer": tally.statuses.get(0, 0), "replays_ok": tally.replays_ok,
        "req_per_s": round(requests_total / elapsed, 1),
        "p50_ms": round(1000 * statistics.median(latencies), 1) if latencies else None,
        "p99_ms": round(1000 * latencies[int(len(latencies) * 0.99) - 1], 1) if latencies else None,
        "drain_s": round(drained, 1), "score_mismatches": check["mismatched"], "statuses": tally.statuses,
    })
    assert errors_5xx == 0 and 0 not in tally.statuses, tally.failures
    assert len(tally.acknowledged) == tally.sent
    assert set(tally.statuses) <= {200, 201}, tally.failures
    assert stored == len(tally.acknowledged), "stored interactions must equal acknowledged ones (replays stored once)"
    assert tally.replays_bad == 0 and tally.replays_ok > 0
    assert check["mismatched"] == 0, check["mismatch_sample"]
    assert check["unscored"] == 0 and check["stale"] == 0
    assert check["duplicate_stage_changes"] == {}
    assert check["duplicate_follow_ups"] == {}
