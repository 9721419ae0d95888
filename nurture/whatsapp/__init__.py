"""WhatsApp click-to-chat: who gets a link, with which prefilled text, and the one service that
logs a click.

A rep's click opens `https://wa.me/<E.164 digits>?text=…` (WhatsApp's own click-to-chat; nothing
is sent by us). The link is offered only with WhatsApp consent, without do-not-contact, and for
a number that can be a WhatsApp number (a mobile, per libphonenumber). The text comes from the
content library (Message, channel `whatsapp`, purpose `follow_up` first, the contact's
industry first, in the contact's language), rendered in the nurture sandbox; without one, a
per-industry default below. The click goes through our endpoint, which logs a `whatsapp_sent`
interaction (one per contact, rep and minute) and redirects to wa.me (views.py).
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from datetime import UTC, datetime
from urllib.parse import quote

from django.core import signing
from django.db import transaction
from django.utils import timezone

from contacts.models import Contact
from contacts.services import LoggedInteraction, contact_mark_contacted, interaction_log, phone_is_mobile
from nurture import rendering
from nurture.guardrails import FOLLOW_UP, PURPOSES_BY_STAGE
from nurture.models import Message, MessageChannel
from nurture.services import message_values

KIND = "whatsapp_sent"
SOURCE = "whatsapp_click"
LANGUAGES = ("id", "en")
TOKEN_SALT = "nurture.whatsapp.click"
TOKEN_MAX_AGE = 60 * 60 * 24  # a page left open for a day still has working links

# Fallback texts when the library has no WhatsApp message for the contact: per industry, in
# both languages (the contact's language, not the viewer's, so these are data, not gettext).
DEFAULT_TEXTS: dict[str, dict[str, str]] = {
    "ecommerce": {
        "id": "Halo {{ first_name }}, saya {{ owner_name }}. Ada pertanyaan soal produk yang Anda lihat? Saya bantu.",
        "en": "Hi {{ first_name }}, this is {{ owner_name }}. Any questions about the products you looked at? Happy to help.",
    },
    "b2b": {
        "id": "Halo {{ first_name }}, saya {{ owner_name }}. Boleh saya tunjukkan demo singkat untuk {{ company }}?",
        "en": "Hi {{ first_name }}, this is {{ owner_name }}. May I show {{ company }} a short demo?",
    },
    "healthcare": {
        "id": "Halo {{ first_name }}, saya {{ owner_name }}. Mau kami bantu buat janji pemeriksaan?",
        "en": "Hi {{ first_name }}, this is {{ owner_name }}. Shall we help you book a check-up?",
    },
    "education": {
        "id": "Halo {{ first_name }}, saya {{ owner_name }}. Mau saya jadwalkan konsultasi gratis?",
        "en": "Hi {{ first_name }}, this is {{ owner_name }}. Shall I book you a free consultation?",
    },
    "other": {
        "id": "Halo {{ first_name }}, saya {{ owner_name }}. Terima kasih atas minat Anda. Ada yang bisa saya bantu?",
        "en": "Hi {{ first_name }}, this is {{ owner_name }}. Thanks for your interest. Anything I can help with?",
    },
}


def eligible(contact: Contact) -> bool:
    """A link only with WhatsApp consent, no do-not-contact, and a mobile number."""
    return bool(contact.consent_whatsapp and not contact.do_not_contact and phone_is_mobile(contact.phone))


def contact_language(contact: Contact) -> str:
    """The language to write to this contact in: an imported `language` attribute when it is
    id or en; otherwise Bahasa Indonesia for an Indonesian number and English for a foreign one."""
    stated = str((contact.attributes or {}).get("language", "")).strip().lower()[:2]
    if stated in LANGUAGES:
        return stated
    return "id" if (contact.phone or "+62").startswith("+62") else "en"


@functools.lru_cache(maxsize=1024)
def _digits(e164: str) -> str:
    return "".join(ch for ch in e164 if ch.isdigit())


def library_texts() -> list:
    """Every live WhatsApp message (a short list): read once per page, chosen per contact in Python."""
    return list(Message.objects.filter(channel=MessageChannel.WHATSAPP, is_archived=False)
                .only("id", "purpose", "industry", "language", "body", "updated_at"))


def choose_message(contact: Contact, messages: Iterable, language: str):
    """The library message for this contact: in its language; purpose `follow_up` before another
    purpose that fits its stage; its own industry before "every industry"; newest first."""
    fitting = PURPOSES_BY_STAGE.get(contact.stage, frozenset()) | {FOLLOW_UP}
    candidates = [m for m in messages if m.language == language and m.purpose in fitting
                  and m.industry in (contact.industry, "")]
    if not candidates:
        return None
    return min(candidates, key=lambda m: (m.purpose != FOLLOW_UP, m.industry != contact.industry,
                                          -m.updated_at.timestamp(), m.pk))


def prefilled_text(contact: Contact, messages: Iterable | None = None, *, sender=None) -> str:
    """The text WhatsApp opens with. `{{ owner_name }}` is the sender (the person clicking, who
    introduces themselves), else the contact's owner."""
    language = contact_language(contact)
    message = choose_message(contact, library_texts() if messages is None else messages, language)
    template = message.body if message is not None else DEFAULT_TEXTS.get(contact.industry, DEFAULT_TEXTS["other"])[language]
    if rendering.problems(template):
        template = DEFAULT_TEXTS.get(contact.industry, DEFAULT_TEXTS["other"])[language]
    values = {**message_values(contact), "unsubscribe_url": ""}
    if getattr(sender, "is_authenticated", False):
        values["owner_name"] = sender.get_full_name() or sender.get_username()
    if not values["owner_name"]:
        values["owner_name"] = "tim kami" if language == "id" else "the team"
    text = rendering.render(template, values)
    # Tidy what empty variables leave behind ("Halo ," → "Halo,").
    return " ".join(text.replace(" ,", ",").split()) if "\n" not in template else text.replace(" ,", ",").strip()


