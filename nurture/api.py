"""The content library and sending over REST: /api/messages/ (marketers and admins write, everyone
reads) and /api/contacts/<id>/send/ (whoever may change the contact; the guardrails decide).
Mounted under /api/ by crm.api_urls."""

from __future__ import annotations

from django.db.models import Count, Q
from django.shortcuts import get_object_or_404
from django.urls import path
from django.utils.translation import gettext_lazy as H
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.routers import SimpleRouter
from rest_framework.views import APIView

from contacts.api.views import path_id
from contacts.models import Industry, Segment, Stage
from contacts.selectors import contacts_editable_by
from crm import roles
from crm.api_common import ALL_ROLES, StrictInputSerializer, error_body, no_nul
from crm.api_strict import MAX_ID
from nurture import guardrails
from nurture.campaigns import campaign_create, campaign_preview, campaign_report, campaign_send
from nurture.models import Campaign, Delivery, Language, Message, MessageChannel, Purpose, Sequence
from nurture.sequences import sequence_pause, sequence_save
from nurture.services import SendRefused, message_archive, message_save, message_send

WRITERS = {roles.ADMIN, roles.MARKETER}
HELP = {
    "id": H("Id."),
    "name": H("A name for the library."),
    "channel": H("email or whatsapp."),
    "purpose": H("first_touch, education, promo, follow_up or onboarding: decides which stages may receive it."),
    "industry": H("Empty: every industry."),
    "language": H("id or en."),
    "subject": H("Email subject (may use the variables)."),
    "body": H("The text, with variables."),
    "is_archived": H("Archived messages are no longer sent or offered."),
    "created_at": H("When it was created."),
    "updated_at": H("When it was last changed."),
    "contact": H("Id of the contact."),
    "message": H("Id of the message."),
    "status": H("queued, sending, sent, bounced or failed."),
    "sent_at": H("When the SMTP server accepted it."),
    "opened_at": H("First open (approximate: the open pixel)."),
    "clicked_at": H("First click on a tracked link."),
    "trigger_stage": H("Contacts entering this stage are enrolled; they leave when their stage changes again."),
    "is_paused": H("A paused sequence enrolls and sends nothing."),
}


def described(fields: list[str]) -> dict[str, dict]:
    return {name: {"help_text": HELP[name]} for name in fields if name in HELP}


class MessageSerializer(serializers.ModelSerializer):
    industry = serializers.ChoiceField(choices=Industry.choices, allow_blank=True, read_only=True, help_text=HELP["industry"])

    class Meta:
        model = Message
        fields = ["id", "name", "channel", "purpose", "industry", "language", "subject", "body", "is_archived",
                  "created_at", "updated_at"]
        read_only_fields = fields
        extra_kwargs = described(fields)


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
    retrieve=extend_schema(summary="Get a message", parameters=[path_id("message")], responses=MessageSerializer),
    create=extend_schema(summary="Write a message", request=MessageInputSerializer, responses={201: MessageSerializer}),
    partial_update=extend_schema(summary="Change a message (future sends only)", parameters=[path_id("message")],
                                 request=MessageInputSerializer, responses=MessageSerializer),
    destroy=extend_schema(summary="Archive a message (what was sent stays readable)", parameters=[path_id("message")],
                          responses={204: None}),
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
    message = serializers.IntegerField(min_value=1, max_value=MAX_ID, help_text=H("Id of the message to send."))


class DeliverySerializer(serializers.ModelSerializer):
    class Meta:
        model = Delivery
        fields = ["id", "contact", "message", "channel", "status", "created_at", "sent_at", "opened_at", "clicked_at"]
        read_only_fields = fields
        extra_kwargs = described(fields)


