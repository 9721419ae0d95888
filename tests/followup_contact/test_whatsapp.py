"""WhatsApp click-to-chat: who gets a link, the prefilled text, and the logged click."""

from __future__ import annotations

import re
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from django.utils import timezone

from contacts.models import Contact, Interaction
from contacts.services.consent import consent_set
from crm.models import AuditEvent
from followup.services import task_create
from nurture import whatsapp

pytestmark = pytest.mark.django_db


def _link(html: str) -> tuple[str, str]:
    """(our click URL, the wa.me URL) of the page's WhatsApp button."""
    match = re.search(r'data-testid="whatsapp-link"\s+href="([^"]+)" data-wa-href="([^"]+)"', html)
    assert match, "no WhatsApp link on the page"
    return match.group(1).replace("&amp;", "&"), match.group(2).replace("&amp;", "&")


def _text(wa_href: str) -> str:
    return parse_qs(urlsplit(wa_href).query)["text"][0]


# --- Who gets a link -------------------------------------------------------------

def test_the_contact_page_shows_a_wa_me_link_with_the_e164_digits(client_for, rep, wa_prospect):
    html = client_for(rep).get(f"/contacts/{wa_prospect.pk}/").content.decode()
    click, wa_href = _link(html)
    assert wa_href.startswith("https://wa.me/6281234567890?text=")
    assert click.startswith(f"/contacts/{wa_prospect.pk}/whatsapp/?t=")


def test_no_link_without_whatsapp_consent(client_for, rep, make_contact):
    contact = make_contact(phone="081234567891", owner=rep)
    assert "whatsapp-link" not in client_for(rep).get(f"/contacts/{contact.pk}/").content.decode()


def test_no_link_after_consent_is_withdrawn_or_with_do_not_contact(client_for, rep, wa_prospect):
    consent_set(contact=wa_prospect, channel="all", granted=False, source="test", by=rep)
    assert "whatsapp-link" not in client_for(rep).get(f"/contacts/{wa_prospect.pk}/").content.decode()


def test_no_link_for_a_landline(client_for, rep, make_contact):
    contact = make_contact(phone="(021) 555-1234", consent_whatsapp=True, owner=rep)
    html = client_for(rep).get(f"/contacts/{contact.pk}/").content.decode()
    assert "+62215551234" in html and "whatsapp-link" not in html


def test_no_link_for_a_viewer_who_may_not_act_on_the_contact(client_for, other_rep, wa_prospect, settings):
    settings.CRM_SALES_CAN_READ_ALL = True  # may read every contact, change only their own
    response = client_for(other_rep).get(f"/contacts/{wa_prospect.pk}/")
    assert response.status_code == 200 and "whatsapp-link" not in response.content.decode()


def test_the_prospect_queue_shows_the_link_per_row_and_reads_the_library_once(client_for, rep, wa_prospect, make_contact,
                                                                              django_assert_max_num_queries):
    others = [make_contact(phone=f"08123456{n:04d}", consent_whatsapp=True, owner=rep) for n in range(5)]
    Contact.objects.filter(pk__in=[c.pk for c in others]).update(stage="prospect")
    client = client_for(rep)
    client.get("/prospects/mine/")  # warm up the session and caches
    with django_assert_max_num_queries(12):
        html = client.get("/prospects/mine/").content.decode()
    assert html.count('data-testid="whatsapp-link"') == 6



def test_today_shows_the_link_on_each_row_that_may_have_one(client_for, rep, wa_prospect, make_contact,
                                                            django_assert_max_num_queries):
    due = timezone.now() - timedelta(hours=1)
    chatty = [make_contact(phone=f"08123457{n:04d}", consent_whatsapp=True, owner=rep) for n in range(4)]
    silent = make_contact(phone="081234579999", owner=rep)  # no WhatsApp consent: a call only
    for person in [*chatty, silent]:
        task_create(contact=person, type="whatsapp", due_at=due, by=rep)
    client = client_for(rep)
    client.get("/today/")  # warm up the session and caches
    with django_assert_max_num_queries(14):
        html = client.get("/today/").content.decode()
    # The four with consent and the new prospect (wa_prospect, not yet contacted); not the fifth.
    assert html.count('data-testid="whatsapp-link"') == 5
    assert f"/contacts/{silent.pk}/whatsapp/" not in html and "+6281234579999" in html

