"""Normalising and validating contact fields (email, phone, industry, lengths), before any write.

An import normalises each row's email and phone twice (the duplicate lookup, then the cleaner),
and parsing phone numbers is costly (docs/performance.md), so valid results are cached; a
ValidationError is raised afresh, in the reader's language. The most common shapes (an Indonesian
mobile written with digits and separators; an ordinary address) take a fast path that accepts only
what the full check accepts, and leaves everything else to it.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from typing import Any

import phonenumbers
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.utils.translation import gettext as _

from contacts.fields import types as custom_types
from contacts.models import Contact, Industry

# Fields a caller may set on a contact through contact_upsert / contact_update.
CONTACT_FIELDS = (
    "full_name", "email", "phone", "social_handle", "company", "job_title", "city", "industry",
    "source", "utm_source", "utm_medium", "utm_campaign", "external_source", "external_ref",
    "consent_email", "consent_whatsapp", "consent_sms", "do_not_contact", "objects_to_profiling",
)
# Changing one of these can change a score (attribute rules, rule-set choice, profiling);
# attribute rules also read `attributes.<key>` (custom fields and imported columns).
SCORED_FIELDS = (frozenset(CONTACT_FIELDS) - {"external_source", "external_ref"}) | {"attributes"}
BOOLEAN_FIELDS = frozenset({"consent_email", "consent_whatsapp", "consent_sms", "do_not_contact", "objects_to_profiling"})
# The consent flags: written only by contacts.services.consent, with evidence.
CONSENT_FIELDS = BOOLEAN_FIELDS
# Read once: Industry.values rebuilds its list on every access (6 % of an import's time).
INDUSTRIES = frozenset(Industry.values)


def normalize_email(value: str | None) -> str | None:
    """Lowercased and trimmed; None when blank; ValidationError when not an address."""
    value = (value or "").strip().lower()
    return _valid_email(value) if value else None


@functools.lru_cache(maxsize=4096)
def _valid_email(value: str) -> str:
    if not _plain_email(value):
        validate_email(value)
    return value


# Django's own patterns, compiled here once: its validator reaches them through lazy objects,
# which cost more than the match (an import checks 100,000 addresses).
_EMAIL_USER = re.compile(validate_email.user_regex.pattern, validate_email.user_regex.flags)
_EMAIL_DOMAIN = re.compile(validate_email.domain_regex.pattern, validate_email.domain_regex.flags)


def _plain_email(value: str) -> bool:
    """True when validate_email would accept `value` by its user and domain patterns (the
    ordinary case); False sends it to validate_email (which also knows literal domains)."""
    if len(value) > 320 or "@" not in value:
        return False
    user, domain = value.rsplit("@", 1)
    return bool(_EMAIL_USER.match(user) and _EMAIL_DOMAIN.match(domain))


def normalize_phone(value: str | None, region: str = "ID") -> str | None:
    """E.164 (`0812-3456-7890` → `+6281234567890`); None when blank; ValidationError (worded for
    the reader) when the digits cannot be a real number: too short, too long, or a local
    number missing digits (`0812345` is not `+620812345`)."""
    raw = (str(value) if value is not None else "").strip()
    return _e164(raw, region) if raw else None


@functools.lru_cache(maxsize=4096)
def _e164(raw: str, region: str) -> str:
    if region == "ID" and (mobile := _indonesian_mobile(raw)):
        return mobile
    number = phone_parse(raw, region)
    if number is None:
        raise ValidationError(phone_problem(raw, region))
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


_ID = phonenumbers.PhoneMetadata.metadata_for_region("ID")
_ID_NUMBER = re.compile(_ID.general_desc.national_number_pattern)
_ID_MOBILE = re.compile(_ID.mobile.national_number_pattern)
_ID_LENGTHS = frozenset(_ID.general_desc.possible_length) & frozenset(_ID.mobile.possible_length)
_DIGITS_AND_SEPARATORS = re.compile(r"\+?[0-9][0-9 .\-]{0,30}")
_SEPARATORS = str.maketrans("", "", " .-")


def _indonesian_mobile(raw: str) -> str | None:
    """`+62…`, `62…` or `0…` followed by a mobile number, in digits, spaces, dots and hyphens:
    its E.164 form, exactly as libphonenumber's parse and is_valid_number would give it (its own
    metadata's patterns; tests compare the two on many numbers), ~20× faster. None for anything
    else, which phone_parse then reads in full."""
    if not _DIGITS_AND_SEPARATORS.fullmatch(raw):
        return None
    digits = raw.translate(_SEPARATORS)
    if digits.startswith(("+62", "62")):
        national = digits.removeprefix("+")[2:]
    elif digits.startswith("0") and not digits.startswith("00"):
        national = digits[1:]  # the trunk 0
    else:
        return None
    if len(national) in _ID_LENGTHS and _ID_NUMBER.fullmatch(national) and _ID_MOBILE.fullmatch(national):
        return "+62" + national
    return None


def phone_parse(raw: str, region: str = "ID") -> phonenumbers.PhoneNumber | None:
    """The number when it is a valid one for its country (per libphonenumber's metadata), else None.

    Valid, not merely possible: "possible" only checks the length, so a local number with too
    few digits kept its trunk 0 and passed as `+620812345`."""
    digits = "".join(ch for ch in raw if ch.isdigit())
    if not raw.startswith("+") and digits.startswith(str(phonenumbers.country_code_for_region(region))):
        # "62812345678" is +62 812345678 written without its "+" (nobody writes a local number
        # without its trunk 0), although the digits could also pass as a local landline.
        with_plus = _parse_valid("+" + digits, region)
        if with_plus is not None:
            return with_plus
    return _parse_valid(raw, region)


def _parse_valid(raw: str, region: str) -> phonenumbers.PhoneNumber | None:
    try:
        number = phonenumbers.parse(raw, region)
    except phonenumbers.NumberParseException:
        return None
    return number if phonenumbers.is_valid_number(number) else None


def phone_problem(raw: str, region: str = "ID") -> str:
    """Why `raw` is refused, in the reader's language (the caller names the field)."""
    try:
        number = phonenumbers.parse(raw, region)
    except phonenumbers.NumberParseException as exc:
        if exc.error_type == phonenumbers.NumberParseException.TOO_LONG:
            return _("“%(value)s” is too long for a phone number.") % {"value": raw}
        if exc.error_type in (phonenumbers.NumberParseException.TOO_SHORT_NSN,
                              phonenumbers.NumberParseException.TOO_SHORT_AFTER_IDD):
            return _("“%(value)s” is too short for a phone number: give every digit, e.g. 0812-3456-7890.") % {"value": raw}
        return _("“%(value)s” is not a phone number.") % {"value": raw}
    digits = "".join(ch for ch in raw if ch.isdigit())
    if not raw.startswith("+") and digits.startswith("0") and not digits.startswith("00"):
        # A local number: judge its length without the trunk 0, which the parser keeps
        # when what follows is too short or too long to be a number.
        number = phonenumbers.PhoneNumber(country_code=number.country_code, national_number=int(digits[1:] or 0))
    reason = phonenumbers.is_possible_number_with_reason(number)
    if reason in (phonenumbers.ValidationResult.TOO_SHORT, phonenumbers.ValidationResult.IS_POSSIBLE_LOCAL_ONLY):
        return _("“%(value)s” is too short for a phone number: give every digit, e.g. 0812-3456-7890.") % {"value": raw}
    if reason == phonenumbers.ValidationResult.TOO_LONG:
        return _("“%(value)s” is too long for a phone number.") % {"value": raw}
    if reason == phonenumbers.ValidationResult.INVALID_COUNTRY_CODE:
        return _("“%(value)s” has an unknown country code.") % {"value": raw}
    return _("“%(value)s” is not a valid phone number: check the digits.") % {"value": raw}


@functools.lru_cache(maxsize=4096)
def phone_is_mobile(e164: str | None) -> bool:
    """Whether a stored (E.164) number can be a WhatsApp number: a mobile, or a number its
    country does not tell apart from a mobile (the US, Canada)."""
    if not e164:
        return False
    number = phone_parse(e164)
    return number is not None and phonenumbers.number_type(number) in (
        phonenumbers.PhoneNumberType.MOBILE, phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE)


def has_nul(value: Any) -> bool:
    """NUL characters cannot be stored in PostgreSQL text or JSON; refuse them up front."""
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, Mapping):
        return any(has_nul(k) or has_nul(v) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return any(has_nul(v) for v in value)
    return False


class _Clear:
    """A custom field given blank: an explicit edit removes its key from the attributes."""

    def __repr__(self) -> str:
        return "CLEAR"


CLEAR = _Clear()


def custom_values_clean(attributes: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, list[str]]]:
    """The attributes with every active custom field's value stored typed (contacts.fields.types):
    a blank becomes CLEAR; a value of the wrong type is an error under `attributes.<key>`.
    Other keys (imported columns) are kept as given."""
    fields = custom_types.active_by_key() if attributes else {}
    cleaned: dict[str, Any] = dict(attributes)
    errors: dict[str, list[str]] = {}
    for key, value in attributes.items():
        field = fields.get(key)
        if field is None:
            continue
        try:
            typed = custom_types.coerce(field, value)
        except ValidationError as exc:
            errors[f"attributes.{key}"] = exc.messages
            continue
        cleaned[key] = CLEAR if typed is None else typed
    return cleaned, errors


