"""Custom fields' types: checking and storing a value (a number as a JSON number, a date as an ISO
"YYYY-MM-DD" string, a choice as its value), showing it in the viewer's language, and which
operators filters and rules offer for each type. Reads only: the writes are in contacts.fields.

contacts.services.normalise checks every custom field value through `coerce`, so a page, the API,
the capture form and the importer store the same typed value."""

from __future__ import annotations

import contextlib
import contextvars
import math
import re
from collections.abc import Iterator, Mapping
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.core.validators import DecimalValidator
from django.utils import formats
from django.utils.translation import gettext as _

from contacts.models import CustomField

KEY_RE = re.compile(r"^[a-z][a-z0-9_]{0,49}$")
ISO_DATE_RE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")
NUMBER_RE = re.compile(r"^[-+]?([0-9]+(\.[0-9]*)?|\.[0-9]+)$")
MAX_TEXT = 500
Type = CustomField.Type

# The operators each type offers: in the contact list's filters (contacts.attribute_filters) and in
# the rule editor (scoring.engine). Dates compare as ISO text, which sorts like the dates.
FILTER_OPERATORS: dict[str, tuple[str, ...]] = {
    Type.TEXT: ("eq", "ne", "contains", "is_set", "is_blank"),
    Type.NUMBER: ("eq", "ne", "gte", "lte", "is_set", "is_blank"),
    Type.DATE: ("eq", "ne", "gte", "lte", "is_set", "is_blank"),
    Type.CHOICE: ("eq", "ne", "is_set", "is_blank"),
}
RULE_OPERATORS: dict[str, tuple[str, ...]] = {
    Type.TEXT: ("eq", "neq", "in", "not_in", "contains", "startswith", "endswith", "is_set", "is_blank"),
    Type.NUMBER: ("eq", "neq", "in", "not_in", "gt", "gte", "lt", "lte", "is_set", "is_blank"),
    Type.DATE: ("eq", "neq", "gt", "gte", "lt", "lte", "is_set", "is_blank"),
    Type.CHOICE: ("eq", "neq", "in", "not_in", "is_set", "is_blank"),
}

_scope: contextvars.ContextVar[list[CustomField] | None] = contextvars.ContextVar("custom_fields", default=None)


def active_fields() -> list[CustomField]:
    """The active custom fields in order (one small query, or the list `cached()` holds)."""
    held = _scope.get()
    if held is not None:
        return held
    return list(CustomField.objects.filter(active=True).order_by("position", "id"))


def active_by_key() -> dict[str, CustomField]:
    return {field.key: field for field in active_fields()}


@contextlib.contextmanager
def cached() -> Iterator[None]:
    """Within the block, active_fields() reads the fields once: an import checks thousands of rows."""
    token = _scope.set(list(CustomField.objects.filter(active=True).order_by("position", "id")))
    try:
        yield
    finally:
        _scope.reset(token)


# --- values ----------------------------------------------------------------------

def is_blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _number(value: Any) -> int | float:
    if isinstance(value, bool):
        raise ValidationError(_("Give a number, not yes/no."), code="invalid")
    if isinstance(value, (int, float, Decimal)):
        try:
            number = Decimal(str(value))
        except InvalidOperation:
            number = None
    elif isinstance(value, str) and NUMBER_RE.match(value.strip()):
        number = Decimal(value.strip())
    else:
        number = None
    if number is None or not number.is_finite():
        raise ValidationError(_("“%(value)s” is not a number.") % {"value": value}, code="invalid")
    if number == number.to_integral_value() and abs(number) < 2**53:
        return int(number)
    result = float(number)
    if not math.isfinite(result):
        raise ValidationError(_("“%(value)s” is not a number.") % {"value": value}, code="invalid")
    return result


def _locale_number_re() -> re.Pattern[str]:
    thousands = re.escape(formats.get_format("THOUSAND_SEPARATOR"))
    decimal = re.escape(formats.get_format("DECIMAL_SEPARATOR"))
    return re.compile(rf"^[-+]?([0-9]{{1,3}}({thousands}[0-9]{{3}})+|[0-9]+)({decimal}[0-9]+)?$")


