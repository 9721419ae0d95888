"""Figure 8: a campaign to every eligible contact of a saved segment (the starter library's
education email to leads), sent through nurture.campaigns into a local SMTP server process
(tests/nurture/smtp_sink.py, aiosmtpd) that accepts and discards, against a baseline of one
django.core.mail.send_mail per contact (one SMTP connection each) measured in the same run, into the
same sink, over the same transport, to the same contacts.

The judged transport is STARTTLS + AUTH (the sink requires both, as every production relay on port
587 does; docs/decisions.md says why); plain SMTP on loopback is measured too, for information. The
campaign is sent the way production sends it: the fill task and the batch tasks run on a real Celery
worker with one process per core (two on the bench machine), each batch over CRM_EMAIL_CONNECTIONS
kept-open connections (nurture.smtp_pool); batches are claimed with the conditional UPDATE, so no
message goes out twice. Without REDIS_URL there is no worker, and the campaign runs in this process.
The same campaign in one process (Celery in-process) is reported beside it, so the share of the
second process is visible.

The judged ratio is not the 20,000-recipient campaign against a baseline run minutes earlier or later (on a
shared machine the load moves in between: round six measured 2.8× once, when the baseline met a quiet moment the
campaign never had) but the median of CAMPAIGN_PAIRS interleaved pairs: a short baseline run (send_mail calls)
and a campaign to recipients of its own on the same worker, back to back, the order alternating, so both sides
of a pair see the same seconds of load. A short campaign pays its fill, its queueing and the wait for "done" on
fewer messages, so a pair is if anything harder on the campaign. The 20,000-recipient campaign keeps the rate
budget; its ratio to the faster of the baseline runs before and after it is printed as information.

Both paths are warmed up first (a campaign to other contacts, a few send_mail calls): the budget is
about the sustained rate, not the first message's imports and URL resolver. The sink's own ceiling
(prebuilt bytes over as many kept-open connections, from one Python client process, so a lower
bound) is measured too, and the CPU seconds per message of the senders and of the sink, to say who
the bottleneck is."""

from __future__ import annotations

import os
import secrets
import shutil
import smtplib
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from bench import harness
from bench.budgets import (
    CAMPAIGN_BASELINE_SAMPLE,
    CAMPAIGN_PAIR_BASELINE,
    CAMPAIGN_PAIR_RECIPIENTS,
    CAMPAIGN_PAIRS,
    CAMPAIGN_RECIPIENTS,
)
from bench.harness import Row, median

FIGURE = "8"
SINK = Path(__file__).resolve().parents[1] / "tests" / "nurture" / "smtp_sink.py"
SOURCE = "bench-campaign"
WARMUP_SOURCE = "bench-campaign-warmup"
PAIR_SOURCE = "bench-campaign-pair"  # and the pair's number: each pair's campaign has recipients of its own
WARMUP = 400  # recipients of the untimed warm-up campaign: four batches, so every worker process sends some
SINK_CEILING_MESSAGES = {"tiny": 600, "S": 3_000, "L": 3_000}


@dataclass(frozen=True)
class Transport:
    name: str
    tls: tuple[Path, Path] | None = None  # the sink's certificate and key: it requires STARTTLS
    auth: tuple[str, str] | None = None  # it requires AUTH (after STARTTLS)

    def sink_env(self) -> dict[str, str]:
        env = {"SINK_TLS_CERT": str(self.tls[0]), "SINK_TLS_KEY": str(self.tls[1])} if self.tls else {}
        return {**env, **({"SINK_AUTH": ":".join(self.auth)} if self.auth else {})}

    def email_url(self, port: int) -> str:
        user = f"{self.auth[0]}:{self.auth[1]}@" if self.auth else ""
        return f"smtp{'+tls' if self.tls else ''}://{user}127.0.0.1:{port}"

    def connect(self, port: int) -> smtplib.SMTP:
        """A client connection as Django's backend opens one (for the sink's ceiling)."""
        smtp = smtplib.SMTP("127.0.0.1", port)
        if self.tls:
            smtp.starttls(context=ssl.create_default_context(cafile=str(self.tls[0])))
        if self.auth:
            smtp.login(*self.auth)
        return smtp


