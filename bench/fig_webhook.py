"""Figure 9: outbound webhooks into a local receiver process (bench/webhook_sink.py).

Rate: 1,000 stage changes are recorded in one transaction through contacts.services.contact_set_stage
(each writes its outbox row there); from the commit, real Celery workers (one per core) sign and POST
them; the figure is deliveries per second until the last is marked delivered. Baseline, same run:
one plain `requests.post` per event from this process (no signing, no database), the floor of
what one sender can do against this receiver.

Latency: stage changes one at a time (each its own transaction, 20 a second); latency is the
receiver's arrival time minus the moment contact_set_stage was called."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from bench import harness
from bench.budgets import WEBHOOK_EVENTS, WEBHOOK_LATENCY_EVENTS, WEBHOOK_LATENCY_RATE
from bench.harness import Row

FIGURE = "9"
ROOT = Path(__file__).resolve().parents[1]


def _sink(log: Path) -> tuple[subprocess.Popen, int]:
    # stderr too: an inherited pipe would keep a caller's `| tail` waiting for the process.
    process = subprocess.Popen([sys.executable, "-m", "bench.webhook_sink", str(log)], cwd=ROOT, stdout=subprocess.PIPE,
                               stderr=subprocess.DEVNULL, text=True)
    ready = process.stdout.readline().split()
    if not ready or ready[0] != "ready":
        raise RuntimeError("the webhook receiver did not start")
    return process, int(ready[1])


def _arrivals(log: Path) -> list[tuple[float, dict]]:
    if not log.exists():
        return []
    rows = []
    for line in log.read_bytes().splitlines():
        stamp, _, body = line.partition(b" ")
        rows.append((float(stamp), json.loads(body)))
    return rows


def run(ctx) -> list[Row]:
    if not ctx.redis_url:
        return [harness.not_measured(FIGURE, "webhook deliveries, real workers", "REDIS_URL not set")]
    import requests
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.db import transaction

    from bench.run import ADMIN
    from contacts.models import Contact
    from contacts.services import contact_set_stage
    from crm.celery import app
    from webhooks.models import Delivery, Endpoint
    from webhooks.services import endpoint_save

    n, m = WEBHOOK_EVENTS[ctx.size], WEBHOOK_LATENCY_EVENTS[ctx.size]
    log = ctx.log_dir / "webhook-arrivals.log"
    log.unlink(missing_ok=True)
    admin = get_user_model().objects.get(username=ADMIN[0])
    # Each contact moves to a stage it is not in (a rerun on reused data moves them back).
    stages = dict(Contact.objects.order_by("pk").values_list("pk", "stage")[:n + m])
    ids = list(stages)
    target = {pk: "lead" if stage == "customer" else "customer" for pk, stage in stages.items()}
    if len(ids) < n + m:
        raise RuntimeError(f"only {len(ids)} contacts, {n + m} needed")
    saved_allow, saved_env = settings.CRM_WEBHOOK_ALLOW_PRIVATE, os.environ.get("CRM_WEBHOOK_ALLOW_PRIVATE")
    settings.CRM_WEBHOOK_ALLOW_PRIVATE = True
    os.environ["CRM_WEBHOOK_ALLOW_PRIVATE"] = "1"  # for the workers (harness.service_env copies the environment)
    sink, port = _sink(log)  # started last: an error above must not leave it running
    url = f"http://127.0.0.1:{port}/hook"
    try:
        # Baseline: one plain POST per event, sequentially, from this process.
        body = json.dumps({"id": "0", "type": "contact.stage_changed", "created_at": "", "data": {}}).encode()
        started = time.perf_counter()
        for _ in range(n):
            requests.post(url, data=body, headers={"Content-Type": "application/json"}, timeout=10)
        baseline = n / (time.perf_counter() - started)
        log.write_bytes(b"")

        Endpoint.objects.all().delete()
        endpoint, _secret = endpoint_save(data={"url": url, "events": ["contact.stage_changed"]}, by=admin)
        harness.purge_bench_queue()
        concurrency = min(2, os.cpu_count() or 1)
        with harness.celery_worker(ctx.url, concurrency=concurrency, log_dir=ctx.log_dir, name="webhooks") as worker:
            app.conf.task_always_eager = False
            try:
                with transaction.atomic():
                    for contact_id in ids[:n]:
                        contact_set_stage(contact=Contact(pk=contact_id), stage=target[contact_id], by=admin)
                committed = time.perf_counter()
                delivered = harness.wait_until(
                    lambda: Delivery.objects.filter(endpoint=endpoint, status="delivered").count() >= n, timeout=120,
                    interval=0.05)
                elapsed = time.perf_counter() - committed
                if not delivered:
                    raise RuntimeError(f"{Delivery.objects.filter(endpoint=endpoint, status='delivered').count()} of {n}"
                                       f" delivered within 120 s:\n{worker.log_tail()}")
                rate = n / elapsed

                sent: dict[int, float] = {}
                epoch = time.time() - time.perf_counter()
                t0 = time.perf_counter()
                for k, contact_id in enumerate(ids[n:n + m]):
                    delay = t0 + k / WEBHOOK_LATENCY_RATE - time.perf_counter()
                    if delay > 0:
                        time.sleep(delay)
                    sent[contact_id] = time.perf_counter() + epoch
                    contact_set_stage(contact=Contact(pk=contact_id), stage=target[contact_id], by=admin)
                harness.wait_until(lambda: len(_arrivals(log)) >= n + m, timeout=60, interval=0.05)
            finally:
                app.conf.task_always_eager = True
            if worker.proc.poll() is not None:
                raise RuntimeError(f"the worker died:\n{worker.log_tail()}")
        arrived = {body["data"]["contact_id"]: at for at, body in _arrivals(log) if body["data"]["contact_id"] in sent}
        latencies = [(arrived[i] - sent[i]) * 1000 for i in sent if i in arrived]
        duplicates = len(_arrivals(log)) - n - m
    finally:
        settings.CRM_WEBHOOK_ALLOW_PRIVATE = saved_allow
        if saved_env is None:
            os.environ.pop("CRM_WEBHOOK_ALLOW_PRIVATE", None)
        else:
            os.environ["CRM_WEBHOOK_ALLOW_PRIVATE"] = saved_env
        Endpoint.objects.all().delete()
        sink.terminate()
        sink.wait(timeout=10)
    missing = m - len(latencies)
    return [
        Row(FIGURE, f"webhook deliveries/s, {n:,} stage changes queued, {concurrency} worker processes", rate,
            "deliveries/s", "webhook_rate", baseline=baseline, baseline_label="one requests.post per event, in-process",
            ratio=rate / baseline,
            note=f"{elapsed:.2f} s from commit to the last delivered; {max(duplicates, 0)} duplicate requests"),
        Row(FIGURE, "stage change → receiver request, real worker + Redis, p95",
            harness.percentile(latencies, 95) if latencies and not missing else float("inf"), "ms", "webhook_p95",
            note=f"{m} changes at {WEBHOOK_LATENCY_RATE}/s; median {harness.median(latencies):.0f} ms"
                 + (f"; {missing} never arrived" if missing else "") if latencies else "none arrived"),
    ]