def clean_contact_data(data: Mapping[str, Any]) -> dict[str, Any]:
    """Validate and normalise contact fields; errors are collected per field."""
    unknown = set(data) - set(CONTACT_FIELDS) - {"attributes", "owner", "tags"}
    if unknown:
        raise ValidationError({name: _("Unknown field.") for name in sorted(unknown)})
    cleaned: dict[str, Any] = {}
    errors: dict[str, list[str]] = {}
    for name, value in data.items():
        try:
            if name not in ("owner",) and has_nul(value):
                raise ValidationError(_("Contains a NUL character."))
            if name == "email":
                cleaned[name] = normalize_email(value)
            elif name == "phone":
                cleaned[name] = normalize_phone(value)
            elif name == "industry":
                value = (value or Industry.OTHER).strip().lower()
                if value not in INDUSTRIES:
                    raise ValidationError(
                        _("Unknown industry “%(value)s”; use one of %(choices)s.")
                        % {"value": value, "choices": ", ".join(Industry.values)}
                    )
                cleaned[name] = value
            elif name in BOOLEAN_FIELDS:
                cleaned[name] = bool(value)
            elif name == "external_ref":
                cleaned[name] = (str(value).strip() or None) if value is not None else None
            elif name == "attributes":
                if not isinstance(value, dict):
                    raise ValidationError(_("Must be an object of key/value pairs."))
                cleaned[name], attribute_errors = custom_values_clean(value)
                errors.update(attribute_errors)
            elif name in ("owner", "tags"):
                cleaned[name] = value
            else:
                cleaned[name] = (value or "").strip() if isinstance(value, str) or value is None else str(value)
                max_length = Contact._meta.get_field(name).max_length
                if max_length and len(cleaned[name]) > max_length:
                    raise ValidationError(_("At most %(n)d characters.") % {"n": max_length})
        except ValidationError as exc:
            errors[name] = exc.messages
    if errors:
        raise ValidationError(errors)
    return cleaned
