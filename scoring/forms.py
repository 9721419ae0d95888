"""Forms of the rules pages: field parsing and validation only; the views do the writes.

Rule validation is the service's (`rule_validate`), so the page refuses exactly what
publishing would refuse, with the message shown next to the field it names.
"""

from __future__ import annotations

import json
from datetime import date
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.db.models import Case, IntegerField, Value, When
from django.utils import formats
from django.utils.translation import gettext_lazy as _

from contacts.fields import types as custom_types
from contacts.models import CustomField, IntentLevel, InteractionKind
from scoring import engine
from scoring.models import Rule, RuleSetVersion
from scoring.playbooks import PLAYBOOKS
from scoring.rulesets import rule_validate

PLAYBOOK_CHOICES = [(name, f"{name} — {playbook.title}") for name, playbook in PLAYBOOKS.items()]

# Interaction kinds listed by intent level (conversion first where it matters), then slug.
_LEVEL_ORDER = Case(
    *(When(intent_level=level, then=Value(i)) for i, level in enumerate(IntentLevel.values)),
    output_field=IntegerField(),
)


def kinds_queryset(*, conversion_first: bool = False):
    order = -_LEVEL_ORDER if conversion_first else _LEVEL_ORDER
    return InteractionKind.objects.annotate(level_order=order).order_by("level_order", "slug")


class KindChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: InteractionKind) -> str:
        return f"{obj.label} ({obj.slug})"


class KindMultipleChoiceField(forms.ModelMultipleChoiceField):
    def label_from_instance(self, obj: InteractionKind) -> str:
        return f"{obj.label} ({obj.slug})"


def parse_value(text: str, operator: str = "") -> Any:
    """The value box is plain text: JSON when it looks like JSON (lists, numbers,
    true/false, quoted text), otherwise the text itself. For "is one of" a bare
    comma-separated list is accepted too, since that is what people type."""
    text = (text or "").strip()
    if not text:
        return None
    try:
        value = json.loads(text)
    except ValueError:
        value = text
    if isinstance(value, dict):
        value = text  # objects are never a rule value; keep what was typed so the error shows it
    if operator in (Rule.Operator.IN, Rule.Operator.NOT_IN) and isinstance(value, str):
        value = [part.strip() for part in value.split(",") if part.strip()]
    return value


def format_value(value: Any) -> str:
    """The inverse of parse_value for the edit form: text as typed, anything else as JSON."""
    if value is None:
        return ""
    if isinstance(value, str):
        # Text that would read back as JSON (e.g. "42") keeps its quotes so it stays text.
        return json.dumps(value, ensure_ascii=False) if parse_value(value) != value else value
    return json.dumps(value, ensure_ascii=False)


class PlaybookForm(forms.Form):
    name = forms.ChoiceField(label=_("Playbook"), choices=PLAYBOOK_CHOICES)


class PolicyForm(forms.ModelForm):
    """The stage policy of a draft version."""

    conversion_kinds = KindMultipleChoiceField(
        label=_("Interactions that make a customer"), queryset=InteractionKind.objects.none(), required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("Any one of these makes the contact a customer."),
    )

    class Meta:
        model = RuleSetVersion
        fields = [
            "lead_threshold", "prospect_threshold", "prospect_requires_intent", "intent_window_days",
            "conversion_kinds", "demote_after_days", "decay_half_life_days", "note",
        ]
        help_texts = {
            "lead_threshold": _("Score at which a contact becomes a lead."),
            "prospect_threshold": _("Score at which a lead becomes a prospect; at least the lead threshold."),
            "prospect_requires_intent": _("Also require a buying-intent interaction (price request, demo, …) within the intent window."),
            "intent_window_days": _("Empty means any time."),
            "demote_after_days": _("A lead or prospect with no interaction for this many days steps down one stage. Empty: never."),
            "decay_half_life_days": _("Interaction points halve every this many days. Empty: no decay."),
            "note": _("What changed and why; shown in the version history."),
        }

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["conversion_kinds"].queryset = kinds_queryset(conversion_first=True)
        self.fields["decay_half_life_days"].min_value = 0
        self.fields["decay_half_life_days"].widget.attrs.update(min="0", step="any")

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        lead, prospect = data.get("lead_threshold"), data.get("prospect_threshold")
        if lead is not None and prospect is not None and prospect < lead:
            # Named here so it lands under the field (the model's check constraint would
            # otherwise report it as a nameless constraint violation).
            self.add_error("prospect_threshold", _("Must be at least the lead threshold (%(lead)s).") % {"lead": lead})
        half_life = data.get("decay_half_life_days")
        if half_life is not None and half_life <= 0:
            self.add_error("decay_half_life_days", _("Must be more than 0 days, or empty for no decay."))
        return data


