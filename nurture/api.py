"""The content library and sending over REST: /api/messages/ (marketers and admins write, everyone
reads) and /api/contacts/<id>/send/ (whoever may change the contact; the guardrails decide).
Mounted under /api/ by crm.api_urls."""

from __future__ import annotations

from django.shortcuts import get_object_or_404
from django.urls import path
from django.utils.translation import gettext_lazy as H
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.routers import SimpleRouter
from rest_framework.views import APIView

from contacts.models import Industry
from contacts.selectors import contacts_editable_by
from crm import roles
from crm.api_common import ALL_ROLES, StrictInputSerializer, error_body, no_nul
from nurture import guardrails
from nurture.models import Delivery, Language, Message, MessageChannel, Purpose
from nurture.services import SendRefused, message_archive, message_save, message_send

WRITERS = {roles.ADMIN, roles.MARKETER}


class MessageSerializer(serializers.ModelSerializer):
    class Meta:
        model = Message
        fields = ["id", "name", "channel", "purpose", "industry", "language", "subject", "body", "is_archived",
                  "created_at", "updated_at"]
        read_only_fields = fields


class MessageInputSerializer(StrictInputSerializer):
    """What a marketer writes. The body is a sandboxed template: {{ first_name }}, {{ full_name }},
    {{ company }}, {{ city }}, {{ job_title }}, {{ owner_name }}, {{ unsubscribe_url }} (emails must have it)."""

    read_only_names = frozenset({"id", "is_archived", "created_at", "updated_at"})
    name = serializers.CharField(max_length=150, validators=[no_nul], help_text=H("A name for the library."))
    channel = serializers.ChoiceField(choices=MessageChannel.choices, help_text=H("email or whatsapp."))
    purpose = serializers.ChoiceField(choices=Purpose.choices, help_text=H(
        "first_touch, education, promo, follow_up or onboarding: decides which stages may receive it."))
    industry = serializers.ChoiceField(choices=Industry.choices, required=False, allow_blank=True,
                                       help_text=H("Empty: every industry."))
    language = serializers.ChoiceField(choices=Language.choices, required=False, help_text=H("id or en."))
    subject = serializers.CharField(max_length=200, required=False, allow_blank=True, validators=[no_nul],
                                    help_text=H("Email subject (may use the variables)."))
    body = serializers.CharField(max_length=20000, validators=[no_nul], help_text=H("The text, with variables."))


@extend_schema_view(
    list=extend_schema(summary="List messages of the content library", responses=MessageSerializer(many=True)),
    retrieve=extend_schema(summary="Get a message", responses=MessageSerializer),
    create=extend_schema(summary="Write a message", request=MessageInputSerializer, responses={201: MessageSerializer}),
    partial_update=extend_schema(summary="Change a message (future sends only)", request=MessageInputSerializer,
                                 responses=MessageSerializer),
    destroy=extend_schema(summary="Archive a message (what was sent stays readable)", responses={204: None}),
)
class MessageViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    serializer_class = MessageSerializer
    queryset = Message.objects.filter(is_archived=False)
    role_rules = {"list": ALL_ROLES, "retrieve": ALL_ROLES, "create": WRITERS, "partial_update": WRITERS,
                  "destroy": WRITERS}
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]

    def create(self, request: Request) -> Response:
        data = MessageInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        message = message_save(data=data.validated_data, by=request.user)
        return Response(MessageSerializer(message).data, status=status.HTTP_201_CREATED)

    def partial_update(self, request: Request, pk=None) -> Response:
        message = self.get_object()
        data = MessageInputSerializer(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        return Response(MessageSerializer(message_save(data=data.validated_data, by=request.user, message=message)).data)

    def destroy(self, request: Request, pk=None) -> Response:
        message_archive(message=self.get_object(), by=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class SendInputSerializer(StrictInputSerializer):
    message = serializers.IntegerField(min_value=1, help_text=H("Id of the message to send."))


class DeliverySerializer(serializers.ModelSerializer):
    class Meta:
        model = Delivery
        fields = ["id", "contact", "message", "channel", "status", "created_at", "sent_at", "opened_at", "clicked_at"]
        read_only_fields = fields


class ContactSendView(APIView):
    """POST /api/contacts/<id>/send/: one message to one contact, now."""

    role_rules = {"post": ALL_ROLES}

    @extend_schema(
        summary="Send a message to a contact now",
        description=(
            "Refused with 400 when the stage guardrails or consent forbid it; the error code names the rule: "
            f"{', '.join(guardrails.REASONS)}. A `promo` never reaches a contact or a lead."),
        request=SendInputSerializer,
        responses={202: DeliverySerializer, 400: OpenApiResponse(description="Refused, or bad input.")},
    )
    def post(self, request: Request, pk: int) -> Response:
        contact = get_object_or_404(contacts_editable_by(request.user), pk=pk)
        data = SendInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        message = get_object_or_404(Message.objects.filter(is_archived=False), pk=data.validated_data["message"])
        try:
            delivery = message_send(contact=contact, message=message, by=request.user)
        except SendRefused as refused:
            text = refused.message_dict["message"][0]
            return Response(error_body(refused.reason, text, {"message": [text]}), status=status.HTTP_400_BAD_REQUEST)
        delivery.refresh_from_db()
        return Response(DeliverySerializer(delivery).data, status=status.HTTP_202_ACCEPTED)


router = SimpleRouter(use_regex_path=False)
router.register("messages", MessageViewSet, basename="message")

urlpatterns = [
    path("contacts/<int:pk>/send/", ContactSendView.as_view(), name="api-contact-send"),
    *router.urls,
]
