"""A sequence for new leads under a worker SIGKILLed mid-send and redelivered runs: every step is
sent at most once per enrollment (a unique constraint, not a check), the steps the dead worker did
not hold are all sent, and what it held in the middle of the SMTP conversation is closed as
interrupted, never sent a second time."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from tests.faults.faultkit import sql_value, wait_for
from tests.nurture.conftest import SmtpServer

pytestmark = [pytest.mark.faults, pytest.mark.slow]

LEADS = 60
SINK = Path(__file__).resolve().parents[1] / "nurture" / "smtp_sink.py"


@pytest.fixture
def slow_smtp(tmp_path):
    """A real SMTP server process that takes 50 ms to accept each message."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    process = subprocess.Popen([sys.executable, str(SINK), str(port), str(tmp_path / "maildir"), "0.05"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert process.stdout.readline().strip() == "ready"
    yield SmtpServer(port, tmp_path / "maildir")
    process.terminate()
    process.wait(timeout=10)


def _sent(fault_db: str) -> int:
    return sql_value(fault_db, "SELECT count(*) FROM nurture_delivery WHERE status = 'sent'")


def test_sequence_steps_are_sent_at_most_once_under_a_killed_worker_and_redelivery(
        redis_server, env_for, fault_db, procs, driver, figures, slow_smtp):
    env = env_for(redis_server, EMAIL_URL=f"smtp://127.0.0.1:{slow_smtp.port}", CRM_EMAIL_RATE_PER_MINUTE="100000",
                  CRM_EMAIL_DOMAIN_RATE_PER_MINUTE="100000")
    driver(env, "sequence_setup", "--contacts", str(LEADS), "--prefix", "sq")
    doomed = procs.worker(env, name="doomed", concurrency=2)
    # The run writes the first steps' deliveries; their send tasks are what the workers then work through.
    driver(env, "send", "nurture.tasks.sequences_run_task", "--times", "2")
    wait_for(lambda: _sent(fault_db) >= 10, timeout=120, interval=0.02, what="sending to get going")
    doomed.kill()
    killed_at = time.monotonic()
    sent_at_kill = _sent(fault_db)
    assert sent_at_kill < LEADS, "everything was sent before the kill: slow the SMTP server down"

    # A new worker; beat's runs and sweeps keep coming, each delivered twice (redelivery). Tasks the dead
    # worker had prefetched come back only after the visibility timeout, so the sweep (after its minute's
    # grace) sends their deliveries.
    procs.worker(env, name="rescuer", concurrency=2)

    def settled() -> bool:
        driver(env, "send", "nurture.tasks.deliveries_sweep_task", "--times", "2")
        driver(env, "send", "nurture.tasks.sequences_run_task", "--times", "2")
        return sql_value(fault_db, "SELECT count(*) FROM nurture_delivery WHERE status = 'queued'") == 0 and \
            sql_value(fault_db, "SELECT count(*) FROM nurture_enrollment WHERE status = 'active'") == 0

    wait_for(settled, timeout=300, interval=5, what="every step to be sent")
    wait_for(lambda: redis_server.waiting() == 0, timeout=120, interval=0.2, what="the queue to drain")
    # What the dead worker held mid-send stays "sending" (the sweep closes it as failed after 15 minutes).
    state = driver(env, "sequence_state")
    received = Counter((m["To"], m["Subject"]) for m in slow_smtp.messages())

    interrupted = state["statuses"].get("sending", 0) + state["statuses"].get("failed", 0)
    figures("sequence under a killed worker", {
        "leads": LEADS, "steps": 2 * LEADS, "sent_at_kill": sent_at_kill, "statuses": state["statuses"],
        "interrupted": interrupted, "emails_received": sum(received.values()),
        "recovery_s": round(time.monotonic() - killed_at, 1), "enrollments": state["enrollments"],
    })
    assert state["duplicates"] == [], "one delivery per enrollment and step"
    assert max(received.values()) == 1, "no person got the same step twice"
    assert interrupted <= 2, "only what the dead worker's two processes held mid-send"
    assert state["statuses"]["sent"] == 2 * LEADS - interrupted
    assert sum(received.values()) >= state["statuses"]["sent"]
