"""Campaigns: a preview that counts who is skipped and why, a send that reaches each recipient once,
progress, and a report that follows what recipients did."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from contacts.models import Contact, Segment
from nurture import campaigns
from nurture.models import Campaign, Delivery


@pytest.fixture
def instagram_leads(person):
    """The segment "education contacts from Instagram" (mostly leads) and who is in it (and who is not)."""
    people = {
        "ok1": person("lead", industry="education", source="instagram", email="ok1@example.co.id"),
        "ok2": person("lead", industry="education", source="instagram", email="ok2@example.co.id"),
        "no_consent": person("lead", industry="education", source="instagram", consent_email=False),
        "dnc": person("lead", industry="education", source="instagram", do_not_contact=True),
        "no_email": person("lead", industry="education", source="instagram", email=None, phone="+6281234567801"),
        "prospect": person("prospect", industry="education", source="instagram", email="p@example.co.id"),
        "other_source": person("lead", industry="education", source="facebook"),
    }
    segment = Segment.objects.create(name="Pendidikan dari Instagram", filters={"industry": "education", "source": "instagram"})
    return segment, people


def start(campaign, by, *, on_commit):
    with on_commit():
        return campaigns.campaign_send(campaign=campaign, by=by)


def test_education_reaches_the_leads_with_consent_and_a_promo_none_of_them(
        smtp_server, instagram_leads, message, marketer, on_commit):
    segment, people = instagram_leads
    education = campaigns.campaign_create(message=message("edu-edu-id"), segment=segment, by=marketer)
    preview = campaigns.campaign_preview(campaign=education, user=marketer)
    assert (preview.eligible, preview.skipped) == (2, {"do_not_contact": 1, "stage": 1, "consent": 1, "address": 1})

    promo = campaigns.campaign_create(message=message("all-promo-id"), segment=segment, by=marketer)
    refused = campaigns.campaign_preview(campaign=promo, user=marketer)
    assert refused.eligible == 1 and refused.skipped["stage"] == 4, "only the prospect may get a promo"

    start(education, marketer, on_commit=on_commit)
    education.refresh_from_db()
    assert education.status == "done" and education.recipients == 2
    assert education.skipped == preview.skipped
    assert sorted(m["To"] for m in smtp_server.messages()) == ["ok1@example.co.id", "ok2@example.co.id"]


def test_a_campaign_is_sent_once_however_often_it_is_started_or_filled(smtp_server, instagram_leads, message,
                                                                       marketer, on_commit):
    segment, _people = instagram_leads
    campaign = campaigns.campaign_create(message=message("edu-edu-id"), segment=segment, by=marketer)
    start(campaign, marketer, on_commit=on_commit)
    with pytest.raises(ValidationError):
        start(campaign, marketer, on_commit=on_commit)
    with on_commit():
        campaigns.campaign_fill(campaign_id=campaign.pk)  # a redelivered fill task
    Campaign.objects.filter(pk=campaign.pk).update(status="sending")
    with on_commit():
        campaigns.campaign_fill(campaign_id=campaign.pk)
    assert Delivery.objects.filter(campaign=campaign).count() == 2
    assert len(smtp_server.messages()) == 2


def test_a_lost_fill_is_resumed_by_the_sweep(smtp_server, instagram_leads, message, marketer, on_commit):
    segment, _people = instagram_leads
    campaign = campaigns.campaign_create(message=message("edu-edu-id"), segment=segment, by=marketer)
    campaigns.campaign_send(campaign=campaign, by=marketer)  # committed hooks never run: the fill task is lost
    assert Delivery.objects.count() == 0
    with on_commit():
        assert campaigns.campaigns_resume(now=timezone.now() + timedelta(minutes=3)) == 1
    campaign.refresh_from_db()
    assert (campaign.status, campaign.recipients) == ("done", 2)


def test_the_report_counts_opens_clicks_unsubscribes_and_stage_moves(smtp_server, instagram_leads, message, marketer,
                                                                     on_commit):
    from contacts.services import contact_set_stage

    segment, people = instagram_leads
    campaign = campaigns.campaign_create(message=message("edu-edu-id"), segment=segment, by=marketer)
    start(campaign, marketer, on_commit=on_commit)
    mail = next(m for m in smtp_server.messages() if m["To"] == "ok1@example.co.id")
    text = mail.get_body(("plain",)).get_content()
    client = Client()
    with on_commit():
        client.get(re.search(r"https://crm\.example\.co\.id(/t/c/[^\s]+/)", text).group(1))
        client.post(re.search(r"https://crm\.example\.co\.id(/u/[^\s]+/)", text).group(1))
    contact_set_stage(contact=people["ok2"], stage="prospect", by=marketer)
    report = campaigns.campaign_report(campaign)
    assert {k: report[k] for k in ("total", "sent", "bounced", "opened", "clicked", "unsubscribed", "moved_7d",
                                   "moved_30d")} == {"total": 2, "sent": 2, "bounced": 0, "opened": 1, "clicked": 1,
                                                     "unsubscribed": 1, "moved_7d": 1, "moved_30d": 1}


def test_a_sales_rep_previews_only_their_own_contacts(instagram_leads, message, rep, marketer):
    segment, people = instagram_leads
    Contact.objects.filter(pk=people["ok1"].pk).update(owner=rep)
    campaign = campaigns.campaign_create(message=message("edu-edu-id"), segment=segment, by=marketer)
    assert campaigns.campaign_preview(campaign=campaign, user=rep).total == 1


def test_campaigns_over_the_api_and_the_pages(smtp_server, instagram_leads, message, marketer, rep, client_for,
                                              on_commit):
    segment, _people = instagram_leads
    api = APIClient()
    api.force_authenticate(marketer)
    created = api.post("/api/campaigns/", {"message": message("edu-edu-id").pk, "segment": segment.pk}, format="json")
    assert created.status_code == 201 and created.json()["status"] == "draft"
    pk = created.json()["id"]
    preview = api.get(f"/api/campaigns/{pk}/preview/").json()
    assert preview == {"eligible": 2, "skipped": {"do_not_contact": 1, "stage": 1, "consent": 1, "address": 1}, "total": 6}
    rep_api = APIClient()
    rep_api.force_authenticate(rep)
    assert rep_api.post(f"/api/campaigns/{pk}/send/").status_code == 403
    with on_commit():
        sent = api.post(f"/api/campaigns/{pk}/send/")
    assert sent.status_code == 202
    again = api.post(f"/api/campaigns/{pk}/send/")
    assert again.status_code == 400 and "campaign" in again.json()["fields"]
    result = api.get(f"/api/campaigns/{pk}/").json()
    assert result["status"] == "done" and result["report"]["sent"] == 2

    page = client_for(marketer).get(f"/campaigns/{pk}/")
    assert page.status_code == 200 and b"Progress and results" in page.content
    draft = client_for(marketer).post("/campaigns/new/", {"message": message("all-promo-id").pk, "segment": segment.pk})
    assert draft.status_code == 302
    shown = client_for(marketer).get(draft["Location"])
    assert b"Send to 1 contact" in shown.content and b"stage does not fit the purpose" in shown.content
    assert client_for(rep).get("/campaigns/").status_code == 200


def test_a_segment_whose_filters_no_longer_validate_sends_to_nobody_and_finishes(smtp_server, instagram_leads,
                                                                                 message, marketer, on_commit):
    """Such a segment matches nobody (never everybody); its fill wrote nothing and closes the campaign instead
    of failing on the empty query (it raised EmptyResultSet, so the task retried for ever)."""
    segment, _people = instagram_leads
    campaign = campaigns.campaign_create(message=message("edu-edu-id"), segment=segment, by=marketer)
    Segment.objects.filter(pk=segment.pk).update(filters={"stage": "no-such-stage"})
    start(campaign, marketer, on_commit=on_commit)
    campaign.refresh_from_db()
    assert (campaign.status, campaign.recipients) == (Campaign.Status.DONE, 0)
    assert not Delivery.objects.filter(campaign=campaign).exists() and smtp_server.messages() == []