def wa_url(contact: Contact, text: str = "") -> str:
    """`https://wa.me/<digits>` (WhatsApp's click-to-chat), with the prefilled text when given."""
    url = f"https://wa.me/{_digits(contact.phone or '')}"
    return f"{url}?text={quote(text, safe='')}" if text else url


# --- The click -------------------------------------------------------------------

def click_token(*, contact_id: int, user_id: int) -> str:
    """A signed (contact, user) pair: the click endpoint is a GET (a link that opens in a new
    tab), so the signature is what keeps another site from logging clicks for a user (CSRF)."""
    return signing.dumps({"c": contact_id, "u": user_id}, salt=TOKEN_SALT, compress=True)


def click_token_valid(token: str, *, contact_id: int, user_id: int) -> bool:
    try:
        value = signing.loads(token or "", salt=TOKEN_SALT, max_age=TOKEN_MAX_AGE)
    except signing.BadSignature:
        return False
    return value == {"c": contact_id, "u": user_id}


def click_external_id(*, contact_id: int, user_id: int, at: datetime) -> str:
    """One key per contact, rep and minute: a double click or a reload logs one interaction."""
    return f"{contact_id}:{user_id}:{at.astimezone(UTC):%Y%m%d%H%M}"


@transaction.atomic
def whatsapp_chat_log(*, contact: Contact, by, now: datetime | None = None) -> LoggedInteraction:
    """Log a rep's WhatsApp click-to-chat as a `whatsapp_sent` interaction (de-duplicated within
    the minute through the interaction's external id) and count it as a personal touch."""
    now = now or timezone.now()
    logged = interaction_log(
        contact=contact, kind=KIND, occurred_at=now, channel="whatsapp", source=SOURCE,
        external_id=click_external_id(contact_id=contact.pk, user_id=by.pk, at=now),
        data={"stage": contact.stage}, by=by,
    )
    if logged.created:
        contact_mark_contacted(contact.pk, now)
    return logged
