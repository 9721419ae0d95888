"""The phone normaliser (contacts.services.normalize_phone): E.164 for real numbers, a clear
refusal for numbers that cannot be one, and which numbers can be WhatsApp numbers."""

from __future__ import annotations

import phonenumbers
import pytest
from django.core.exceptions import ValidationError
from hypothesis import given, settings
from hypothesis import strategies as st

from contacts.services import clean_contact_data, normalize_phone, phone_is_mobile


@pytest.mark.parametrize(("raw", "expected"), [
    ("0812-3456-7890", "+6281234567890"),
    ("+62 812 3456 7890", "+6281234567890"),
    ("62812-3456-7890", "+6281234567890"),
    ("081234567890", "+6281234567890"),
    ("62812345678", "+62812345678"),  # the country code without its "+", not a landline in area 0628
    ("(021) 555-1234", "+62215551234"),
    ("+1 415 555 2671", "+14155552671"),
    ("+44 7911 123456", "+447911123456"),
])
def test_real_numbers_become_e164(raw, expected):
    assert normalize_phone(raw) == expected


@pytest.mark.parametrize("raw", ["0812345", "0812", "081234"])
def test_a_short_local_number_is_refused_as_too_short_not_stored_with_its_trunk_zero(raw):
    with pytest.raises(ValidationError) as caught:
        normalize_phone(raw)
    assert "too short" in caught.value.messages[0] and raw in caught.value.messages[0]


@pytest.mark.parametrize(("raw", "words"), [
    ("+999 1234567", "not a phone number"),
    ("not a phone", "not a phone number"),
    ("12", "too short"),
    ("2024-01-01", "not a valid phone number"),
    ("0000000", "not a valid phone number"),
    ("+62 812 3456 7890 1234 5678", "too long"),
])
def test_impossible_numbers_are_refused_with_a_reason(raw, words):
    with pytest.raises(ValidationError) as caught:
        normalize_phone(raw)
    assert words in caught.value.messages[0]


def test_the_refusal_names_the_field_and_reads_in_indonesian_too():
    from django.utils import translation

    with pytest.raises(ValidationError) as caught:
        clean_contact_data({"full_name": "Budi", "phone": "0812345"})
    assert list(caught.value.message_dict) == ["phone"]
    with translation.override("id"), pytest.raises(ValidationError) as caught:
        normalize_phone("0812345")
    assert "terlalu pendek" in caught.value.messages[0]


@pytest.mark.parametrize(("e164", "mobile"), [
    ("+6281234567890", True),   # Telkomsel
    ("+62215551234", False),    # a Jakarta landline
    ("+14155552671", True),     # the US does not tell mobiles apart: may be WhatsApp
    ("+447911123456", True),
    ("+442071234567", False),   # a London landline
    (None, False), ("", False), ("+620812345", False),
])
def test_only_mobile_numbers_can_be_whatsapp_numbers(e164, mobile):
    assert phone_is_mobile(e164) is mobile


# Indonesian mobile numbers: 8, an operator digit, then 7 to 10 more digits.
mobile_national = st.builds(lambda op, rest: f"8{op}{rest}", st.sampled_from("1235789"),
                            st.text("0123456789", min_size=7, max_size=10))


@settings(max_examples=300, deadline=None)
@given(mobile_national, st.sampled_from(["0{n}", "+62{n}", "62{n}", "+62 {n}", "0{n} "]))
def test_every_way_of_writing_an_indonesian_number_gives_one_e164(national, pattern):
    raw = pattern.format(n=national)
    try:
        result = normalize_phone(raw)
    except ValidationError:
        # A refusal is only allowed when libphonenumber says the digits are not a number.
        assert not phonenumbers.is_valid_number(phonenumbers.parse("+62" + national))
        return
    assert result == "+62" + national
    assert normalize_phone(result) == result  # idempotent: a stored number re-normalises to itself


@settings(max_examples=300, deadline=None)
@given(st.text("0123456789 -+()", max_size=20))
def test_any_input_is_either_refused_or_a_valid_e164_without_a_trunk_zero(raw):
    try:
        result = normalize_phone(raw)
    except ValidationError as exc:
        assert exc.messages and exc.messages[0]
        return
    if result is None:
        assert not raw.strip()
        return
    assert result.startswith("+") and result[1:].isdigit() and not result.startswith("+620")
    assert phonenumbers.is_valid_number(phonenumbers.parse(result))