def _certificate(directory: Path) -> tuple[Path, Path]:
    """A throwaway self-signed certificate for 127.0.0.1 (openssl), for the STARTTLS figure."""
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                    "-keyout", str(key), "-out", str(cert), "-days", "1", "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1"], check=True, capture_output=True)
    return cert, key


def _sink(transport: Transport) -> tuple[subprocess.Popen, int]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    process = subprocess.Popen([sys.executable, str(SINK), str(port), "-"], stdout=subprocess.PIPE, text=True,
                               env={**os.environ, **transport.sink_env()})
    if process.stdout.readline().strip() != "ready":
        raise RuntimeError("the SMTP sink did not start (is aiosmtpd installed? requirements-dev.txt)")
    return process, port


def _cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process so far, from /proc."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _sessions() -> int:
    """PostgreSQL connections opened so far to this database (its statistics; flushed within about a second)."""
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute("SELECT pg_stat_force_next_flush()")  # this session's own counters, now
        cur.execute("SELECT pg_stat_clear_snapshot()")
        cur.execute("SELECT sessions FROM pg_stat_database WHERE datname = current_database()")
        return cur.fetchone()[0]


def _recipients(n: int, *, source: str, skip: int = 0) -> None:
    """n contacts become eligible leads of the segment: pinned to lead, opted in, with an address."""
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute(
            "UPDATE contacts_contact SET stage = 'lead', stage_pinned = true, consent_email = true, do_not_contact = false,"
            " source = %s, email = 'bench-campaign-' || id || '@example.co.id'"
            " WHERE id IN (SELECT id FROM contacts_contact ORDER BY id LIMIT %s OFFSET %s)", [source, n, skip])


