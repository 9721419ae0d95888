"""The new-contact page's form: field checks only; contact_create normalises, de-duplicates and writes."""

from __future__ import annotations

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from contacts.models import Industry

# The consent boxes' wording, versioned: the evidence (ConsentRecord.wording_version) names it.
CONSENT_WORDING_VERSION = "new-contact-page-1"


class ContactNewForm(forms.Form):
    full_name = forms.CharField(label=_("Full name"), max_length=200, required=False)
    email = forms.CharField(label=_("Email"), max_length=254, required=False,
                            widget=forms.EmailInput(attrs={"autocomplete": "off"}))
    phone = forms.CharField(label=_("Phone / WhatsApp"), max_length=30, required=False,
                            help_text=_("e.g. 0812-3456-7890"), widget=forms.TextInput(attrs={"inputmode": "tel"}))
    company = forms.CharField(label=_("Company"), max_length=200, required=False)
    job_title = forms.CharField(label=_("Job title"), max_length=200, required=False)
    city = forms.CharField(label=_("City"), max_length=100, required=False)
    industry = forms.ChoiceField(label=_("Industry"), choices=Industry.choices, initial=Industry.OTHER)
    source = forms.CharField(label=_("Source"), max_length=100, required=False,
                             help_text=_("e.g. walk-in, phone call, exhibition"))
    tags = forms.CharField(label=_("Tags"), max_length=500, required=False, help_text=_("Separate with commas."))
    consent_email = forms.BooleanField(label=_("Agreed to receive email from us"), required=False)
    consent_whatsapp = forms.BooleanField(label=_("Agreed to be contacted on WhatsApp"), required=False)
    consent_sms = forms.BooleanField(label=_("Agreed to receive SMS from us"), required=False)
    # Set after the page has shown possible duplicates and the user chose to save anyway.
    save_anyway = forms.BooleanField(label=_("This is a different person: save anyway"), required=False)

    CONSENT_FIELDS = ("consent_email", "consent_whatsapp", "consent_sms")

    def clean_tags(self) -> list[str]:
        names = [name.strip() for name in self.cleaned_data["tags"].split(",") if name.strip()]
        if any(len(name) > 50 for name in names):
            raise ValidationError(_("A tag has at most 50 characters."))
        return names

    def clean(self):
        cleaned = super().clean()
        if not any((cleaned.get(f) or "").strip() for f in ("full_name", "email", "phone")):
            raise ValidationError(_("Give at least a name, an email or a phone."))
        return cleaned

    def contact_data(self) -> dict:
        """The fields for contact_create (blanks left out, so a blank never counts as a value)."""
        data = {name: value for name, value in self.cleaned_data.items()
                if name not in ("save_anyway",) and value not in ("", None, [], False)}
        data.setdefault("industry", Industry.OTHER)
        return data
