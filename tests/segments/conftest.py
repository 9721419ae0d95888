"""Fixtures of the segment tests: English messages, API clients with tokens, and a crowd of
contacts with known fields and imported attributes."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.cache import cache
from django.utils import timezone

from contacts.models import Contact, Tag

NOW = timezone.now()


@pytest.fixture(autouse=True)
def _english_and_fresh_throttles(settings):
    settings.LANGUAGE_CODE = "en"
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def crowd(admin, rep, other_rep, reference_data):
    """Named contacts with known fields and attributes (JSON numbers, numeric strings, text,
    booleans, nulls, blanks and missing keys)."""
    def make(name, **fields):
        tags = fields.pop("tags", [])
        contact = Contact.objects.create(full_name=name, email=f"{name}@example.co.id", **fields)
        for tag in tags:
            contact.tags.add(Tag.objects.get_or_create(name=tag)[0])
        return contact

    make("ani", stage="lead", industry="education", source="instagram", owner=rep, score=30,
         consent_email=True, last_interaction_at=NOW - timedelta(days=2), tags=["webinar", "vip"],
         attributes={"plan": "Gold", "employees": 120, "budget": "  2500000 ", "joined": "2024-03-01",
                     "member": True, "note": "likes the brochure"})
    make("budi", stage="lead", industry="education", source="Instagram", owner=other_rep, score=10,
         consent_whatsapp=True, last_interaction_at=NOW - timedelta(days=40), tags=["webinar"],
         attributes={"plan": "silver", "employees": "45", "budget": 900000.5, "joined": "2023-11-20",
                     "member": False, "note": ""})
    make("citra", stage="prospect", industry="b2b", source="google", owner=None, score=70,
         consent_email=True, consent_whatsapp=True, do_not_contact=True, last_interaction_at=None,
         attributes={"plan": "GOLD", "employees": "many", "budget": None, "note": "   "})
    make("dewi", stage="customer", industry="b2b", source="referral", owner=rep, score=95,
         consent_sms=True, last_interaction_at=NOW - timedelta(days=10), attributes={})
    make("eko", stage="contact", industry="other", source="", score=-5,
         attributes={"plan": 7, "employees": 7.5, "joined": "not a date", "note": "Gold member"})
    return admin