class RuleForm(forms.ModelForm):
    """One rule of a draft. `value` is typed as text and parsed (see parse_value)."""

    value = forms.CharField(
        label=_("Value"), required=False, max_length=2000,
        help_text=_('Text, a number, true/false, or a list such as ["gmail.com", "yahoo.com"] (for "is one of" commas also work).'),
    )
    interaction_kind = KindChoiceField(label=_("Interaction kind"), queryset=InteractionKind.objects.none(), required=False)

    class Meta:
        model = Rule
        fields = ["type", "label", "points", "interaction_kind", "window_days", "max_occurrences", "field", "operator", "value"]
        labels = {"field": _("Field / data key")}
        help_texts = {
            "points": _("Per matching interaction for interaction rules; once for attribute rules. Negative allowed."),
            "window_days": _("Count only interactions of the last N days. Empty: all time."),
            "max_occurrences": _("Count at most N interactions. Empty: no cap."),
            "field": _("Attribute rules: a contact field or attributes.<key>. Interaction rules: optional key of the interaction's data."),
        }

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["interaction_kind"].queryset = kinds_queryset()
        self.fields["operator"].required = False
        self.fields["field"].widget.attrs.update({"list": "rule-field-options", "autocomplete": "off", "spellcheck": "false"})
        self.fields["points"].widget.attrs.update(step="any")
        if self.instance.pk and not self.is_bound:
            self.initial["value"] = format_value(self.instance.value)
            if _date_field(self.instance.field) and isinstance(self.instance.value, str):
                stored = custom_types.parse_local_date(self.instance.value)
                if stored:  # shown as the reader writes dates; stored as YYYY-MM-DD (clean_value)
                    self.initial["value"] = formats.localize_input(stored)
            if float(self.instance.points).is_integer():
                self.initial["points"] = int(self.instance.points)  # "12", not "12.0"

    def clean_field(self) -> str:
        return (self.cleaned_data.get("field") or "").strip()

    def clean_value(self) -> Any:
        operator = self.data.get(self.add_prefix("operator"), "")
        if operator in (Rule.Operator.IS_SET, Rule.Operator.IS_BLANK) and not (self.cleaned_data.get("value") or "").strip():
            return None
        text = self.cleaned_data.get("value", "")
        if _date_field(self.data.get(self.add_prefix("field"), "")) and operator not in (Rule.Operator.IN, Rule.Operator.NOT_IN):
            # A date field's value as the reader writes it ("31/03/2027" in Indonesian); the rule keeps one plain
            # form, YYYY-MM-DD, so it means the same to every reader and compares as a date (scoring.engine).
            typed = custom_types.parse_local_date(text)
            if typed is None:
                raise ValidationError(_("Enter a date, for example %(example)s.") % {
                    "example": formats.localize_input(date(2027, 3, 31))}, code="invalid_date")
            return typed.isoformat()
        return parse_value(text, operator)

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if data.get("type") == Rule.Type.ATTRIBUTE:
            # Interaction-only settings mean nothing on an attribute rule; drop them quietly.
            data["interaction_kind"] = data["window_days"] = data["max_occurrences"] = None
        elif data.get("type") == Rule.Type.INTERACTION and not data.get("interaction_kind") and "interaction_kind" not in self.errors:
            self.add_error("interaction_kind", _("Choose the interaction kind this rule counts."))
        return data

    def _post_clean(self) -> None:
        super()._post_clean()
        if self.errors:
            return
        try:
            rule_validate(self.instance)
        except ValidationError as exc:
            self._update_errors(ValidationError(_errors_by_field(exc)))


def _errors_by_field(exc: ValidationError) -> dict[str, list]:
    """rule_validate files every condition problem under `field`; a problem with the
    value itself ("Operator 'gt' on field 'x' needs a number …") belongs under `value`."""
    errors: dict[str, list] = {}
    for name, messages in exc.error_dict.items():
        for error in messages:
            text = " ".join(error.messages)
            target = name
            if name == "field" and text.startswith("Operator '") and "Unknown operator" not in text:
                target = "value"
            errors.setdefault(target, []).append(error)
    return errors


def field_options() -> list[tuple[str, str]]:
    """The attribute-rule field picker: the whitelist plus the attributes.<key> pattern."""
    return [(name, kind) for name, kind in engine.ATTRIBUTE_FIELDS.items()] + [(engine.ATTRIBUTES_PREFIX + "<key>", "any")]


def _date_field(name: str) -> bool:
    """Whether a rule's field names an active custom field of the date type (attributes.<key>)."""
    name = (name or "").strip()
    if not name.startswith(engine.ATTRIBUTES_PREFIX):
        return False
    field = custom_types.active_by_key().get(name[len(engine.ATTRIBUTES_PREFIX):])
    return field is not None and field.type == CustomField.Type.DATE


def custom_field_options() -> list[dict[str, Any]]:
    """The custom fields the picker offers by label: name (attributes.<key>), label, type and the
    operators that suit the type (contacts.fields.types.RULE_OPERATORS), for a choice its values."""
    return [
        {"name": field.attribute, "label": field.label, "type": field.type, "type_label": field.get_type_display(),
         "operators": " ".join(custom_types.RULE_OPERATORS[field.type]),
         "choices": ", ".join(value for value, _label in field.choice_pairs())}
        for field in custom_types.active_fields()
    ]