class ContactSendView(APIView):
    """POST /api/contacts/<id>/send/: one message to one contact, now."""

    role_rules = {"post": ALL_ROLES}

    @extend_schema(
        summary="Send a message to a contact now",
        description=(
            "Refused with 400 when the stage guardrails or consent forbid it; the error code names the rule: "
            f"{', '.join(guardrails.REASONS)}. A `promo` never reaches a contact or a lead."),
        parameters=[path_id("contact")],
        request=SendInputSerializer,
        responses={202: DeliverySerializer},
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


class StepSerializer(StrictInputSerializer):
    wait_days = serializers.IntegerField(min_value=0, max_value=365, help_text=H("Days after the previous step (the first: after enrollment)."))
    message = serializers.IntegerField(min_value=1, max_value=MAX_ID, help_text=H("Id of an email message whose purpose fits the trigger stage."))


class SequenceSerializer(serializers.ModelSerializer):
    industry = serializers.ChoiceField(choices=Industry.choices, allow_blank=True, read_only=True, help_text=HELP["industry"])
    steps = serializers.SerializerMethodField(help_text=H("The steps in order: [{\"wait_days\": n, \"message\": id}]."))
    active_enrollments = serializers.SerializerMethodField(help_text=H("Contacts going through it now."))

    class Meta:
        model = Sequence
        fields = ["id", "name", "trigger_stage", "industry", "segment", "from_email", "is_paused", "steps",
                  "active_enrollments", "created_at", "updated_at"]
        read_only_fields = fields
        extra_kwargs = described(fields) | {"name": {"help_text": H("The sequence's name.")},
                                            "segment": {"help_text": H("Only contacts in this saved segment (null: all).")},
                                            "from_email": {"help_text": H("The sender of its emails; empty: the default.")}}

    def get_steps(self, sequence) -> list[dict]:
        return [{"wait_days": s.wait_days, "message": s.message_id} for s in sequence.steps.all()]

    def get_active_enrollments(self, sequence) -> int:
        return sequence.active  # annotated by SequenceViewSet's queryset: one query for the whole list


class SequenceInputSerializer(StrictInputSerializer):
    read_only_names = frozenset({"id", "active_enrollments", "created_at", "updated_at"})
    # Required when creating (the schema says so); a PATCH (partial) may leave anything out.
    name = serializers.CharField(max_length=150, validators=[no_nul], help_text=H("The sequence's name."))
    trigger_stage = serializers.ChoiceField(choices=Stage.choices, help_text=H(
        "Contacts entering this stage are enrolled; they leave when their stage changes again."))
    industry = serializers.ChoiceField(choices=Industry.choices, required=False, allow_blank=True,
                                      help_text=H("Empty: every industry."))
    segment = serializers.PrimaryKeyRelatedField(queryset=Segment.objects.all(), required=False, allow_null=True,
                                                 help_text=H("Only contacts in this saved segment (null: all)."))
    from_email = serializers.CharField(max_length=200, required=False, allow_blank=True, validators=[no_nul],
                                       help_text=H("The sender of its emails; empty: the default."))
    is_paused = serializers.BooleanField(required=False, help_text=H("A paused sequence enrolls and sends nothing."))
    steps = StepSerializer(many=True, min_length=1, help_text=H(
        "The steps in order; replaces the current ones (contacts part-way through continue from their next position)."))


@extend_schema_view(
    list=extend_schema(summary="List sequences", responses=SequenceSerializer(many=True)),
    retrieve=extend_schema(summary="Get a sequence", parameters=[path_id("sequence")], responses=SequenceSerializer),
    create=extend_schema(summary="Create a sequence", request=SequenceInputSerializer, responses={201: SequenceSerializer}),
    partial_update=extend_schema(summary="Change, pause or resume a sequence (future steps only)",
                                 parameters=[path_id("sequence")], request=SequenceInputSerializer,
                                 responses=SequenceSerializer),
)
class SequenceViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    serializer_class = SequenceSerializer
    queryset = Sequence.objects.prefetch_related("steps").annotate(
        active=Count("enrollments", filter=Q(enrollments__status="active"))).order_by("trigger_stage", "name", "pk")
    role_rules = {"list": ALL_ROLES, "retrieve": ALL_ROLES, "create": WRITERS, "partial_update": WRITERS}
    http_method_names = ["get", "post", "patch", "head", "options"]

    def _save(self, request: Request, sequence: Sequence | None) -> Sequence:
        data = SequenceInputSerializer(data=request.data, partial=sequence is not None)
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        paused, steps = values.pop("is_paused", None), values.pop("steps", None)
        if sequence is None or steps is not None or values:
            current = [{"wait_days": s.wait_days, "message": s.message_id} for s in sequence.steps.all()] if sequence else []
            sequence = sequence_save(data=values, steps=steps if steps is not None else current, by=request.user,
                                     sequence=sequence)
        if paused is not None:
            sequence = sequence_pause(sequence=sequence, paused=paused, by=request.user)
        return self.get_queryset().get(pk=sequence.pk)

    def create(self, request: Request) -> Response:
        return Response(SequenceSerializer(self._save(request, None)).data, status=status.HTTP_201_CREATED)

    def partial_update(self, request: Request, pk=None) -> Response:
        return Response(SequenceSerializer(self._save(request, self.get_object())).data)


class CampaignSummarySerializer(serializers.ModelSerializer):
    """A campaign in a list: its report (several queries) is on the campaign itself."""

    class Meta:
        model = Campaign
        fields = ["id", "message", "segment", "segment_name", "status", "recipients", "skipped", "created_at",
                  "started_at", "finished_at"]
        read_only_fields = fields
        extra_kwargs = described(fields) | {
            "segment": {"help_text": H("Id of the saved segment it goes to.")},
            "segment_name": {"help_text": H("The segment's name when it was sent.")},
            "status": {"help_text": H("draft, sending or done.")},
            "recipients": {"help_text": H("Deliveries made when it was sent.")},
            "skipped": {"help_text": H("Contacts of the segment left out when it was sent, by reason.")},
            "started_at": {"help_text": H("When the send started.")},
            "finished_at": {"help_text": H("When the last delivery was done.")},
        }


class CampaignSerializer(CampaignSummarySerializer):
    report = serializers.SerializerMethodField(help_text=H(
        "total, sent, bounced, failed, waiting, opened, clicked, unsubscribed, and moved_7d / moved_30d: recipients "
        "who moved to a later stage within 7 and 30 days of the send."))

    class Meta(CampaignSummarySerializer.Meta):
        fields = [*CampaignSummarySerializer.Meta.fields, "report"]
        read_only_fields = fields

    def get_report(self, campaign) -> dict:
        return campaign_report(campaign)


class CampaignInputSerializer(StrictInputSerializer):
    message = serializers.IntegerField(min_value=1, max_value=MAX_ID, help_text=H("Id of the email message."))
    segment = serializers.IntegerField(min_value=1, max_value=MAX_ID, help_text=H("Id of the saved segment."))


class AudienceSerializer(serializers.Serializer):
    eligible = serializers.IntegerField(help_text=H("Contacts who will receive it."))
    skipped = serializers.DictField(child=serializers.IntegerField(), help_text=H(
        "Contacts left out, by reason: do_not_contact, stage, consent, address."))
    total = serializers.IntegerField(help_text=H("Contacts in the segment that you can see."))


@extend_schema_view(
    list=extend_schema(summary="List campaigns (the report is on each campaign)", responses=CampaignSummarySerializer(many=True)),
    retrieve=extend_schema(summary="A campaign: status, progress and report", parameters=[path_id("campaign")],
                           responses=CampaignSerializer),
    create=extend_schema(summary="Create a campaign (a draft: preview it, then send)", request=CampaignInputSerializer,
                         responses={201: CampaignSerializer}),
)
class CampaignViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    serializer_class = CampaignSerializer
    queryset = Campaign.objects.select_related("message")

    def get_serializer_class(self):
        return CampaignSummarySerializer if self.action == "list" else CampaignSerializer
    role_rules = {"list": ALL_ROLES, "retrieve": ALL_ROLES, "preview": ALL_ROLES, "create": WRITERS, "send": WRITERS}
    http_method_names = ["get", "post", "head", "options"]

    def create(self, request: Request) -> Response:
        data = CampaignInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        message = get_object_or_404(Message.objects.filter(is_archived=False), pk=data.validated_data["message"])
        segment = get_object_or_404(Segment, pk=data.validated_data["segment"])
        campaign = campaign_create(message=message, segment=segment, by=request.user)
        return Response(CampaignSerializer(campaign).data, status=status.HTTP_201_CREATED)

    @extend_schema(summary="Who will receive it, and who is skipped by reason", parameters=[path_id("campaign")],
                   responses=AudienceSerializer)
    @action(detail=True, methods=["get"])
    def preview(self, request: Request, pk=None) -> Response:
        counted = campaign_preview(campaign=self.get_object(), user=request.user)
        return Response({"eligible": counted.eligible, "skipped": counted.skipped, "total": counted.total})

    @extend_schema(summary="Send it (once; the progress is on the campaign)", parameters=[path_id("campaign")],
                   request=None, responses={202: CampaignSerializer})
    @action(detail=True, methods=["post"])
    def send(self, request: Request, pk=None) -> Response:
        campaign = campaign_send(campaign=self.get_object(), by=request.user)
        return Response(CampaignSerializer(campaign).data, status=status.HTTP_202_ACCEPTED)


router = SimpleRouter(use_regex_path=False)
router.register("messages", MessageViewSet, basename="message")
router.register("sequences", SequenceViewSet, basename="sequence")
router.register("campaigns", CampaignViewSet, basename="campaign")

urlpatterns = [
    path("contacts/<int:pk>/send/", ContactSendView.as_view(), name="api-contact-send"),
    *router.urls,
]