# --- The prefilled text ------------------------------------------------------------

def test_the_text_comes_from_the_library_for_the_contacts_industry_and_language(client_for, rep, wa_prospect, wa_message):
    wa_message(name="Umum", body="Halo {{ first_name }}, umum.")
    wa_message(name="B2B", industry="b2b", body="Halo {{ first_name }}, demo untuk {{ company }}? {{ owner_name }}")
    wa_message(name="B2B EN", industry="b2b", language="en", body="Hi {{ first_name }}")
    wa_message(name="Promo", industry="b2b", purpose="promo", body="Diskon!")
    _click, wa_href = _link(client_for(rep).get(f"/contacts/{wa_prospect.pk}/").content.decode())
    assert _text(wa_href) == "Halo Dewi, demo untuk PT Maju? Sari"


def test_the_contacts_language_picks_the_english_text(client_for, rep, make_contact, wa_message):
    wa_message(name="ID", body="Halo {{ first_name }}")
    wa_message(name="EN", language="en", body="Hi {{ first_name }}, this is {{ owner_name }}.")
    foreign = make_contact(full_name="John Smith", phone="+44 7911 123456", consent_whatsapp=True, owner=rep)
    stated = make_contact(full_name="Ani Wijaya", phone="081298765432", consent_whatsapp=True, owner=rep,
                          attributes={"language": "en"})
    for contact, first in ((foreign, "John"), (stated, "Ani")):
        _click, wa_href = _link(client_for(rep).get(f"/contacts/{contact.pk}/").content.decode())
        assert _text(wa_href) == f"Hi {first}, this is Sari."


