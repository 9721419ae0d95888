"""Words other CRMs use for interactions, opt-outs and counts, mapped to our interaction kinds
(contacts/catalog.py). Pure data and string matching: no Django, so it is tested alone.

    activity_kind("Email Opened")          -> "email_opened"
    activity_kind("Had a Phone Conversation") -> "consultation_requested"
    count_kind("TotalVisits")              -> "page_viewed"
    opt_out_target("Do Not Email")         -> "opt_out_email"

An activity value we do not know proposes nothing: the mapping page lets the admin pick a kind
(one they created, too) or ignore it. Outbound actions of the seller ("SMS Sent", "Email
Received" by the lead's inbox from us) and outcomes ("Converted", "Closed Won") propose
nothing on purpose: they say what the team did, or the result the score tries to predict.
"""

from __future__ import annotations

import re
import unicodedata


def norm(text: object) -> str:
    """Lowercase ASCII words separated by single spaces ("E-mail  Opened!" -> "e mail opened")."""
    value = unicodedata.normalize("NFKD", str(text)).encode("ascii", "ignore").decode()
    value = re.sub(r"([a-z])([A-Z])", r"\1 \2", value).lower()  # camelCase: "TotalVisits"
    return re.sub(r"[^a-z0-9]+", " ", value).strip()


# Exact activity names (normalised) -> kind. English names as HubSpot, Salesforce, Mautic,
# LeadSquared and Zoho write them; Indonesian ones as teams here type them.
ACTIVITY_SYNONYMS: dict[str, str] = {
    **dict.fromkeys((
        "email opened", "opened email", "email open", "open email", "marketing email opened", "email dibuka",
        "membuka email", "view in browser link clicked", "email viewed"), "email_opened"),
    **dict.fromkeys((
        "email link clicked", "email clicked", "clicked email", "clicked link in email", "link clicked",
        "marketing email clicked", "klik email", "mengklik tautan email"), "email_clicked"),
    **dict.fromkeys((
        "email bounced", "bounced", "hard bounce", "email hard bounced", "email gagal terkirim"), "email_bounced"),
    **dict.fromkeys((
        "unsubscribed", "unsubscribe", "email unsubscribed", "unsubscribed from email", "opted out",
        "email marked spam", "marked as spam", "spam report", "berhenti berlangganan"), "unsubscribed"),
    **dict.fromkeys((
        "page visited on website", "page viewed", "page view", "visited website", "website visit",
        "web visit", "visited page", "site visit", "melihat halaman", "kunjungan website"), "page_viewed"),
    **dict.fromkeys((
        "form submitted on website", "form submitted", "form submission", "submitted form",
        "converted to lead", "landing page submission", "web form", "isi formulir", "mengisi formulir",
        "formulir terkirim", "daftar online"), "form_submitted"),
    **dict.fromkeys((
        "olark chat conversation", "chat conversation", "live chat", "chat", "whatsapp", "whatsapp message",
        "whatsapp chat", "wa chat", "chat whatsapp", "pesan whatsapp", "replied on whatsapp"), "whatsapp_message"),
    **dict.fromkeys((
        "had a phone conversation", "phone conversation", "call connected", "talked on the phone",
        "consultation", "consultation requested", "meeting booked", "meeting scheduled", "konsultasi",
        "minta konsultasi"), "consultation_requested"),
    **dict.fromkeys(("demo requested", "requested a demo", "demo", "minta demo"), "demo_requested"),
    **dict.fromkeys((
        "price requested", "asked for price", "pricing requested", "tanya harga", "menanyakan harga"), "price_requested"),
    **dict.fromkeys(("quote requested", "requested a quote", "minta penawaran"), "quote_requested"),
    **dict.fromkeys((
        "webinar registered", "registered for webinar", "daftar webinar"), "webinar_registered"),
    **dict.fromkeys(("webinar attended", "attended webinar", "ikut webinar"), "webinar_attended"),
    **dict.fromkeys((
        "content downloaded", "downloaded content", "ebook downloaded", "asset downloaded",
        "unduh konten"), "content_downloaded"),
    **dict.fromkeys(("whitepaper downloaded", "downloaded whitepaper"), "whitepaper_downloaded"),
    **dict.fromkeys((
        "ad clicked", "clicked ad", "ad click", "klik iklan", "facebook lead ad"), "ad_clicked"),
    **dict.fromkeys((
        "newsletter subscribed", "subscribed to newsletter", "resubscribed to emails", "subscribed"), "newsletter_subscribed"),
    **dict.fromkeys((
        "visited booth in tradeshow", "visited booth", "event attended", "seminar registered",
        "daftar seminar"), "seminar_registered"),
    **dict.fromkeys(("brochure requested", "minta brosur"), "brochure_requested"),
    **dict.fromkeys(("added to cart", "cart added", "add to cart", "tambah ke keranjang"), "cart_added"),
    **dict.fromkeys(("checkout started", "started checkout"), "checkout_started"),
    **dict.fromkeys(("product viewed", "viewed product", "lihat produk"), "product_viewed"),
    **dict.fromkeys(("social followed", "followed", "follow instagram"), "social_followed"),
    **dict.fromkeys(("appointment booked", "booked appointment", "buat janji"), "appointment_booked"),
    **dict.fromkeys(("campus visit", "campus visit booked", "kunjungan kampus"), "campus_visit"),
}
# Seller-side actions and outcomes: recognised, and on purpose proposed as nothing.
NOT_INTERACTIONS = frozenset({
    "sms sent", "email sent", "email received", "email delivered", "unreachable", "approached upfront",
    "modified", "lead created", "none", "other", "others", "converted", "closed won", "closed lost", "won", "lost",
    "not interested", "wrong number", "invalid number", "ringing", "busy",
})

