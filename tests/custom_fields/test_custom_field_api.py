"""The API reads and writes custom fields inside `attributes`, checked by type, errors naming attributes.<key>."""

from __future__ import annotations

import pytest

from contacts.models import Contact

pytestmark = pytest.mark.django_db


def test_create_and_patch_store_typed_values(api_for, marketer, fields):
    api = api_for(marketer)
    created = api.post("/api/contacts/", {"email": "api@contoh.co.id", "attributes": {"employees": "75", "plan": "Gold"}},
                       format="json")
    assert created.status_code == 201, created.json()
    assert created.json()["attributes"] == {"employees": 75, "plan": "gold"}
    pk = created.json()["id"]
    patched = api.patch(f"/api/contacts/{pk}/", {"attributes": {"renewal": "2027-03-31", "plan": None}}, format="json")
    assert patched.status_code == 200
    assert patched.json()["attributes"] == {"employees": 75, "renewal": "2027-03-31"}


def test_a_wrong_type_is_a_400_naming_the_attribute(api_for, marketer, fields, make_contact):
    contact = make_contact(attributes={"employees": 5})
    response = api_for(marketer).patch(f"/api/contacts/{contact.pk}/", {"attributes": {"employees": "many", "renewal": "besok"}},
                                       format="json")
    assert response.status_code == 400
    body = response.json()
    assert body["error"] == "validation_error"
    assert set(body["fields"]) == {"attributes.employees", "attributes.renewal"}
    assert "not a number" in body["fields"]["attributes.employees"][0]
    assert Contact.objects.get(pk=contact.pk).attributes == {"employees": 5}


def test_custom_fields_are_listed_in_the_callers_language(api_for, rep, fields, admin):
    from contacts.fields import custom_field_set_active

    custom_field_set_active(field=fields["hobby"], active=False, by=admin)
    listed = api_for(rep).get("/api/custom-fields/", HTTP_ACCEPT_LANGUAGE="id")
    assert listed.status_code == 200
    by_key = {row["key"]: row for row in listed.json()}
    assert list(by_key) == ["employees", "renewal", "plan"]  # by position; the deactivated one is not listed
    assert by_key["employees"]["label"] == "Jumlah karyawan" and by_key["employees"]["attribute"] == "attributes.employees"
    assert by_key["plan"]["choices"][0] == {"value": "gold", "label_en": "Gold", "label_id": "Emas"}
    assert api_for(None).get("/api/custom-fields/").status_code == 401


def test_the_list_filters_custom_fields(api_for, marketer, fields, make_contact):
    make_contact(full_name="Kecil", attributes={"employees": 9})
    make_contact(full_name="Besar", attributes={"employees": 250})
    response = api_for(marketer).get("/api/contacts/", {"attributes.employees__gte": "50"})
    assert response.status_code == 200
    assert [row["full_name"] for row in response.json()["results"]] == ["Besar"]
