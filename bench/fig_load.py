"""Figure 10: single events under load — N clients × T s, one event per request, against
gunicorn started by `bin/saring web` as in production (DEBUG off, access log on), with a
real Celery worker scoring meanwhile.

Each client is a thread with its own keep-alive connection posting one event at a time to
POST /api/interactions/ (token auth), as the fault suite's load test does. Two web-server
configurations run interleaved in short slices (A B A B ...), so a load change on the shared
machine hits both alike: the sizing bin/saring uses now (the candidate) and a baseline.
Besides req/s and latency we report CPU per request (web processes, and their PostgreSQL
backends, found by application_name), which depends far less on what else the machine runs.
"Lost" = acknowledged (2xx) but not stored: any lost event or error makes the rate 0 (a miss)."""

from __future__ import annotations

import http.client
import json
import os
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import requests

from bench import harness
from bench.budgets import LOAD_CLIENTS, LOAD_SECONDS, LOAD_SLICES
from bench.harness import QUEUE, ROOT, Row, Service

FIGURE = "10"
KINDS = ("page_viewed", "email_opened", "email_clicked", "ad_clicked", "form_submitted", "content_downloaded",
         "price_requested", "demo_requested", "competitor_compared")
CONTACTS = 64
TICK = os.sysconf("SC_CLK_TCK")


@dataclass
class Config:
    label: str
    env: dict[str, str]  # WEB_CONCURRENCY, GUNICORN_THREADS, ... for bin/saring web
    root: Path = ROOT  # the checkout whose bin/saring runs (another commit's, for a before/after)


@dataclass
class Tally:
    latencies: list[float] = field(default_factory=list)
    acknowledged: int = 0
    errors: int = 0
    failures: list[str] = field(default_factory=list)
    seconds: float = 0.0
    cpu: dict[str, float] = field(default_factory=dict)  # CPU seconds by part: web, pg, worker, clients


