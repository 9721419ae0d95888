"""Contacts, interactions, notes and interaction kinds over REST.

Thin: parse with an input serializer, check what the request names (contacts.api.checks: reads
and 409s), call one service (contacts.services), render with an output serializer. Who may do what is in
each view's `role_rules` (crm.api_common.RolePermission); which rows a user may touch is
in the querysets (contacts.selectors), so another rep's contact is simply not found."""

from __future__ import annotations

from django.db.models import Prefetch, QuerySet
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext as _
from drf_spectacular.extensions import OpenApiSerializerExtension
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, PolymorphicProxySerializer, extend_schema, extend_schema_view
from rest_framework import exceptions, mixins, serializers, status, viewsets
from rest_framework.request import Request
from rest_framework.response import Response

from contacts import services
from contacts.api import checks
from contacts.api.filters import InteractionFilter, NoteFilter
from contacts.api.serializers import (
    MAX_BATCH,
    BulkResultSerializer,
    ContactDetailSerializer,
    ContactInputSerializer,
    ContactSerializer,
    CustomFieldSerializer,
    InteractionInputSerializer,
    InteractionKindInputSerializer,
    InteractionKindSerializer,
    InteractionResultSerializer,
    InteractionSerializer,
    NoteInputSerializer,
    NoteSerializer,
    interaction_representation,
)
from contacts.models import Contact, CustomField, Interaction, InteractionKind, Note, StageChange
from contacts.selectors import ContactFilter, contacts_editable_by, contacts_visible_to
from crm import roles
from crm.api_common import ALL_ROLES, flatten_errors
from crm.api_strict import StrictFilterBackend


def path_id(what: str) -> OpenApiParameter:
    return OpenApiParameter("id", int, OpenApiParameter.PATH, description=f"The {what}'s id.")


def visible_rows(queryset: QuerySet, user) -> QuerySet:
    """Rows that hang off a contact the user may see."""
    if roles.sees_all_contacts(user):
        return queryset
    return queryset.filter(contact__in=contacts_visible_to(user))


# --- Contacts ---------------------------------------------------------------------------

@extend_schema_view(
    list=extend_schema(summary="List contacts", description=(
        "Contacts you may see (a sales rep: own contacts), filtered like the contact pages. "
        "Page-number pagination by default; `?paginate=cursor` pages by id for large exports.")),
    retrieve=extend_schema(summary="One contact, with its score explanation", parameters=[path_id("contact")], description=(
        "The contact with `score_breakdown` (which rule gave how many points, from which interactions, under which "
        "rule-set version) and `stage_history` (every stage change with its reason in words).")),
    create=extend_schema(
        summary="Create a contact",
        description=(
            "Creates a new contact. If the email, phone or external reference belongs to an existing contact the answer is "
            "409 naming the field (use PATCH, or POST /api/capture/ which merges). Read-only fields (score, stage unless "
            "you are an admin or sales manager, owner likewise, timestamps, score_breakdown) and unknown fields are "
            "refused with 400 naming them."),
        request=ContactInputSerializer, responses={201: ContactDetailSerializer},
    ),
    partial_update=extend_schema(
        summary="Change a contact", parameters=[path_id("contact")],
        description=("Sets the given fields exactly (blanks included); `attributes` keys are merged. Writing read-only or "
                     "unknown fields is refused with 400 naming them. Setting `stage` pins it (admins, sales managers)."),
        request=ContactInputSerializer, responses={200: ContactDetailSerializer},
    ),
)
class ContactViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    role_rules = {"list": ALL_ROLES, "retrieve": ALL_ROLES, "create": ALL_ROLES, "partial_update": ALL_ROLES}
    http_method_names = ["get", "post", "patch", "head", "options"]
    lookup_value_converter = "int"  # anything else is the JSON 404 of an unknown path
    filter_backends = [StrictFilterBackend]
    filterset_class = ContactFilter
    queryset = Contact.objects.none()  # for the schema; requests use get_queryset()

    def get_queryset(self, *, detail: bool = False) -> QuerySet[Contact]:
        queryset = contacts_visible_to(self.request.user).prefetch_related("tags")
        if detail or self.action == "retrieve":
            changes = StageChange.objects.select_related("user")
            queryset = queryset.prefetch_related(Prefetch("stage_changes", queryset=changes))
        return queryset

    def get_serializer_class(self):
        return ContactDetailSerializer if self.action == "retrieve" else ContactSerializer

    def _input(self, data, *, partial: bool) -> ContactInputSerializer:
        user = self.request.user
        serializer = ContactInputSerializer(
            data=data, partial=partial, may_set_stage=roles.can_reassign(user), may_set_owner=roles.can_reassign(user),
        )
        serializer.is_valid(raise_exception=True)
        return serializer

    def _detail(self, contact: Contact, status_code: int) -> Response:
        contact = self.get_queryset(detail=True).get(pk=contact.pk)
        return Response(ContactDetailSerializer(contact, context=self.get_serializer_context()).data, status=status_code)

    def create(self, request: Request) -> Response:
        values = dict(self._input(request.data, partial=False).validated_data)
        stage = values.pop("stage", None)
        if "owner" not in values and not roles.sees_all_contacts(request.user):
            values["owner"] = request.user  # a rep's new contact is theirs, or they could not see it
        checks.identity_check(data=values, by=request.user)
        try:
            # Consent with evidence (source "api") and the audit row: both written by the service.
            contact = services.contact_create(data=values, by=request.user, consent_source="api", stage=stage)
        except services.ContactExists as exc:
            raise checks.created_meanwhile(exc.contact_id, by=request.user) from None
        return self._detail(contact, status.HTTP_201_CREATED)

    def partial_update(self, request: Request, pk=None) -> Response:
        contact = get_object_or_404(self.get_queryset(), pk=pk)
        if not contacts_editable_by(request.user).filter(pk=contact.pk).exists():
            raise exceptions.PermissionDenied(_("You may read this contact but not change it."))
        values = dict(self._input(request.data, partial=True).validated_data)
        stage = values.pop("stage", None)
        owner = {"owner": values.pop("owner")} if "owner" in values else {}
        contact = services.contact_update(contact=contact, data=values, by=request.user, consent_source="api",
                                          stage=stage, **owner)
        return self._detail(contact, status.HTTP_200_OK)


