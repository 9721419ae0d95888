"""Rule sets over REST (read: admins and marketers; draft edits, preview and publish:
admins) and the funnel. Mounted under /api/ by crm.api_urls."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import Prefetch, QuerySet
from django.shortcuts import get_object_or_404
from django.urls import path
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as H
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field, extend_schema_view
from rest_framework import exceptions, mixins, serializers, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.routers import SimpleRouter
from rest_framework.views import APIView

from contacts.models import Industry, Stage
from crm import roles
from crm.api_common import ALL_ROLES, StrictInputSerializer, StrictQuerySerializer, no_nul
from scoring.analytics import funnel
from scoring.models import Rule, RuleSet, RuleSetVersion
from scoring.rescoring import breakdown_json
from scoring.rulesets import (
    POLICY_FIELDS,
    draft_update,
    version_preview,
    version_publish,
)

MAX_RULES = 300
DAYS = {"min_value": 1, "max_value": 3650, "required": False, "allow_null": True}

RULE_HELP = {
    "id": H("Rule id."),
    "position": H("Order within the version (from 0)."),
    "type": H("interaction: points per matching interaction; attribute: points when a contact field matches."),
    "label": H("What the rule rewards, shown in score breakdowns."),
    "points": H("Points per occurrence (interaction rules) or once (attribute rules); may be negative."),
    "interaction_kind": H("Interaction kind slug the rule counts (interaction rules only)."),
    "window_days": H("Only interactions of the last N days count; null: any age."),
    "max_occurrences": H("At most this many interactions count; null: no cap."),
    "field": H("Attribute rules: the contact field (or attributes.<key>); interaction rules: an optional key of the "
               "interaction's data."),
    "operator": H("eq, neq, in, not_in, contains, startswith, endswith, is_set, is_blank, gt, gte, lt, lte; empty for an "
                  "interaction rule without a condition."),
    "value": H("The value to compare with (a list for in/not_in, a number for comparisons, null for is_set/is_blank)."),
}
POLICY_HELP = {
    "lead_threshold": H("Score at which a contact becomes a lead."),
    "prospect_threshold": H("Score at which a lead becomes a prospect (at least the lead threshold)."),
    "prospect_requires_intent": H("A prospect also needs a buying-intent interaction within the intent window."),
    "intent_window_days": H("Days a buying-intent interaction counts for the prospect stage; null: any age."),
    "demote_after_days": H("Demote after this many days without activity; null: never."),
    "decay_half_life_days": H("Points of an interaction halve every N days; null: no decay."),
    "conversion_kinds": H("Interaction kinds that make a contact a customer."),
    "note": H("Change note."),
}


# --- Output ----------------------------------------------------------------------------

class RuleSerializer(serializers.ModelSerializer):
    interaction_kind = serializers.CharField(source="interaction_kind_id", allow_null=True, read_only=True,
                                             help_text=RULE_HELP["interaction_kind"])
    value = serializers.SerializerMethodField(help_text=RULE_HELP["value"])
    operator = serializers.ChoiceField(choices=Rule.Operator.choices, allow_blank=True, read_only=True,
                                       help_text=RULE_HELP["operator"])

    class Meta:
        model = Rule
        fields = ["id", "position", "type", "label", "points", "interaction_kind", "window_days", "max_occurrences",
                  "field", "operator", "value"]
        read_only_fields = fields
        extra_kwargs = {name: {"help_text": RULE_HELP[name]} for name in fields if name not in ("interaction_kind", "value", "operator")}

    @extend_schema_field({"nullable": True, "description": str(RULE_HELP["value"])})
    def get_value(self, rule: Rule) -> Any:
        return rule.value


class VersionSerializer(serializers.ModelSerializer):
    conversion_kinds = serializers.SlugRelatedField(slug_field="slug", many=True, read_only=True,
                                                    help_text=POLICY_HELP["conversion_kinds"])
    rules = RuleSerializer(many=True, read_only=True, help_text=H("The version's rules, in order."))

    class Meta:
        model = RuleSetVersion
        fields = ["id", "number", "status", "note", *POLICY_FIELDS, "conversion_kinds", "created_at", "published_at", "rules"]
        read_only_fields = fields
        extra_kwargs = {
            "id": {"help_text": H("Version id.")},
            "number": {"help_text": H("Version number within the rule set.")},
            "status": {"help_text": H("draft (being edited), published (active) or archived.")},
            "note": {"help_text": POLICY_HELP["note"]},
            "created_at": {"help_text": H("When the version was created.")},
            "published_at": {"help_text": H("When it was published.")},
            **{name: {"help_text": POLICY_HELP[name]} for name in POLICY_FIELDS},
        }


class RuleSetSerializer(serializers.ModelSerializer):
    active_version = VersionSerializer(read_only=True, allow_null=True, help_text=H(
        "The published version that scores contacts now, with its rules and stage policy."))
    draft = serializers.SerializerMethodField(help_text=H("The draft being edited (null when there is none)."))
    industry = serializers.ChoiceField(choices=Industry.choices, allow_blank=True, read_only=True, help_text=H(
        "The industry it scores; empty for the default rule set."))

    class Meta:
        model = RuleSet
        fields = ["id", "name", "industry", "playbook", "active_version", "draft"]
        read_only_fields = fields
        extra_kwargs = {
            "id": {"help_text": H("Rule set id.")},
            "name": {"help_text": H("Name.")},
            "playbook": {"help_text": H("The built-in playbook it was loaded from, if any.")},
        }

    @extend_schema_field(VersionSerializer(allow_null=True))
    def get_draft(self, ruleset: RuleSet) -> dict | None:
        drafts = getattr(ruleset, "drafts", None)
        draft = drafts[0] if drafts else (None if drafts is not None else ruleset.draft())
        return VersionSerializer(draft).data if draft else None


class TransitionSerializer(serializers.Serializer):
    from_stage = serializers.ChoiceField(choices=Stage.choices, help_text=H("Stage now."))
    to_stage = serializers.ChoiceField(choices=Stage.choices, help_text=H("Stage under the previewed version."))
    count = serializers.IntegerField(help_text=H("How many contacts would move so."))


class StageTotalSerializer(serializers.Serializer):
    stage = serializers.ChoiceField(choices=Stage.choices, help_text=H("Stage."))
    before = serializers.IntegerField(help_text=H("Contacts in the stage now."))
    after = serializers.IntegerField(help_text=H("Contacts in the stage under the previewed version."))


class PreviewExampleSerializer(serializers.Serializer):
    contact_id = serializers.IntegerField(help_text=H("Contact id."))
    name = serializers.CharField(help_text=H("The contact's name (or email)."))
    from_stage = serializers.ChoiceField(choices=Stage.choices, help_text=H("Stage now."))
    to_stage = serializers.ChoiceField(choices=Stage.choices, help_text=H("Stage under the previewed version."))
    score = serializers.IntegerField(help_text=H("Score under the previewed version."))
    breakdown = serializers.DictField(help_text=H(
        "Score breakdown under the previewed version (same shape as a contact's score_breakdown)."))


class PreviewSerializer(serializers.Serializer):
    version = serializers.IntegerField(help_text=H("Id of the previewed version."))
    version_number = serializers.IntegerField(help_text=H("Its number."))
    evaluated = serializers.IntegerField(help_text=H("Contacts evaluated (those the rule set scores)."))
    transitions = TransitionSerializer(many=True, help_text=H("Stage moves publishing would cause (from differs from to)."))
    stage_totals = StageTotalSerializer(many=True, help_text=H("Contacts per stage before and after."))
    examples = PreviewExampleSerializer(many=True, help_text=H("Up to 20 contacts that would change stage, with breakdowns."))


# --- Input ---------------------------------------------------------------------------------

class RuleInputSerializer(StrictInputSerializer):
    type = serializers.ChoiceField(choices=Rule.Type.choices, help_text=RULE_HELP["type"])
    label = serializers.CharField(max_length=150, help_text=RULE_HELP["label"])
    points = serializers.FloatField(min_value=-10000, max_value=10000, help_text=RULE_HELP["points"])
    interaction_kind = serializers.CharField(max_length=50, required=False, allow_null=True, allow_blank=True,
                                             help_text=RULE_HELP["interaction_kind"])
    window_days = serializers.IntegerField(help_text=RULE_HELP["window_days"], **DAYS)
    max_occurrences = serializers.IntegerField(min_value=1, max_value=10000, required=False, allow_null=True,
                                               help_text=RULE_HELP["max_occurrences"])
    field = serializers.CharField(max_length=100, required=False, allow_blank=True, help_text=RULE_HELP["field"])
    operator = serializers.ChoiceField(choices=Rule.Operator.choices, required=False, allow_blank=True,
                                       help_text=RULE_HELP["operator"])
    value = serializers.JSONField(required=False, allow_null=True, validators=[no_nul], help_text=RULE_HELP["value"])

    read_only_names = frozenset({"id", "position"})


class DraftInputSerializer(StrictInputSerializer):
    """Fields of the draft to change; `rules`, when given, replaces the draft's rules."""

    note = serializers.CharField(max_length=300, required=False, allow_blank=True, help_text=POLICY_HELP["note"])
    lead_threshold = serializers.IntegerField(min_value=-100000, max_value=100000, required=False,
                                              help_text=POLICY_HELP["lead_threshold"])
    prospect_threshold = serializers.IntegerField(min_value=-100000, max_value=100000, required=False,
                                                  help_text=POLICY_HELP["prospect_threshold"])
    prospect_requires_intent = serializers.BooleanField(required=False, help_text=POLICY_HELP["prospect_requires_intent"])
    intent_window_days = serializers.IntegerField(help_text=POLICY_HELP["intent_window_days"], **DAYS)
    demote_after_days = serializers.IntegerField(help_text=POLICY_HELP["demote_after_days"], **DAYS)
    decay_half_life_days = serializers.FloatField(min_value=0.1, max_value=3650, required=False, allow_null=True,
                                                  help_text=POLICY_HELP["decay_half_life_days"])
    conversion_kinds = serializers.ListField(child=serializers.CharField(max_length=50), max_length=100, required=False,
                                             help_text=POLICY_HELP["conversion_kinds"])
    rules = RuleInputSerializer(many=True, required=False, max_length=MAX_RULES, help_text=H(
        "The complete new list of rules (replaces the draft's rules), at most 300."))

    read_only_names = frozenset({"id", "number", "status", "created_at", "published_at"})


