from django import forms
from django.utils.translation import gettext_lazy as _

from followup.models import Outcome, TaskType


class TaskCompleteForm(forms.Form):
    outcome = forms.ChoiceField(label=_("Outcome"), choices=Outcome.choices)
    note = forms.CharField(label=_("Note"), required=False, max_length=2000)


class TaskForm(forms.Form):
    type = forms.ChoiceField(label=_("Type"), choices=TaskType.choices, initial=TaskType.CALL)
    due_at = forms.DateTimeField(label=_("Due"), widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
                                 input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S"])
    note = forms.CharField(label=_("Note"), required=False, max_length=2000)


class EmailPreferencesForm(forms.Form):
    on_assignment = forms.BooleanField(label=_("Email me when a prospect is assigned to me"), required=False)
    digest = forms.BooleanField(label=_("Email me a daily digest of my follow-ups"), required=False)
