"""Serializers of the contacts API: separate output (what we show) and input (what a
caller may write) serializers; inputs refuse unknown and read-only fields by name.

Every field carries help_text: it becomes the field's description in the OpenAPI schema."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from contacts.models import (
    Channel,
    Contact,
    CustomField,
    Industry,
    IntentLevel,
    Interaction,
    InteractionKind,
    Note,
    Stage,
    StageChange,
)
from contacts.selectors import owner_choices
from contacts.services import is_capture_key_space
from crm.api_common import StrictInputSerializer, no_nul
from crm.api_strict import DateTimeFrom1900Field, FieldsBuiltOnce

MAX_BATCH = 1000
MAX_ID = 2**63 - 1

H = gettext_lazy  # help texts are lazy: rendered in the reader's language


# --- Contacts -------------------------------------------------------------------

CONTACT_HELP = {
    "id": H("Contact id."),
    "full_name": H("Full name."),
    "email": H("Email address; stored lowercased, unique across contacts when present."),
    "phone": H("Phone number; stored in E.164 (0812-3456-7890 becomes +6281234567890), unique when present."),
    "social_handle": H("Social media handle, e.g. @budi."),
    "company": H("Company or organisation."),
    "job_title": H("Job title."),
    "city": H("City."),
    "industry": H("Industry; selects the scoring rule set (other: the default rule set)."),
    "source": H("Where the contact came from: a campaign, a form, an import."),
    "utm_source": H("utm_source of the first tracked visit."),
    "utm_medium": H("utm_medium of the first tracked visit (e.g. cpc)."),
    "utm_campaign": H("utm_campaign of the first tracked visit."),
    "external_source": H("System the contact was imported from."),
    "external_ref": H("The contact's id in external_source; unique per external_source."),
    "consent_email": H("Opted in to email."),
    "consent_whatsapp": H("Opted in to WhatsApp."),
    "consent_sms": H("Opted in to SMS."),
    "do_not_contact": H("Asked not to be contacted on any channel."),
    "objects_to_profiling": H("Objects to automated profiling: left out of scoring."),
    "owner": H("User id of the sales rep who owns the contact; null when unassigned. "
               "Writable by admins and sales managers only."),
    "attributes": H("Custom attributes as an object: imported columns, and the custom fields an admin defined "
                    "(/settings/fields/). A custom field's value is checked by its type: a number, a date as YYYY-MM-DD, "
                    "or one of its choices (null or \"\" clears it); a wrong one is a 400 naming attributes.<key>. "
                    "A PATCH merges keys into the existing ones."),
    "tags": H("Tag names."),
    "stage": H("Stage: contact, lead, prospect or customer. Set by the scoring rules; admins and sales managers may "
               "set it by hand, which pins it."),
    "stage_pinned": H("The stage was set by hand; rules do not move it until it is unpinned."),
    "stage_changed_at": H("When the stage last changed."),
    "score": H("Score under the active rule set (read-only; see score_breakdown)."),
    "scored_at": H("When the score was last stored. A rescore that reaches the same result (score, stage and "
                   "breakdown) leaves the row, and this time, as they were."),
    "last_interaction_at": H("Time of the latest interaction."),
    "first_contacted_at": H("When a sales rep first wrote a note on the contact."),
    "created_at": H("When the contact was created."),
    "updated_at": H("When the contact last changed."),
    "score_breakdown": H("Why the score is what it is: the rules that gave points, from which interactions, under which "
                         "rule-set version. Null until the contact is first scored."),
    "stage_history": H("Every stage change, newest first, with the reason in words."),
}


def _h(name: str) -> str:
    return CONTACT_HELP[name]


class BreakdownHitSerializer(serializers.Serializer):
    rule = serializers.IntegerField(help_text=H("Rule id."))
    label = serializers.CharField(help_text=H("The rule's label."))
    points = serializers.CharField(help_text=H("Points the rule gave, as a decimal string (may be negative)."))
    count = serializers.IntegerField(help_text=H("How many interactions (or 1 for an attribute rule) counted."))
    interactions = serializers.ListField(child=serializers.IntegerField(), help_text=H("Ids of the interactions that counted."))


class ScoreBreakdownSerializer(serializers.Serializer):
    version = serializers.IntegerField(allow_null=True, help_text=H("Id of the rule-set version that scored the contact."))
    version_number = serializers.IntegerField(allow_null=True, help_text=H("That version's number within its rule set."))
    ruleset = serializers.CharField(allow_null=True, help_text=H("Name of the rule set."))
    score = serializers.IntegerField(help_text=H("The total: the rounded sum of the hits' points."))
    computed_at = serializers.CharField(help_text=H("When this breakdown was computed (ISO 8601); later rescores that "
                                                    "reached the same result kept it."))
    hits = BreakdownHitSerializer(many=True, help_text=H("The rules that gave points."))


class StageChangeSerializer(serializers.ModelSerializer):
    reason = serializers.CharField(source="reason_text", read_only=True, help_text=H("The reason in words, in the request's language."))
    user_name = serializers.SerializerMethodField(help_text=H("Who set the stage by hand; null when rules moved it."))

    class Meta:
        model = StageChange
        fields = ["id", "from_stage", "to_stage", "changed_at", "reason_code", "reason", "reason_params", "score", "user",
                  "user_name", "ruleset_version"]
        extra_kwargs = {
            "id": {"help_text": H("Stage change id.")},
            "from_stage": {"help_text": H("Stage before.")},
            "to_stage": {"help_text": H("Stage after.")},
            "changed_at": {"help_text": H("When it changed.")},
            "reason_code": {"help_text": H("Machine-readable reason.")},
            "reason_params": {"help_text": H("The reason's parameters (score, threshold, intent interaction, ...).")},
            "score": {"help_text": H("Score at the time.")},
            "user": {"help_text": H("User id who set the stage by hand; null when rules moved it.")},
            "ruleset_version": {"help_text": H("Id of the rule-set version whose rules moved it.")},
        }

    def get_user_name(self, change: StageChange) -> str | None:
        return (change.user.get_full_name() or change.user.username) if change.user else None


OUTPUT_FIELDS = (
    "id", "full_name", "email", "phone", "social_handle", "company", "job_title", "city", "industry", "source",
    "utm_source", "utm_medium", "utm_campaign", "external_source", "external_ref", "consent_email", "consent_whatsapp",
    "consent_sms", "do_not_contact", "objects_to_profiling", "owner", "attributes", "tags", "stage", "stage_pinned",
    "stage_changed_at", "score", "scored_at", "last_interaction_at", "first_contacted_at", "created_at", "updated_at",
)


class ContactSerializer(serializers.ModelSerializer):
    """A contact as lists show it."""

    tags = serializers.SerializerMethodField(help_text=_h("tags"))
    attributes = serializers.DictField(help_text=_h("attributes"), read_only=True)

    class Meta:
        model = Contact
        fields = list(OUTPUT_FIELDS)
        read_only_fields = fields
        extra_kwargs = {name: {"help_text": CONTACT_HELP[name]} for name in OUTPUT_FIELDS if name not in ("tags", "attributes")}

    def get_tags(self, contact: Contact) -> list[str]:
        return [tag.name for tag in contact.tags.all()]


class ContactDetailSerializer(ContactSerializer):
    """One contact with the explanation of its score and its stage history."""

    score_breakdown = serializers.SerializerMethodField(help_text=_h("score_breakdown"))
    stage_history = StageChangeSerializer(source="stage_changes", many=True, read_only=True, help_text=_h("stage_history"))

    class Meta(ContactSerializer.Meta):
        fields = [*OUTPUT_FIELDS, "score_breakdown", "stage_history"]
        read_only_fields = fields

    @extend_schema_field(ScoreBreakdownSerializer(allow_null=True))
    def get_score_breakdown(self, contact: Contact) -> dict | None:
        return contact.score_breakdown or None


def _text(name: str, max_length: int, **kwargs) -> serializers.CharField:
    return serializers.CharField(max_length=max_length, required=False, allow_blank=True, help_text=_h(name), **kwargs)


class ContactInputSerializer(StrictInputSerializer):
    """What a caller may write on a contact. `owner` and `stage` are accepted only from
    admins and sales managers (for anyone else they are read-only)."""

    full_name = _text("full_name", 200)
    email = _text("email", 254, allow_null=True)
    phone = _text("phone", 40, allow_null=True)
    social_handle = _text("social_handle", 100)
    company = _text("company", 200)
    job_title = _text("job_title", 200)
    city = _text("city", 100)
    industry = serializers.ChoiceField(choices=Industry.choices, required=False, help_text=_h("industry"))
    source = _text("source", 100)
    utm_source = _text("utm_source", 100)
    utm_medium = _text("utm_medium", 100)
    utm_campaign = _text("utm_campaign", 150)
    external_source = _text("external_source", 100)
    external_ref = _text("external_ref", 200, allow_null=True)
    consent_email = serializers.BooleanField(required=False, help_text=_h("consent_email"))
    consent_whatsapp = serializers.BooleanField(required=False, help_text=_h("consent_whatsapp"))
    consent_sms = serializers.BooleanField(required=False, help_text=_h("consent_sms"))
    do_not_contact = serializers.BooleanField(required=False, help_text=_h("do_not_contact"))
    attributes = serializers.DictField(required=False, validators=[no_nul], help_text=_h("attributes"))
    owner = serializers.PrimaryKeyRelatedField(queryset=owner_choices(), required=False, allow_null=True, help_text=_h("owner"))
    stage = serializers.ChoiceField(choices=Stage.choices, required=False, help_text=_h("stage"))

    read_only_names = frozenset({*OUTPUT_FIELDS, "score_breakdown", "stage_history"})
    required_any_of = ("email", "phone", "full_name", "external_ref")  # declared here, checked by the service

    def __init__(self, *args, may_set_stage: bool = True, may_set_owner: bool = True, **kwargs):
        super().__init__(*args, **kwargs)
        # For callers who may not set them, owner and stage become read-only: writing them is refused by name.
        if not may_set_stage:
            self.fields.pop("stage")
        if not may_set_owner:
            self.fields.pop("owner")

    def to_internal_value(self, data):
        # The objection to profiling (UU PDP art. 10) moves only through the privacy page (admins, with evidence).
        if isinstance(data, dict) and "objects_to_profiling" in data:
            raise serializers.ValidationError({"objects_to_profiling": [
                _("Read-only here: only an admin can change the objection to profiling, on the contact's privacy page.")]})
        return super().to_internal_value(data)


# --- Interactions ------------------------------------------------------------------

INTERACTION_HELP = {
    "id": H("Interaction id."),
    "contact": H("Contact id."),
    "kind": H("Interaction kind slug (see /api/interaction-kinds/), e.g. form_submitted, price_requested, purchase."),
    "occurred_at": H("When it happened (ISO 8601; without an offset Asia/Jakarta is assumed). At most "
                     "CRM_FUTURE_SKEW (5 minutes) in the future, not before 1900. Default: now."),
    "channel": H("Channel it happened on."),
    "data": H("Free-form details as an object (e.g. {\"path\": \"/promo\"}); scoring rules may test its keys."),
    "source": H("The sending system (e.g. shop, wa-bot); external_id is unique per source."),
    "external_id": H("The sender's id for this event. A retry with the same source and external_id returns the "
                     "original interaction and writes nothing."),
    "created_at": H("When the CRM recorded it."),
    "created_by": H("User id of the API caller who recorded it."),
}


class InteractionSerializer(serializers.ModelSerializer):
    kind = serializers.CharField(source="kind_id", read_only=True, help_text=INTERACTION_HELP["kind"])
    # Blank is a legitimate stored value; read-only model fields would lose allow_blank (and the schema the "").
    channel = serializers.ChoiceField(choices=Channel.choices, allow_blank=True, read_only=True, help_text=INTERACTION_HELP["channel"])
    data = serializers.DictField(read_only=True, help_text=INTERACTION_HELP["data"])
    contact = serializers.IntegerField(source="contact_id", read_only=True, help_text=INTERACTION_HELP["contact"])
    created_by = serializers.IntegerField(source="created_by_id", read_only=True, allow_null=True,
                                          help_text=INTERACTION_HELP["created_by"])

    class Meta:
        model = Interaction
        fields = ["id", "contact", "kind", "occurred_at", "channel", "data", "source", "external_id", "created_at", "created_by"]
        read_only_fields = fields
        extra_kwargs = {name: {"help_text": INTERACTION_HELP[name]} for name in ("id", "occurred_at", "source",
                                                                                 "external_id", "created_at")}


_DATETIME = serializers.DateTimeField(read_only=True)  # unbound: its output depends only on the active time zone


def interaction_representation(interaction: Interaction) -> dict[str, Any]:
    """InteractionSerializer(interaction).data, built directly: the answer to every single event
    POSTed, where a ModelSerializer rebuilt its ten fields from the model on each call.
    tests/api/test_api_interaction_representation.py keeps the two equal."""
    return {
        "id": interaction.pk, "contact": interaction.contact_id, "kind": interaction.kind_id,
        "occurred_at": _DATETIME.to_representation(interaction.occurred_at), "channel": interaction.channel,
        "data": {str(key): value for key, value in interaction.data.items()}, "source": interaction.source,
        "external_id": interaction.external_id, "created_at": _DATETIME.to_representation(interaction.created_at),
        "created_by": interaction.created_by_id,
    }


class InteractionResultSerializer(InteractionSerializer):
    replayed = serializers.BooleanField(read_only=True, help_text=H(
        "True when this answers a retry: the interaction existed already (same source and external_id) and nothing was written."))

    class Meta(InteractionSerializer.Meta):
        fields = [*InteractionSerializer.Meta.fields, "replayed"]
        read_only_fields = fields


class InteractionInputSerializer(FieldsBuiltOnce, StrictInputSerializer):
    """One event. Name the contact by exactly one of contact, contact_email, contact_phone."""

    contact = serializers.IntegerField(required=False, min_value=1, max_value=MAX_ID, help_text=INTERACTION_HELP["contact"])
    contact_email = serializers.CharField(required=False, max_length=254, help_text=H("The contact's email (instead of contact)."))
    contact_phone = serializers.CharField(required=False, max_length=40, help_text=H("The contact's phone (instead of contact)."))
    kind = serializers.SlugField(max_length=50, help_text=INTERACTION_HELP["kind"])
    occurred_at = DateTimeFrom1900Field(required=False, help_text=INTERACTION_HELP["occurred_at"])
    channel = serializers.ChoiceField(choices=Channel.choices, required=False, allow_blank=True, help_text=INTERACTION_HELP["channel"])
    data = serializers.DictField(required=False, validators=[no_nul], help_text=INTERACTION_HELP["data"])
    source = serializers.CharField(required=False, allow_blank=True, max_length=100, help_text=INTERACTION_HELP["source"])
    external_id = serializers.CharField(required=False, allow_null=True, allow_blank=True, max_length=200,
                                        help_text=INTERACTION_HELP["external_id"])

    read_only_names = frozenset({"id", "created_at", "created_by", "replayed"})
    required_one_of = ("contact", "contact_email", "contact_phone")

    def validate_source(self, value: str) -> str:
        if is_capture_key_space(value):
            raise serializers.ValidationError(
                _("Sources starting with “form:” or “capture:” belong to landing-page capture; choose another."))
        return value

    def validate_occurred_at(self, value: datetime) -> datetime:
        if value > timezone.now() + settings.CRM_FUTURE_SKEW:
            raise serializers.ValidationError(_("Cannot be in the future."))
        return value  # before 1900: refused by DateTimeFrom1900Field

    def validate(self, attrs: dict) -> dict:
        given = [name for name in ("contact", "contact_email", "contact_phone") if attrs.get(name) not in (None, "")]
        if len(given) != 1:
            raise serializers.ValidationError(
                {"contact": [_("Name the contact by exactly one of contact, contact_email or contact_phone.")]}
            )
        return attrs


class BulkItemResultSerializer(serializers.Serializer):
    index = serializers.IntegerField(help_text=H("Position of the item in the request list, from 0."))
    id = serializers.IntegerField(help_text=H("Interaction id (the original one for a replay)."))
    contact = serializers.IntegerField(help_text=H("Contact id."))
    status = serializers.ChoiceField(choices=[("created", "created"), ("replayed", "replayed")],
                                     help_text=H("created: written now; replayed: existed already (same source and external_id)."))


class BulkResultSerializer(serializers.Serializer):
    created = serializers.IntegerField(help_text=H("Interactions written by this request."))
    replayed = serializers.IntegerField(help_text=H("Items that were retries of interactions already recorded."))
    results = BulkItemResultSerializer(many=True, help_text=H("One entry per request item, in order."))


# --- Notes ------------------------------------------------------------------------------

class NoteSerializer(serializers.ModelSerializer):
    contact = serializers.IntegerField(source="contact_id", read_only=True, help_text=H("Contact id."))
    author = serializers.IntegerField(source="author_id", read_only=True, allow_null=True, help_text=H("User id of the author."))
    author_name = serializers.SerializerMethodField(help_text=H("The author's name."))

    class Meta:
        model = Note
        fields = ["id", "contact", "author", "author_name", "kind", "body", "due_at", "done_at", "created_at", "updated_at"]
        read_only_fields = fields
        extra_kwargs = {
            "id": {"help_text": H("Note id.")},
            "kind": {"help_text": H("note, follow_up (has a due time) or system (written by the CRM).")},
            "body": {"help_text": H("The note's text.")},
            "due_at": {"help_text": H("When the follow-up is due; null for a plain note.")},
            "done_at": {"help_text": H("When the follow-up was done.")},
            "created_at": {"help_text": H("When it was written.")},
            "updated_at": {"help_text": H("When it last changed.")},
        }

    def get_author_name(self, note: Note) -> str | None:
        return (note.author.get_full_name() or note.author.username) if note.author else None


class NoteInputSerializer(StrictInputSerializer):
    contact = serializers.IntegerField(min_value=1, max_value=MAX_ID, help_text=H("Contact id (one you may change)."))
    body = serializers.CharField(max_length=10000, help_text=H("The note's text."))
    due_at = DateTimeFrom1900Field(required=False, allow_null=True, help_text=H(
        "Makes the note a follow-up due at this time (ISO 8601)."))

    read_only_names = frozenset({"id", "author", "author_name", "kind", "done_at", "created_at", "updated_at"})



# --- Interaction kinds ------------------------------------------------------------------------

KIND_HELP = {
    "slug": H("The kind's key, used in the API, rules and imports (lowercase letters, digits, _ and -)."),
    "name": H("Name in English."),
    "name_id": H("Name in Bahasa Indonesia."),
    "intent_level": H("How strong a signal it is: awareness, interest, intent (buying intent) or conversion."),
    "description": H("What the kind means."),
    "label": H("The name in the request's language."),
}


class InteractionKindSerializer(serializers.ModelSerializer):
    label = serializers.CharField(read_only=True, help_text=KIND_HELP["label"])

    class Meta:
        model = InteractionKind
        fields = ["slug", "name", "name_id", "intent_level", "description", "label"]
        read_only_fields = fields
        extra_kwargs = {name: {"help_text": KIND_HELP[name]} for name in ("slug", "name", "name_id", "intent_level", "description")}


class InteractionKindInputSerializer(StrictInputSerializer):
    slug = serializers.RegexField(r"^[a-z0-9_-]+$", max_length=50, help_text=KIND_HELP["slug"])
    name = serializers.CharField(max_length=100, help_text=KIND_HELP["name"])
    name_id = serializers.CharField(max_length=100, required=False, allow_blank=True, help_text=KIND_HELP["name_id"])
    intent_level = serializers.ChoiceField(choices=IntentLevel.choices, help_text=KIND_HELP["intent_level"])
    description = serializers.CharField(max_length=2000, required=False, allow_blank=True, help_text=KIND_HELP["description"])

    read_only_names = frozenset({"label"})


# --- Custom fields -------------------------------------------------------------------------

class CustomFieldChoiceSerializer(serializers.Serializer):
    value = serializers.CharField(help_text=H("The value stored in attributes.<key>."))
    label_en = serializers.CharField(required=False, help_text=H("English label (absent: the value)."))
    label_id = serializers.CharField(required=False, help_text=H("Indonesian label (absent: the English label)."))


class CustomFieldSerializer(serializers.ModelSerializer):
    """An active custom field: where its value lives on a contact and what it may hold."""

    attribute = serializers.CharField(read_only=True, help_text=H("Where the value is: the key inside the contact's "
                                                                 "attributes, as filters and rules name it (attributes.<key>)."))
    label = serializers.CharField(read_only=True, help_text=H("The label in the request's language."))
    choices = CustomFieldChoiceSerializer(many=True, read_only=True, help_text=H("A choice field's values; empty otherwise."))

    class Meta:
        model = CustomField
        fields = ["key", "attribute", "label", "label_en", "label_id", "type", "choices", "position"]
        read_only_fields = fields
        extra_kwargs = {
            "key": {"help_text": H("The key inside Contact.attributes.")},
            "label_en": {"help_text": H("English label.")},
            "label_id": {"help_text": H("Indonesian label.")},
            "type": {"help_text": H("text, number (a JSON number), date (text YYYY-MM-DD) or choice (one of choices' values).")},
            "position": {"help_text": H("Order on the contact page (lower first).")},
        }
