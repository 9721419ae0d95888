"""`python -m bench.replica`: the dashboard's p95 while a full rescore writes on the primary,
read from a streaming replica (DATABASE_REPLICA_URL) against read from the primary.

Not a figure of `make bench`: it needs a replica, so it starts its own throwaway servers (the
fault tests' kit: `initdb`, `pg_basebackup -R`, redis-server), never the shared ones. Both web
servers run at once against the same primary, one with DATABASE_REPLICA_URL and one without;
requests alternate between them, so both see the same rescore at the same moment. Every
request has its own date filter, so the dashboard's cache (on above 50,000 contacts) never
answers. Prints a table and one JSON line.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

import requests

from bench import generator, harness
from tests.faults.faultkit import (
    PostgresCluster,
    ProcessPool,
    RedisServer,
    django_env,
    find_pg_bin,
    free_port,
    manage,
    run_driver,
    sql_value,
)

DB = "saring_replica_bench"
SESSION = """
import json
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY, get_user_model
from django.contrib.sessions.backends.db import SessionStore
user = get_user_model().objects.get(username="admin")
store = SessionStore()
store[SESSION_KEY], store[BACKEND_SESSION_KEY] = str(user.pk), "django.contrib.auth.backends.ModelBackend"
store[HASH_SESSION_KEY] = user.get_session_auth_hash()
store.create()
print(json.dumps({"session": store.session_key}))
"""


def _url(i: int) -> str:
    """A dashboard URL no earlier request used (the date filter differs), so the cache misses."""
    today = date.today()
    start, end = today - timedelta(days=120 + i % 240), today - timedelta(days=i // 240)
    return f"/?date_from={start.isoformat()}&date_to={end.isoformat()}"


def _get(session: requests.Session, base: str, i: int) -> float:
    started = time.perf_counter()
    answer = session.get(base + _url(i), timeout=120)
    elapsed = (time.perf_counter() - started) * 1000
    if answer.status_code != 200:
        raise RuntimeError(f"GET {_url(i)} on {base} answered {answer.status_code}: {answer.text[:300]}")
    return elapsed


def _pin(pid: int, cpu: int) -> None:
    """Pin a process and its children (a worker's pool, gunicorn's workers) to one core."""
    os.sched_setaffinity(pid, {cpu})
    for child in harness.child_pids(pid):
        _pin(child, cpu)


def _summary(timings: list[float]) -> dict:
    return {"n": len(timings), "p50_ms": round(harness.median(timings), 1), "p95_ms": round(harness.percentile(timings, 95), 1)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.replica", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--contacts", type=int, default=50_000)
    parser.add_argument("--interactions", type=int, default=500_000)
    parser.add_argument("--idle-requests", type=int, default=30, help="requests per side before the rescore")
    parser.add_argument("--worker-processes", type=int, default=2)
    parser.add_argument("--pin", action="store_true",
                        help="two machines on one: the primary and the rescore worker on core 0, the replica and both "
                             "web servers on core 1 (without it every process shares every core)")
    args = parser.parse_args(argv)

    bin_dir = find_pg_bin()
    if bin_dir is None or shutil.which("redis-server") is None:
        print("needs the PostgreSQL server binaries and redis-server", file=sys.stderr)
        return 2
    primary = PostgresCluster(bin_dir)
    if args.pin:
        primary.run_as = ["taskset", "-c", "0", *primary.run_as]  # pg_ctl's server and its backends inherit it
    replica: PostgresCluster | None = None
    redis = RedisServer(shutil.which("redis-server"))
    pool = ProcessPool(root=Path(tempfile.mkdtemp(prefix="saring-replica-bench-")))
    try:
        primary.init()
        primary.start()
        primary.create_database(DB)
        env = django_env(primary.url(DB), None, LOG_LEVEL="WARNING")
        manage(env, "migrate", "--noinput")
        run_driver(env, "setup")
        seeded = generator.seed(harness.dsn(primary.url(DB)), generator.Workload(args.contacts, args.interactions),
                                log=lambda line: print(line, flush=True))
        print(f"seeded {seeded['contacts']:,} contacts, {seeded['interactions']:,} interactions in {seeded['total_s']:.0f} s",
              flush=True)
        session_key = json.loads(manage(env, "shell", "-c", SESSION).strip().splitlines()[-1])["session"]
        started = time.perf_counter()
        replica = primary.replica()
        if args.pin:
            replica.run_as = ["taskset", "-c", "1", *replica.run_as]
        replica.start()
        print(f"replica made (pg_basebackup -R) and started in {time.perf_counter() - started:.1f} s", flush=True)
        redis.start()
        web_env = django_env(primary.url(DB), redis.url, DB_CONN_MAX_AGE="60", LOG_LEVEL="WARNING")
        worker = pool.worker(web_env, name="rescore", concurrency=args.worker_processes)
        if args.pin:
            _pin(worker.proc.pid, 0)
        sides = {}
        for side, extra in (("primary", {}), ("replica", {"DATABASE_REPLICA_URL": replica.url(DB)})):
            port = free_port()
            web = pool.gunicorn({**web_env, **extra}, port=port, workers=1, threads=1)
            if args.pin:
                _pin(web.proc.pid, 1)
            session = requests.Session()
            session.cookies.set("sessionid", session_key)
            sides[side] = (session, f"http://127.0.0.1:{port}")
        i = 0
        idle: dict[str, list[float]] = {side: [] for side in sides}
        for _ in range(3):  # warm-up: templates, rule sets, connections
            for session, base in sides.values():
                _get(session, base, i)
                i += 1
        for _ in range(args.idle_requests):
            for side, (session, base) in sides.items():
                idle[side].append(_get(session, base, i))
                i += 1
        busy: dict[str, list[float]] = {side: [] for side in sides}
        run = run_driver(web_env, "rescore_start", "--chunk", "5000")["run"]
        started = time.perf_counter()
        while sql_value(primary.url(DB), "SELECT status FROM scoring_rescorerun WHERE id = %s", (run,)) != "done":
            if not pool.children[0].alive():
                raise RuntimeError("the rescore worker died:\n" + pool.children[0].log()[-3000:])
            for side, (session, base) in sides.items():
                busy[side].append(_get(session, base, i))
                i += 1
            if time.perf_counter() - started > 3600:
                raise RuntimeError("the rescore did not finish within an hour")
        rescore_s = time.perf_counter() - started
        lag = sql_value(replica.url(DB), "SELECT now() - pg_last_xact_replay_timestamp()")
        result = {
            "contacts": seeded["contacts"], "interactions": seeded["interactions"], "rescore_s": round(rescore_s, 1),
            "worker_processes": args.worker_processes, "pinned": args.pin,
            "idle": {side: _summary(t) for side, t in idle.items()},
            "during_rescore": {side: _summary(t) for side, t in busy.items()},
            "replica_lag_after": str(lag),
        }
        print()
        print("| dashboard, uncached | from the primary p50 / p95 | from the replica p50 / p95 | requests per side |")
        print("| --- | --- | --- | --- |")
        for title, data in (("idle", result["idle"]), ("during a full rescore", result["during_rescore"])):
            p, r = data["primary"], data["replica"]
            print(f"| {title} | {p['p50_ms']:.0f} / {p['p95_ms']:.0f} ms | {r['p50_ms']:.0f} / {r['p95_ms']:.0f} ms | {p['n']} |")
        print(json.dumps(result))
        return 0
    finally:
        pool.stop_all()
        redis.destroy()
        if replica is not None:
            replica.destroy()
        primary.destroy()


if __name__ == "__main__":
    sys.exit(main())
