"""Figure 3: bulk ingestion through the REST API, gunicorn on loopback.

POST /api/interactions/ with lists of 500 events (token auth, two client threads for the
two gunicorn workers), against single-object POSTs as the baseline. Scoring is queued to
Redis meanwhile with no worker running; then one worker process starts and we time how
fast the touched contacts' scores catch up (needs_rescore cleared)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import requests
from django.utils import timezone

from bench import harness
from bench.budgets import API_BATCH, API_BATCHES, API_SINGLE_POSTS
from bench.harness import ROOT, Row, Service

FIGURE = "3"
KINDS = ("page_viewed", "email_opened", "ad_clicked", "form_submitted", "email_clicked")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _gunicorn(ctx, workers: int) -> tuple[Service, str]:
    port = _free_port()
    log_path = ctx.log_dir / "gunicorn.log"
    log_file = open(log_path, "w")  # closed with the process (see run)
    proc = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "bench.wsgi:application", "-b", f"127.0.0.1:{port}", "-w", str(workers),
         "--timeout", "300", "--log-level", "warning"],
        cwd=ROOT, env=harness.service_env(ctx.url), stdout=log_file, stderr=subprocess.STDOUT)
    service = Service("gunicorn", proc, log_path, extra={"log_file": log_file})
    base = f"http://127.0.0.1:{port}"

    def up() -> bool:
        try:
            return requests.get(f"{base}/healthz", timeout=1).status_code < 500
        except requests.RequestException:
            return proc.poll() is not None

    if not harness.wait_until(up, timeout=60, interval=0.2) or proc.poll() is not None:
        service.stop()
        raise RuntimeError(f"gunicorn did not start:\n{service.log_tail()}")
    return service, base


def _score_stale() -> None:
    from scoring.rescoring import rescore_stale

    while rescore_stale(limit=5000):
        pass


def _events(ids: list[int], start: int, n: int, tag: str) -> list[dict]:
    now = timezone.now()
    return [{"contact": ids[(start + k) % len(ids)], "kind": KINDS[k % len(KINDS)], "channel": "web", "source": "bench-api",
             "external_id": f"{tag}-{start + k}", "occurred_at": (now - timedelta(seconds=k)).isoformat()}
            for k in range(n)]


def run(ctx) -> list[Row]:
    if not ctx.redis_url:
        return [harness.not_measured(FIGURE, "bulk ingestion through the API", "REDIS_URL not set")]
    from rest_framework.authtoken.models import Token

    from bench.run import API_USER
    from contacts.models import Contact
    token = Token.objects.get(user__username=API_USER).key
    run_tag = f"{os.getpid()}-{int(time.time())}"  # external ids unique per run: a rerun must not be a replay
    headers = {"Authorization": f"Token {token}", "Content-Type": "application/json"}
    batches = API_BATCHES[ctx.size]
    pool_size = min(batches * API_BATCH, ctx.work.contacts // 2)
    ids = list(range(ctx.work.contacts // 2 + 1, ctx.work.contacts // 2 + 1 + pool_size))
    harness.purge_bench_queue()
    _score_stale()  # flags left by earlier figures would otherwise count as this burst's backlog
    workers = min(2, os.cpu_count() or 1)
    service, base = _gunicorn(ctx, workers)
    try:
        probe = requests.post(f"{base}/api/interactions/", json=_events(ids, 0, 1, f"probe-{run_tag}"), headers=headers, timeout=60)
        if probe.status_code in (404, 405):
            return [harness.not_measured(FIGURE, "bulk ingestion through the API", "API missing")]
        if probe.status_code >= 300:
            raise RuntimeError(f"POST /api/interactions/ answered {probe.status_code}: {probe.text[:300]}")
        url = f"{base}/api/interactions/"

        def post_batch(b: int) -> int:
            response = requests.post(url, json=_events(ids, b * API_BATCH, API_BATCH, f"batch-{run_tag}"), headers=headers, timeout=300)
            if response.status_code != 201:
                raise RuntimeError(f"batch answered {response.status_code}: {response.text[:300]}")
            return response.json()["created"]

        def post_one(k: int) -> int:
            response = requests.post(url, json=_events(ids, k, 1, f"single-{run_tag}")[0], headers=headers, timeout=60)
            if response.status_code != 201:
                raise RuntimeError(f"single POST answered {response.status_code}: {response.text[:300]}")
            return 1

        with ThreadPoolExecutor(workers) as clients:
            started = time.perf_counter()
            accepted = sum(clients.map(post_batch, range(batches)))
            batch_s = time.perf_counter() - started
            singles = API_SINGLE_POSTS[ctx.size]
            started = time.perf_counter()
            sum(clients.map(post_one, range(singles)))
            single_s = time.perf_counter() - started
    finally:
        service.stop()
        service.extra["log_file"].close()
    batch_rate, single_rate = accepted / batch_s, singles / single_s
    rows = [Row(FIGURE, "bulk ingestion through the API (batches of 500)", batch_rate, "interactions/s", "api_ingest_rate",
                baseline=single_rate, baseline_label="single-object POSTs", ratio=batch_rate / single_rate,
                note=f"{accepted:,} interactions in {batches} batches over {workers} connections to gunicorn -w {workers}; "
                     f"{singles} single POSTs for the baseline")]

    # Catch-up: everything the API queued, scored by one worker process.
    stale = Contact.objects.filter(needs_rescore=True)
    pending = stale.count()
    limit = min(180, 30 + pending / 20)  # enough to measure a rate; a backlog left is reported
    with harness.celery_worker(ctx.url, concurrency=1, log_dir=ctx.log_dir, name="catchup") as worker:
        started = time.perf_counter()
        done = harness.wait_until(lambda: not stale.exists() or worker.proc.poll() is not None, timeout=limit, interval=0.1)
        catch_s = time.perf_counter() - started
        left = stale.count()
    harness.purge_bench_queue()
    if not done or left:
        _score_stale()
        return rows + [Row(FIGURE, "scoring catch-up after the API burst, 1 worker process", (pending - left) / catch_s,
                           "contacts/s", "api_catch_up_rate", note=f"gave up after {catch_s:.0f} s with {left:,} of {pending:,} left")]
    rows.append(Row(FIGURE, "scoring catch-up after the API burst, 1 worker process", pending / catch_s, "contacts/s",
                    "api_catch_up_rate", note=f"{pending:,} contacts scored in {catch_s:.1f} s (tasks queued in Redis by the API)"))
    return rows