def parse_local_number(value: Any) -> Decimal | None:
    """A number as a person types it in the active language ("1.250,5" in Indonesian, "1,250.5" in
    English), or as the API writes it ("1250.5"); None when it is not a number. Thousands separators
    count only in groups of three, so "1.5" stays one and a half in Indonesian too."""
    if isinstance(value, (int, float, Decimal)) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str):
        return None
    text = value.strip().replace("\u00a0", "").replace(" ", "")
    if not text or len(text) > 60:
        return None
    if _locale_number_re().match(text):
        thousands, decimal = formats.get_format("THOUSAND_SEPARATOR"), formats.get_format("DECIMAL_SEPARATOR")
        text = text.replace(thousands, "").replace(decimal, ".")
    elif not NUMBER_RE.match(text):
        return None
    try:
        number = Decimal(text)
    except InvalidOperation:
        return None
    return number if number.is_finite() else None


def as_plain_number(value: Any) -> Decimal | None:
    """A number in the plain form the API and stored filters use ("1250.5"), whatever the language."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float, Decimal)):
        value = str(value)
    if not isinstance(value, str) or not NUMBER_RE.match(value.strip()):
        return None
    try:
        number = Decimal(value.strip())
    except InvalidOperation:
        return None
    return number if number.is_finite() else None


def number_text(number: Decimal) -> str:
    """A Decimal as the API and stored filters write it: "1250", "1250.5" (no exponent)."""
    text = format(number, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text or "0"


def parse_local_date(value: Any) -> date | None:
    """A date as a person types it in the active language (its DATE_INPUT_FORMATS, e.g. 31/03/2027
    in Indonesian) or YYYY-MM-DD; None when it is not a date."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    text = value.strip() if isinstance(value, str) else ""
    if not text:
        return None
    for fmt in ("%Y-%m-%d", *formats.get_format("DATE_INPUT_FORMATS")):
        try:
            return datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    return None


# The day the pages' date messages write as an example: past the 12th, so it shows which number is the day.
EXAMPLE_DAY = date(2026, 12, 31)


def date_example() -> str:
    """How the reader may type a date in the active language, for the pages' messages: the first of
    its DATE_INPUT_FORMATS written with slashes and a four-digit year, what people type ("31/12/2026"
    in Indonesian, "12/31/2026" in English). The API and the importer keep their own wording."""
    typed = [fmt for fmt in formats.get_format("DATE_INPUT_FORMATS") if fmt != "%Y-%m-%d"]
    chosen = next((fmt for fmt in typed if "/" in fmt and "%Y" in fmt), typed[0] if typed else "%Y-%m-%d")
    return EXAMPLE_DAY.strftime(chosen)


def not_a_date(value: Any) -> str:
    """A page's message for a date it cannot read: the reader's format first, ISO still accepted."""
    return _("“%(value)s” is not a date; type it like %(example)s or %(iso)s.") % {
        "value": value, "example": date_example(), "iso": EXAMPLE_DAY.isoformat()}


def not_a_number_or_date() -> str:
    """A page's message for an imported column's "is at least"/"is at most" value that is neither."""
    return _("Give a number or a date (like %(example)s or %(iso)s) to compare with.") % {
        "example": date_example(), "iso": EXAMPLE_DAY.isoformat()}


class LocalDateField(forms.DateField):
    """A date typed in the reader's language (31/12/2026 in Indonesian) or ISO, as the browser's
    date picker sends it; a wrong one says which format to type."""

    def to_python(self, value):
        if value in self.empty_values or (isinstance(value, str) and not value.strip()):
            return None
        day = parse_local_date(value)
        if day is None:
            raise ValidationError(not_a_date(value), code="invalid")
        return day