# Header words of columns that hold activity names (not dates): "Last Activity", "Last Notable Activity".
ACTIVITY_HEADER_WORDS = ("activity", "activities", "aktivitas", "last action", "last event", "last touch",
                         "notable", "event name", "interaction", "interaksi", "recent conversion")

ORIGIN_WORDS = frozenset({"origin", "source", "sumber", "channel", "medium", "campaign", "kampanye", "asal"})

# Headers of count columns -> the kind one unit stands for.
COUNT_HEADERS: dict[str, str] = {
    **dict.fromkeys((
        "totalvisits", "total visits", "visits", "number of visits", "number of sessions", "sessions",
        "site visits", "website visits", "web visits", "jumlah kunjungan", "kunjungan", "total kunjungan",
        "number of pageviews", "pageviews", "page views", "total page views", "jumlah halaman dilihat"), "page_viewed"),
    **dict.fromkeys((
        "marketing emails opened", "emails opened", "email opens", "opens", "number of opens",
        "jumlah email dibuka"), "email_opened"),
    **dict.fromkeys((
        "marketing emails clicked", "emails clicked", "email clicks", "clicks", "number of clicks"), "email_clicked"),
    **dict.fromkeys((
        "number of form submissions", "form submissions", "forms submitted", "jumlah formulir"), "form_submitted"),
    **dict.fromkeys((
        "unread", "unread messages", "unread count", "messages", "message count", "number of messages",
        "jumlah pesan", "pesan belum dibaca", "total messages"), "whatsapp_message"),
    **dict.fromkeys(("downloads", "number of downloads", "jumlah unduhan"), "content_downloaded"),
}

# Opt-out columns ("yes" = the person said no) -> target. do_not_contact is its own field.
OPT_OUT_HEADERS: dict[str, str] = {
    **dict.fromkeys((
        "do not email", "donotemail", "dont email", "no email", "email opt out", "emailoptout", "opt out email",
        "opted out of email", "unsubscribed", "unsubscribed from all email", "email unsubscribed",
        "unsubscribe", "hasoptedoutofemail", "jangan email", "tidak mau email", "berhenti berlangganan"), "opt_out_email"),
    **dict.fromkeys((
        "do not call", "donotcall", "dont call", "no call", "call opt out", "opt out call", "do not sms",
        "do not whatsapp", "do not text", "sms opt out", "whatsapp opt out", "opt out whatsapp", "jangan telepon",
        "jangan ditelepon", "jangan whatsapp", "jangan wa"), "opt_out_phone"),
}


