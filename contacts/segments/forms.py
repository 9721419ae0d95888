"""The segment form (/segments/new/, /segments/<id>/edit/): a name and the contact list's
filters as fields, plus rows of attribute conditions. It only converts between fields and
a filters object; contacts.segments validates and saves."""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.utils import formats
from django.utils.translation import gettext_lazy as _

from contacts import attribute_filters
from contacts.fields import types as custom_types
from contacts.models import Industry, Stage
from contacts.segments import NAME_MAX_LENGTH
from contacts.selectors import CONSENT_CHOICES, owner_choices
from crm.widgets import DATE_PICKER

ATTRIBUTE_ROWS = 3
TRI_STATE = (("", _("Any")), ("true", _("Yes")), ("false", _("No")))
# Form field -> filter name (the same unless noted).
FILTER_FIELDS = ("stage", "industry", "source", "owner", "tag", "score_gte", "score_lte", "active_within", "inactive_for",
                 "last_interaction_before", "updated_since", "consent", "consent_email", "consent_whatsapp", "consent_sms",
                 "do_not_contact", "search")


class SegmentForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=NAME_MAX_LENGTH,
                           help_text=_("Shared with the team, e.g. “Education leads from Instagram”."))
    stage = forms.ChoiceField(label=_("Stage"), required=False, choices=[("", _("Any stage")), *Stage.choices])
    industry = forms.ChoiceField(label=_("Industry"), required=False, choices=[("", _("All industries")), *Industry.choices])
    source = forms.CharField(label=_("Source"), required=False, max_length=100)
    owner = forms.ChoiceField(label=_("Owner"), required=False,
                              help_text=_("“Me” means whoever opens the segment."))
    tag = forms.CharField(label=_("Tag"), required=False, max_length=50)
    # Typed as the reader writes numbers ("1.250" in Indonesian).
    score_gte = custom_types.LocalNumberField(label=_("Score at least"), required=False, integer=True)
    score_lte = custom_types.LocalNumberField(label=_("Score at most"), required=False, integer=True)
    active_within = forms.IntegerField(label=_("Active in the last (days)"), required=False, min_value=0)
    inactive_for = forms.IntegerField(label=_("Inactive for (days)"), required=False, min_value=0)
    last_interaction_before = forms.DateField(label=_("Last activity before"), required=False,
                                              widget=DATE_PICKER)
    updated_since = forms.DateField(label=_("Updated since"), required=False, widget=DATE_PICKER)
    consent = forms.ChoiceField(label=_("Consent"), required=False, choices=[("", _("Any")), *CONSENT_CHOICES])
    consent_email = forms.ChoiceField(label=_("Email opt-in"), required=False, choices=TRI_STATE)
    consent_whatsapp = forms.ChoiceField(label=_("WhatsApp opt-in"), required=False, choices=TRI_STATE)
    consent_sms = forms.ChoiceField(label=_("SMS opt-in"), required=False, choices=TRI_STATE)
    do_not_contact = forms.ChoiceField(label=_("Do not contact"), required=False, choices=TRI_STATE)
    search = forms.CharField(label=_("Search"), required=False, max_length=200,
                             help_text=_("Name, email, phone or company."))

    def __init__(self, *args, filters: dict[str, Any] | None = None, **kwargs):
        filters = dict(filters or {})
        attribute_items = [(name, value) for name, value in filters.items() if name.startswith(attribute_filters.PREFIX)]
        if not kwargs.get("data") and not (args and args[0]):
            kwargs.setdefault("initial", {}).update(self._initial(filters, attribute_items))
        super().__init__(*args, **kwargs)
        self.fields["owner"].choices = [("", _("Anyone")), ("me", _("Me")), ("none", _("Unassigned"))] + [
            (str(u.pk), u.get_full_name() or u.username) for u in owner_choices()
        ]
        rows = max(ATTRIBUTE_ROWS, len(attribute_items) + 1)
        if self.is_bound:  # rows the page added beyond the defaults (at most 50)
            indexes = [int(k[9:]) for k in self.data if k.startswith("attr_key_") and k[9:].isdigit()]
            rows = max([rows, *(i + 1 for i in indexes if i < 50)])
        self.attribute_rows = []
        self.custom_fields = custom_types.active_fields()  # offered by label in the key box (a datalist)
        for index in range(rows):
            self.fields[f"attr_key_{index}"] = forms.CharField(
                label=_("Attribute"), required=False, max_length=100,
                widget=forms.TextInput(attrs={"list": "custom-field-keys", "autocomplete": "off"}))
            self.fields[f"attr_op_{index}"] = forms.ChoiceField(
                label=_("Condition"), required=False, choices=list(attribute_filters.OPERATOR_LABELS.items()))
            self.fields[f"attr_value_{index}"] = forms.CharField(label=_("Value"), required=False, max_length=200)
            self.attribute_rows.append((self[f"attr_key_{index}"], self[f"attr_op_{index}"], self[f"attr_value_{index}"]))

    @property
    def date_example(self) -> str:
        """How the reader may type a date here (the help text names it; ISO is read too)."""
        return custom_types.date_example()

    date_iso = custom_types.EXAMPLE_DAY.isoformat()

    @staticmethod
    def _initial(filters: dict[str, Any], attribute_items: list[tuple[str, Any]]) -> dict[str, Any]:
        initial: dict[str, Any] = {}
        aliases = {"score_min": "score_gte", "score_max": "score_lte"}
        for name, value in filters.items():
            field = aliases.get(name, name)
            if field in FILTER_FIELDS:
                if isinstance(value, bool):
                    value = "true" if value else "false"
                elif field in ("last_interaction_before", "updated_since") and isinstance(value, str):
                    value = value[:10]
                initial[field] = value
        custom = custom_types.active_by_key() if attribute_items else {}
        for index, (name, value) in enumerate(attribute_items):
            try:
                key, op = attribute_filters.parse_param(name)
            except ValidationError:
                continue
            field = custom.get(key)
            number = custom_types.as_plain_number(value) if field is not None and field.type == custom_types.Type.NUMBER else None
            if number is not None and op in ("eq", "ne", "gte", "lte"):
                # Shown as the reader writes it ("1,25" in Indonesian), so saving it again reads the same number.
                value = formats.number_format(number, use_l10n=True)
            initial[f"attr_key_{index}"] = key
            initial[f"attr_op_{index}"] = op
            initial[f"attr_value_{index}"] = "" if op in ("is_set", "is_blank") and value in (True, "true", "1") else value
        return initial

    @classmethod
    def data_for(cls, name: str, filters: dict[str, Any]) -> dict[str, Any]:
        """Form data for a name and a filters object (to show a refused "Save this view" in full)."""
        attribute_items = [(k, v) for k, v in filters.items() if k.startswith(attribute_filters.PREFIX)]
        data = {k: "" if v is None else str(v) for k, v in cls._initial(filters, attribute_items).items()}
        return {**data, "name": name}

    def clean(self):
        """A condition on a custom number or date field takes the value as the reader writes it
        ("1.250,5", 31/03/2027) and keeps it in the filters' form ("1250.5", 2027-03-31); one that
        does not fit is an error on that value, naming the field."""
        cleaned = super().clean()
        by_key = {field.key: field for field in self.custom_fields}
        for key_field, op_field, value_field in self.attribute_rows:
            field = by_key.get((cleaned.get(key_field.name) or "").strip())
            value = (cleaned.get(value_field.name) or "").strip()
            op = cleaned.get(op_field.name) or "eq"
            if not value or op not in ("eq", "ne", "gte", "lte"):
                continue
            if field is None:
                key = (cleaned.get(key_field.name) or "").strip()
                if key and op in ("gte", "lte") and custom_types.as_plain_number(value) is None:
                    # An imported column compares with a number or a date: one typed as the reader
                    # writes dates is kept as ISO, the form attribute_filters.clean_value reads.
                    day = custom_types.parse_local_date(value)
                    if day is None:
                        self.add_error(value_field.name, f"{key}: " + custom_types.not_a_number_or_date())
                    else:
                        cleaned[value_field.name] = day.isoformat()
                continue
            if field.type == custom_types.Type.NUMBER:
                number = custom_types.parse_local_number(value)
                if number is None:
                    self.add_error(value_field.name, f"{field.label}: "
                                   + str(_("“%(value)s” is not a number.") % {"value": value}))
                else:
                    cleaned[value_field.name] = custom_types.number_text(number)
            elif field.type == custom_types.Type.DATE:
                day = custom_types.parse_local_date(value)
                if day is None:
                    self.add_error(value_field.name, f"{field.label}: " + custom_types.not_a_date(value))
                else:
                    cleaned[value_field.name] = day.isoformat()
        return cleaned

    def filters(self) -> dict[str, Any]:
        """The filters object of the (valid) form: blank fields left out."""
        filters: dict[str, Any] = {}
        for name in FILTER_FIELDS:
            value = self.cleaned_data.get(name)
            if value in (None, ""):
                continue
            if name in ("consent_email", "consent_whatsapp", "consent_sms", "do_not_contact"):
                value = value == "true"
            elif hasattr(value, "isoformat"):
                value = value.isoformat()
            filters[name] = value
        for key_field, op_field, value_field in self.attribute_rows:
            key = (self.cleaned_data.get(key_field.name) or "").strip()
            if not key:
                continue
            op = self.cleaned_data.get(op_field.name) or "eq"
            value = (self.cleaned_data.get(value_field.name) or "").strip()
            if op in ("is_set", "is_blank") and not value:
                value = "true"
            filters[attribute_filters.param_name(key, op)] = value
        return filters

    def add_service_errors(self, exc: ValidationError) -> None:
        """Put "filters.<name>" errors from contacts.segments on the matching field."""
        for key, messages in exc.message_dict.items():
            name = key.removeprefix("filters.")
            target = {"score_min": "score_gte", "score_max": "score_lte"}.get(name, name)
            if key == "name" or (key.startswith("filters.") and target in FILTER_FIELDS):
                for message in messages:
                    self.add_error(key if key == "name" else target, message)
            elif name.startswith(attribute_filters.PREFIX):
                for message in messages:
                    self.add_error(None, f"{name.removeprefix(attribute_filters.PREFIX)}: {message}")
            else:
                for message in messages:
                    self.add_error(None, f"{name}: {message}" if key != "filters" else message)
