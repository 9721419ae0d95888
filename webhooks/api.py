"""Webhook endpoints over REST: /api/webhooks/ (admins only) and /api/webhooks/<id>/deliveries/.
The secret is write-only: returned once, in the answer that set it; afterwards only its last
four characters (`secret_hint`). Mounted under /api/ by crm.api_urls."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as H
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.routers import SimpleRouter

from contacts.api.views import path_id
from crm import roles
from crm.api_common import StrictInputSerializer, no_nul
from webhooks.models import Delivery, Endpoint, EventType
from webhooks.services import endpoint_delete, endpoint_save

ADMINS = {roles.ADMIN}


class WebhookEndpointSerializer(serializers.ModelSerializer):
    events = serializers.ListField(child=serializers.ChoiceField(choices=EventType.choices), help_text=H(
        "Event types sent to it: contact.created, contact.stage_changed, contact.assigned, interaction.logged, "
        "task.completed, contact.erased."))
    secret_hint = serializers.CharField(read_only=True, help_text=H("The last characters of the signing secret."))

    class Meta:
        model = Endpoint
        fields = ["id", "url", "events", "is_active", "secret_hint", "disabled_reason", "disabled_at",
                  "consecutive_failures", "created_at", "updated_at"]
        read_only_fields = fields
        extra_kwargs = {
            "id": {"help_text": H("Id.")},
            "url": {"help_text": H("Where events are POSTed (public http or https address).")},
            "is_active": {"help_text": H("Inactive endpoints get no new events; waiting ones go when it is active again.")},
            "disabled_reason": {"help_text": H("Why it was disabled (by hand, or after failures in a row).")},
            "disabled_at": {"help_text": H("When it was disabled.")},
            "consecutive_failures": {"help_text": H("Failed attempts in a row; a success resets it.")},
            "created_at": {"help_text": H("When it was registered.")},
            "updated_at": {"help_text": H("When it was last changed.")},
        }


class WebhookEndpointCreatedSerializer(WebhookEndpointSerializer):
    secret = serializers.CharField(read_only=True, allow_null=True, help_text=H(
        "The signing secret, returned only in the answer that set it (null otherwise): store it now."))

    class Meta(WebhookEndpointSerializer.Meta):
        fields = [*WebhookEndpointSerializer.Meta.fields, "secret"]
        read_only_fields = fields


class WebhookEndpointInputSerializer(StrictInputSerializer):
    read_only_names = frozenset({"id", "secret_hint", "disabled_reason", "disabled_at", "consecutive_failures",
                                 "created_at", "updated_at"})
    url = serializers.URLField(max_length=500, help_text=H("Where events are POSTed (public http or https address)."))
    secret = serializers.CharField(min_length=16, max_length=200, required=False, write_only=True, validators=[no_nul],
                                   help_text=H("The signing secret (at least 16 characters); omitted on creation: "
                                               "one is generated and returned once."))
    events = serializers.ListField(child=serializers.ChoiceField(choices=EventType.choices), min_length=1,
                                   help_text=H("Event types to send to it."))
    is_active = serializers.BooleanField(required=False, help_text=H(
        "false stops new events; true enables it again (the failure count restarts)."))


class WebhookDeliverySerializer(serializers.ModelSerializer):
    event_id = serializers.UUIDField(read_only=True, help_text=H("The event's id: the same on every attempt."))
    type = serializers.CharField(source="event.type", read_only=True, help_text=H("The event type."))

    class Meta:
        model = Delivery
        fields = ["id", "event_id", "type", "status", "attempts", "next_attempt_at", "last_attempt_at", "status_code",
                  "response_excerpt", "error", "duration_ms", "delivered_at", "created_at"]
        read_only_fields = fields
        extra_kwargs = {
            "id": {"help_text": H("Id.")},
            "status": {"help_text": H("pending, sending, delivered or failed (gave up after the last attempt).")},
            "attempts": {"help_text": H("Attempts made.")},
            "next_attempt_at": {"help_text": H("When a pending delivery is tried next.")},
            "last_attempt_at": {"help_text": H("When it was last tried.")},
            "status_code": {"help_text": H("The receiver's HTTP status of the last attempt (null: no answer).")},
            "response_excerpt": {"help_text": H("The start of the receiver's answer.")},
            "error": {"help_text": H("Why the last attempt failed.")},
            "duration_ms": {"help_text": H("How long the last attempt took, in milliseconds.")},
            "delivered_at": {"help_text": H("When a receiver answered 2xx.")},
            "created_at": {"help_text": H("When the event happened.")},
        }


def _created(endpoint: Endpoint, secret: str | None) -> dict:
    data = WebhookEndpointCreatedSerializer(endpoint).data
    data["secret"] = secret
    return data


@extend_schema_view(
    list=extend_schema(summary="List webhook endpoints", responses=WebhookEndpointSerializer(many=True)),
    retrieve=extend_schema(summary="Get a webhook endpoint", parameters=[path_id("endpoint")], responses=WebhookEndpointSerializer),
    create=extend_schema(summary="Register a webhook endpoint (the secret is returned once)",
                         request=WebhookEndpointInputSerializer, responses={201: WebhookEndpointCreatedSerializer}),
    partial_update=extend_schema(summary="Change, disable or enable a webhook endpoint", parameters=[path_id("endpoint")],
                                 request=WebhookEndpointInputSerializer, responses=WebhookEndpointCreatedSerializer),
    destroy=extend_schema(summary="Delete a webhook endpoint and its delivery log", parameters=[path_id("endpoint")],
                          responses={204: None}),
)
class EndpointViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    serializer_class = WebhookEndpointSerializer
    queryset = Endpoint.objects.order_by("pk")
    role_rules = {"*": ADMINS}
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]

    def create(self, request: Request) -> Response:
        data = WebhookEndpointInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        endpoint, secret = endpoint_save(data=data.validated_data, by=request.user)
        return Response(_created(endpoint, secret), status=status.HTTP_201_CREATED)

    def partial_update(self, request: Request, pk=None) -> Response:
        endpoint = self.get_object()
        data = WebhookEndpointInputSerializer(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        endpoint, secret = endpoint_save(data=data.validated_data, by=request.user, endpoint=endpoint)
        return Response(_created(endpoint, secret))

    def destroy(self, request: Request, pk=None) -> Response:
        endpoint_delete(endpoint=self.get_object(), by=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(summary="The endpoint's delivery log, newest first", parameters=[path_id("endpoint")],
                   responses=WebhookDeliverySerializer(many=True))
    @action(detail=True, methods=["get"])
    def deliveries(self, request: Request, pk=None) -> Response:
        rows = Delivery.objects.filter(endpoint=self.get_object()).select_related("event").order_by("-created_at", "-id")
        page = self.paginate_queryset(rows)
        return self.get_paginated_response(WebhookDeliverySerializer(page, many=True).data)


router = SimpleRouter(use_regex_path=False)
router.register("webhooks", EndpointViewSet, basename="webhook")
urlpatterns = router.urls
