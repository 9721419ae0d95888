"""Custom fields: the definitions (checked, audited) and contact values checked by type in the one write path."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from contacts import services
from contacts.fields import custom_field_save, custom_field_set_active, types
from contacts.models import Contact, CustomField
from crm.models import AuditEvent

pytestmark = pytest.mark.django_db


def test_values_are_stored_typed(fields, make_contact, admin):
    contact = make_contact(email="toko@contoh.co.id")
    services.contact_update(contact=contact, by=admin, data={"attributes": {
        "employees": "120", "renewal": "2027-03-31", "plan": "Emas", "hobby": "  golf ", "segment": "vip"}})
    contact.refresh_from_db()
    assert contact.attributes == {"employees": 120, "renewal": "2027-03-31", "plan": "gold", "hobby": "golf",
                                  "segment": "vip"}
    assert isinstance(contact.attributes["employees"], int)
    services.contact_update(contact=contact, by=admin, data={"attributes": {"employees": 12.5}})
    contact.refresh_from_db()
    assert contact.attributes["employees"] == 12.5


@pytest.mark.parametrize(("key", "value", "message"), [
    ("employees", "many", "is not a number"),
    ("employees", True, "not yes/no"),
    ("renewal", "31/03/2027", "YYYY-MM-DD"),
    ("renewal", "2027-02-30", "YYYY-MM-DD"),
    ("plan", "platinum", "is not one of the choices: gold, basic"),
    ("hobby", "x" * 501, "At most 500 characters"),
])
def test_a_value_of_the_wrong_type_is_refused_naming_the_field(fields, make_contact, admin, key, value, message):
    contact = make_contact()
    with pytest.raises(ValidationError) as caught:
        services.contact_update(contact=contact, by=admin, data={"attributes": {key: value}})
    errors = caught.value.message_dict
    assert list(errors) == [f"attributes.{key}"]
    assert message in " ".join(errors[f"attributes.{key}"])
    contact.refresh_from_db()
    assert key not in contact.attributes


def test_a_blank_value_clears_the_field_and_the_edit_is_audited_and_rescored(fields, make_contact, admin):
    contact = make_contact(attributes={"employees": 40, "segment": "vip"})
    Contact.objects.filter(pk=contact.pk).update(needs_rescore=False)
    services.contact_update(contact=contact, by=admin, data={"attributes": {"employees": ""}})
    contact.refresh_from_db()
    assert contact.attributes == {"segment": "vip"}  # imported attributes are kept
    assert contact.needs_rescore  # attribute rules read attributes.<key>: the change marks the contact
    event = AuditEvent.objects.filter(action="change", object_id=str(contact.pk)).latest("id")
    assert event.details["fields"] == ["attributes"]


def test_an_upsert_coerces_too_and_never_clears(fields, make_contact):
    contact = make_contact(email="a@contoh.co.id", attributes={"employees": "7"})
    assert contact.attributes["employees"] == 7
    services.contact_upsert(data={"email": "a@contoh.co.id", "attributes": {"employees": ""}})
    contact.refresh_from_db()
    assert contact.attributes["employees"] == 7


def test_a_deactivated_field_no_longer_checks_values(fields, make_contact, admin):
    custom_field_set_active(field=fields["employees"], active=False, by=admin)
    contact = make_contact(attributes={"employees": "many"})
    assert contact.attributes["employees"] == "many"


def test_defining_fields_is_checked_and_audited(reference_data, admin):
    field = custom_field_save(data={"key": "seats", "label_en": "Seats", "label_id": "Kursi", "type": "number"}, by=admin)
    assert AuditEvent.objects.filter(action="create", object_type="contacts.customfield", object_id=str(field.pk)).exists()
    with pytest.raises(ValidationError) as caught:
        custom_field_save(data={"key": "seats", "label_en": "Seats", "label_id": "Kursi", "type": "number"}, by=admin)
    assert "key" in caught.value.message_dict
    with pytest.raises(ValidationError) as caught:
        custom_field_save(data={"key": "Bad Key", "label_en": "", "label_id": "x", "type": "choice"}, by=admin)
    assert set(caught.value.message_dict) == {"key", "label_en", "choices"}
    custom_field_save(data={"label_en": "Seats booked"}, field=field, by=admin)
    change = AuditEvent.objects.filter(action="change", object_id=str(field.pk)).get()
    assert change.details["fields"] == ["label_en"]
    assert CustomField.objects.get().label_en == "Seats booked"


def test_display_follows_the_viewers_language(fields):
    from django.utils import translation

    with translation.override("id"):
        assert types.display(fields["employees"], 1234.5) == "1.234,5"
        assert types.display(fields["plan"], "gold") == "Emas"
        assert types.display(fields["renewal"], "2027-03-31") == "31 Mar 2027"
        assert fields["employees"].label == "Jumlah karyawan"
    with translation.override("en"):
        assert types.display(fields["employees"], 1234.5) == "1,234.5"
        assert types.display(fields["plan"], "gold") == "Gold"
        assert types.display(fields["plan"], "basic") == "basic"
        assert types.display(fields["renewal"], "2027-03-31") != "2027-03-31"  # the English date format
        assert types.display(fields["employees"], "not typed") == "not typed"  # stored before the field had a type
        assert fields["employees"].label == "Employees"


def test_choices_text_round_trips():
    parsed = types.choices_parse("gold | Gold | Emas\nbasic\n\n")
    assert parsed == [{"value": "gold", "label_en": "Gold", "label_id": "Emas"}, {"value": "basic"}]
    assert types.choices_text(parsed) == "gold | Gold | Emas\nbasic"
    with pytest.raises(ValidationError):
        types.choices_parse("gold\nGOLD")