def _cpu_seconds(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / TICK


def _tree(pid: int) -> list[int]:
    return [pid, *(c for child in harness.child_pids(pid) for c in _tree(child))]


def _worker_pids(shell_pid: int) -> list[int]:
    """gunicorn's worker processes under `sh bin/saring web` (exec'd: the shell's pid is the master)."""
    return harness.child_pids(shell_pid)


def _backends(app_name: str) -> list[int]:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pid FROM pg_stat_activity WHERE application_name = %s", [app_name])
        return [pid for (pid,) in cursor.fetchall()]


def _web(ctx, config: Config, app_name: str) -> tuple[Service, str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    log_path = ctx.log_dir / f"web-{app_name}.log"
    log_file = open(log_path, "w")  # closed with the process (see run)
    url = f"{ctx.url}{'&' if '?' in ctx.url else '?'}application_name={app_name}"
    env = harness.service_env(url, BIND="127.0.0.1", PORT=str(port), CELERY_TASK_DEFAULT_QUEUE=QUEUE,
                              CRM_API_RATE="1000000/min", **config.env)
    proc = subprocess.Popen(["sh", str(config.root / "bin" / "saring"), "web"], cwd=config.root, env={**env, "PYTHON": sys.executable},
                            stdout=log_file, stderr=subprocess.STDOUT)
    service = Service("gunicorn", proc, log_path, extra={"log_file": log_file})
    base = f"http://127.0.0.1:{port}"

    def up() -> bool:
        try:
            return requests.get(f"{base}/healthz", timeout=1).status_code < 500 or proc.poll() is not None
        except requests.RequestException:
            return proc.poll() is not None

    if not harness.wait_until(up, timeout=60, interval=0.2) or proc.poll() is not None:
        service.stop()
        raise RuntimeError(f"gunicorn did not start:\n{service.log_tail()}")
    return service, base


class _Connection:
    """One client's keep-alive HTTP/1.1 connection, posting JSON with http.client. The clients share
    the bench machine's cores with the server they load: `requests` spent ~1.0–1.4 ms of CPU per
    call there, http.client about a third of that (docs/performance.md, round two session nine)."""

    def __init__(self, base: str, token: str):
        url = urlsplit(base)
        self.host, self.port = url.hostname, url.port
        self.headers = {"Authorization": f"Token {token}", "Content-Type": "application/json"}
        self.http: http.client.HTTPConnection | None = None

    def post(self, path: str, payload: dict) -> tuple[int, bytes]:
        if self.http is None:
            self.http = http.client.HTTPConnection(self.host, self.port, timeout=30)
        try:
            self.http.request("POST", path, json.dumps(payload).encode(), self.headers)
            response = self.http.getresponse()
            return response.status, response.read()
        except (OSError, http.client.HTTPException):
            self.http.close()
            self.http = None  # the next request opens a new connection; this one counts as an error
            raise


def _slice(base: str, token: str, ids: list[int], seconds: float, tag: str, tally: Tally, *, measure, booted) -> None:
    """LOAD_CLIENTS threads post one event per request for `seconds` after a warm-up (at least
    2 s and 100 answers, and `booted()`: every worker has served, so no worker's boot is counted);
    `measure` returns the CPU seconds so far by part (web, pg, ...), read when the warm-up ends and at the end."""
    lock = threading.Lock()
    warm = threading.Event()
    stop = threading.Event()
    counted: list[float] = []
    acked = [0]

    def client(n: int) -> None:
        connection = _Connection(base, token)
        k = 0
        while not stop.is_set():
            k += 1
            payload = {"contact": ids[(n * 7 + k) % len(ids)], "kind": KINDS[(n + k) % len(KINDS)], "source": "bench-load",
                       "external_id": f"{tag}-{n}-{k}"}
            measured = warm.is_set()
            t0 = time.monotonic()
            try:
                code, body = connection.post("/api/interactions/", payload)
                ok, text = code in (200, 201), f"{code}: {body[:200]!r}"
            except (OSError, http.client.HTTPException) as exc:
                ok, text = False, repr(exc)
            t1 = time.monotonic()
            with lock:
                acked[0] += ok  # warm-up events count for "lost" too
                if not ok:
                    tally.errors += 1
                    if len(tally.failures) < 3:
                        tally.failures.append(text)
                elif measured and not stop.is_set():
                    counted.append(t1 - t0)

    threads = [threading.Thread(target=client, args=(n,)) for n in range(LOAD_CLIENTS)]
    warm_started = time.monotonic()
    for thread in threads:
        thread.start()
    harness.wait_until(lambda: time.monotonic() - warm_started >= 2 and acked[0] >= 100 and booted(), timeout=90, interval=0.2)
    before = measure()
    started = time.monotonic()
    warm.set()
    time.sleep(seconds)
    after = measure()
    stop.set()
    elapsed = time.monotonic() - started
    for thread in threads:
        thread.join()
    tally.latencies += counted
    tally.acknowledged += acked[0]
    tally.seconds += elapsed
    for part, spent in after.items():
        tally.cpu[part] = tally.cpu.get(part, 0.0) + spent - before[part]


def configs() -> tuple[Config, Config]:
    """(candidate, baseline): bin/saring's default sizing now, and the old one (3 sync workers).
    BENCH_LOAD_CANDIDATE="WEB_CONCURRENCY=4 GUNICORN_THREADS=4" tries another sizing (and
    BENCH_LOAD_BASELINE_SIZING the same for the baseline);
    BENCH_LOAD_BASELINE_ROOT=<a checkout of an earlier commit> makes the baseline that commit's
    request path with its own default sizing (e.g. `git archive eb6ea65 | tar -x -C /tmp/old`)."""
    if old := os.environ.get("BENCH_LOAD_BASELINE_ROOT"):
        baseline = Config(f"{Path(old).name} checkout, its default sizing", {}, Path(old))
    elif sizing := os.environ.get("BENCH_LOAD_BASELINE_SIZING"):  # e.g. "WEB_CONCURRENCY=2 GUNICORN_THREADS=8"
        baseline = Config(f"bin/saring with {sizing}", dict(item.split("=", 1) for item in sizing.split()))
    else:
        baseline = Config("old default: 3 sync workers", {"WEB_CONCURRENCY": "3", "GUNICORN_THREADS": "1"})
    override = dict(item.split("=", 1) for item in os.environ.get("BENCH_LOAD_CANDIDATE", "").split())  # sizing trials
    return (Config("bin/saring default" + (f" with {' '.join(f'{k}={v}' for k, v in override.items())}" if override else ""),
                   override), baseline)


def run(ctx) -> list[Row]:
    if not ctx.redis_url:
        return [harness.not_measured(FIGURE, "single events under load", "REDIS_URL not set")]
    from django.db import connection
    from rest_framework.authtoken.models import Token

    from bench.run import API_USER
    from contacts.models import Interaction

    token = Token.objects.get(user__username=API_USER).key
    step = max(1, ctx.work.contacts // (CONTACTS + 1))
    ids = list(range(3 + step // 2, ctx.work.contacts + 1, step))[:CONTACTS]
    total = float(os.environ.get("BENCH_LOAD_SECONDS") or LOAD_SECONDS[ctx.size])  # shorter trials while sizing
    seconds = total / LOAD_SLICES[ctx.size]
    tag = f"load-{os.getpid()}-{int(time.time())}"
    candidate, baseline = configs()
    tallies = {candidate.label: Tally(), baseline.label: Tally()}
    load: list[float] = []
    harness.purge_bench_queue()
    with harness.celery_worker(ctx.url, concurrency=min(2, os.cpu_count() or 1), log_dir=ctx.log_dir, name="load") as worker:
        for k in range(LOAD_SLICES[ctx.size]):
            for i, config in enumerate((candidate, baseline) if k % 2 == 0 else (baseline, candidate)):
                app_name = f"bench-load-{os.getpid()}-{k}-{i}"
                service, base = _web(ctx, config, app_name)
                try:
                    def measure(service=service, app_name=app_name) -> dict[str, float]:
                        # The scoring worker and the client threads (this process) share the 2 cores with the web server.
                        return {"web": _cpu_seconds(_tree(service.proc.pid)), "pg": _cpu_seconds(_backends(app_name)),
                                "worker": _cpu_seconds(_tree(worker.proc.pid)), "clients": time.process_time()}

                    def booted(service=service, app_name=app_name) -> bool:
                        # Each worker opens its first database connection when it serves its first request.
                        return len(_backends(app_name)) >= len(_worker_pids(service.proc.pid))

                    load.append(os.getloadavg()[0])
                    _slice(base, token, ids, seconds, f"{tag}-{k}-{i}", tallies[config.label], measure=measure, booted=booted)
                finally:
                    service.stop()
                    service.extra["log_file"].close()
        connection.close()
    stored_total = Interaction.objects.filter(source="bench-load", external_id__startswith=f"{tag}-").count()
    harness.purge_bench_queue()
    acked_total = sum(t.acknowledged for t in tallies.values())
    lost = acked_total - stored_total

    def figures(t: Tally) -> dict[str, float]:
        n = len(t.latencies)
        ms = [x * 1000 for x in t.latencies] or [float("inf")]
        return {"rate": n / t.seconds if t.seconds else 0.0, "p50": harness.median(ms), "p99": harness.percentile(ms, 99),
                **{f"{part}_ms": 1000 * spent / max(n, 1) for part, spent in t.cpu.items()}}

    a, b = figures(tallies[candidate.label]), figures(tallies[baseline.label])
    errors = sum(t.errors for t in tallies.values())
    note_common = (f"{LOAD_CLIENTS} clients × {total:.0f} s per configuration in {LOAD_SLICES[ctx.size]} "
                   f"interleaved slices; load average {min(load):.1f}–{max(load):.1f}; {errors} errors; lost {lost}")
    if errors:
        note_common += f" (e.g. {tallies[candidate.label].failures[:1] or tallies[baseline.label].failures[:1]})"

    def cpu(f: dict) -> str:
        return (f"CPU per request {f['web_ms']:.1f} ms web + {f['pg_ms']:.1f} ms PostgreSQL (scoring worker"
                f" {f['worker_ms']:.1f} ms, client threads {f['clients_ms']:.1f} ms)")

    rows = [
        Row(FIGURE, "single events under load: requests/s", a["rate"] if not lost and not errors else 0.0, "req/s", "load_rate",
            baseline=b["rate"], baseline_label=baseline.label, ratio=a["rate"] / b["rate"] if b["rate"] else None,
            note=f"{candidate.label}: {cpu(a)}; baseline {cpu(b)}; {note_common}"),
        Row(FIGURE, "single events under load: p99", a["p99"], "ms", "load_p99", baseline=b["p99"], baseline_label=baseline.label,
            ratio=b["p99"] / a["p99"] if a["p99"] else None,
            note=f"ratio = baseline / ours; p50 {a['p50']:.0f} ms (baseline {b['p50']:.0f} ms); {acked_total:,} acknowledged,"
                 f" {stored_total:,} stored"),
    ]
    return rows
