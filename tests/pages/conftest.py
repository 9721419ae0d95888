"""Fixtures for the page tests: English rendering and contacts with a known stage history."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from django.utils import timezone

from contacts.models import Contact, Stage, StageChange

REASONS = {
    "lead": ("lead", {"score": 25, "threshold": 20}),
    "prospect": ("prospect", {"score": 64, "threshold": 60}),
    "customer": ("conversion", {"kind": "purchase"}),
    "contact": ("demoted_inactive", {"days": 90, "score": 5}),
}


@pytest.fixture
def pages_english(settings):
    """Assertions read English text (Indonesian rendering is checked through <html lang>)."""
    settings.LANGUAGE_CODE = "en"


@pytest.fixture
def journey(reference_data):
    """A contact that moved through stages at given times, written the way the scorer writes
    them (a StageChange per promotion, the contact's stage and stage_changed_at updated).

    journey(industry="ecommerce", created=now - 2h, steps=[("lead", now - 1h), ("customer", now)])"""
    counter = iter(range(1, 10**6))

    def make(*, created: datetime | None = None, steps: list[tuple[str, datetime]] = (), industry: str = "other",
             source: str = "", owner=None, **fields) -> Contact:
        n = next(counter)
        created = created or timezone.now() - timedelta(days=1)
        fields.setdefault("full_name", f"Journey {n}")
        fields.setdefault("email", f"journey{n}@example.co.id")
        contact = Contact.objects.create(industry=industry, source=source, owner=owner, created_at=created, **fields)
        stage = Stage.CONTACT
        for to_stage, at in steps:
            code, params = REASONS[to_stage]
            StageChange.objects.create(contact=contact, from_stage=stage, to_stage=to_stage, changed_at=at,
                                       reason_code=code, reason_params={**params, "date": at.date().isoformat()})
            stage = to_stage
        if steps:
            Contact.objects.filter(pk=contact.pk).update(stage=stage, stage_changed_at=steps[-1][1])
            contact.refresh_from_db()
        return contact

    return make
