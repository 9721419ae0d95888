"""The normaliser's fast paths (contacts.services.normalise): an Indonesian mobile number and an
ordinary email address are accepted without libphonenumber's full parse or Django's validator,
and must give exactly what those give. Each test compares the fast answer with the full one on
many generated inputs; the fast path may decline (None / False), never disagree."""

from __future__ import annotations

import phonenumbers
import pytest
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from hypothesis import given, settings
from hypothesis import strategies as st

from contacts.services import normalise
from contacts.services.normalise import normalize_email, normalize_phone


def _full_parse(raw: str) -> str | None:
    number = normalise.phone_parse(raw, "ID")
    return None if number is None else phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


separator = st.sampled_from(["", "", "", " ", "-", ".", " - "])
written_number = st.builds(
    lambda prefix, digits, cuts: prefix + "".join(d + cut for d, cut in zip(digits, cuts, strict=False)),
    st.sampled_from(["0", "+62", "62", "+62 ", "08", "+628", "628", "00", "+6208", "062", "8", "+1", "0 8"]),
    st.text("0123456789", min_size=4, max_size=15),
    st.lists(separator, min_size=15, max_size=15),
)


@settings(max_examples=3000, deadline=None)
@given(written_number)
def test_the_mobile_fast_path_gives_what_the_full_parse_gives(raw):
    fast = normalise._indonesian_mobile(raw)
    if fast is not None:
        assert fast == _full_parse(raw)


@pytest.mark.parametrize(("raw", "expected"), [
    ("0812-3456-7890", "+6281234567890"),
    ("+62 812 3456 7890", "+6281234567890"),
    ("62812.3456.7890", "+6281234567890"),
    ("0859 1234 5678", "+6285912345678"),
])
def test_common_mobile_numbers_take_the_fast_path(raw, expected):
    assert normalise._indonesian_mobile(raw) == expected == _full_parse(raw)


@pytest.mark.parametrize("raw", [
    "(021) 555-1234",      # a landline: the full parse
    "+1 415 555 2671",     # another country
    "0812345",             # too short: the full parse explains why
    "+62 0812 3456 7890",  # a trunk 0 after the country code
    "0812 3456 7890 ext 1",
])
def test_anything_else_is_left_to_the_full_parse(raw):
    assert normalise._indonesian_mobile(raw) is None


def test_normalize_phone_still_refuses_what_the_fast_path_declines():
    with pytest.raises(ValidationError):
        normalize_phone("0812345")
    assert normalize_phone("(021) 555-1234") == "+62215551234"


address = st.builds(
    lambda user, domain, tld: f"{user}@{domain}.{tld}",
    st.text("abcxyz09._-+'!#~\"", min_size=0, max_size=12),
    st.text("abc09-.", min_size=0, max_size=12),
    st.text("abcid-", min_size=0, max_size=4),
)


def _django_accepts(value: str) -> bool:
    try:
        validate_email(value)
    except ValidationError:
        return False
    return True


@settings(max_examples=3000, deadline=None)
@given(st.one_of(address, st.text(max_size=20)))
def test_the_email_fast_path_accepts_only_what_django_accepts(value):
    if normalise._plain_email(value):
        assert _django_accepts(value)


@pytest.mark.parametrize(("value", "fast"), [
    ("budi.santoso@example.co.id", True),
    ("siti+promo@toko.id", True),
    ("user@[192.168.1.1]", False),   # a literal domain: Django's validator decides (it accepts)
    ("user@localhost", False),       # Django's allowlist: its validator decides (it accepts)
    ("not an address", False),
])
def test_ordinary_addresses_take_the_fast_path(value, fast):
    assert normalise._plain_email(value) is fast


def test_normalize_email_still_accepts_what_only_django_knows_and_refuses_the_rest():
    assert normalize_email(" User@[192.168.1.1] ") == "user@[192.168.1.1]"
    assert normalize_email("user@localhost") == "user@localhost"
    with pytest.raises(ValidationError):
        normalize_email("budi@@example.com")
