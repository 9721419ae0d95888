"""Input parsing exactly as strict as the OpenAPI schema says, and the schema saying it.

Three mechanisms, each adopted in one line:

* `StrictInputSerializer` (JSON bodies): unknown keys are refused by name, and so are
  values of the wrong JSON type (a string field refuses 0, an integer field refuses "5" and
  true, a boolean refuses 0). Its schema declares `additionalProperties: false`, and
  `required_any_of` / `required_one_of` declare "give at least / exactly one of these"
  as `anyOf` / `oneOf` (POST and PUT bodies only; a PATCH may leave them out).
* `StrictQuerySerializer` (query strings read with a serializer): unknown parameters and
  empty values are refused by name.
* `StrictFilterBackend` (django-filter lists): empty values of typed parameters (numbers,
  booleans, times, choices, ids) are refused by name, and the schema declares every
  parameter's minimum and maximum.

Why: clients are generated from /api/schema/ (docs/api.md); a server that refuses what the
schema allows, or accepts what it forbids, breaks them. tests/api/test_api_schemathesis.py
runs every schemathesis check against a live server to keep both sides equal.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Mapping
from typing import Any

from django.http import QueryDict
from django.utils.functional import cached_property
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django_filters import filters as dj_filters
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import extend_schema_field
from rest_framework import exceptions, relations, serializers
from rest_framework.utils.serializer_helpers import BindingDict

# --- JSON types -------------------------------------------------------------------------

MAX_ID = 2**63 - 1  # the largest id a database column holds
_NUMBER = (serializers.FloatField, serializers.DecimalField)
_TEXT = (serializers.CharField, serializers.DateTimeField, serializers.DateField, serializers.TimeField,
         serializers.DurationField, serializers.UUIDField)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def json_type_error(field: serializers.Field, value: Any) -> str | None:
    """The message when `value` (parsed JSON) is not of the type the field's schema declares;
    None when it is (or when the field takes any JSON, like JSONField)."""
    if value is None:
        return None  # allow_null is the field's own check
    if isinstance(field, serializers.BooleanField):
        ok, expected = isinstance(value, bool), _("true or false")
    elif isinstance(field, serializers.IntegerField) or isinstance(field, relations.PrimaryKeyRelatedField):
        ok, expected = _is_int(value), _("a whole number")
        if ok and isinstance(field, relations.PrimaryKeyRelatedField) and not 0 <= value <= MAX_ID:
            return _("No such object.")  # beyond any database id (and the schema's maximum)
    elif isinstance(field, _NUMBER):
        ok, expected = _is_int(value) or isinstance(value, float), _("a number")
        if isinstance(field, serializers.DecimalField) and field.coerce_to_string:
            ok = ok or isinstance(value, str)
    elif isinstance(field, serializers.ChoiceField) and not isinstance(field, serializers.MultipleChoiceField):
        ok, expected = isinstance(value, str), _("a text value")
    elif isinstance(field, _TEXT):
        ok, expected = isinstance(value, str), _("a text value")
        max_length = getattr(field, "max_length", None)
        if ok and max_length is not None and len(value) > max_length:
            # Counted before DRF trims whitespace, as the schema's maxLength is.
            return _("At most %(n)d characters.") % {"n": max_length}
    elif isinstance(field, (serializers.ListField, serializers.ListSerializer, serializers.MultipleChoiceField)):
        ok, expected = isinstance(value, list), _("a list")
    elif isinstance(field, (serializers.DictField, serializers.Serializer)):
        ok, expected = isinstance(value, dict), _("an object")
    else:
        return None
    return None if ok else _("Must be %(type)s.") % {"type": expected}


def _type_errors(fields: Mapping[str, serializers.Field], data: Mapping[str, Any]) -> dict[str, Any]:
    errors: dict[str, Any] = {}
    for name, value in data.items():
        field = fields.get(name)
        if field is None or field.read_only:
            continue
        message = json_type_error(field, value)
        if message:
            errors[name] = [message]
        elif isinstance(field, serializers.ListField) and isinstance(value, list):
            items = {str(i): [m] for i, item in enumerate(value) if (m := json_type_error(field.child, item))}
            if items:
                errors[name] = items
    return errors


class DeclaredRules:
    """Rules across fields, declared in the schema (crm.api_schema_strict) for any serializer:
    `required_any_of = ("email", "phone")`: a POST/PUT gives at least one of them, non-blank;
    `required_one_of`: exactly one. The serializer's `validate` enforces the rule."""

    required_any_of: tuple[str, ...] = ()
    required_one_of: tuple[str, ...] = ()