class LocalNumberField(forms.DecimalField):
    """A number typed in the reader's language ("1.250,5" in Indonesian); shown so too."""

    def __init__(self, *, integer: bool = False, **kwargs):
        self.integer = integer
        kwargs.setdefault("widget", forms.TextInput(attrs={"inputmode": "numeric" if integer else "decimal"}))
        super().__init__(localize=True, **kwargs)
        if integer:  # a whole number: no Decimal digits check (the value is an int)
            self.validators = [v for v in self.validators if not isinstance(v, DecimalValidator)]

    def to_python(self, value):
        if value in self.empty_values or (isinstance(value, str) and not value.strip()):
            return None
        number = parse_local_number(value)
        if number is None or (self.integer and number != number.to_integral_value()):
            if self.integer:  # Django's own message, translated in its catalog
                raise ValidationError(forms.IntegerField.default_error_messages["invalid"], code="invalid")
            raise ValidationError(_("“%(value)s” is not a number.") % {"value": value}, code="invalid")
        return int(number) if self.integer else number

    def validate(self, value):
        if self.integer:
            forms.Field.validate(self, value)
        else:
            super().validate(value)


def _date(value: Any) -> str:
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    text = value.strip() if isinstance(value, str) else ""
    if ISO_DATE_RE.match(text):
        try:
            return date.fromisoformat(text).isoformat()
        except ValueError:
            pass
    raise ValidationError(_("“%(value)s” is not a date; use YYYY-MM-DD.") % {"value": value}, code="invalid")


def _choice(field: CustomField, value: Any) -> str:
    text = str(value).strip() if isinstance(value, (str, int, float)) and not isinstance(value, bool) else None
    if text is not None:
        wanted = text.casefold()
        for choice in field.choices or []:
            stored = str(choice.get("value", ""))
            names = {stored, choice.get("label_en") or "", choice.get("label_id") or ""}
            if wanted in {name.casefold() for name in names if name}:
                return stored
    allowed = ", ".join(str(choice.get("value", "")) for choice in field.choices or [])
    raise ValidationError(_("“%(value)s” is not one of the choices: %(choices)s.") % {"value": value, "choices": allowed},
                          code="invalid_choice")


def coerce(field: CustomField, value: Any) -> Any:
    """The value as stored in Contact.attributes; None for a blank (the field is cleared).
    ValidationError (without the field's name: the caller names it) when it does not fit the type."""
    if is_blank(value):
        return None
    if field.type == Type.NUMBER:
        return _number(value)
    if field.type == Type.DATE:
        return _date(value)
    if field.type == Type.CHOICE:
        return _choice(field, value)
    if isinstance(value, (dict, list, bool)):
        raise ValidationError(_("Give text."), code="invalid")
    text = str(value).strip()
    if len(text) > MAX_TEXT:
        raise ValidationError(_("At most %(n)d characters.") % {"n": MAX_TEXT}, code="max_length")
    return text


def fits(field: CustomField, value: Any) -> bool:
    """Whether a stored value is one the field can hold (a blank fits)."""
    try:
        coerce(field, value)
    except ValidationError:
        return False
    return True


def display(field: CustomField, value: Any) -> str:
    """The stored value in the viewer's language: numbers and dates in the locale's format,
    a choice by its label. A value stored before the field had its type shows as it is."""
    if is_blank(value):
        return ""
    try:
        typed = coerce(field, value)
    except ValidationError:
        return str(value)
    if field.type == Type.NUMBER:
        return formats.number_format(typed, use_l10n=True, force_grouping=True)
    if field.type == Type.DATE:
        return formats.date_format(date.fromisoformat(typed), "DATE_FORMAT")
    if field.type == Type.CHOICE:
        return dict(field.choice_pairs()).get(typed, typed)
    return typed


def form_initial(field: CustomField, value: Any) -> Any:
    """The stored value as a form field's initial value."""
    if is_blank(value):
        return None
    try:
        typed = coerce(field, value)
    except ValidationError:
        return value
    return date.fromisoformat(typed) if field.type == Type.DATE else typed


# --- defining a field --------------------------------------------------------------

def choices_parse(text: str) -> list[dict[str, str]]:
    """The admin form's choices, one a line: `value`, or `value | English label | Indonesian label`."""
    choices: list[dict[str, str]] = []
    seen: set[str] = set()
    for number, line in enumerate((text or "").splitlines(), start=1):
        if not line.strip():
            continue
        parts = [part.strip() for part in line.split("|")]
        if len(parts) > 3 or not parts[0]:
            raise ValidationError(_("Line %(n)d: write “value” or “value | English label | Indonesian label”.") % {"n": number})
        if len(parts[0]) > 100 or any(len(part) > 100 for part in parts):
            raise ValidationError(_("Line %(n)d: at most 100 characters a part.") % {"n": number})
        if parts[0].casefold() in seen:
            raise ValidationError(_("Line %(n)d: “%(value)s” is listed twice.") % {"n": number, "value": parts[0]})
        seen.add(parts[0].casefold())
        choice = {"value": parts[0]}
        if len(parts) > 1 and parts[1]:
            choice["label_en"] = parts[1]
        if len(parts) > 2 and parts[2]:
            choice["label_id"] = parts[2]
        choices.append(choice)
    return choices


