"""A worker process keeps its campaign SMTP connections open between batches (nurture.smtp_pool.shared_pool):
the next batch reuses them, a connection the server dropped meanwhile is opened again without sending anyone a
message twice, an idle one is closed after CRM_EMAIL_KEEP_OPEN_SECONDS, and closing the pool says QUIT."""

from __future__ import annotations

import subprocess
import sys
import time
from collections import Counter

import pytest

from contacts.models import Segment
from nurture import campaigns, smtp_pool
from nurture.models import Campaign, Delivery
from tests.nurture.conftest import SINK, SmtpServer, _free_port


@pytest.fixture(autouse=True)
def _no_kept_pool():
    """Every test starts and ends without this process's kept connections."""
    smtp_pool.close_shared()
    yield
    smtp_pool.close_shared()


class RestartableSink(SmtpServer):
    """An SMTP server process of this test's own, which the test can stop and start again on the same port."""

    def __init__(self, port, maildir):
        super().__init__(port, maildir)
        self.process = None

    def start(self) -> None:
        self.process = subprocess.Popen([sys.executable, str(SINK), str(self.port), str(self.maildir)],
                                        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        assert self.process.stdout.readline().strip() == "ready", self.process.stderr.read()

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)


@pytest.fixture
def own_sink(tmp_path, settings):
    sink = RestartableSink(_free_port(), tmp_path / "maildir")
    sink.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", sink.port
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
    try:
        yield sink
    finally:
        sink.stop()


@pytest.fixture
def batches(person, message, marketer):
    """A sending campaign with ten queued deliveries, as two batches of five."""
    people = [person("lead", source="kept", email=f"kept{n}@example.co.id") for n in range(10)]
    segment = Segment.objects.create(name="Kept", filters={"source": "kept"})
    campaign = campaigns.campaign_create(message=message("edu-edu-id"), segment=segment, by=marketer)
    Campaign.objects.filter(pk=campaign.pk).update(status=Campaign.Status.SENDING)
    ids = [Delivery.objects.create(contact=c, message=campaign.message, channel="email", campaign=campaign).pk
           for c in people]
    return campaign, ids[:5], ids[5:]


def _received(sink) -> Counter:
    return Counter(m["To"] for m in sink.messages())


def test_consecutive_batches_reuse_the_connections_the_first_opened(own_sink, batches, settings):
    settings.CRM_EMAIL_CONNECTIONS = 2
    campaign, first, second = batches
    assert campaigns.campaign_send_batch(campaign_id=campaign.pk, delivery_ids=first) == {"sent": 5}
    pool = smtp_pool.shared_pool(2)
    opened = pool.opened
    assert 1 <= opened <= 2 and pool.closed == 0, "kept open after the batch"

    assert campaigns.campaign_send_batch(campaign_id=campaign.pk, delivery_ids=second) == {"sent": 5}
    assert smtp_pool.shared_pool(2) is pool and (pool.opened, pool.closed) == (opened, 0), "no new connection"
    assert _received(own_sink) == Counter({f"kept{n}@example.co.id": 1 for n in range(10)})
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.DONE

    smtp_pool.close_shared()  # what a stopping worker process does
    assert pool.closed == pool.opened


@pytest.mark.parametrize("noop_after", [3600.0, 0.0], ids=["found-when-sending", "found-by-noop"])
def test_a_kept_connection_the_server_dropped_is_opened_again_and_nobody_gets_two(own_sink, batches, settings,
                                                                                  monkeypatch, noop_after):
    """The server went away between two batches (a restart, its idle timeout). Found when the next message's
    MAIL gets no answer (nothing of the message went out, so it is sent on a new connection) or, after
    NOOP_AFTER seconds of idleness, by the NOOP before it."""
    monkeypatch.setattr(smtp_pool, "NOOP_AFTER", noop_after)
    settings.CRM_EMAIL_CONNECTIONS = 1
    campaign, first, second = batches
    assert campaigns.campaign_send_batch(campaign_id=campaign.pk, delivery_ids=first) == {"sent": 5}
    own_sink.stop()
    own_sink.start()

    assert campaigns.campaign_send_batch(campaign_id=campaign.pk, delivery_ids=second) == {"sent": 5}
    pool = smtp_pool.shared_pool(1)
    assert pool.opened == 2, "one new connection for the second batch"
    assert _received(own_sink) == Counter({f"kept{n}@example.co.id": 1 for n in range(10)})
    assert set(Delivery.objects.filter(campaign=campaign).values_list("status", "attempts")) == {("sent", 1)}


def test_an_idle_connection_is_closed_after_the_keep_open_time(own_sink, batches, settings):
    settings.CRM_EMAIL_CONNECTIONS = 2
    settings.CRM_EMAIL_KEEP_OPEN_SECONDS = 0.3
    campaign, first, second = batches
    campaigns.campaign_send_batch(campaign_id=campaign.pk, delivery_ids=first)
    pool = smtp_pool.shared_pool(2)
    deadline = time.monotonic() + 10
    while pool.closed < pool.opened and time.monotonic() < deadline:
        time.sleep(0.05)
    assert pool.opened >= 1 and pool.closed == pool.opened, "QUIT after 0.3 s without a message"

    assert campaigns.campaign_send_batch(campaign_id=campaign.pk, delivery_ids=second) == {"sent": 5}
    assert pool.opened > pool.closed, "the next batch opens again"
    assert len(own_sink.messages()) == 10


def test_without_keep_open_each_batch_closes_its_own_connections(own_sink, batches, settings):
    settings.CRM_EMAIL_KEEP_OPEN_SECONDS = 0
    campaign, first, _second = batches
    assert campaigns.campaign_send_batch(campaign_id=campaign.pk, delivery_ids=first) == {"sent": 5}
    assert smtp_pool._shared["pool"] is None, "no pool is kept"


def test_other_email_settings_get_other_connections(own_sink, settings):
    settings.CRM_EMAIL_CONNECTIONS = 2
    pool = smtp_pool.shared_pool(2)
    assert smtp_pool.shared_pool(2) is pool
    settings.EMAIL_PORT = _free_port()  # another server: the old connections must not be used for it
    other = smtp_pool.shared_pool(2)
    assert other is not pool
    with pytest.raises(smtp_pool.PoolClosed):
        pool.send(None)


def test_a_backend_that_cannot_load_fails_the_messages_instead_of_leaving_them_waiting(settings):
    """A kept pool lives long: a thread that could not start must not leave a batch waiting for ever."""
    settings.EMAIL_BACKEND = "nurture.no_such_module.EmailBackend"
    with smtp_pool.SmtpPool(2) as pool:
        futures = [pool.send(object()) for _ in range(3)]
        assert all(isinstance(f.exception(timeout=10), ImportError) for f in futures)
