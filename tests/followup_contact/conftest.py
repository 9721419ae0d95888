"""Fixtures for issue 20 parts 3 and 4: a rep's prospect with WhatsApp consent."""

from __future__ import annotations

import pytest


@pytest.fixture
def wa_prospect(make_contact, rep):
    """A prospect owned by `rep`, WhatsApp consent recorded, an Indonesian mobile number."""
    from contacts.models import Contact

    contact = make_contact(full_name="Dewi Lestari", email="dewi@contoh.co.id", phone="0812-3456-7890",
                           company="PT Maju", industry="b2b", consent_whatsapp=True, owner=rep)
    Contact.objects.filter(pk=contact.pk).update(stage="prospect")
    contact.refresh_from_db()
    return contact


@pytest.fixture
def wa_message(marketer):
    """Save a WhatsApp message in the content library through the nurture service."""
    from nurture.services import message_save

    def make(**fields):
        data = {"name": "WA", "channel": "whatsapp", "purpose": "follow_up", "industry": "", "language": "id",
                "body": "Halo {{ first_name }}"}
        data.update(fields)
        return message_save(data=data, by=marketer)

    return make
