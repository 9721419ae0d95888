"""What recipients do: tracked clicks and opens become ordinary interactions (so they score), and
one-click unsubscribe withdraws consent with evidence. Links are signed: no open redirect."""

from __future__ import annotations

import re

import pytest
from django.core import signing
from django.test import Client

from contacts.models import ConsentRecord, Contact, Interaction
from nurture import links, services


def _links(smtp_server) -> dict[str, str]:
    (received,) = smtp_server.messages()
    text = received.get_body(("plain",)).get_content()
    html = received.get_body(("html",)).get_content()
    return {
        "click": re.search(r"https://crm\.example\.co\.id(/t/c/[^\s]+/)", text).group(1),
        "open": re.search(r'https://crm\.example\.co\.id(/t/o/[^"]+\.gif)', html).group(1),
        "unsubscribe": re.search(r"https://crm\.example\.co\.id(/u/[^\s]+/)", text).group(1),
    }


def test_a_lead_who_clicks_an_education_email_becomes_a_prospect_and_gets_a_rep(
        smtp_server, make_contact, log, playbooks, message, marketer, rep, on_commit):
    """The loop closed end to end, by the general playbook's existing rules: a lead with 47 points (a
    price question, 40, and seven visits) clicks the education email (+3 for email_clicked) and reaches
    the prospect threshold (50)."""
    lead = make_contact(full_name="Sari Dewi", email="sari@example.co.id", consent_email=True)
    log(lead, "price_requested")
    for _ in range(7):
        log(lead, "page_viewed")
    lead.refresh_from_db()
    assert (lead.stage, lead.score) == ("lead", 47)

    with on_commit():
        services.message_send(contact=lead, message=message("all-edu-id"), by=marketer)
    click = _links(smtp_server)["click"]
    with on_commit():
        response = Client().get(click)
    assert response.status_code == 302 and response["Location"] == "https://saring.example/panduan"

    lead.refresh_from_db()
    assert (lead.stage, lead.score, lead.owner) == ("prospect", 50, rep)
    clicked = Interaction.objects.get(contact=lead, kind_id="email_clicked")
    assert clicked.data["url"] == "https://saring.example/panduan" and clicked.source == "nurture"
    move = lead.stage_changes.order_by("-pk").first()
    assert (move.from_stage, move.to_stage) == ("lead", "prospect")
    # A second click on the same link is the same interaction, not a second one.
    with on_commit():
        Client().get(click)
    assert Interaction.objects.filter(contact=lead, kind_id="email_clicked").count() == 1


def test_the_open_pixel_logs_one_open(smtp_server, person, message, on_commit):
    lead = person("lead")
    with on_commit():
        delivery = services.message_send(contact=lead, message=message("all-edu-en"), by=None)
    pixel = _links(smtp_server)["open"]
    for _ in range(3):
        response = Client().get(pixel)
        assert response.status_code == 200 and response["Content-Type"] == "image/gif"
    assert Interaction.objects.filter(contact=lead, kind_id="email_opened").count() == 1
    delivery.refresh_from_db()
    assert delivery.opened_at is not None


def test_tampered_or_foreign_links_redirect_nowhere(smtp_server, person, message, on_commit):
    lead = person("lead")
    with on_commit():
        services.message_send(contact=lead, message=message("all-edu-id"), by=None)
    click = _links(smtp_server)["click"]
    client = Client()
    assert client.get(click[:-6] + "AAAAA/").status_code == 404
    forged = signing.dumps([1, "https://evil.example/phish"], key="someone-elses-key", salt=links.CLICK, compress=True)
    assert client.get(f"/t/c/{forged}/").status_code == 404
    # A token signed for another purpose (the unsubscribe one) is not a click token.
    unsubscribe_token = _links(smtp_server)["unsubscribe"].split("/")[2]
    assert client.get(f"/t/c/{unsubscribe_token}/").status_code == 404
    assert client.get("/t/o/nonsense.gif").status_code == 200  # the pixel never tells
    assert not Interaction.objects.filter(kind_id__in=["email_clicked", "email_opened"]).exists()