class VersionChoiceSerializer(StrictInputSerializer):
    version = serializers.IntegerField(required=False, min_value=1, max_value=2**63 - 1, help_text=H(
        "A version id of this rule set; default: its draft. Publishing an archived version rolls back to it."))


# --- Writes ----------------------------------------------------------------------------------

def _version_of(ruleset: RuleSet, data: Mapping[str, Any]) -> RuleSetVersion:
    if data.get("version"):
        return get_object_or_404(RuleSetVersion, ruleset=ruleset, pk=data["version"])
    draft = ruleset.draft()
    if draft is None:
        raise ValidationError({"version": _("This rule set has no draft; PATCH its draft first or name a version.")})
    return draft


def preview_json(ruleset: RuleSet, version: RuleSetVersion) -> dict[str, Any]:
    now = timezone.now()
    preview = version_preview(version=version, now=now)
    return {
        "version": version.pk,
        "version_number": version.number,
        "evaluated": preview.evaluated,
        "transitions": [{"from_stage": a, "to_stage": b, "count": n} for a, b, n in preview.moves],
        "stage_totals": [{"stage": stage, **totals} for stage, totals in preview.stage_totals.items()],
        "examples": [
            {"contact_id": ex["contact_id"], "name": ex["name"], "from_stage": ex["from"], "to_stage": ex["to"],
             "score": ex["score"], "breakdown": breakdown_json(ex["result"], version, now)}
            for ex in preview.examples
        ],
    }


