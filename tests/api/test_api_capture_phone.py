"""Issue 20: capture and the contacts API refuse an impossible phone, naming the field."""

from __future__ import annotations

import pytest

from contacts.models import Contact

pytestmark = pytest.mark.django_db


def test_capture_refuses_a_short_local_phone_naming_the_field_and_writes_nothing(api_for, capture_form):
    response = api_for().post("/api/capture/", {"form_key": capture_form.public_key, "name": "Agus", "phone": "0812345"},
                              format="json")
    assert response.status_code == 400
    fields = response.json()["fields"]
    assert list(fields) == ["phone"] and "too short" in fields["phone"][0]
    assert not Contact.objects.exists()


def test_the_contacts_api_refuses_a_short_local_phone_naming_the_field(api_for, admin):
    response = api_for(admin).post("/api/contacts/", {"full_name": "Agus", "phone": "0812345"}, format="json")
    assert response.status_code == 400
    fields = response.json()["fields"]
    assert list(fields) == ["phone"] and "too short" in fields["phone"][0]
    assert not Contact.objects.exists()