# --- Interactions ---------------------------------------------------------------------------

INTERACTION_POST_DESCRIPTION = f"""
Record one event (a JSON object) or a batch (a JSON list of up to {MAX_BATCH:,} objects).

Name the contact by exactly one of `contact` (id), `contact_email` or `contact_phone` (normalised like stored
values); it must be a contact you may change. `kind` must exist (see /api/interaction-kinds/); `occurred_at` may
not be in the future (beyond a few minutes of clock skew).

**Idempotency:** `external_id` is unique per `source`. Sending an event again (a retry) returns the interaction
recorded the first time and writes nothing: `201` when something was written, `200` when everything was a replay.

**Batches are all-or-nothing.** Every item is checked before anything is written; if any item is invalid the
answer is `400` and nothing is stored: `fields` names each problem by item index and field (`"3.kind"`). A valid
batch is written in one transaction and answers with one `results` entry per item (`created` or `replayed`).
Each touched contact is rescored once after the batch, not once per event.
"""

class InteractionBatchSchema(serializers.Serializer):
    """Schema-only stand-in for a list body: an array of 1 to MAX_BATCH events (see the extension below)."""


class InteractionBatchSchemaExtension(OpenApiSerializerExtension):
    target_class = InteractionBatchSchema

    def get_name(self, auto_schema, direction):
        return "InteractionBatch"

    def map_serializer(self, auto_schema, direction):
        item = auto_schema.resolve_serializer(InteractionInputSerializer, direction).ref
        return {"type": "array", "items": item, "minItems": 1, "maxItems": MAX_BATCH,
                "description": f"A batch of 1 to {MAX_BATCH:,} events, stored all-or-nothing."}


SINGLE_OR_BATCH = PolymorphicProxySerializer(
    component_name="InteractionInputOneOrBatch",
    serializers=[InteractionInputSerializer, InteractionBatchSchema],
    resource_type_field_name=None,
    many=False,
)
RESULT_ONE_OR_BATCH = PolymorphicProxySerializer(
    component_name="InteractionResultOneOrBatch",
    serializers=[InteractionResultSerializer, BulkResultSerializer],
    resource_type_field_name=None,
    many=False,
)


