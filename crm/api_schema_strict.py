"""How crm.api_strict's rules appear in the OpenAPI schema: request bodies of a
StrictInputSerializer declare additionalProperties false and their "at least / exactly one
of" rules; filter parameters declare their bounds. Imported by crm.apps (drf-spectacular
finds extensions by subclassing), never by crm.api_common, which DRF loads early."""

from __future__ import annotations

from django.forms import IntegerField
from django_filters import NumberFilter
from drf_spectacular.contrib.django_filters import DjangoFilterExtension
from drf_spectacular.extensions import OpenApiSerializerExtension
from rest_framework import serializers
from rest_framework.relations import PrimaryKeyRelatedField

from crm.api_strict import MAX_ID, DeclaredRules, StrictInputSerializer


def _given(name: str, prop: dict) -> dict:
    """A branch of anyOf/oneOf: `name` given, not null and (text) not blank."""
    typed = {"type": prop["type"]} if prop.get("type") else {}
    if prop.get("type") == "string":
        typed["pattern"] = r"\S"
    return {"required": [name], "properties": {name: typed}}


class DeclaredRulesExtension(OpenApiSerializerExtension):
    """Request bodies: a StrictInputSerializer's declares additionalProperties false and
    non-blank text where blanks are refused; any DeclaredRules serializer its anyOf/oneOf."""

    target_class = DeclaredRules
    match_subclasses = True

    def map_serializer(self, auto_schema, direction):
        schema = auto_schema._map_basic_serializer(self.target, direction)
        if direction != "request":
            return schema
        if isinstance(self.target, StrictInputSerializer):
            schema["additionalProperties"] = False
            _declare_field_bounds(self.target, schema)
        cls = type(self.target)
        whole_body = auto_schema.method in ("POST", "PUT") and not getattr(self.target, "partial", False)
        properties = schema.get("properties", {})
        if whole_body and cls.required_any_of:
            schema["anyOf"] = [_given(name, properties.get(name, {})) for name in cls.required_any_of]
        if whole_body and cls.required_one_of:
            schema["oneOf"] = [_given(name, properties.get(name, {})) for name in cls.required_one_of]
        return schema


def _declare_field_bounds(serializer, schema: dict) -> None:
    """What DRF enforces and drf-spectacular leaves out: text that may not be blank is refused
    when only whitespace ("  " is trimmed first), a related id is at most the largest database
    id, a list of nested objects has its length bounds."""
    for name, field in serializer.fields.items():
        prop = schema.get("properties", {}).get(name)
        if prop is not None and isinstance(field, PrimaryKeyRelatedField) and prop.get("type") == "integer":
            prop.setdefault("maximum", MAX_ID)
        if prop is not None and isinstance(field, serializers.ListSerializer):
            for attr, key in (("min_length", "minItems"), ("max_length", "maxItems")):
                if getattr(field, attr, None) is not None:
                    prop.setdefault(key, getattr(field, attr))
        if (prop is not None and isinstance(field, serializers.CharField) and not field.allow_blank
                and field.trim_whitespace and prop.get("type") == "string" and "pattern" not in prop):
            prop["pattern"] = r"\S"


class StrictFilterExtension(DjangoFilterExtension):
    """The filters' parameters as drf-spectacular documents them, plus the bounds the form
    fields enforce (minimum/maximum) and non-empty text for typed parameters."""

    target_class = "crm.api_strict.StrictFilterBackend"
    priority = 1

    def resolve_filter_field(self, auto_schema, model, filterset_class, field_name, filter_field):
        parameters = super().resolve_filter_field(auto_schema, model, filterset_class, field_name, filter_field)
        for parameter in parameters:
            schema = parameter.setdefault("schema", {})
            reads_decimal = isinstance(filter_field, NumberFilter) and filter_field.field_class is not IntegerField
            if reads_decimal and schema.get("type") == "integer":
                schema["type"] = "number"  # a NumberFilter reads a decimal (score_min=0.5), whatever the column
                schema.pop("format", None)
            schema.update(number_filter_bounds(filter_field) if schema.get("type") in ("integer", "number") else {})
        return parameters


def number_filter_bounds(filter_field) -> dict:
    """minimum/maximum a filter enforces: its field's min_value/max_value, and for any
    NumberFilter django-filter's own cap (a MaxValueValidator of 1e50)."""
    bounds = {bound: filter_field.extra[key] for key, bound in (("min_value", "minimum"), ("max_value", "maximum"))
              if filter_field.extra.get(key) is not None}
    cap = filter_field.get_max_validator() if isinstance(filter_field, NumberFilter) else None
    if cap is not None:
        bounds["maximum"] = min(bounds.get("maximum", cap.limit_value), cap.limit_value)
    return bounds
