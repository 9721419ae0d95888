"""A campaign batch sent over several SMTP connections at once (nurture.smtp_pool): each recipient
gets one message, a 5xx bounces (with its interaction), a 4xx is put back for a later retry, and a
server that is down loses nothing; the outcomes are recorded whatever the order of the answers."""

from __future__ import annotations

from collections import Counter

import pytest

from contacts.models import Interaction, Segment
from nurture import campaigns
from nurture.models import Campaign, Delivery


@pytest.fixture
def newsletter_leads(person):
    """Twelve leads of one segment: two the server bounces, one it asks to try again later."""
    names = [f"ok{n}" for n in range(9)] + ["bounce1", "bounce2", "tempfail1"]
    people = {name: person("lead", industry="education", source="newsletter", email=f"{name}@example.co.id")
              for name in names}
    return Segment.objects.create(name="Newsletter", filters={"source": "newsletter"}), people


def _send(segment, message, marketer, on_commit) -> Campaign:
    campaign = campaigns.campaign_create(message=message("edu-edu-id"), segment=segment, by=marketer)
    with on_commit():
        campaigns.campaign_send(campaign=campaign, by=marketer)
    campaign.refresh_from_db()
    return campaign


def test_a_batch_over_several_connections_sends_each_once_and_records_every_answer(
        smtp_server, newsletter_leads, message, marketer, on_commit, settings):
    settings.CRM_EMAIL_CONNECTIONS = 3
    segment, people = newsletter_leads
    campaign = _send(segment, message, marketer, on_commit)

    received = Counter(m["To"] for m in smtp_server.messages())
    assert received == Counter({f"ok{n}@example.co.id": 1 for n in range(9)})
    statuses = dict(Delivery.objects.filter(campaign=campaign).values_list("contact__email", "status"))
    assert Counter(statuses.values()) == {"sent": 9, "bounced": 2, "queued": 1}
    assert statuses["tempfail1@example.co.id"] == "queued"
    retry = Delivery.objects.get(campaign=campaign, contact=people["tempfail1"])
    assert retry.next_attempt_at is not None and retry.error.startswith("451")
    bounced = Interaction.objects.filter(kind_id="email_bounced").values_list("contact__email", flat=True)
    assert sorted(bounced) == ["bounce1@example.co.id", "bounce2@example.co.id"]
    assert campaign.status == Campaign.Status.SENDING, "the retry is still waiting"

    # A redelivered batch task claims only what is still queued (the retry, tried again): nobody who got
    # the message gets it a second time.
    batch = list(Delivery.objects.filter(campaign=campaign).values_list("pk", flat=True))
    assert campaigns.campaign_send_batch(campaign_id=campaign.pk, delivery_ids=batch) == {"skipped": 11, "retry": 1}
    assert len(smtp_server.messages()) == 9


def test_a_campaign_to_a_server_that_is_down_loses_nothing(no_smtp_server, newsletter_leads, message, marketer,
                                                          on_commit, settings):
    settings.CRM_EMAIL_CONNECTIONS = 4
    segment, _people = newsletter_leads
    campaign = _send(segment, message, marketer, on_commit)
    deliveries = Delivery.objects.filter(campaign=campaign)
    assert deliveries.count() == 12
    assert set(deliveries.values_list("status", flat=True)) == {"queued"}, "every one waits for a retry"
    assert not deliveries.filter(next_attempt_at__isnull=True).exists()
    assert campaign.status == Campaign.Status.SENDING


def test_a_contact_erased_between_the_fill_and_the_send_gets_nothing(smtp_server, newsletter_leads, message, marketer,
                                                                     admin):
    from contacts.privacy import contact_erase

    segment, people = newsletter_leads
    campaign = campaigns.campaign_create(message=message("edu-edu-id"), segment=segment, by=marketer)
    Campaign.objects.filter(pk=campaign.pk).update(status=Campaign.Status.SENDING)
    kept, erased = people["ok0"], people["ok1"]
    ids = [Delivery.objects.create(contact=c, message=campaign.message, channel="email", campaign=campaign).pk
           for c in (kept, erased)]
    contact_erase(contact=erased, by=admin, mode="anonymise")

    assert campaigns.campaign_send_batch(campaign_id=campaign.pk, delivery_ids=ids) == {"sent": 1, "refused": 1}
    assert [m["To"] for m in smtp_server.messages()] == ["ok0@example.co.id"]
    refused = Delivery.objects.get(pk=ids[1])
    assert refused.status == "failed" and refused.error == "refused when sending: erased"


def test_the_campaign_page_shows_the_opens_and_clicks_a_marketer_watches_for(smtp_server, newsletter_leads, message,
                                                                             marketer, on_commit, client_for):
    import re

    from django.test import Client

    segment, _people = newsletter_leads
    campaign = _send(segment, message, marketer, on_commit)
    email = next(m for m in smtp_server.messages() if m["To"] == "ok3@example.co.id")
    text = email.get_body(("plain",)).get_content()
    with on_commit():
        Client().get(re.search(r"https?://[^/\s]+(/t/c/[^\s]+/)", text).group(1))
    page = client_for(marketer).get(f"/campaigns/{campaign.pk}/").content.decode()
    shown = dict(re.findall(r'data-progress="(sent|bounced|opened|clicked)">(\d+)<', page))
    assert shown == {"sent": "9", "bounced": "2", "opened": "1", "clicked": "1"}, "a click counts as an open too"


@pytest.mark.postgres
def test_batch_tasks_racing_for_the_same_deliveries_send_each_once(transactional_db, reference_data, person, message,
                                                                  marketer, settings):
    """The claim is one UPDATE … RETURNING: four workers sending the same batch at once (a redelivered task
    beside the first) each get rows the others did not, and every recipient gets one message."""
    import threading

    from django.core import mail
    from django.db import connections

    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    segment = Segment.objects.create(name="Race", filters={"source": "race"})
    campaign = campaigns.campaign_create(message=message("edu-edu-id"), segment=segment, by=marketer)
    Campaign.objects.filter(pk=campaign.pk).update(status=Campaign.Status.SENDING)
    ids = [Delivery.objects.create(contact=person("lead", source="race", email=f"race{n}@example.co.id"),
                                   message=campaign.message, channel="email", campaign=campaign).pk for n in range(40)]
    mail.outbox = []
    barrier, results, errors = threading.Barrier(4), [], []

    def work(order):
        try:
            barrier.wait()
            results.append(campaigns.campaign_send_batch(campaign_id=campaign.pk, delivery_ids=order))
        except Exception as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(repr(exc))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=work, args=(ids[::-1] if n % 2 else ids,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert sum(r.get("sent", 0) for r in results) == 40 and sum(r.get("skipped", 0) for r in results) == 3 * 40
    assert sorted(m.to[0] for m in mail.outbox) == sorted(f"race{n}@example.co.id" for n in range(40))
    assert set(Delivery.objects.filter(pk__in=ids).values_list("status", "attempts")) == {("sent", 1)}
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.DONE