# --- Views -------------------------------------------------------------------------------------

READERS = {roles.ADMIN, roles.MARKETER}
RULESET_ID = OpenApiParameter("id", int, OpenApiParameter.PATH, description="The rule set's id.")
ADMINS = {roles.ADMIN}


@extend_schema_view(
    list=extend_schema(summary="List rule sets", description=(
        "Every rule set (one per industry, plus the default) with its active version's rules and stage policy and its "
        "draft. Admins and marketers.")),
    retrieve=extend_schema(summary="One rule set", parameters=[RULESET_ID]),
)
class RuleSetViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    role_rules = {"list": READERS, "retrieve": READERS, "draft:get": READERS, "draft:patch": ADMINS,
                  "preview": ADMINS, "publish": ADMINS}
    serializer_class = RuleSetSerializer
    lookup_value_converter = "int"
    pagination_class = None  # one per industry: a handful

    def get_queryset(self) -> QuerySet[RuleSet]:
        versions = RuleSetVersion.objects.prefetch_related("rules", "conversion_kinds")
        return RuleSet.objects.select_related("active_version").prefetch_related(
            "active_version__rules", "active_version__conversion_kinds",
            Prefetch("versions", queryset=versions.filter(status=RuleSetVersion.Status.DRAFT), to_attr="drafts"),
        ).order_by("industry")

    def _ruleset(self, pk) -> RuleSet:
        return get_object_or_404(RuleSet, pk=pk)

    @extend_schema(methods=["GET"], summary="The rule set's draft", parameters=[RULESET_ID], responses={200: VersionSerializer})
    @extend_schema(
        methods=["PATCH"], summary="Change the draft (admins)", parameters=[RULESET_ID],
        description=("Creates the draft from the active version if there is none, then sets the given policy fields; "
                     "`rules`, when given, replaces all the draft's rules. Every rule is validated; errors name the rule "
                     "index and field (`rules.2.value`). Nothing changes what contacts score until the draft is published."),
        request=DraftInputSerializer, responses={200: VersionSerializer},
    )
    @action(detail=True, methods=["get", "patch"])
    def draft(self, request: Request, pk=None) -> Response:
        ruleset = self._ruleset(pk)
        if request.method == "GET":
            draft = ruleset.draft()
            if draft is None:
                raise exceptions.NotFound(_("This rule set has no draft."))
            return Response(VersionSerializer(draft).data)
        serializer = DraftInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        draft = draft_update(ruleset=ruleset, data=serializer.validated_data, by=request.user)
        return Response(VersionSerializer(RuleSetVersion.objects.get(pk=draft.pk)).data)

    @extend_schema(
        summary="Preview a version (admins)", parameters=[RULESET_ID],
        description=("What publishing the draft (or the named version) would do, computed without writing: stage moves, "
                     "totals per stage and example contacts with their breakdowns."),
        request=VersionChoiceSerializer, responses={200: PreviewSerializer},
    )
    @action(detail=True, methods=["post"])
    def preview(self, request: Request, pk=None) -> Response:
        ruleset = self._ruleset(pk)
        serializer = VersionChoiceSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        return Response(preview_json(ruleset, _version_of(ruleset, serializer.validated_data)))

    @extend_schema(
        summary="Publish a version (admins)", parameters=[RULESET_ID],
        description=("Makes the draft (or the named version: an archived one rolls back) the active version and queues a "
                     "rescore of every contact the rule set scores."),
        request=VersionChoiceSerializer, responses={200: RuleSetSerializer},
    )
    @action(detail=True, methods=["post"])
    def publish(self, request: Request, pk=None) -> Response:
        ruleset = self._ruleset(pk)
        serializer = VersionChoiceSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        version_publish(version=_version_of(ruleset, serializer.validated_data), by=request.user)  # audits itself
        return Response(RuleSetSerializer(self.get_queryset().get(pk=ruleset.pk)).data)


