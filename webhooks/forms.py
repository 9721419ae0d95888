"""The endpoint form: parsing only; webhooks.services validates (the address check) and writes."""

from django import forms
from django.utils.translation import gettext_lazy as _

from webhooks.models import EventType


class EndpointForm(forms.Form):
    url = forms.URLField(label=_("URL"), max_length=500, assume_scheme="https",
                         help_text=_("A public http or https address; events are POSTed to it."))
    events = forms.MultipleChoiceField(label=_("Events"), choices=EventType.choices, widget=forms.CheckboxSelectMultiple)
    secret = forms.CharField(label=_("Signing secret"), required=False, max_length=200,
                             widget=forms.PasswordInput(render_value=False),
                             help_text=_("Empty: one is generated (new endpoint) or the current one is kept. "
                                         "It is shown once."))
    is_active = forms.BooleanField(label=_("Active"), required=False, initial=True)
