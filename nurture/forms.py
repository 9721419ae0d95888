"""Page forms: parsing only; nurture.services validates the template and writes."""

from django import forms
from django.utils.translation import gettext_lazy as _

from nurture.models import Message


class MessageForm(forms.ModelForm):
    preview_contact = forms.IntegerField(label=_("Preview with contact #"), required=False, min_value=1,
                                         help_text=_("Empty: the most recently updated contact you can see."))

    class Meta:
        model = Message
        fields = ["name", "channel", "purpose", "industry", "language", "subject", "body"]
        widgets = {"body": forms.Textarea(attrs={"rows": 12})}
        help_texts = {"body": _("Variables: {{ first_name }}, {{ full_name }}, {{ company }}, {{ city }}, "
                                "{{ job_title }}, {{ owner_name }}, and in emails {{ unsubscribe_url }} (required). "
                                "Links are tracked.")}


class SendForm(forms.Form):
    message = forms.ModelChoiceField(queryset=Message.objects.filter(is_archived=False))
