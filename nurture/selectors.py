"""Nurture reads for pages and API: a contact's deliveries and what to send them next."""

from __future__ import annotations

from django.db.models import Case, IntegerField, QuerySet, Value, When

from contacts.models import Contact
from nurture import guardrails
from nurture.models import Delivery, Enrollment, Message, MessageChannel


def recipient_of(contact: Contact) -> guardrails.Recipient:
    return guardrails.Recipient(stage=contact.stage, consent_email=contact.consent_email,
                                consent_whatsapp=contact.consent_whatsapp, do_not_contact=contact.do_not_contact,
                                email=contact.email, phone=contact.phone)


def deliveries_for(contact: Contact, *, limit: int = 20) -> list[Delivery]:
    return list(Delivery.objects.filter(contact=contact).select_related("message").order_by("-created_at", "-id")[:limit])


def enrollments_for(contact: Contact, *, limit: int = 10) -> list[Enrollment]:
    return list(Enrollment.objects.filter(contact=contact).select_related("sequence").order_by("-enrolled_at", "-id")[:limit])


def library(*, purpose: str = "", channel: str = "", industry: str = "", language: str = "") -> QuerySet[Message]:
    messages = Message.objects.filter(is_archived=False)
    for name, value in (("purpose", purpose), ("channel", channel), ("language", language)):
        if value:
            messages = messages.filter(**{name: value})
    if industry:
        messages = messages.filter(industry__in=[industry, ""])
    return messages


def next_messages(contact: Contact, *, limit: int = 5) -> list[Message]:
    """What fits this contact now: a purpose its stage allows, its industry (or every industry),
    a channel it opted in to; its own industry's messages first."""
    recipient = recipient_of(contact)
    channels = [c for c in MessageChannel.values if guardrails.channel_refusal(recipient, c) is None]
    if not channels:
        return []
    return list(
        library(industry=contact.industry)
        .filter(purpose__in=guardrails.PURPOSES_BY_STAGE[contact.stage], channel__in=channels)
        .annotate(own=Case(When(industry=contact.industry, then=Value(0)), default=Value(1), output_field=IntegerField()))
        .order_by("own", "purpose", "-updated_at")[:limit]
    )