def test_unsubscribe_asks_on_get_and_withdraws_consent_with_evidence_on_one_click_post(
        smtp_server, person, message, on_commit):
    lead = person("lead")
    with on_commit():
        delivery = services.message_send(contact=lead, message=message("all-edu-id"), by=None)
    url = _links(smtp_server)["unsubscribe"]
    client = Client(enforce_csrf_checks=True)

    asked = client.get(url)
    assert asked.status_code == 200 and b"Unsubscribe from these emails?" in asked.content
    assert Contact.objects.get(pk=lead.pk).consent_email is True, "a link scanner's GET changes nothing"

    # RFC 8058: the mail client posts List-Unsubscribe=One-Click, without a session or CSRF token.
    with on_commit():
        done = client.post(url, data="List-Unsubscribe=One-Click", content_type="application/x-www-form-urlencoded")
    assert done.status_code == 200 and b"You are unsubscribed" in done.content
    lead.refresh_from_db()
    assert lead.consent_email is False
    record = ConsentRecord.objects.get(contact=lead, channel="email", granted=False)
    assert record.source == "unsubscribe link" and record.wording_version == f"delivery:{delivery.pk}"
    assert Interaction.objects.filter(contact=lead, kind_id="unsubscribed").count() == 1
    # Again: nothing more is recorded. And the next email is refused for want of consent.
    client.post(url, data="List-Unsubscribe=One-Click", content_type="application/x-www-form-urlencoded")
    assert ConsentRecord.objects.filter(contact=lead, channel="email", granted=False).count() == 1
    with pytest.raises(services.SendRefused) as refused:
        services.message_send(contact=lead, message=message("all-edu-en"), by=None)
    assert refused.value.reason == "consent"


def test_an_erased_contacts_links_still_answer_and_record_nothing(smtp_server, person, message, admin, on_commit):
    from contacts.privacy import contact_erase

    lead = person("lead")
    with on_commit():
        services.message_send(contact=lead, message=message("all-edu-id"), by=None)
    found = _links(smtp_server)
    contact_erase(contact=lead, by=admin, mode="delete")
    client = Client()
    assert client.get(found["click"]).status_code == 302
    assert client.get(found["open"]).status_code == 200
    assert client.post(found["unsubscribe"]).status_code == 200
    assert not Interaction.objects.exists()


def test_a_compressed_click_token_from_an_earlier_email_still_redirects(smtp_server, person, message, on_commit):
    """Click tokens used to be zlib-compressed; links in emails already sent keep working."""
    lead = person("lead")
    with on_commit():
        delivery = services.message_send(contact=lead, message=message("all-edu-id"), by=None)
    token = signing.dumps([delivery.pk, "https://example.com/brosur"], salt=links.CLICK, compress=True)
    response = Client().get(f"/t/c/{token}/")
    assert response.status_code == 302 and response["Location"] == "https://example.com/brosur"
    assert Interaction.objects.filter(contact=lead, kind_id="email_clicked").count() == 1


@pytest.mark.parametrize("obj, salt", [(7, links.OPEN), (123456789, links.UNSUBSCRIBE),
                                       ([42, "https://example.com/brosur?a=1&b=ü"], links.CLICK)])
@pytest.mark.parametrize("secret", ["settings", "another-secret-key-of-fifty-characters-or-more-0123456789"])
def test_links_are_signed_exactly_as_djangos_signing_dumps(obj, salt, secret, settings):
    if secret != "settings":
        settings.SECRET_KEY = secret
    for _attempt in range(3):  # the timestamp is in seconds: compare two tokens made in the same second
        ours, djangos = links.sign(obj, salt), signing.dumps(obj, salt=salt)
        if ours.split(":")[1] == djangos.split(":")[1]:
            break
    assert ours == djangos
    assert signing.loads(ours, salt=salt) == obj
    with pytest.raises(signing.BadSignature):
        signing.loads(ours, salt=links.CLICK if salt != links.CLICK else links.OPEN)
