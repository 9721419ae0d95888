"""Sending one message over real SMTP (a server process the tests start): what the recipient gets,
the guardrails at send time, and no duplicate under redelivery, retries or failures."""

from __future__ import annotations

import re

import pytest
from django.core.exceptions import ValidationError

from contacts.models import Interaction
from nurture import services
from nurture.models import Delivery


@pytest.fixture
def lead(person):
    return person("lead", full_name="Rina Wulandari", email="rina@example.co.id", company="PT Maju", industry="education")


def send(contact, message, by=None, *, on_commit):
    with on_commit():
        return services.message_send(contact=contact, message=message, by=by)


def test_an_education_email_reaches_a_lead_with_tracking_and_one_click_unsubscribe(
        smtp_server, lead, message, marketer, on_commit):
    delivery = send(lead, message("edu-edu-id"), marketer, on_commit=on_commit)
    delivery.refresh_from_db()
    assert delivery.status == "sent" and delivery.attempts == 1

    (received,) = smtp_server.messages()
    assert received["To"] == "rina@example.co.id"
    assert received["Subject"] == "Brosur program untuk Rina"
    unsubscribe = received["List-Unsubscribe"].strip().strip("<>")
    assert unsubscribe.startswith("https://crm.example.co.id/u/")
    assert received["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    text = received.get_body(("plain",)).get_content()
    html = received.get_body(("html",)).get_content()
    assert "Halo Rina," in text and unsubscribe in text
    # Every link but unsubscribe goes through the signed click tracker; the HTML part has the open pixel.
    assert "https://saring.example/brosur" not in text
    assert re.search(r"https://crm\.example\.co\.id/t/c/[^\s]+/", text)
    assert re.search(r'<img src="https://crm\.example\.co\.id/t/o/[^"]+\.gif"', html)


def test_a_promo_to_a_lead_is_refused_naming_the_stage_rule_and_nothing_is_written(smtp_server, lead, message, on_commit):
    with pytest.raises(services.SendRefused) as refused:
        send(lead, message("all-promo-id"), on_commit=on_commit)
    assert refused.value.reason == "stage"
    assert "stage guardrail" in refused.value.messages[0]
    assert not Delivery.objects.exists() and smtp_server.messages() == []


@pytest.mark.parametrize("fields, reason", [
    ({"consent_email": False}, "consent"),
    ({"do_not_contact": True}, "do_not_contact"),
    ({"email": None, "phone": "+6281234567890"}, "address"),
])
def test_consent_do_not_contact_and_a_missing_address_refuse(person, message, fields, reason, on_commit):
    contact = person("lead", **{"full_name": "Budi", "email": "budi@example.co.id", **fields})
    with pytest.raises(services.SendRefused) as refused:
        send(contact, message("all-edu-id"), on_commit=on_commit)
    assert refused.value.reason == reason


def test_a_redelivered_or_concurrent_send_task_sends_once(smtp_server, lead, message, on_commit):
    delivery = send(lead, message("all-edu-en"), on_commit=on_commit)
    assert services.delivery_send(delivery_id=delivery.pk) == "skipped"
    assert services.delivery_send(delivery_id=delivery.pk) == "skipped"
    assert len(smtp_server.messages()) == 1


def test_consent_withdrawn_after_queueing_stops_the_send(smtp_server, lead, message, marketer):
    from contacts.services.consent import consent_set

    delivery = services.message_send(contact=lead, message=message("edu-edu-id"), by=marketer)  # not run: no commit
    consent_set(contact=lead, channel="email", granted=False, source="test")
    assert services.delivery_send(delivery_id=delivery.pk) == "refused"
    delivery.refresh_from_db()
    assert delivery.status == "failed" and "consent" in delivery.error
    assert smtp_server.messages() == []


def test_a_permanent_failure_bounces_once_and_is_logged_as_an_interaction(smtp_server, person, message, on_commit):
    contact = person("lead", full_name="X", email="bounce@example.co.id")
    delivery = send(contact, message("all-edu-id"), on_commit=on_commit)
    delivery.refresh_from_db()
    assert delivery.status == "bounced" and delivery.error.startswith("550")
    assert Interaction.objects.filter(contact=contact, kind_id="email_bounced").count() == 1
    assert services.delivery_send(delivery_id=delivery.pk) == "skipped"
    assert Interaction.objects.filter(contact=contact, kind_id="email_bounced").count() == 1


def test_a_temporary_failure_is_retried_later_by_the_sweep_never_twice_at_once(smtp_server, person, message,
                                                                            on_commit, settings):
    from datetime import timedelta

    from django.utils import timezone

    contact = person("lead", full_name="T", email="tempfail@example.co.id")
    delivery = send(contact, message("all-edu-id"), on_commit=on_commit)
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == ("queued", 1) and delivery.error.startswith("451")
    assert delivery.next_attempt_at > timezone.now()
    # Not due yet: the sweep leaves it; once due it is sent again, and after the last attempt it fails.
    later = timezone.now() + timedelta(minutes=1, seconds=5)
    assert services.deliveries_sweep(now=later)["queued"] == 0
    settings.CRM_EMAIL_MAX_ATTEMPTS = 2
    swept = services.deliveries_sweep(now=delivery.next_attempt_at + timedelta(seconds=1))
    assert swept["queued"] == 1
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == ("failed", 2)
    assert smtp_server.messages() == []


def test_an_smtp_server_that_is_down_loses_nothing(no_smtp_server, lead, message, on_commit):
    delivery = send(lead, message("all-edu-id"), on_commit=on_commit)
    delivery.refresh_from_db()
    assert delivery.status == "queued" and delivery.next_attempt_at is not None
    assert "ConnectionRefusedError" in delivery.error


def test_a_delivery_stuck_in_sending_is_closed_not_resent(lead, message):
    from datetime import timedelta

    from django.utils import timezone

    now = timezone.now()
    # A worker died 20 minutes into sending this one; that one is an old delivery whose retry began just now.
    stale = Delivery.objects.create(contact=lead, message=message("all-edu-id"), channel="email", status="sending",
                                    claimed_at=now - timedelta(minutes=20))
    busy = Delivery.objects.create(contact=lead, message=message("all-edu-en"), channel="email", status="sending",
                                   claimed_at=now, created_at=now - timedelta(hours=2))
    assert services.deliveries_sweep(now=now)["stuck"] == 1
    stale.refresh_from_db()
    busy.refresh_from_db()
    assert stale.status == "failed" and "not sent again" in stale.error
    assert busy.status == "sending"


def test_whatsapp_and_archived_messages_are_not_sent_by_email(lead, message, marketer):
    with pytest.raises(ValidationError):
        services.message_send(contact=lead, message=message("all-wa-id"), by=marketer)
    archived = services.message_archive(message=message("edu-edu-id"), by=marketer)
    with pytest.raises(ValidationError):
        services.message_send(contact=lead, message=archived, by=marketer)
    assert not Delivery.objects.exists()
