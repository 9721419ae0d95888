"""Saved segments over REST: /api/segments/ (CRUD) and /api/segments/<id>/contacts/.

Marketers and admins write; every role reads (a sales rep gets only their own contacts
from a segment). Writes go through contacts.segments; contacts through
contacts.selectors.segment_contacts, rendered with the /api/contacts/ serializer."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from drf_spectacular.extensions import OpenApiSerializerFieldExtension
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from contacts import segments
from contacts.api.serializers import ContactSerializer
from contacts.attribute_filters import OPERATORS
from contacts.models import Segment
from contacts.selectors import ContactFilter, segment_contacts
from crm import roles
from crm.api_common import ALL_ROLES, StrictInputSerializer, no_nul
from crm.api_schema_strict import number_filter_bounds

H = gettext_lazy
WRITERS = frozenset({roles.ADMIN, roles.MARKETER})

FILTERS_DESCRIPTION = H(
    "The segment's definition: an object of the contact list's filters, all of which must match. "
    "Keys: stage, industry, source, owner (a user id, \"me\" for whoever uses the segment, \"none\"), tag, "
    "score_gte, score_lte, active_within (days), inactive_for (days), last_interaction_before (ISO 8601), "
    "consent (email, whatsapp, sms, none, do_not_contact), consent_email, consent_whatsapp, consent_sms, "
    "do_not_contact (true/false), search, and any imported attribute as \"attributes.<key>\" (equals) or "
    "\"attributes.<key>__<op>\" with op one of eq, ne, gte, lte, contains, is_set, is_blank. Numbers compare as "
    "numbers when the stored value is a number or a numeric string; gte/lte also take an ISO date. Example: "
    "{\"stage\": \"lead\", \"industry\": \"education\", \"tag\": \"webinar\", \"score_gte\": 10, "
    "\"attributes.segment\": \"gold\", \"attributes.employees__gte\": 50}. An unknown key or a bad value is a 400 "
    "naming it (\"filters.stage\"). A segment is evaluated whenever it is used."
)
_SCALAR = {"oneOf": [{"type": "string"}, {"type": "number"}, {"type": "boolean"}], "nullable": True}


def _filter_schema(name: str, flt) -> dict:
    """One filter's value: null or blank leaves the filter out."""
    import django_filters

    if name == "owner":
        return {"oneOf": [{"type": "string"}, {"type": "integer"}], "nullable": True, "description": str(flt.label)}
    schema: dict = {"type": "string", "nullable": True, "description": str(flt.label)}
    if isinstance(flt, django_filters.BooleanFilter):
        schema["type"] = "boolean"
    elif isinstance(flt, django_filters.NumberFilter):
        schema["type"] = "number"
        schema.update(number_filter_bounds(flt))
    elif isinstance(flt, django_filters.ChoiceFilter):
        schema["enum"] = ["", *(str(value) for value, _label in flt.extra["choices"]), None]
    return schema


_JSON_TYPES = {"string": (str,), "number": (int, float), "integer": (int,), "boolean": (bool,)}


def _type_ok(value: Any, schema: dict) -> bool:
    if value is None:
        return True
    types = [branch["type"] for branch in schema.get("oneOf", [schema])]
    return any(isinstance(value, _JSON_TYPES[t]) and (t == "boolean" or not isinstance(value, bool)) for t in types)


def filters_schema() -> dict:
    properties = {
        name: _filter_schema(name, flt) for name, flt in ContactFilter.base_filters.items()
        if name not in segments.NOT_FILTERS
    }
    return {
        "type": "object",
        "description": str(FILTERS_DESCRIPTION),
        "properties": properties,
        "additionalProperties": {**_SCALAR, "description": str(H(
            "attributes.<key> or attributes.<key>__<op> (op: %(ops)s).") % {"ops": ", ".join(OPERATORS)})},
        "example": {"stage": "lead", "industry": "education", "tag": "webinar", "score_gte": 10,
                    "attributes.segment": "gold"},
    }


class FiltersField(serializers.JSONField):
    """A segment's filters object (documented by FiltersFieldExtension); each value must have
    the JSON type the schema gives it (true, not "true"; 10, not "10")."""

    def to_internal_value(self, data):
        data = super().to_internal_value(data)
        if isinstance(data, dict):
            schema = filters_schema()
            errors = {name: [_("Must be of the type the schema gives this filter (%(type)s).") % {
                "type": " or ".join(b["type"] for b in spec.get("oneOf", [spec]))}]
                for name, value in data.items()
                if not _type_ok(value, spec := schema["properties"].get(name, schema["additionalProperties"]))}
            if errors:
                raise serializers.ValidationError(errors)
        return data


class FiltersFieldExtension(OpenApiSerializerFieldExtension):
    """The filters object in the OpenAPI schema: one property per contact-list filter, plus
    attributes.<key>[__op]; built when the schema is generated, in the reader's language."""

    target_class = FiltersField

    def map_serializer_field(self, auto_schema, direction):
        return filters_schema()


def _filters_field(**kwargs) -> serializers.JSONField:
    return FiltersField(help_text=FILTERS_DESCRIPTION, validators=[no_nul], **kwargs)


