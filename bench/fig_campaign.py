"""Figure 8: a campaign to every eligible contact of a saved segment (the starter library's
education email to leads), sent through nurture.campaigns into a local SMTP server process that
accepts and discards, against a baseline of one django.core.mail.send_mail per contact (one SMTP
connection each) measured in the same run. Celery runs in-process, as for every bench figure, so
the fill and the batches run one after the other in this process."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

from bench import harness
from bench.budgets import CAMPAIGN_BASELINE_SAMPLE, CAMPAIGN_RECIPIENTS
from bench.harness import Row

FIGURE = "8"
SINK = Path(__file__).resolve().parents[1] / "tests" / "nurture" / "smtp_sink.py"
SOURCE = "bench-campaign"


def _sink() -> tuple[subprocess.Popen, int]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    process = subprocess.Popen([sys.executable, str(SINK), str(port), "-"], stdout=subprocess.PIPE, text=True)
    if process.stdout.readline().strip() != "ready":
        raise RuntimeError("the SMTP sink did not start (is aiosmtpd installed? requirements-dev.txt)")
    return process, port


def _recipients(n: int) -> None:
    """n contacts become eligible leads of the segment: pinned to lead, opted in, with an address."""
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute(
            "UPDATE contacts_contact SET stage = 'lead', stage_pinned = true, consent_email = true, do_not_contact = false,"
            " source = %s, email = 'bench-campaign-' || id || '@example.co.id'"
            " WHERE id IN (SELECT id FROM contacts_contact ORDER BY id LIMIT %s)", [SOURCE, n])


def run(ctx) -> list[Row]:
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.core.mail import send_mail

    from bench.run import ADMIN
    from contacts.models import Contact, Segment
    from nurture import campaigns
    from nurture.models import Campaign, Delivery, Message
    from nurture.services import starter_library_load

    n = CAMPAIGN_RECIPIENTS[ctx.size]
    sink, port = _sink()
    saved = {k: getattr(settings, k) for k in ("EMAIL_BACKEND", "EMAIL_HOST", "EMAIL_PORT", "EMAIL_USE_TLS", "EMAIL_USE_SSL")}
    try:
        settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
        settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_USE_TLS, settings.EMAIL_USE_SSL = "127.0.0.1", port, False, False
        starter_library_load()
        _recipients(n)
        message = Message.objects.get(starter_key="all-edu-id")
        segment = Segment.objects.create(name=f"Bench {time.time_ns()}", filters={"source": SOURCE})

        sample = list(Contact.objects.filter(source=SOURCE).order_by("pk").values_list("email", flat=True)
                      [:CAMPAIGN_BASELINE_SAMPLE[ctx.size]])
        started = time.perf_counter()
        for address in sample:
            send_mail(message.subject, message.body, settings.CRM_EMAIL_FROM, [address])
        baseline = len(sample) / (time.perf_counter() - started)

        admin = get_user_model().objects.get(username=ADMIN[0])  # the audience is what the sender may see
        campaign = campaigns.campaign_create(message=message, segment=segment, by=admin)
        rss_before = harness.peak_rss_mb(os.getpid())
        started = time.perf_counter()
        campaigns.campaign_send(campaign=campaign, by=admin)  # in-process: fill, then every batch, after commit
        elapsed = time.perf_counter() - started
        rss_after = harness.peak_rss_mb(os.getpid())
        campaign.refresh_from_db()
        sent = Delivery.objects.filter(campaign=campaign, status="sent").count()
        if campaign.status != Campaign.Status.DONE or sent != n:
            raise RuntimeError(f"campaign ended {campaign.status} with {sent} of {n} sent")
    finally:
        for key, value in saved.items():
            setattr(settings, key, value)
        sink.terminate()
        sink.wait(timeout=10)
    rate = n / elapsed
    return [
        Row(FIGURE, f"campaign to {n:,} recipients, messages/s", rate, "messages/s", "campaign_rate",
            baseline=baseline, baseline_label=f"one send_mail per contact ({len(sample):,} sent)",
            ratio=rate / baseline, ratio_key="campaign_vs_send_mail",
            note=f"{elapsed:.1f} s in all (fill and batches of {campaigns.BATCH} over one connection each)"),
        Row(FIGURE, "campaign, peak RSS of the sending process", rss_after, "MB",
            note=f"{rss_before:.0f} MB before the campaign: it grew by {rss_after - rss_before:.1f} MB"),
    ]