# --- Funnel --------------------------------------------------------------------------------------

EARLIEST, LATEST = date(1900, 1, 1), date(9998, 12, 31)


class FunnelQuerySerializer(StrictQuerySerializer):
    date_from = serializers.DateField(required=False, help_text=H(
        "Only contacts created on or after this day (YYYY-MM-DD, Asia/Jakarta)."))
    date_to = serializers.DateField(required=False, help_text=H("Only contacts created on or before this day (inclusive)."))
    industry = serializers.ChoiceField(choices=Industry.choices, required=False, help_text=H("Only this industry."))
    source = serializers.CharField(required=False, max_length=100, help_text=H("Only this source (case-insensitive)."))
    owner = serializers.RegexField(r"^(\d{1,18}|me|none)$", required=False, help_text=H(
        "A user id, “me”, or “none” for unassigned contacts. A sales rep (not a manager) always gets their own contacts."))

    def validate(self, attrs: dict) -> dict:
        for name in ("date_from", "date_to"):
            # Any valid date is accepted, as the schema says: nothing was created before 1900 or after 9998.
            if name in attrs:
                attrs[name] = min(max(attrs[name], EARLIEST), LATEST)
        if "date_from" in attrs and "date_to" in attrs and attrs["date_from"] > attrs["date_to"]:
            raise serializers.ValidationError({"date_to": [_("Must not be before date_from.")]})
        return attrs