def test_the_link_names_the_language_of_its_prepared_message(client_for, rep, wa_prospect):
    """The message is written in the contact's language, whatever the reader's (issue 18): on an English page the
    link carries lang="id" for its Indonesian title, and its hidden label is back in the page's language."""
    html = client_for(rep).get(f"/contacts/{wa_prospect.pk}/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    link = re.search(r'<a [^>]*data-testid="whatsapp-link".*?</a>', html, flags=re.S).group(0)
    assert re.search(r'lang="id" title="Halo ', link), link
    assert '<span class="visually-hidden" lang="en"> to ' in link, link


def test_without_a_library_message_the_industry_default_is_used_in_both_languages(rep, wa_prospect):
    wa_prospect.owner = rep
    assert whatsapp.prefilled_text(wa_prospect, []) == (
        "Halo Dewi, saya Sari. Boleh saya tunjukkan demo singkat untuk PT Maju?")
    wa_prospect.attributes = {"language": "en"}
    assert whatsapp.prefilled_text(wa_prospect, []) == "Hi Dewi, this is Sari. May I show PT Maju a short demo?"


def test_the_sender_introduces_themselves_when_someone_else_than_the_owner_clicks(client_for, manager, wa_prospect,
                                                                                 wa_message):
    wa_message(body="Halo {{ first_name }}, saya {{ owner_name }}.")
    client = client_for(manager)
    click, wa_href = _link(client.get(f"/contacts/{wa_prospect.pk}/").content.decode())
    assert _text(wa_href) == "Halo Dewi, saya Hendra."
    assert _text(client.get(click)["Location"]) == "Halo Dewi, saya Hendra."


def test_an_archived_message_is_not_used(rep, wa_prospect, wa_message):
    from nurture.services import message_archive

    message_archive(message=wa_message(body="Lama"), by=rep)
    assert "Lama" not in whatsapp.prefilled_text(wa_prospect)


# --- The click ---------------------------------------------------------------------

def test_a_click_logs_one_whatsapp_sent_interaction_and_redirects_to_wa_me(client_for, rep, wa_prospect):
    client = client_for(rep)
    click, wa_href = _link(client.get(f"/contacts/{wa_prospect.pk}/").content.decode())
    response = client.get(click)
    assert response.status_code == 302 and response["Location"] == wa_href
    interaction = Interaction.objects.get(contact=wa_prospect, kind="whatsapp_sent")
    assert (interaction.channel, interaction.source, interaction.created_by) == ("whatsapp", "whatsapp_click", rep)
    wa_prospect.refresh_from_db()
    assert wa_prospect.first_contacted_at is not None  # a personal touch: no longer "never contacted"
    assert any(e.details.get("fields") == ["interactions"] for e in AuditEvent.objects.filter(object_id=str(wa_prospect.pk)))


def test_a_double_click_within_the_minute_logs_once_and_a_later_click_logs_again(rep, wa_prospect):
    now = timezone.now().replace(second=5)
    first = whatsapp.whatsapp_chat_log(contact=wa_prospect, by=rep, now=now)
    again = whatsapp.whatsapp_chat_log(contact=wa_prospect, by=rep, now=now + timedelta(seconds=40))
    later = whatsapp.whatsapp_chat_log(contact=wa_prospect, by=rep, now=now + timedelta(minutes=1))
    assert first.created and not again.created and again.interaction.pk == first.interaction.pk
    assert later.created
    assert Interaction.objects.filter(contact=wa_prospect, kind="whatsapp_sent").count() == 2


def test_repeated_requests_to_the_click_url_log_one_interaction(client_for, rep, wa_prospect):
    client = client_for(rep)
    click, _wa = _link(client.get(f"/contacts/{wa_prospect.pk}/").content.decode())
    for _ in range(3):
        assert client.get(click).status_code == 302
    # Three requests in (almost surely) one minute; at most two if the minute turned over.
    assert 1 <= Interaction.objects.filter(contact=wa_prospect, kind="whatsapp_sent").count() <= 2


def test_a_click_without_the_signed_token_or_with_another_users_is_refused(client_for, rep, manager, wa_prospect):
    assert client_for(rep).get(f"/contacts/{wa_prospect.pk}/whatsapp/").status_code == 403
    forged = whatsapp.click_token(contact_id=wa_prospect.pk, user_id=manager.pk)
    assert client_for(rep).get(f"/contacts/{wa_prospect.pk}/whatsapp/?t={forged}").status_code == 403
    tampered = whatsapp.click_token(contact_id=wa_prospect.pk, user_id=rep.pk)[:-2] + "xx"
    assert client_for(rep).get(f"/contacts/{wa_prospect.pk}/whatsapp/?t={tampered}").status_code == 403
    assert not Interaction.objects.filter(kind="whatsapp_sent").exists()


def test_another_reps_contact_is_not_found_and_nothing_is_logged(client_for, other_rep, wa_prospect):
    token = whatsapp.click_token(contact_id=wa_prospect.pk, user_id=other_rep.pk)
    assert client_for(other_rep).get(f"/contacts/{wa_prospect.pk}/whatsapp/?t={token}").status_code == 404
    assert not Interaction.objects.filter(kind="whatsapp_sent").exists()


def test_a_click_after_consent_was_withdrawn_logs_nothing_and_says_why(client_for, rep, wa_prospect):
    client = client_for(rep)
    click, _wa = _link(client.get(f"/contacts/{wa_prospect.pk}/").content.decode())
    consent_set(contact=wa_prospect, channel="whatsapp", granted=False, source="test", by=rep)
    response = client.get(click, follow=True)
    assert response.redirect_chain[-1][0] == f"/contacts/{wa_prospect.pk}/"
    assert "cannot be messaged on WhatsApp" in response.content.decode()
    assert not Interaction.objects.filter(kind="whatsapp_sent").exists()


def test_the_whatsapp_sent_kind_is_in_the_catalog_and_not_scored_by_default(playbooks, rep, wa_prospect):
    from scoring.models import Rule

    assert not Rule.objects.filter(interaction_kind_id="whatsapp_sent").exists()
    score = wa_prospect.score
    whatsapp.whatsapp_chat_log(contact=wa_prospect, by=rep)
    wa_prospect.refresh_from_db()
    assert wa_prospect.score == score
