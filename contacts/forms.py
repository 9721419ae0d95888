"""Page forms: field parsing and validation only. The writes happen in contacts.services,
whose ValidationErrors (a dict naming the field) are attached back onto these forms."""

from __future__ import annotations

from django import forms
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from contacts.catalog import kind_choices
from contacts.fields import types as custom_types
from contacts.models import Channel, Contact, Industry, InteractionKind, Stage
from contacts.selectors import owner_choices
from contacts.services import normalize_phone
from crm.widgets import DATE_PICKER

DATETIME_WIDGET = forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M")


def add_service_errors(form: forms.Form, exc: ValidationError) -> None:
    """Put a service's ValidationError onto the form: per field when it names one we show."""
    if hasattr(exc, "error_dict"):
        for field, errors in exc.message_dict.items():
            form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(None, exc.messages)


class InteractionForm(forms.Form):
    kind = forms.ModelChoiceField(label=_("What happened"), queryset=InteractionKind.objects.all(), empty_label=None)
    occurred_at = forms.DateTimeField(label=_("When"), widget=DATETIME_WIDGET, required=False,
                                      help_text=_("Leave empty for now."))
    channel = forms.ChoiceField(label=_("Channel"), choices=[("", "—"), *Channel.choices], required=False)
    note = forms.CharField(label=_("Details"), required=False, max_length=500, widget=forms.TextInput)

    def __init__(self, *args, first_kinds: set[str] | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        # The label follows the active language (InteractionKind.label).
        self.fields["kind"].label_from_instance = lambda kind: kind.label
        if first_kinds is not None:
            # The contact's industry's kinds first, every other kind under "Other" (issue 18, defect 8).
            self.fields["kind"].choices = kind_choices(self.fields["kind"].queryset, first_kinds,
                                                       other_label=_("Other interactions"))

    def clean_occurred_at(self):
        value = self.cleaned_data.get("occurred_at")
        return value or timezone.now()


class NoteForm(forms.Form):
    body = forms.CharField(label=_("Note"), widget=forms.Textarea(attrs={"rows": 3}), max_length=5000,
                           error_messages={"required": _("Write something.")})
    due_at = forms.DateTimeField(label=_("Follow up by"), widget=DATETIME_WIDGET, required=False,
                                 help_text=_("Optional: makes it a follow-up that shows in the rep's queue."))


class QuickNoteForm(forms.Form):
    """One-line note from the prospects queue."""

    body = forms.CharField(label=_("Quick note"), max_length=2000, error_messages={"required": _("Write something.")})
    due_at = forms.DateTimeField(label=_("Next follow-up"), widget=DATETIME_WIDGET, required=False)


class StageForm(forms.Form):
    stage = forms.ChoiceField(label=_("Stage"), choices=Stage.choices)
    note = forms.CharField(label=_("Why"), required=False, max_length=200,
                           help_text=_("Shown in the stage history."))


class OwnerForm(forms.Form):
    owner = forms.ModelChoiceField(label=_("Owner"), queryset=None, required=False, empty_label=_("— Unassigned —"))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["owner"].queryset = owner_choices()
        self.fields["owner"].label_from_instance = lambda user: user.get_full_name() or user.username


class ContactEditForm(forms.Form):
    """The editable identity, firmographics and consent fields (contact_update sets them exactly)."""

    full_name = forms.CharField(label=_("Full name"), max_length=200, required=False)
    email = forms.EmailField(label=_("Email"), max_length=254, required=False)
    phone = forms.CharField(label=_("Phone"), max_length=30, required=False, help_text=_("e.g. 0812-3456-7890"))
    social_handle = forms.CharField(label=_("Social handle"), max_length=100, required=False)
    company = forms.CharField(label=_("Company"), max_length=200, required=False)
    job_title = forms.CharField(label=_("Job title"), max_length=200, required=False)
    city = forms.CharField(label=_("City"), max_length=100, required=False)
    industry = forms.ChoiceField(label=_("Industry"), choices=Industry.choices)
    source = forms.CharField(label=_("Source"), max_length=100, required=False)
    consent_email = forms.BooleanField(label=_("Email opt-in"), required=False)
    consent_whatsapp = forms.BooleanField(label=_("WhatsApp opt-in"), required=False)
    consent_sms = forms.BooleanField(label=_("SMS opt-in"), required=False)
    do_not_contact = forms.BooleanField(label=_("Do not contact"), required=False)
    # The objection to profiling is not here: only an admin changes it, on the privacy page (with evidence).
    # Consent changes made here are recorded as evidence (source "page") by contacts.services.consent.

    CONSENT_FIELDS = ("consent_email", "consent_whatsapp", "consent_sms", "do_not_contact")

    def clean_phone(self):
        # Checked here too, so a bad phone is named beside a bad email (the form's own check),
        # not only once the email is fixed; contact_update normalises it again.
        value = self.cleaned_data.get("phone")
        if value:
            normalize_phone(value)
        return value

    @classmethod
    def for_contact(cls, contact: Contact, data=None) -> ContactEditForm:
        initial = {name: getattr(contact, name) for name in cls.base_fields}
        form = cls(data, initial=initial)
        # The active custom fields too, named attributes.<key> like the service's errors.
        for field in custom_types.active_fields():
            form.fields[field.attribute] = custom_types.form_field(field)
            stored = (contact.attributes or {}).get(field.key)
            if custom_types.fits(field, stored):
                form.initial[field.attribute] = custom_types.form_initial(field, stored)
            else:  # stored before the field had its type: shown, kept unless a value is typed
                form.fields[field.attribute].help_text = _("Now “%(value)s”, which is not a valid value; empty keeps it.") % {
                    "value": stored}
        return form

    @property
    def custom_fields(self) -> list:
        return [self[name] for name in self.fields if name.startswith("attributes.")]

    def service_data(self) -> dict:
        """What contact_update sets: the contact's fields, and the custom fields that changed (a value
        stored before its field had a type stays as it is unless it is edited)."""
        data = {name: value for name, value in self.cleaned_data.items() if not name.startswith("attributes.")}
        changed = {name.removeprefix("attributes."): self.cleaned_data.get(name)
                   for name in self.changed_data if name.startswith("attributes.")}
        if changed:
            data["attributes"] = changed
        return data

    def clean(self):
        cleaned = super().clean()
        if not any(cleaned.get(f) for f in ("full_name", "email", "phone")):
            raise ValidationError(_("Give at least a name, an email or a phone."))
        return cleaned


class DashboardFilterForm(forms.Form):
    """GET filters of the home dashboard; everything optional."""

    date_from = forms.DateField(label=_("From"), required=False, widget=DATE_PICKER)
    date_to = forms.DateField(label=_("To"), required=False, widget=DATE_PICKER)
    industry = forms.ChoiceField(label=_("Industry"), required=False, choices=[("", _("All industries")), *Industry.choices])
    source = forms.CharField(label=_("Source"), required=False, max_length=100)
    owner = forms.ChoiceField(label=_("Owner"), required=False)

    def __init__(self, *args, show_owner: bool = True, **kwargs):
        super().__init__(*args, **kwargs)
        if show_owner:
            self.fields["owner"].choices = [("", _("Everyone")), ("none", _("Unassigned"))] + [
                (str(u.pk), u.get_full_name() or u.username) for u in owner_choices()
            ]
        else:
            del self.fields["owner"]

    def clean(self):
        cleaned = super().clean()
        start, end = cleaned.get("date_from"), cleaned.get("date_to")
        if start and end and start > end:
            self.add_error("date_to", _("The end date is before the start date."))
        return cleaned

    def analytics_filters(self) -> dict:
        """Keyword arguments for scoring.analytics: the valid, non-empty values (an invalid field is dropped)."""
        if not self.is_bound:
            return {}
        self.is_valid()
        return {k: v for k, v in self.cleaned_data.items() if v not in (None, "")}
