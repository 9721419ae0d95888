"""With a real Celery worker on Redis and PostgreSQL: a new prospect's rep has the in-app
notification at once and the email on the real SMTP server within seconds."""

from __future__ import annotations

import time

import pytest

pytestmark = [pytest.mark.worker, pytest.mark.slow]


@pytest.fixture
def worker_mails_to_the_sink(smtp_server, monkeypatch):
    """The worker process reads EMAIL_URL from its environment: point it at the sink before it starts."""
    monkeypatch.setenv("EMAIL_URL", f"smtp://127.0.0.1:{smtp_server.port}")
    monkeypatch.setenv("CRM_BASE_URL", "https://crm.example.co.id")
    return smtp_server


def test_new_prospect_notification_and_email_through_a_real_worker(worker_mails_to_the_sink, celery_worker_process,
                                                                    playbooks, make_contact, rep):
    from contacts.services import interaction_log
    from followup.models import Notification

    rep.email = "sari@saring.example"
    rep.save()
    person = make_contact(full_name="Rina Wijaya", industry="other")
    started = time.monotonic()
    for kind in ("form_submitted", "form_submitted", "price_requested", "demo_requested"):
        interaction_log(contact=person, kind=kind)
    deadline = started + 30
    while time.monotonic() < deadline and not Notification.objects.filter(user=rep, email_status="sent").exists():
        time.sleep(0.2)
    notification = Notification.objects.get(user=rep, kind="assigned")
    assert notification.contact_id == person.pk and notification.email_status == "sent"
    (mail,) = worker_mails_to_the_sink.messages()
    assert mail["To"] == "sari@saring.example" and "Rina Wijaya" in mail.get_body(("plain",)).get_content()
    print(f"interactions -> email accepted by SMTP: {time.monotonic() - started:.2f} s")