class FunnelStageSerializer(serializers.Serializer):
    stage = serializers.ChoiceField(choices=Stage.choices, help_text=H("The stage."))
    count = serializers.IntegerField(help_text=H("Contacts whose current stage is this one."))
    reached = serializers.IntegerField(help_text=H("Contacts at this stage or further down the funnel."))
    conversion_rate = serializers.FloatField(allow_null=True, help_text=H(
        "reached(next stage) / reached(this stage), 0.0-1.0; null for customer or when nobody reached the stage."))


class FunnelFiltersSerializer(serializers.Serializer):
    date_from = serializers.DateField(allow_null=True, help_text=H("The date_from applied."))
    date_to = serializers.DateField(allow_null=True, help_text=H("The date_to applied."))
    industry = serializers.CharField(allow_null=True, help_text=H("The industry applied."))
    source = serializers.CharField(allow_null=True, help_text=H("The source applied."))
    owner = serializers.CharField(allow_null=True, help_text=H("The owner applied: a user id, “none”, or null for everyone."))


class FunnelSerializer(serializers.Serializer):
    stages = FunnelStageSerializer(many=True, help_text=H("contact, lead, prospect, customer in funnel order."))
    total = serializers.IntegerField(help_text=H("Contacts matching the filters."))
    overall_conversion_rate = serializers.FloatField(allow_null=True, help_text=H(
        "Customers / all contacts matching the filters; null when there are none."))
    filters = FunnelFiltersSerializer(help_text=H("The filters that were applied."))


class FunnelView(APIView):
    role_rules = {"get": ALL_ROLES}

    @extend_schema(
        summary="Funnel: counts and conversion rates per stage",
        description="Filterable like the dashboard. Sales reps (not managers) always see the funnel of their own contacts.",
        parameters=[FunnelQuerySerializer], responses={200: FunnelSerializer},
    )
    def get(self, request: Request) -> Response:
        # "format" is DRF's own response-format override, not a filter.
        query = FunnelQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        params = dict(query.validated_data)
        owner = params.pop("owner", None)
        if owner == "me" or not roles.sees_all_contacts(request.user):
            owner = request.user.pk
        result = funnel(owner=int(owner) if owner not in (None, "none") else owner, **params)
        result["filters"] = {**result["filters"], "owner": None if result["filters"]["owner"] is None else str(result["filters"]["owner"])}
        return Response(FunnelSerializer(result).data)


router = SimpleRouter(use_regex_path=False)
router.register("rulesets", RuleSetViewSet, basename="ruleset")

urlpatterns = [
    path("funnel/", FunnelView.as_view(), name="funnel"),
    *router.urls,
]