class SegmentSerializer(serializers.ModelSerializer):
    filters = _filters_field(read_only=True)
    created_by = serializers.PrimaryKeyRelatedField(read_only=True, help_text=H("User id of who created it."))
    contacts_url = serializers.SerializerMethodField(help_text=H("Its contacts, paginated like /api/contacts/."))

    class Meta:
        model = Segment
        fields = ["id", "name", "filters", "created_by", "created_at", "updated_at", "contacts_url"]
        read_only_fields = fields
        extra_kwargs = {
            "id": {"help_text": H("Segment id; use it as ?segment=<id> on /contacts/, /contacts/export/ and /api/contacts/.")},
            "name": {"help_text": H("Name, unique (ignoring case).")},
            "created_at": {"help_text": H("When it was created.")},
            "updated_at": {"help_text": H("When it was last changed.")},
        }

    def get_contacts_url(self, segment: Segment) -> str:
        request = self.context.get("request")
        path = f"/api/segments/{segment.pk}/contacts/"
        return request.build_absolute_uri(path) if request else path


class SegmentInputSerializer(StrictInputSerializer):
    read_only_names = frozenset({"id", "created_by", "created_at", "updated_at", "contacts_url"})

    name = serializers.CharField(max_length=segments.NAME_MAX_LENGTH, help_text=H("Name, unique (ignoring case)."),
                                 validators=[no_nul])
    filters = _filters_field(required=False)


def path_id() -> OpenApiParameter:
    return OpenApiParameter("id", int, OpenApiParameter.PATH, description="The segment's id.")


@extend_schema_view(
    list=extend_schema(summary="List saved segments", description="Every segment (they are shared by the team), by name."),
    retrieve=extend_schema(summary="One segment", parameters=[path_id()]),
    create=extend_schema(summary="Save a segment (marketers, admins)", request=SegmentInputSerializer,
                         responses={201: SegmentSerializer}),
    partial_update=extend_schema(summary="Rename a segment or replace its filters (marketers, admins)",
                                 parameters=[path_id()], request=SegmentInputSerializer, responses={200: SegmentSerializer},
                                 description="`filters`, when given, replaces the whole definition."),
    update=extend_schema(summary="Replace a segment (marketers, admins)", parameters=[path_id()],
                         request=SegmentInputSerializer, responses={200: SegmentSerializer}),
    destroy=extend_schema(summary="Delete a segment (marketers, admins)", parameters=[path_id()],
                          description="The contacts in it are not touched."),
    contacts=extend_schema(
        summary="The contacts in a segment", parameters=[path_id()], responses={200: ContactSerializer(many=True)},
        description=("Evaluated now, limited to the contacts you may see (a sales rep: own contacts); the same "
                     "serializer and pagination as /api/contacts/ (`?paginate=cursor` for large exports)."),
    ),
)
class SegmentViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    role_rules = {
        "list": ALL_ROLES, "retrieve": ALL_ROLES, "contacts": ALL_ROLES,
        "create": WRITERS, "update": WRITERS, "partial_update": WRITERS, "destroy": WRITERS,
    }
    http_method_names = ["get", "post", "put", "patch", "delete", "head", "options"]
    serializer_class = SegmentSerializer
    queryset = Segment.objects.order_by("name", "id")
    lookup_value_converter = "int"
    filter_backends: list = []

    def _input(self, request: Request, *, partial: bool) -> dict:
        serializer = SegmentInputSerializer(data=request.data, partial=partial)
        serializer.is_valid(raise_exception=True)
        return dict(serializer.validated_data)

    def _out(self, segment: Segment, code: int) -> Response:
        return Response(SegmentSerializer(segment, context=self.get_serializer_context()).data, status=code)

    def create(self, request: Request) -> Response:
        values = self._input(request, partial=False)
        segment = segments.segment_create(name=values["name"], filters=values.get("filters") or {}, by=request.user)
        return self._out(segment, status.HTTP_201_CREATED)

    def _update(self, request: Request, pk, *, partial: bool) -> Response:
        segment = get_object_or_404(self.get_queryset(), pk=pk)
        values = self._input(request, partial=partial)
        if not partial:
            values.setdefault("filters", {})
        segment = segments.segment_update(segment=segment, by=request.user, **values)
        return self._out(segment, status.HTTP_200_OK)

    def update(self, request: Request, pk=None) -> Response:
        return self._update(request, pk, partial=False)

    def partial_update(self, request: Request, pk=None) -> Response:
        return self._update(request, pk, partial=True)

    def destroy(self, request: Request, pk=None) -> Response:
        segment = get_object_or_404(self.get_queryset(), pk=pk)
        segments.segment_delete(segment=segment, by=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)

    def _contacts(self, segment: Segment) -> QuerySet:
        return segment_contacts(segment, self.request.user, request=self.request).select_related(None).prefetch_related("tags")

    @action(detail=True, methods=["get"], url_path="contacts", serializer_class=ContactSerializer)
    def contacts(self, request: Request, pk=None) -> Response:
        segment = get_object_or_404(self.get_queryset(), pk=pk)
        queryset = self._contacts(segment).order_by("-score", "-id")
        page = self.paginate_queryset(queryset)
        data = ContactSerializer(page, many=True, context=self.get_serializer_context()).data
        return self.get_paginated_response(data)