def _sink_ceiling(transport: Transport, port: int, raw: bytes, n: int, connections: int) -> float:
    """Messages/s the sink takes when the client costs little: prebuilt bytes, kept-open connections."""
    def send(count: int) -> None:
        with transport.connect(port) as smtp:
            for i in range(count):
                smtp.sendmail("noreply@saring.example", [f"ceiling-{i}@example.co.id"], raw)

    threads = [threading.Thread(target=send, args=(n // connections,)) for _ in range(connections)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return (n // connections * connections) / (time.perf_counter() - started)


@contextmanager
def _email_settings(transport: Transport, port: int):
    """This process's email settings pointed at the sink (the baseline and the in-process campaign)."""
    from django.conf import settings

    keys = ("EMAIL_BACKEND", "EMAIL_HOST", "EMAIL_PORT", "EMAIL_USE_TLS", "EMAIL_USE_SSL", "EMAIL_HOST_USER",
            "EMAIL_HOST_PASSWORD", "CRM_EMAIL_RATE_PER_MINUTE")
    saved, saved_cafile = {k: getattr(settings, k, None) for k in keys}, os.environ.get("SSL_CERT_FILE")
    try:
        settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
        settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_USE_SSL = "127.0.0.1", port, False
        settings.EMAIL_USE_TLS = transport.tls is not None
        settings.EMAIL_HOST_USER, settings.EMAIL_HOST_PASSWORD = transport.auth or ("", "")
        if transport.tls:
            os.environ["SSL_CERT_FILE"] = str(transport.tls[0])  # ssl.create_default_context() trusts the sink
        settings.CRM_EMAIL_RATE_PER_MINUTE = 6_000_000  # pacing is the operator's choice; the bench measures the ceiling
        yield
    finally:
        for key, value in saved.items():
            setattr(settings, key, value)
        if saved_cafile is None:
            os.environ.pop("SSL_CERT_FILE", None)
        else:
            os.environ["SSL_CERT_FILE"] = saved_cafile


@dataclass
class Sent:
    rate: float  # messages/s
    elapsed: float
    cpu: tuple[float, float]  # CPU seconds per message: the sending processes, the sink
    rss: tuple[float, float]  # peak RSS of the sending processes before and after, MB
    processes: int
    sessions: int = 0  # PostgreSQL connections opened meanwhile (Celery's DB reuse: few)


@dataclass
class Measured:
    transport: Transport
    baseline: float  # messages/s, one send_mail per contact
    baseline_cpu: tuple[float, float]
    campaign: Sent  # on the worker's processes (or in-process without a broker)
    one_process: Sent | None = None
    baseline_after: float = 0.0  # the other of the two baseline runs (before and after the campaigns): the slower
    faster_run: str = "before"  # which of the two baseline runs was the faster (and compared): before or after
    ceiling: float = 0.0
    size: int = 0
    pairs: list[Pair] = field(default_factory=list)  # the judged ratio: baseline and campaign slices back to back


class _Senders:
    """The processes that send: the worker's (its main process and children) or this one."""

    def __init__(self, worker=None):
        self.worker = worker

    def pids(self) -> list[int]:
        return [self.worker.proc.pid, *harness.child_pids(self.worker.proc.pid)] if self.worker else [os.getpid()]

    def cpu(self) -> float:
        return sum(map(_cpu_seconds, self.pids())) if self.worker else time.process_time()

    def peak(self) -> float:
        return max(map(harness.peak_rss_mb, self.pids()))


def _send(segment, *, n: int, worker=None):
    """One campaign to `segment` through nurture.campaigns, as production starts it; with `worker` its fill and
    batches run on the worker's processes (this waits until it is done), without one in this process."""
    from django.contrib.auth import get_user_model

    from bench.run import ADMIN
    from nurture import campaigns
    from nurture.models import Campaign, Message

    admin = get_user_model().objects.get(username=ADMIN[0])  # the audience is what the sender may see
    message = Message.objects.get(starter_key="all-edu-id")
    campaign = campaigns.campaign_send(campaign=campaigns.campaign_create(message=message, segment=segment, by=admin),
                                       by=admin)  # in-process: fill, then every batch, after commit
    if worker and not harness.wait_until(
            lambda: Campaign.objects.filter(pk=campaign.pk, status=Campaign.Status.DONE).exists(),
            timeout=60 + n / 20, interval=0.02):
        raise RuntimeError(f"campaign {campaign.pk} not done in time:\n{worker.log_tail()}")
    return campaign


def _check_sent(campaign, n: int) -> None:
    from nurture.models import Campaign, Delivery

    campaign.refresh_from_db()
    sent = Delivery.objects.filter(campaign=campaign, status="sent").count()
    if campaign.status != Campaign.Status.DONE or sent != n:
        raise RuntimeError(f"campaign {campaign.pk} ended {campaign.status} with {sent} of {n} sent")


@contextmanager
def _on_worker(worker):
    from crm.celery import app

    if worker:
        app.conf.task_always_eager = False
    try:
        yield
    finally:
        app.conf.task_always_eager = True


def _campaign(ctx, *, n: int, segments: tuple, sink_pid: int, worker=None) -> Sent:
    """The warm-up campaign, then the timed one; with `worker` they run on its processes."""
    senders = _Senders(worker)
    with _on_worker(worker):
        _send(segments[1], n=WARMUP, worker=worker)
        rss_before = senders.peak()
        sessions = _sessions()
        sink_cpu, own_cpu, started = _cpu_seconds(sink_pid), senders.cpu(), time.perf_counter()
        campaign = _send(segments[0], n=n, worker=worker)
        elapsed = time.perf_counter() - started
        used = ((senders.cpu() - own_cpu) / n, (_cpu_seconds(sink_pid) - sink_cpu) / n)
        time.sleep(1.1)  # the workers' statistics reach the shared counters within a second
        sessions = _sessions() - sessions
    _check_sent(campaign, n)
    return Sent(n / elapsed, elapsed, used, (rss_before, senders.peak()), len(senders.pids()) - (1 if worker else 0),
                sessions)


@dataclass
class Pair:
    """One baseline slice and one campaign slice, measured back to back."""

    baseline: float  # messages/s
    campaign: float
    baseline_cpu: float  # ms a message, sender + sink
    campaign_cpu: float

    @property
    def ratio(self) -> float:
        return self.campaign / self.baseline

    @property
    def cpu_ratio(self) -> float:
        return self.baseline_cpu / self.campaign_cpu


def _pairs(ctx, *, segments: list, baseline, sink_pid: int, worker=None) -> list[Pair]:
    """The judged ratio's measurements: a short baseline run and a short campaign (the same path, on the same
    worker), back to back, CAMPAIGN_PAIRS times, the order alternating, so that both sides of a pair see the
    machine's load of the same few seconds."""
    n = CAMPAIGN_PAIR_RECIPIENTS[ctx.size]
    senders, pairs = _Senders(worker), []
    for i, segment in enumerate(segments):
        def campaign(segment=segment) -> tuple[float, float]:
            sink_cpu, own_cpu, started = _cpu_seconds(sink_pid), senders.cpu(), time.perf_counter()
            with _on_worker(worker):
                sent = _send(segment, n=n, worker=worker)
            elapsed = time.perf_counter() - started
            used = (senders.cpu() - own_cpu + _cpu_seconds(sink_pid) - sink_cpu) / n
            _check_sent(sent, n)
            return n / elapsed, used

        if i % 2 == 0:
            (b_rate, b_cpu), (c_rate, c_cpu) = baseline(CAMPAIGN_PAIR_BASELINE[ctx.size]), campaign()
        else:
            (c_rate, c_cpu), (b_rate, b_cpu) = campaign(), baseline(CAMPAIGN_PAIR_BASELINE[ctx.size])
        pairs.append(Pair(b_rate, c_rate, sum(b_cpu) * 1000, c_cpu * 1000))
    return pairs


def _measure(ctx, *, n: int, sample: list[str], transport: Transport, one_process: bool, judged: bool) -> Measured:
    """Baseline, then the campaign (on a worker when there is a broker), then for the judged transport the
    interleaved pairs on the same worker, then optionally the same campaign in one process, the baseline
    again, and the sink's ceiling; all into one fresh sink process."""
    from django.conf import settings
    from django.core.mail import send_mail

    from contacts.models import Contact, Segment
    from nurture import email as mail
    from nurture.models import Message
    from nurture.services import message_values

    message = Message.objects.get(starter_key="all-edu-id")
    stamp = time.time_ns()
    segments = (Segment.objects.create(name=f"Bench {stamp}", filters={"source": SOURCE}),
                Segment.objects.create(name=f"Bench warm-up {stamp}", filters={"source": WARMUP_SOURCE}))
    pair_segments = [Segment.objects.create(name=f"Bench pair {i} {stamp}", filters={"source": f"{PAIR_SOURCE}-{i}"})
                     for i in range(CAMPAIGN_PAIRS[ctx.size])] if judged else []
    sink, port = _sink(transport)
    try:
        with _email_settings(transport, port):
            def baseline(count: int = len(sample)) -> tuple[float, tuple[float, float]]:
                sink_cpu, own_cpu, started = _cpu_seconds(sink.pid), time.process_time(), time.perf_counter()
                for address in sample[:count]:
                    send_mail(message.subject, message.body, settings.CRM_EMAIL_FROM, [address])
                return count / (time.perf_counter() - started), (
                    (time.process_time() - own_cpu) / count, (_cpu_seconds(sink.pid) - sink_cpu) / count)

            for address in sample[:5]:
                send_mail(message.subject, message.body, settings.CRM_EMAIL_FROM, [address])  # warm-up, untimed
            measured = Measured(transport, *baseline(), campaign=None)  # type: ignore[arg-type]
            if ctx.redis_url:
                harness.purge_bench_queue()
                env = {"EMAIL_URL": transport.email_url(port), "CRM_EMAIL_RATE_PER_MINUTE": "6000000",
                       **({"SSL_CERT_FILE": str(transport.tls[0])} if transport.tls else {})}
                with harness.celery_worker(ctx.url, concurrency=min(2, os.cpu_count() or 1), log_dir=ctx.log_dir,
                                           name=f"campaign-{'tls' if transport.tls else 'plain'}", env=env) as worker:
                    measured.campaign = _campaign(ctx, n=n, segments=segments, sink_pid=sink.pid, worker=worker)
                    measured.pairs = _pairs(ctx, segments=pair_segments, baseline=baseline, sink_pid=sink.pid,
                                            worker=worker)
                if one_process:
                    measured.one_process = _campaign(ctx, n=n, segments=segments, sink_pid=sink.pid)
            else:
                measured.campaign = _campaign(ctx, n=n, segments=segments, sink_pid=sink.pid)
                measured.pairs = _pairs(ctx, segments=pair_segments, baseline=baseline, sink_pid=sink.pid)
            # The baseline again after the campaigns; the faster of the two is shown beside the 20,000-recipient
            # campaign (on a shared machine the load moves between the two; the faster gives the smaller ratio).
            after, after_cpu = baseline()
            measured.baseline_after = after
            if after > measured.baseline:  # the faster run is compared, with its own CPU figures
                measured.baseline, measured.baseline_after, measured.baseline_cpu = after, measured.baseline, after_cpu
                measured.faster_run = "after"
            contact = Contact.objects.select_related("owner").get(email=sample[0])
            content = mail.compose(delivery_id=1, subject=message.subject, body=message.body, values=message_values(contact))
            raw = mail.build(content=content, to=contact.email, delivery_id=1).message().as_bytes(linesep="\r\n")
            connections = settings.CRM_EMAIL_CONNECTIONS * measured.campaign.processes
            measured.ceiling = _sink_ceiling(transport, port, raw, SINK_CEILING_MESSAGES[ctx.size], connections)
            measured.size = len(raw)
        return measured
    finally:
        sink.terminate()
        sink.wait(timeout=10)


def _cpu_note(sent: Sent, m: Measured) -> str:
    from django.conf import settings

    from nurture import campaigns

    ms = 1000
    where = f"{sent.processes} worker processes" if sent.processes > 1 else "one process"
    return (f"{sent.elapsed:.1f} s in all (fill, then batches of {campaigns.BATCH}, each over"
            f" {settings.CRM_EMAIL_CONNECTIONS} connections at once, on {where}); CPU per message:"
            f" {sent.cpu[0] * ms:.2f} ms in the senders, {sent.cpu[1] * ms:.2f} ms in the sink"
            f" (baseline: {m.baseline_cpu[0] * ms:.2f} ms here, {m.baseline_cpu[1] * ms:.2f} ms in the sink: CPU ratio"
            f" {sum(m.baseline_cpu) / sum(sent.cpu):.1f}×); the baseline ran before and after the campaigns, the faster"
            f" run is compared ({m.baseline:.0f} messages/s {m.faster_run} them, {m.baseline_after:.0f} {'after' if m.faster_run == 'before' else 'before'}); {sent.sessions} PostgreSQL"
            f" connections opened during the campaign")


def _rows(m: Measured, n: int, sample: int, *, judged: bool, size: str) -> list[Row]:
    from django.conf import settings

    t, sent = m.transport.name, m.campaign
    where = f"{sent.processes} worker processes" if sent.processes > 1 else "one process (no REDIS_URL: no worker)"
    label = f"one send_mail per contact over {t} ({sample:,} sent, one process)"
    rows = [
        Row(FIGURE, f"campaign to {n:,} recipients over {t}, {where}, messages/s", sent.rate, "messages/s",
            "campaign_rate" if judged else None, baseline=m.baseline, baseline_label=label,
            ratio=sent.rate / m.baseline, note=_cpu_note(sent, m)),
    ]
    if m.pairs:
        pairs, k = m.pairs, len(m.pairs)
        middle = sorted(pairs, key=lambda p: p.ratio)[k // 2] if k % 2 else None
        ratio = median(p.ratio for p in pairs)
        rows.append(Row(
            FIGURE, f"campaign vs one send_mail per contact over {t}, {where}, median of {k} interleaved pairs",
            middle.campaign if middle else median(p.campaign for p in pairs), "messages/s",
            baseline=middle.baseline if middle else median(p.baseline for p in pairs),
            baseline_label=f"one send_mail per contact over {t} ({CAMPAIGN_PAIR_BASELINE[size]:,} sent, one process)",
            ratio=ratio, ratio_key="campaign_vs_send_mail" if judged else None,
            note=(f"each pair: a campaign to {CAMPAIGN_PAIR_RECIPIENTS[size]:,} recipients of its own on the same"
                  f" worker and {CAMPAIGN_PAIR_BASELINE[size]:,} send_mail calls, back to back, the order alternating;"
                  f" ratios {', '.join(f'{p.ratio:.1f}×' for p in pairs)} (min {min(p.ratio for p in pairs):.1f}×);"
                  f" messages/s {', '.join(f'{p.campaign:.0f}/{p.baseline:.0f}' for p in pairs)};"
                  f" CPU per message (senders + sink) {', '.join(f'{p.campaign_cpu:.2f}/{p.baseline_cpu:.2f} ms' for p in pairs)},"
                  f" CPU ratio median {median(p.cpu_ratio for p in pairs):.1f}×")))
    if m.one_process:
        rows.append(Row(FIGURE, f"campaign to {n:,} recipients over {t}, one process (Celery in-process)",
                        m.one_process.rate, "messages/s", baseline=m.baseline, baseline_label=label,
                        ratio=m.one_process.rate / m.baseline, note=_cpu_note(m.one_process, m)))
    connections = settings.CRM_EMAIL_CONNECTIONS * sent.processes
    rows.append(Row(FIGURE, f"campaign over {t}, the SMTP sink's ceiling (prebuilt messages)", m.ceiling, "messages/s",
                    baseline=m.baseline, baseline_label="one send_mail per contact", ratio=m.ceiling / m.baseline,
                    note=f"{connections} kept-open connections from one Python process (a lower bound of the sink's"
                         f" ceiling), {m.size:,} bytes a message; the campaign reached {sent.rate / m.ceiling:.0%} of it"))
    return rows


def run(ctx) -> list[Row]:
    from contacts.models import Contact
    from nurture.services import starter_library_load

    n = CAMPAIGN_RECIPIENTS[ctx.size]
    starter_library_load()
    _recipients(n, source=SOURCE)
    _recipients(WARMUP, source=WARMUP_SOURCE, skip=n)
    for i in range(CAMPAIGN_PAIRS[ctx.size]):
        _recipients(CAMPAIGN_PAIR_RECIPIENTS[ctx.size], source=f"{PAIR_SOURCE}-{i}",
                    skip=n + WARMUP + i * CAMPAIGN_PAIR_RECIPIENTS[ctx.size])
    sample = list(Contact.objects.filter(source=SOURCE).order_by("pk").values_list("email", flat=True)
                  [:CAMPAIGN_BASELINE_SAMPLE[ctx.size]])
    auth = ("bench", secrets.token_urlsafe(16))
    rows: list[Row] = []
    measured: list[Measured] = []
    if shutil.which("openssl"):
        with tempfile.TemporaryDirectory(prefix="bench-tls-") as tmp:
            secure = Transport("STARTTLS + AUTH", tls=_certificate(Path(tmp)), auth=auth)
            measured.append(_measure(ctx, n=n, sample=sample, transport=secure, one_process=True, judged=True))
            rows += _rows(measured[-1], n, len(sample), judged=True, size=ctx.size)
    else:
        rows.append(harness.not_measured(FIGURE, f"campaign to {n:,} recipients over STARTTLS + AUTH, messages/s",
                                         "no openssl to make the sink's certificate (the plain SMTP row below is"
                                         " not judged)"))
    measured.append(_measure(ctx, n=n, sample=sample, transport=Transport("plain SMTP on loopback"), one_process=False,
                             judged=False))
    rows += _rows(measured[-1], n, len(sample), judged=False, size=ctx.size)
    rss = [(m.campaign.rss, m.transport.name) for m in measured]
    rows.append(Row(FIGURE, "campaign, peak RSS of a sending process", max(r[1] for r, _ in rss), "MB",
                    note="; ".join(f"over {name}: {before:.0f} MB after the warm-up, {after - before:+.1f} MB over {n:,}"
                                   f" messages" for (before, after), name in rss)))
    return rows