def activity_kind(value: object, kinds: object = None) -> str | None:
    """The interaction kind an activity name stands for, or None (unknown, or on purpose nothing).
    With `kinds` (a collection of slugs), only a kind that exists."""
    key = norm(value)
    kind = ACTIVITY_SYNONYMS.get(key)
    if kind is None and key not in NOT_INTERACTIONS:
        kind = _by_words(key)
    if kind and kinds is not None and kind not in kinds:
        return None
    return kind


def is_known_activity(value: object) -> bool:
    """Recognised as an activity name, including those that propose no kind on purpose."""
    key = norm(value)
    return key in ACTIVITY_SYNONYMS or key in NOT_INTERACTIONS or _by_words(key) is not None


def _by_words(key: str) -> str | None:
    words = set(key.split())
    if "email" in words or "mail" in words:
        if words & {"opened", "open", "opens"}:
            return "email_opened"
        if words & {"clicked", "click", "clicks"}:
            return "email_clicked"
        if words & {"bounced", "bounce"}:
            return "email_bounced"
    if "form" in words and words & {"submitted", "submission", "filled"}:
        return "form_submitted"
    if "webinar" in words and "attended" in words:
        return "webinar_attended"
    if "webinar" in words and words & {"registered", "registration"}:
        return "webinar_registered"
    # Form names, as HubSpot's "Recent Conversion" writes them: what the form asked for. Only
    # when the value says something was asked or sent ("Pricing Page Visited" proposes nothing).
    if words & _ASKING:
        for kind, names in _FORM_WORDS:
            if words & names:
                return kind
    if {"contact", "us"} <= words or {"contact", "form"} <= words:
        return "form_submitted"
    return None


_ASKING = frozenset({"form", "formulir", "request", "requested", "minta", "permintaan", "download", "downloaded", "unduh"})
_FORM_WORDS: tuple[tuple[str, frozenset[str]], ...] = (
    ("demo_requested", frozenset({"demo"})),
    ("quote_requested", frozenset({"quote", "penawaran"})),
    ("price_requested", frozenset({"price", "pricing", "harga"})),
    ("consultation_requested", frozenset({"consultation", "konsultasi"})),
    ("whitepaper_downloaded", frozenset({"whitepaper"})),
    ("content_downloaded", frozenset({"ebook", "download", "downloaded", "unduh"})),
)


def count_kind(header: str) -> str | None:
    key = norm(header)
    return COUNT_HEADERS.get(key) or COUNT_HEADERS.get(key.replace(" ", ""))


def opt_out_target(header: str) -> str | None:
    key = norm(header)
    return OPT_OUT_HEADERS.get(key) or OPT_OUT_HEADERS.get(key.replace(" ", ""))


# A header that names a measure is not a list of activities: LeadSquared's "Asymmetrique Activity
# Index" holds "01.High", "02.Medium", "03.Low".
MEASURE_HEADER_WORDS = frozenset({"index", "score", "level", "rate", "indeks", "skor"})


def is_activity_header(header: str) -> bool:
    key = norm(header)
    return any(word in key for word in ACTIVITY_HEADER_WORDS) and not set(key.split()) & MEASURE_HEADER_WORDS


def is_origin_header(header: str) -> bool:
    """Where the record came from ("Lead Origin", "Lead Source"). Mostly channels and systems
    ("API", "Lead Import", "Google"); only a value naming the person's own action ("Landing
    Page Submission") is an activity, so the column needs more than a header to become one."""
    return bool(set(norm(header).split()) & ORIGIN_WORDS)
