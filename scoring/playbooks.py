"""Built-in rule-set templates per industry, from the conversions each industry counts.

Each playbook distinguishes the industry's key conversion *events* (scored highest;
those that show buying intent make a prospect) from the conversion that makes a
*customer* (`conversion_kinds`). See docs/decisions.md and the README's tables.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.utils.translation import gettext_noop as N

from contacts.catalog import KINDS  # noqa: F401 - re-exported: the playbooks' kinds

FREE_MAIL = ["gmail.com", "yahoo.com", "yahoo.co.id", "hotmail.com", "outlook.com", "ymail.com", "icloud.com"]
BIG_CITIES = ["Jakarta", "Surabaya", "Bandung", "Medan", "Semarang", "Makassar", "Tangerang", "Bekasi", "Depok", "Denpasar", "Yogyakarta"]


# Labels are stored with the rules in English and marked N(...) (gettext_noop): pages show a built-in
# rule's label in the reader's language (Rule.label_message, set by playbook_load); a label an admin typed shows as typed.
@dataclass(frozen=True)
class I:  # noqa: E742 - a short name keeps the tables below readable
    """An interaction rule: kind, points per occurrence, window in days, cap, label, data condition."""

    kind: str
    points: float
    window_days: int | None
    max_occurrences: int | None
    label: str
    condition: tuple[str, str, object] | None = None


@dataclass(frozen=True)
class A:
    """An attribute rule: field, operator, value, points, label."""

    field: str
    operator: str
    value: object
    points: float
    label: str


@dataclass(frozen=True)
class Playbook:
    name: str
    industry: str  # "" = the default rule set
    title: str
    conversion_events: str
    lead_threshold: int
    prospect_threshold: int
    intent_window_days: int | None
    conversion_kinds: tuple[str, ...]
    decay_half_life_days: float | None
    demote_after_days: int | None
    rules: tuple[I | A, ...] = field(default_factory=tuple)
    prospect_requires_intent: bool = True


COMMON_NEGATIVE = (
    I("unsubscribed", -20, None, 1, N("Unsubscribed")),
    I("email_bounced", -10, None, 1, N("Email bounced")),
    A("do_not_contact", "eq", True, -30, N("Asked not to be contacted")),
)

PLAYBOOKS: dict[str, Playbook] = {
    "ecommerce": Playbook(
        name="ecommerce", industry="ecommerce", title=N("E-commerce"),
        conversion_events="purchase (minutes to hours after the first visit)",
        lead_threshold=15, prospect_threshold=45, intent_window_days=14,
        conversion_kinds=("purchase",), decay_half_life_days=14, demote_after_days=45,
        rules=(
            I("page_viewed", 1, 7, 10, N("Browsed the shop")),
            I("page_viewed", 3, 7, 3, N("Viewed a promo page"), ("path", "contains", "promo")),
            I("product_viewed", 3, 14, 10, N("Viewed a product")),
            I("email_opened", 1, 30, 5, N("Opened an email")),
            I("email_clicked", 3, 30, 5, N("Clicked an email link")),
            I("ad_clicked", 5, 14, 3, N("Clicked an ad")),
            I("social_followed", 8, 90, 1, N("Followed the shop")),
            I("social_engaged", 2, 30, 5, N("Engaged on social media")),
            I("form_submitted", 10, 30, 2, N("Filled a landing-page form")),
            I("newsletter_subscribed", 8, 180, 1, N("Subscribed to the newsletter")),
            I("whatsapp_message", 6, 14, 3, N("Chatted on WhatsApp")),
            I("cart_added", 15, 7, 3, N("Added to cart")),
            I("checkout_started", 20, 7, 2, N("Started checkout")),
            I("price_requested", 15, 14, 2, N("Asked for a price")),
            I("competitor_compared", 10, 14, 2, N("Compared with other shops")),
            I("purchase", 50, 365, 3, N("Bought")),
            *COMMON_NEGATIVE,
            A("phone", "is_set", None, 5, N("Has a phone number")),
            A("consent_whatsapp", "eq", True, 3, N("Opted in to WhatsApp")),
            A("consent_email", "eq", True, 2, N("Opted in to email")),
            A("city", "in", BIG_CITIES, 2, N("Lives in a same-day delivery city")),
            A("utm_medium", "eq", "cpc", 2, N("Came from a paid ad")),
            A("attributes.cart_value", "gte", 500000, 5, N("Cart worth Rp500,000 or more")),
        ),
    ),
    "b2b": Playbook(
        name="b2b", industry="b2b", title=N("B2B"),
        conversion_events="demo or consultation request, webinar, whitepaper download (months)",
        lead_threshold=25, prospect_threshold=60, intent_window_days=90,
        conversion_kinds=("contract_signed",), decay_half_life_days=90, demote_after_days=180,
        rules=(
            I("page_viewed", 1, 90, 15, N("Visited the website")),
            I("email_opened", 1, 90, 10, N("Opened an email")),
            I("email_clicked", 3, 90, 5, N("Clicked an email link")),
            I("ad_clicked", 3, 60, 3, N("Clicked an ad")),
            I("social_followed", 5, 365, 1, N("Followed the company page")),
            I("form_submitted", 10, 180, 3, N("Filled a landing-page form")),
            I("form_submitted", 10, 180, 1, N("Company of 50+ people"), ("company_size", "gte", 50)),
            I("newsletter_subscribed", 5, 365, 1, N("Subscribed to the newsletter")),
            I("content_downloaded", 8, 180, 3, N("Downloaded content")),
            I("whitepaper_downloaded", 15, 180, 3, N("Downloaded a whitepaper")),
            I("webinar_registered", 12, 180, 3, N("Registered for a webinar")),
            I("webinar_attended", 15, 180, 3, N("Attended a webinar")),
            I("demo_requested", 30, 120, 1, N("Requested a demo")),
            I("consultation_requested", 25, 120, 2, N("Requested a consultation")),
            I("price_requested", 20, 90, 2, N("Asked for pricing")),
            I("quote_requested", 25, 90, 2, N("Requested a quote")),
            I("competitor_compared", 10, 90, 2, N("Compared with competitors")),
            I("contract_signed", 50, None, 1, N("Signed a contract")),
            *COMMON_NEGATIVE,
            A("job_title", "contains", "manager", 10, N("Job title: manager")),
            A("job_title", "contains", "direktur", 15, N("Job title: direktur")),
            A("job_title", "contains", "director", 15, N("Job title: director")),
            A("email_domain", "in", FREE_MAIL, -5, N("Uses a free-mail address")),
            A("company", "is_set", None, 5, N("Company given")),
            A("phone", "is_set", None, 5, N("Has a phone number")),
        ),
    ),
    "healthcare": Playbook(
        name="healthcare", industry="healthcare", title=N("Healthcare"),
        conversion_events="appointment booking, check-up (MCU) form, screening result download",
        lead_threshold=15, prospect_threshold=40, intent_window_days=30,
        conversion_kinds=("appointment_booked", "screening_result_downloaded"), decay_half_life_days=30, demote_after_days=90,
        rules=(
            I("page_viewed", 1, 30, 10, N("Read health pages")),
            I("email_opened", 1, 60, 5, N("Opened an email")),
            I("email_clicked", 2, 60, 5, N("Clicked an email link")),
            I("ad_clicked", 4, 30, 3, N("Clicked an ad")),
            I("social_followed", 5, 180, 1, N("Followed the clinic")),
            I("social_engaged", 2, 60, 5, N("Engaged on social media")),
            I("form_submitted", 10, 60, 2, N("Filled a landing-page form")),
            I("newsletter_subscribed", 5, 365, 1, N("Subscribed to health tips")),
            I("whatsapp_message", 8, 30, 3, N("Chatted on WhatsApp")),
            I("content_downloaded", 6, 90, 3, N("Downloaded a health guide")),
            I("webinar_registered", 8, 90, 2, N("Registered for a health talk")),
            I("checkup_form_submitted", 25, 60, 2, N("Filled the check-up (MCU) form")),
            I("consultation_requested", 20, 60, 2, N("Asked for a consultation")),
            I("price_requested", 15, 30, 2, N("Asked for package prices")),
            I("competitor_compared", 8, 30, 2, N("Compared clinics")),
            I("appointment_booked", 40, 365, 3, N("Booked an appointment")),
            I("screening_result_downloaded", 30, 365, 3, N("Downloaded a screening result")),
            *COMMON_NEGATIVE,
            A("phone", "is_set", None, 5, N("Has a phone number")),
            A("consent_whatsapp", "eq", True, 5, N("Opted in to WhatsApp")),
            A("city", "in", BIG_CITIES, 2, N("Lives near a branch")),
            A("attributes.age", "gte", 40, 5, N("Aged 40+: screening recommended")),
        ),
    ),
    "education": Playbook(
        name="education", industry="education", title=N("Education"),
        conversion_events="brochure request, seminar or webinar registration, curriculum consultation",
        lead_threshold=20, prospect_threshold=50, intent_window_days=60,
        conversion_kinds=("enrolled",), decay_half_life_days=45, demote_after_days=120,
        rules=(
            I("page_viewed", 1, 60, 10, N("Visited the website")),
            I("email_opened", 1, 90, 5, N("Opened an email")),
            I("email_clicked", 2, 90, 5, N("Clicked an email link")),
            I("ad_clicked", 3, 60, 3, N("Clicked an ad")),
            I("social_followed", 6, 365, 1, N("Followed the school")),
            I("social_engaged", 2, 60, 5, N("Engaged on social media")),
            I("form_submitted", 10, 120, 2, N("Filled a landing-page form")),
            I("newsletter_subscribed", 5, 365, 1, N("Subscribed to the newsletter")),
            I("whatsapp_message", 6, 60, 3, N("Chatted on WhatsApp")),
            I("brochure_requested", 15, 120, 2, N("Requested a brochure")),
            I("seminar_registered", 15, 120, 2, N("Registered for a seminar")),
            I("webinar_registered", 12, 120, 2, N("Registered for a webinar")),
            I("webinar_attended", 15, 120, 2, N("Attended a webinar")),
            I("content_downloaded", 5, 120, 3, N("Downloaded a study guide")),
            # An explicit request is worth the prospect bar minus 10: with any other sign of a real
            # person (a form, a visit, a phone number) it makes a prospect (docs/decisions.md).
            I("curriculum_consultation", 40, 90, 2, N("Curriculum consultation")),
            I("consultation_requested", 40, 90, 2, N("Asked for a consultation")),
            I("campus_visit", 40, 90, 1, N("Booked a campus visit")),
            I("price_requested", 40, 60, 2, N("Asked about tuition fees")),
            I("competitor_compared", 8, 60, 2, N("Compared schools")),
            I("enrolled", 50, None, 1, N("Enrolled")),
            *COMMON_NEGATIVE,
            A("phone", "is_set", None, 5, N("Has a phone number")),
            A("consent_whatsapp", "eq", True, 3, N("Opted in to WhatsApp")),
            A("city", "in", BIG_CITIES, 2, N("Lives in a campus city")),
        ),
    ),
    "general": Playbook(
        name="general", industry="", title=N("Default"),
        conversion_events="purchase or signed contract",
        lead_threshold=20, prospect_threshold=50, intent_window_days=30,
        conversion_kinds=("purchase", "contract_signed", "appointment_booked", "enrolled"),
        decay_half_life_days=None, demote_after_days=None,
        rules=(
            I("page_viewed", 1, 30, 10, N("Visited the website")),
            I("email_opened", 1, 60, 5, N("Opened an email")),
            I("email_clicked", 3, 60, 5, N("Clicked an email link")),
            I("ad_clicked", 5, 30, 3, N("Clicked an ad")),
            I("social_followed", 8, 180, 1, N("Followed a social account")),
            I("form_submitted", 12, 90, 2, N("Filled a landing-page form")),
            I("content_downloaded", 8, 90, 3, N("Downloaded content")),
            I("whatsapp_message", 6, 30, 3, N("Chatted on WhatsApp")),
            # An explicit request is worth the prospect bar minus 10 (as in `education`).
            I("price_requested", 40, 30, 2, N("Asked for a price")),
            I("demo_requested", 40, 60, 1, N("Requested a demo")),
            I("consultation_requested", 40, 60, 2, N("Requested a consultation")),
            I("quote_requested", 40, 60, 2, N("Requested a quote")),
            I("competitor_compared", 10, 30, 2, N("Compared with competitors")),
            I("purchase", 50, None, 3, N("Bought")),
            *COMMON_NEGATIVE,
            A("phone", "is_set", None, 5, N("Has a phone number")),
            A("email_domain", "in", FREE_MAIL, -2, N("Uses a free-mail address")),
        ),
    ),
}


def _window(days: int | None) -> str:
    return "all time" if days is None else f"{days} d"


def markdown_tables() -> str:
    """The README's playbook section, generated from the data above (a test keeps them in sync)."""
    out = []
    for pb in PLAYBOOKS.values():
        policy = (
            f"lead ≥ {pb.lead_threshold}; prospect ≥ {pb.prospect_threshold}"
            f"{' with an intent interaction in ' + _window(pb.intent_window_days) if pb.prospect_requires_intent else ''}; "
            f"customer on {', '.join(f'`{k}`' for k in pb.conversion_kinds)}; "
            f"decay half-life {_window(pb.decay_half_life_days) if pb.decay_half_life_days else 'none'}; "
            f"demote after {_window(pb.demote_after_days) if pb.demote_after_days else 'never'} idle"
        )
        out += [f"#### `{pb.name}` — {pb.title}{' (the default rule set)' if not pb.industry else ''}",
                f"Counts as conversion: {pb.conversion_events}. Policy: {policy}.", "",
                "| rule | kind / field | points | window | cap |", "| --- | --- | ---: | --- | ---: |"]
        for r in pb.rules:
            if isinstance(r, I):
                cond = f" where `{r.condition[0]} {r.condition[1]} {r.condition[2]}`" if r.condition else ""
                out.append(f"| {r.label} | `{r.kind}`{cond} | {r.points:+g} | {_window(r.window_days)} | {r.max_occurrences or '—'} |")
            else:
                value = "" if r.value is None else f" {r.value if not isinstance(r.value, list) else ', '.join(map(str, r.value))}"
                out.append(f"| {r.label} | `{r.field}` {r.operator}{value} | {r.points:+g} | — | — |")
        out.append("")
    return "\n".join(out).rstrip() + "\n"


if __name__ == "__main__":
    print(markdown_tables(), end="")
