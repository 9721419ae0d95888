"""Figure 8: a campaign to every eligible contact of a saved segment (the starter library's
education email to leads), sent through nurture.campaigns into a local SMTP server process that
accepts and discards, against a baseline of one django.core.mail.send_mail per contact (one SMTP
connection each) measured in the same run. Celery runs in-process, as for every bench figure, so
the fill and the batches run one after the other in this process; each batch sends over
CRM_EMAIL_CONNECTIONS connections at once (nurture.smtp_pool).

Both paths are warmed up first (a small campaign to other contacts, a few send_mail calls): the
budget is about the sustained rate, not the first message's imports and URL resolver. The sink's
own ceiling (prebuilt bytes over the same number of kept-open connections) is measured too, and the
CPU seconds per message of this process and of the sink, to say who the bottleneck is."""

from __future__ import annotations

import os
import shutil
import smtplib
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from bench import harness
from bench.budgets import CAMPAIGN_BASELINE_SAMPLE, CAMPAIGN_RECIPIENTS
from bench.harness import Row

FIGURE = "8"
SINK = Path(__file__).resolve().parents[1] / "tests" / "nurture" / "smtp_sink.py"
SOURCE = "bench-campaign"
WARMUP_SOURCE = "bench-campaign-warmup"
WARMUP = 50  # recipients of the untimed warm-up campaign
SINK_CEILING_MESSAGES = {"tiny": 600, "S": 3_000, "L": 3_000}


def _certificate(directory: Path) -> tuple[Path, Path]:
    """A throwaway self-signed certificate for 127.0.0.1 (openssl), for the STARTTLS figure."""
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                    "-keyout", str(key), "-out", str(cert), "-days", "1", "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1"], check=True, capture_output=True)
    return cert, key


def _sink(tls: tuple[Path, Path] | None = None) -> tuple[subprocess.Popen, int]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, **({"SINK_TLS_CERT": str(tls[0]), "SINK_TLS_KEY": str(tls[1])} if tls else {})}
    process = subprocess.Popen([sys.executable, str(SINK), str(port), "-"], stdout=subprocess.PIPE, text=True, env=env)
    if process.stdout.readline().strip() != "ready":
        raise RuntimeError("the SMTP sink did not start (is aiosmtpd installed? requirements-dev.txt)")
    return process, port


def _cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process so far, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _recipients(n: int, *, source: str, skip: int = 0) -> None:
    """n contacts become eligible leads of the segment: pinned to lead, opted in, with an address."""
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute(
            "UPDATE contacts_contact SET stage = 'lead', stage_pinned = true, consent_email = true, do_not_contact = false,"
            " source = %s, email = 'bench-campaign-' || id || '@example.co.id'"
            " WHERE id IN (SELECT id FROM contacts_contact ORDER BY id LIMIT %s OFFSET %s)", [source, n, skip])


