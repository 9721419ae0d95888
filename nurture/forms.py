"""Page forms: parsing only; nurture.services validates the template and writes."""

from django import forms
from django.utils.translation import gettext_lazy as _

from contacts.models import Industry, Segment, Stage
from nurture.models import Message, Sequence


class MessageForm(forms.ModelForm):
    preview_contact = forms.IntegerField(label=_("Preview with contact #"), required=False, min_value=1,
                                         help_text=_("Empty: the most recently updated contact you can see."))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["industry"].choices = [("", _("Every industry")), *Industry.choices]

    class Meta:
        model = Message
        fields = ["name", "channel", "purpose", "industry", "language", "subject", "body"]
        widgets = {"body": forms.Textarea(attrs={"rows": 12})}
        help_texts = {"body": _("Variables: {{ first_name }}, {{ full_name }}, {{ company }}, {{ city }}, "
                                "{{ job_title }}, {{ owner_name }}, and in emails {{ unsubscribe_url }} (required). "
                                "Links are tracked.")}


class SendForm(forms.Form):
    message = forms.ModelChoiceField(queryset=Message.objects.filter(is_archived=False))


MAX_STEPS = 6


class SequenceForm(forms.Form):
    """A sequence and up to MAX_STEPS steps (empty rows are ignored); nurture.sequences validates."""

    name = forms.CharField(label=_("Name"), max_length=150)
    trigger_stage = forms.ChoiceField(label=_("When a contact enters"), choices=Stage.choices)
    industry = forms.ChoiceField(label=_("Industry"), choices=[("", _("Every industry")), *Industry.choices], required=False)
    segment = forms.ModelChoiceField(label=_("Only contacts in the segment"), queryset=Segment.objects.order_by("name"),
                                     required=False, empty_label=_("Everyone entering the stage"))
    from_email = forms.CharField(label=_("From"), max_length=200, required=False,
                                 help_text=_("e.g. Tim Kampus <info@kampus.example>; empty: the default sender."))

    def __init__(self, *args, sequence: Sequence | None = None, **kwargs):
        if sequence is not None and not kwargs.get("data"):
            steps = list(sequence.steps.all())
            kwargs["initial"] = {"name": sequence.name, "trigger_stage": sequence.trigger_stage,
                                 "industry": sequence.industry, "segment": sequence.segment_id,
                                 "from_email": sequence.from_email,
                                 **{f"wait_{n}": s.wait_days for n, s in enumerate(steps)},
                                 **{f"message_{n}": s.message_id for n, s in enumerate(steps)}}
        super().__init__(*args, **kwargs)
        emails = Message.objects.filter(is_archived=False, channel="email").order_by("purpose", "name")
        for n in range(MAX_STEPS):
            self.fields[f"wait_{n}"] = forms.IntegerField(label=_("Wait (days)"), min_value=0, max_value=365, required=False)
            self.fields[f"message_{n}"] = forms.ModelChoiceField(label=_("then send"), queryset=emails, required=False)

    def step_rows(self):
        return [(self[f"wait_{n}"], self[f"message_{n}"]) for n in range(MAX_STEPS)]

    def steps(self) -> list[dict]:
        return [{"wait_days": self.cleaned_data.get(f"wait_{n}") or 0, "message": self.cleaned_data[f"message_{n}"].pk}
                for n in range(MAX_STEPS) if self.cleaned_data.get(f"message_{n}")]
