"""Forms of custom fields: defining one (admins), and editing one value of a contact in place
(a common field such as email, or a custom field). Parsing and checking only; the services write."""

from __future__ import annotations

import copy
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from contacts.fields import types
from contacts.forms import ContactEditForm
from contacts.models import Contact, CustomField

# The common fields the contact page edits in place (their form fields come from ContactEditForm).
COMMON_FIELDS = ("full_name", "email", "phone", "company", "job_title", "city", "industry", "source")
IDENTITY_FIELDS = ("full_name", "email", "phone")


class CustomFieldForm(forms.Form):
    key = forms.CharField(label=_("Key"), max_length=50,
                          help_text=_("Lowercase letters, digits and “_”, e.g. plan or employees: the attribute "
                                      "name filters, rules, the import and the API use. Cannot be changed later."))
    label_en = forms.CharField(label=_("Label (English)"), max_length=100)
    label_id = forms.CharField(label=_("Label (Bahasa Indonesia)"), max_length=100)
    type = forms.ChoiceField(label=_("Type"), choices=CustomField.Type.choices)
    choices = forms.CharField(
        label=_("Choices"), required=False, widget=forms.Textarea(attrs={"rows": 4}),
        help_text=_("Choice fields: one a line, “value” or “value | English label | Indonesian label”."))
    position = forms.IntegerField(label=_("Position"), min_value=0, max_value=10_000, initial=0,
                                  help_text=_("Lower comes first on the contact page."))

    def __init__(self, *args, field: CustomField | None = None, **kwargs):
        if field is not None and not kwargs.get("initial"):
            kwargs["initial"] = {"key": field.key, "label_en": field.label_en, "label_id": field.label_id,
                                 "type": field.type, "choices": types.choices_text(field.choices),
                                 "position": field.position}
        super().__init__(*args, **kwargs)
        if field is not None:
            self.fields["key"].disabled = True
            self.fields["key"].help_text = _("The key cannot be changed: the values are stored under it.")

    def clean_key(self) -> str:
        key = (self.cleaned_data.get("key") or "").strip()
        if not self.fields["key"].disabled and not types.KEY_RE.match(key):
            raise forms.ValidationError(_("Use lowercase letters, digits and “_”, starting with a letter (at most 50)."))
        return key

    def clean_choices(self) -> list[dict[str, str]]:
        return types.choices_parse(self.cleaned_data.get("choices") or "")

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("type") == CustomField.Type.CHOICE and "choices" not in self.errors and not cleaned.get("choices"):
            self.add_error("choices", _("A choice field needs at least one choice."))
        return cleaned


class InlineFieldForm(forms.Form):
    """One value of a contact: a common field (named as on the contact) or a custom field
    (named `attributes.<key>`, as the service names its errors)."""

    def __init__(self, *args, contact: Contact, name: str, custom: CustomField | None = None, **kwargs):
        self.contact, self.name, self.custom = contact, name, custom
        if custom is not None:
            field = types.form_field(custom)
            initial = types.form_initial(custom, (contact.attributes or {}).get(custom.key))
        else:
            field = copy.deepcopy(ContactEditForm.base_fields[name])
            initial = getattr(contact, name)
        kwargs.setdefault("auto_id", "id_inline_%s")
        kwargs.setdefault("initial", {name: initial})
        super().__init__(*args, **kwargs)
        self.fields[name] = field

    @property
    def bound(self) -> forms.BoundField:
        return self[self.name]

    def clean(self):
        cleaned = super().clean()
        if self.name in IDENTITY_FIELDS and self.name in cleaned and not cleaned[self.name]:
            others = [getattr(self.contact, other) for other in IDENTITY_FIELDS if other != self.name]
            if not any(others):
                self.add_error(self.name, _("Give at least a name, an email or a phone."))
        return cleaned

    def data_for_service(self) -> dict[str, Any]:
        value = self.cleaned_data.get(self.name)
        if self.custom is not None:
            return {"attributes": {self.custom.key: value}}
        return {self.name: value}
