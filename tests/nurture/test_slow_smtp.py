"""An SMTP server slower than EMAIL_TIMEOUT. A timeout before the message went out is retried later;
a timeout while waiting for the answer to the message itself is ambiguous: a real mail server may
queue a message whose client has already gone (RFC 1047; aiosmtpd, here, drops it), so that delivery
is closed as failed and never sent a second time."""

from __future__ import annotations

import subprocess
import sys
import time
from datetime import timedelta

import pytest
from django.utils import timezone

from nurture import services
from nurture.models import Delivery
from tests.nurture.conftest import SINK, SmtpServer, _free_port


@pytest.fixture
def slow_smtp_server(tmp_path, settings):
    """A real SMTP server process that answers the message's DATA after 2 seconds; the client waits 1."""
    port, maildir = _free_port(), tmp_path / "maildir"
    process = subprocess.Popen([sys.executable, str(SINK), str(port), str(maildir), "2"], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    try:
        assert process.stdout.readline().strip() == "ready", process.stderr.read()
        settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
        settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", port, 1
        settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
        yield SmtpServer(port, maildir)
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_no_answer_after_the_message_is_never_sent_twice(slow_smtp_server, person, message, on_commit):
    lead = person("lead", email="lambat@example.co.id")
    with on_commit():
        delivery = services.message_send(contact=lead, message=message("all-edu-id"), by=None)
    delivery.refresh_from_db()
    assert delivery.status == "failed" and "not sent again" in delivery.error and "timed out" in delivery.error
    # The minute's sweep, even much later, does not send it again.
    assert services.deliveries_sweep(now=timezone.now() + timedelta(hours=1))["queued"] == 0
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == ("failed", 1)
    time.sleep(2.5)  # past the server's delay: whatever it did with the one attempt, there was no second
    assert len(slow_smtp_server.messages()) <= 1

def test_a_campaign_batch_closes_unanswered_messages_and_never_resends_them(slow_smtp_server, person, message,
                                                                           marketer, on_commit, settings):
    from contacts.models import Segment
    from nurture import campaigns

    settings.CRM_EMAIL_CONNECTIONS = 2
    for n in range(2):
        person("lead", source="lambat", email=f"lambat{n}@example.co.id")
    segment = Segment.objects.create(name="Lambat", filters={"source": "lambat"})
    campaign = campaigns.campaign_create(message=message("edu-edu-id"), segment=segment, by=marketer)
    with on_commit():
        campaigns.campaign_send(campaign=campaign, by=marketer)
    assert sorted(Delivery.objects.filter(campaign=campaign).values_list("status", flat=True)) == ["failed", "failed"]
    campaign.refresh_from_db()
    assert campaign.status == "done", "nothing is left waiting"

    services.deliveries_sweep(now=timezone.now() + timedelta(hours=1))
    assert set(Delivery.objects.filter(campaign=campaign).values_list("attempts", "status")) == {(1, "failed")}