class StrictInputSerializer(DeclaredRules, serializers.Serializer):
    """An input serializer that refuses what it does not accept instead of ignoring it:
    unknown keys get "Unknown field.", known-but-read-only ones "This field is read-only."
    (no silent mass assignment), values of the wrong JSON type "Must be ..." (no silent
    coercion). Subclasses list their read-only names in `read_only_names`; see DeclaredRules
    for "at least / exactly one of"."""

    read_only_names: frozenset[str] = frozenset()
    json_types = True  # form posts and query strings carry text only

    def to_internal_value(self, data):
        if isinstance(data, Mapping):
            writable = {name for name, field in self.fields.items() if not field.read_only}
            errors = {
                key: [_("This field is read-only.") if key in self.read_only_names else _("Unknown field.")]
                for key in data
                if key not in writable
            }
            if not errors and self.json_types and not isinstance(data, QueryDict):
                errors = _type_errors(self.fields, data)
            if errors:
                raise exceptions.ValidationError(errors)
        return super().to_internal_value(data)


class FieldsBuiltOnce:
    """For an input serializer on a hot path whose fields no instance changes (none adds, removes or
    alters a field after __init__): DRF deep-copies every declared field for every instance, which
    runs each field's __init__ again (~0.3 ms for an event's nine fields, a tenth of the request).
    These are copied and bound once per thread and language, then handed to each new instance in
    turn as their parent (the one thing binding sets per instance).

    Per language because DRF renders a length or range message once, on first use, and keeps it
    (rest_framework.utils.formatting.lazy_format). One live instance per thread: an instance's
    fields answer to the newest instance of its class, so read an instance's errors and data
    before making the next (errors and validated data are kept on the instance itself)."""

    _built = threading.local()

    @cached_property
    def fields(self):
        key = (type(self), get_language())
        built = self._built.__dict__
        fields = built.get(key)
        if fields is None:
            fields = built[key] = dict(super().fields)  # DRF's copies, bound to this instance
        for field in fields.values():
            field.parent = self
        bound = BindingDict(self)
        bound.fields = dict(fields)
        return bound


class StrictQuerySerializer(StrictInputSerializer):
    """Query parameters read with a serializer: text values, unknown names and empty values
    refused by name. Pass `request.query_params` (DRF's own `format` is left out)."""

    json_types = False

    def __init__(self, *args, data=serializers.empty, **kwargs):
        if isinstance(data, QueryDict):
            data = {key: value for key, value in data.items() if key != "format"}
        super().__init__(*args, data=data, **kwargs)

    def to_internal_value(self, data):
        if isinstance(data, Mapping):
            empty = {key: [_("Give a value or leave the parameter out.")] for key, value in data.items()
                     if key in self.fields and isinstance(value, str) and not value.strip()}
            if empty:
                raise exceptions.ValidationError(empty)
        return super().to_internal_value(data)


@extend_schema_field({"type": "string", "format": "date-time", "pattern": r"^(19\d\d|[2-9]\d{3})-"})
class DateTimeFrom1900Field(serializers.DateTimeField):
    """An ISO 8601 time written with a year from 1900 (the schema's pattern says so): PostgreSQL
    and the time-zone database disagree before that. The year is checked as written, so
    1900-01-01T00:00+14:00 (still 1899 in UTC) is accepted like the schema allows."""

    def to_internal_value(self, value):
        if isinstance(value, str) and not re.match(r"^\s*(19\d\d|[2-9]\d{3})-", value):
            raise serializers.ValidationError(_("Cannot be before 1900."))
        return super().to_internal_value(value)


# --- Query strings of lists ----------------------------------------------------------------------

# Empty is a valid value of these: a text, or an empty list (`ordering=`, an array in the schema).
_TEXT_FILTERS = (dj_filters.CharFilter, dj_filters.OrderingFilter, dj_filters.BaseCSVFilter)


class StrictFilterBackend(DjangoFilterBackend):
    """django-filter as the API's list filter: a typed parameter given empty (`?since=`) is a
    400 naming it, not silently ignored as in the HTML pages that share the filters."""

    def get_filterset_kwargs(self, request, queryset, view):
        kwargs = super().get_filterset_kwargs(request, queryset, view)
        filterset_class = self.get_filterset_class(view, queryset)
        if filterset_class is not None:
            filters = filterset_class.base_filters
            errors = {}
            for name, value in request.query_params.items():
                flt = filters.get(name)
                if flt is None or isinstance(flt, _TEXT_FILTERS):
                    continue
                if not value.strip():
                    errors[name] = [_("Give a value or leave the parameter out.")]
                elif isinstance(flt, dj_filters.BooleanFilter) and value not in ("true", "false"):
                    errors[name] = [_("Use “true” or “false”.")]
            if errors:
                raise exceptions.ValidationError(errors)
        return kwargs