def _sink_ceiling(port: int, raw: bytes, n: int, connections: int) -> float:
    """Messages/s the sink takes when the client costs nothing: prebuilt bytes, kept-open connections."""
    def send(count: int) -> None:
        with smtplib.SMTP("127.0.0.1", port) as smtp:
            for i in range(count):
                smtp.sendmail("noreply@saring.example", [f"ceiling-{i}@example.co.id"], raw)

    threads = [threading.Thread(target=send, args=(n // connections,)) for _ in range(connections)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return (n // connections * connections) / (time.perf_counter() - started)


@dataclass
class Measured:
    baseline: float  # messages/s, one send_mail per contact
    rate: float  # messages/s, the campaign
    elapsed: float
    cpu: tuple[float, float]  # CPU seconds per message: this process, the sink
    baseline_cpu: tuple[float, float]
    rss: tuple[float, float]  # peak RSS before and after the campaign, MB
    ceiling: float = 0.0
    size: int = 0


def _measure(ctx, *, n: int, sample: list[str], tls: tuple[Path, Path] | None, ceiling: bool) -> Measured:
    """Baseline, then a warm-up campaign, then the timed campaign, into a fresh sink process."""
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.core.mail import send_mail

    from bench.run import ADMIN
    from contacts.models import Contact, Segment
    from nurture import campaigns
    from nurture import email as mail
    from nurture.models import Campaign, Delivery, Message
    from nurture.services import message_values

    sink, port = _sink(tls)
    keys = ("EMAIL_BACKEND", "EMAIL_HOST", "EMAIL_PORT", "EMAIL_USE_TLS", "EMAIL_USE_SSL", "CRM_EMAIL_RATE_PER_MINUTE")
    saved, saved_cafile = {k: getattr(settings, k) for k in keys}, os.environ.get("SSL_CERT_FILE")
    try:
        settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
        settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_USE_SSL = "127.0.0.1", port, False
        settings.EMAIL_USE_TLS = tls is not None
        if tls:
            os.environ["SSL_CERT_FILE"] = str(tls[0])  # ssl.create_default_context() trusts the sink's certificate
        settings.CRM_EMAIL_RATE_PER_MINUTE = 6_000_000  # pacing is the operator's choice; the bench measures the ceiling
        message = Message.objects.get(starter_key="all-edu-id")
        segment = Segment.objects.create(name=f"Bench {time.time_ns()}", filters={"source": SOURCE})
        warmup = Segment.objects.create(name=f"Bench warm-up {time.time_ns()}", filters={"source": WARMUP_SOURCE})
        admin = get_user_model().objects.get(username=ADMIN[0])  # the audience is what the sender may see

        for address in sample[:5]:
            send_mail(message.subject, message.body, settings.CRM_EMAIL_FROM, [address])  # warm-up, untimed
        sink_cpu, own_cpu, started = _cpu_seconds(sink.pid), time.process_time(), time.perf_counter()
        for address in sample:
            send_mail(message.subject, message.body, settings.CRM_EMAIL_FROM, [address])
        baseline = len(sample) / (time.perf_counter() - started)
        baseline_cpu = ((time.process_time() - own_cpu) / len(sample), (_cpu_seconds(sink.pid) - sink_cpu) / len(sample))

        campaigns.campaign_send(campaign=campaigns.campaign_create(message=message, segment=warmup, by=admin), by=admin)
        campaign = campaigns.campaign_create(message=message, segment=segment, by=admin)
        rss_before = harness.peak_rss_mb(os.getpid())
        sink_cpu, own_cpu, started = _cpu_seconds(sink.pid), time.process_time(), time.perf_counter()
        campaigns.campaign_send(campaign=campaign, by=admin)  # in-process: fill, then every batch, after commit
        elapsed = time.perf_counter() - started
        cpu = ((time.process_time() - own_cpu) / n, (_cpu_seconds(sink.pid) - sink_cpu) / n)
        rss_after = harness.peak_rss_mb(os.getpid())
        campaign.refresh_from_db()
        sent = Delivery.objects.filter(campaign=campaign, status="sent").count()
        if campaign.status != Campaign.Status.DONE or sent != n:
            raise RuntimeError(f"campaign ended {campaign.status} with {sent} of {n} sent")
        measured = Measured(baseline, n / elapsed, elapsed, cpu, baseline_cpu, (rss_before, rss_after))
        if ceiling:
            contact = Contact.objects.select_related("owner").get(email=sample[0])
            content = mail.compose(delivery_id=1, subject=message.subject, body=message.body, values=message_values(contact))
            raw = mail.build(content=content, to=contact.email, delivery_id=1).message().as_bytes(linesep="\r\n")
            measured.ceiling = _sink_ceiling(port, raw, SINK_CEILING_MESSAGES[ctx.size], settings.CRM_EMAIL_CONNECTIONS)
            measured.size = len(raw)
        return measured
    finally:
        for key, value in saved.items():
            setattr(settings, key, value)
        if saved_cafile is None:
            os.environ.pop("SSL_CERT_FILE", None)
        else:
            os.environ["SSL_CERT_FILE"] = saved_cafile
        sink.terminate()
        sink.wait(timeout=10)


def _note(m: Measured) -> str:
    from django.conf import settings

    from nurture import campaigns

    ms = 1000
    return (f"{m.elapsed:.1f} s in all (fill, then batches of {campaigns.BATCH} over {settings.CRM_EMAIL_CONNECTIONS}"
            f" connections at once); CPU per message: {m.cpu[0] * ms:.2f} ms here, {m.cpu[1] * ms:.2f} ms in the sink"
            f" (baseline: {m.baseline_cpu[0] * ms:.2f} ms here, {m.baseline_cpu[1] * ms:.2f} ms in the sink)")


def run(ctx) -> list[Row]:
    from django.conf import settings

    from contacts.models import Contact
    from nurture.services import starter_library_load

    n = CAMPAIGN_RECIPIENTS[ctx.size]
    starter_library_load()
    _recipients(n, source=SOURCE)
    _recipients(WARMUP, source=WARMUP_SOURCE, skip=n)
    sample = list(Contact.objects.filter(source=SOURCE).order_by("pk").values_list("email", flat=True)
                  [:CAMPAIGN_BASELINE_SAMPLE[ctx.size]])
    plain = _measure(ctx, n=n, sample=sample, tls=None, ceiling=True)
    tls = None
    if shutil.which("openssl"):
        with tempfile.TemporaryDirectory(prefix="bench-tls-") as tmp:
            tls = _measure(ctx, n=n, sample=sample, tls=_certificate(Path(tmp)), ceiling=False)
    sampled = f"one send_mail per contact ({len(sample):,} sent)"
    over_tls = Row(FIGURE, f"campaign to {n:,} recipients over STARTTLS, messages/s", None, "messages/s",
                   status="not measured: no openssl to make the sink's certificate")
    if tls:
        over_tls = Row(FIGURE, over_tls.title, tls.rate, "messages/s", baseline=tls.baseline,
                       baseline_label=f"{sampled} over STARTTLS", ratio=tls.rate / tls.baseline,
                       note=_note(tls) + "; the sink requires STARTTLS, as submission servers do")
    rss = max(plain.rss[1], tls.rss[1] if tls else 0)
    rss_note = f"{plain.rss[0]:.0f} MB before the first campaign: it grew by {plain.rss[1] - plain.rss[0]:.1f} MB over {n:,} messages"
    if tls:
        rss_note += f", then by {tls.rss[1] - tls.rss[0]:.1f} MB over {n:,} more over STARTTLS"
    return [
        Row(FIGURE, f"campaign to {n:,} recipients, messages/s", plain.rate, "messages/s", "campaign_rate",
            baseline=plain.baseline, baseline_label=sampled, ratio=plain.rate / plain.baseline,
            ratio_key="campaign_vs_send_mail", note=_note(plain)),
        Row(FIGURE, "campaign, the SMTP sink's ceiling (prebuilt messages)", plain.ceiling, "messages/s",
            baseline=plain.baseline, baseline_label="one send_mail per contact", ratio=plain.ceiling / plain.baseline,
            note=f"{settings.CRM_EMAIL_CONNECTIONS} kept-open connections, {plain.size:,} bytes a message: no sender can"
                 f" beat the baseline by more than this ratio here; the campaign reached {plain.rate / plain.ceiling:.0%}"
                 f" of it"),
        over_tls,
        Row(FIGURE, "campaign, peak RSS of the sending process", rss, "MB", note=rss_note),
    ]
