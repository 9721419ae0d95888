"""Fixtures of the bulk action tests: English pages, a small team of contacts with known
stages, tags, owners and consent, a lead sequence, and a helper that starts a bulk action
from the contact list's bar and returns its preview."""

from __future__ import annotations

import re
from dataclasses import dataclass

import pytest
from django.test import Client

from contacts.models import Contact, Tag
from crm.models import BulkAction
from nurture.models import Message
from nurture.sequences import sequence_save


@pytest.fixture(autouse=True)
def _english(settings):
    settings.LANGUAGE_CODE = "en"


@pytest.fixture
def team(rep, other_rep, reference_data):
    """Named contacts: ani and budi (rep's leads, emailable), citra (other rep's lead), dewi (a
    prospect nobody owns), eko (a lead who asked not to be contacted), fitri (a lead without email consent)."""
    def make(name, stage, owner=None, tags=(), **fields):
        contact = Contact.objects.create(full_name=name.title(), email=f"{name}@example.co.id", stage=stage,
                                         owner=owner, industry="education", **fields)
        for tag in tags:
            contact.tags.add(Tag.objects.get_or_create(name=tag)[0])
        return contact

    return {
        "ani": make("ani", "lead", rep, tags=["webinar"], consent_email=True),
        "budi": make("budi", "lead", rep, consent_email=True),
        "citra": make("citra", "lead", other_rep, tags=["webinar"], consent_email=True),
        "dewi": make("dewi", "prospect", consent_email=True),
        "eko": make("eko", "lead", consent_email=True, do_not_contact=True),
        "fitri": make("fitri", "lead"),
    }


@pytest.fixture
def lead_sequence(marketer, reference_data):
    """A running sequence for leads: one education email now, one three days later."""
    steps = [{"wait_days": wait, "message": Message.objects.create(
        name=f"Edu {wait}", channel="email", purpose="education", subject="Panduan",
        body="Halo {{ first_name }} {{ unsubscribe_url }}").pk} for wait in (0, 3)]
    return sequence_save(data={"name": "Lead nurture", "trigger_stage": "lead"}, steps=steps, by=marketer)


@dataclass
class Started:
    response: object
    bulk: BulkAction | None

    @property
    def url(self) -> str:
        return self.response["Location"]


@pytest.fixture
def start():
    """POST the list's bulk bar; the answer redirects to the preview of a new BulkAction."""
    def post(client: Client, action: str, contacts=(), **data) -> Started:
        payload = {"action": action, "next": "/contacts/?stage=lead", **data}
        if contacts:
            payload["ids"] = [c.pk for c in contacts]
        response = client.post("/contacts/bulk/", payload)
        match = re.match(r"^/contacts/bulk/(\d+)/", response.get("Location", ""))
        return Started(response, BulkAction.objects.get(pk=int(match.group(1))) if match else None)

    return post


def text(response) -> str:
    """The page's text with tags and runs of white space collapsed (for phrase assertions)."""
    html = response.content.decode()
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))