def choices_text(choices: list[Mapping[str, str]]) -> str:
    lines = []
    for choice in choices or []:
        parts = [choice.get("value", ""), choice.get("label_en", ""), choice.get("label_id", "")]
        while len(parts) > 1 and not parts[-1]:
            parts.pop()
        lines.append(" | ".join(parts))
    return "\n".join(lines)


def form_field(field: CustomField) -> forms.Field:
    """The form field that edits one custom field's value (blank clears it)."""
    common: dict[str, Any] = {"label": field.label, "required": False}
    if field.type == CustomField.Type.NUMBER:
        return LocalNumberField(**common)
    if field.type == CustomField.Type.DATE:
        return LocalDateField(widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"), **common)
    if field.type == CustomField.Type.CHOICE:
        return forms.ChoiceField(choices=[("", "—"), *field.choice_pairs()], **common)
    return forms.CharField(max_length=MAX_TEXT, **common)


# --- what a person typed into a filter --------------------------------------------------

# The contact list's numeric parameters besides custom fields (their inputs are numbers).
NUMBER_PARAMS = ("score_min", "score_max", "score_gte", "score_lte", "active_within", "inactive_for")
_TYPED_OPS = ("eq", "ne", "gte", "lte")


def filter_label(field: CustomField, op: str) -> str:
    """A custom field's filter by label and operator in words: "Employees is at least"."""
    from contacts.attribute_filters import OPERATOR_LABELS

    return f"{field.label} {OPERATOR_LABELS.get(op, op)}"


def typed_filter_params(params: Any) -> tuple[Any, list[str]]:
    """The contact list's parameters as a person typed them (numbers and dates in their language)
    turned into the form the filters and saved segments keep ("1.250" in Indonesian -> "1250",
    31/03/2027 -> 2027-03-31). A value that does not fit a custom number or date field is taken
    out and reported by the field's label (never a silently empty list); the API and stored
    segments skip this step and read the plain form only."""
    from contacts.attribute_filters import OPERATOR_LABELS, PREFIX, parse_param

    out = params.copy()
    errors: list[str] = []
    fields_by_key: dict[str, CustomField] | None = None
    for name in list(out.keys()):
        value = out.get(name)
        if not isinstance(value, str) or not value.strip():
            continue
        if name in NUMBER_PARAMS:
            number = parse_local_number(value)
            if number is not None:
                out[name] = number_text(number)
            continue
        if not name.startswith(PREFIX):
            continue
        try:
            parsed = parse_param(name)
        except ValidationError:
            continue
        key, op = parsed
        if op not in _TYPED_OPS:
            continue
        if fields_by_key is None:
            fields_by_key = active_by_key()
        field = fields_by_key.get(key)
        if field is not None and field.type == Type.NUMBER:
            number = parse_local_number(value)
            if number is None:
                errors.append(f"{filter_label(field, op)}: " + _("“%(value)s” is not a number.") % {"value": value})
                del out[name]
            else:
                out[name] = number_text(number)
        elif field is not None and field.type == Type.DATE:
            day = parse_local_date(value)
            if day is None:
                errors.append(f"{filter_label(field, op)}: " + not_a_date(value))
                del out[name]
            else:
                out[name] = day.isoformat()
        elif field is None and op in ("gte", "lte"):
            # An imported column compares with a number or an ISO date (attribute_filters.clean_value).
            number = parse_local_number(value)
            day = parse_local_date(value) if number is None else None
            if number is not None:
                out[name] = number_text(number)
            elif day is not None:
                out[name] = day.isoformat()
            else:
                errors.append(f"{key} {OPERATOR_LABELS[op]}: " + not_a_number_or_date())
                del out[name]
    return out, errors