@extend_schema_view(
    list=extend_schema(summary="List interactions", description="Interactions of contacts you may see, newest first."),
    retrieve=extend_schema(summary="One interaction", parameters=[path_id("interaction")]),
    create=extend_schema(
        summary="Record interactions (one or a batch)", description=INTERACTION_POST_DESCRIPTION,
        request=SINGLE_OR_BATCH,
        responses={
            201: OpenApiResponse(RESULT_ONE_OR_BATCH, description="At least one interaction was written."),
            200: OpenApiResponse(RESULT_ONE_OR_BATCH, description="A retry: everything existed already, nothing was written."),
        },
    ),
)
class InteractionViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    role_rules = {"list": ALL_ROLES, "retrieve": ALL_ROLES, "create": ALL_ROLES}
    serializer_class = InteractionSerializer
    lookup_value_converter = "int"
    filter_backends = [StrictFilterBackend]
    filterset_class = InteractionFilter
    queryset = Interaction.objects.none()

    def get_queryset(self) -> QuerySet[Interaction]:
        return visible_rows(Interaction.objects.all(), self.request.user).order_by("-occurred_at", "-id")

    def create(self, request: Request) -> Response:
        batch = isinstance(request.data, list)
        if batch and not 1 <= len(request.data) <= MAX_BATCH:
            raise exceptions.ValidationError(
                {"non_field_errors": [_("Send between 1 and %(n)d events in one request.") % {"n": MAX_BATCH}]}
            )
        # Check every item (fields, then contact and kind) and report all problems at once.
        valid, errors = [], {}
        for index, item in enumerate(request.data if batch else [request.data]):
            serializer = InteractionInputSerializer(data=item)
            if serializer.is_valid():
                valid.append((index, serializer.validated_data))
            else:
                errors.update(flatten_errors(serializer.errors, str(index) if batch else ""))
        events = checks.events_resolve(valid, user=request.user, batch=batch, errors=errors)
        try:
            logged = services.events_log(events=events, by=request.user, batch=batch)
        except services.ReplayHidden as exc:
            raise checks.replay_conflict(exc.indexes, batch=batch) from None
        any_created = any(item.created for item in logged)
        code = status.HTTP_201_CREATED if any_created else status.HTTP_200_OK
        if not batch:
            (one,) = logged
            body = {**interaction_representation(one.interaction), "replayed": not one.created}
            return Response(body, status=code)
        return Response({
            "created": sum(item.created for item in logged),
            "replayed": sum(not item.created for item in logged),
            "results": [
                {"index": index, "id": item.interaction.pk, "contact": item.interaction.contact_id,
                 "status": "created" if item.created else "replayed"}
                for index, item in enumerate(logged)
            ],
        }, status=code)


# --- Notes ----------------------------------------------------------------------------------

@extend_schema_view(
    list=extend_schema(summary="List notes", description="Notes on contacts you may see, newest first."),
    retrieve=extend_schema(summary="One note", parameters=[path_id("note")]),
    create=extend_schema(summary="Write a note", description=(
        "A note on a contact you may change (a sales rep: own contacts). With `due_at` it is a follow-up."),
        request=NoteInputSerializer, responses={201: NoteSerializer}),
)
class NoteViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    role_rules = {"list": ALL_ROLES, "retrieve": ALL_ROLES, "create": ALL_ROLES}
    serializer_class = NoteSerializer
    lookup_value_converter = "int"
    filter_backends = [StrictFilterBackend]
    filterset_class = NoteFilter
    queryset = Note.objects.none()

    def get_queryset(self) -> QuerySet[Note]:
        return visible_rows(Note.objects.select_related("author"), self.request.user).order_by("-created_at", "-id")

    def create(self, request: Request) -> Response:
        serializer = NoteInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        values = serializer.validated_data
        contact = checks.note_contact(user=request.user, contact_id=values["contact"])
        note = services.note_add(contact=contact, author=request.user, body=values["body"], due_at=values.get("due_at"))
        return Response(NoteSerializer(note).data, status=status.HTTP_201_CREATED)


# --- Interaction kinds -------------------------------------------------------------------------

@extend_schema_view(
    list=extend_schema(summary="List interaction kinds", description="The catalog of things a contact can do."),
    retrieve=extend_schema(summary="One interaction kind", parameters=[
        OpenApiParameter("slug", str, OpenApiParameter.PATH, description="The kind's slug, e.g. price_requested.")]),
    create=extend_schema(summary="Add an interaction kind (admins)", request=InteractionKindInputSerializer,
                         responses={201: InteractionKindSerializer}),
)
class InteractionKindViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    role_rules = {"list": ALL_ROLES, "retrieve": ALL_ROLES, "create": {roles.ADMIN}}
    serializer_class = InteractionKindSerializer
    queryset = InteractionKind.objects.order_by("slug")
    lookup_value_converter = "slug"
    pagination_class = None  # a short catalog

    def create(self, request: Request) -> Response:
        serializer = InteractionKindInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        checks.kind_check(slug=serializer.validated_data["slug"])
        kind = services.interaction_kind_create(data=serializer.validated_data, by=request.user)
        return Response(InteractionKindSerializer(kind).data, status=status.HTTP_201_CREATED)



class CustomFieldViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    """The active custom fields (read-only): their values are read and written in a contact's `attributes`."""

    role_rules = {"list": ALL_ROLES}
    serializer_class = CustomFieldSerializer
    queryset = CustomField.objects.filter(active=True).order_by("position", "id")
    pagination_class = None  # a short list
