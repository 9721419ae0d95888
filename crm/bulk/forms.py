"""Bulk action forms: the list's bar (what and on whom) and the preview's parameters and confirmation."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from contacts.models import Segment, Stage
from contacts.selectors import owner_choices
from crm import bulk


class StartForm(forms.Form):
    """The contact list's bulk bar: ticked ids, or the whole list (`scope=all` with the list's
    `query`), or a whole saved segment; the action; optional parameters typed in the bar."""

    ids = forms.TypedMultipleChoiceField(coerce=int, choices=(), required=False)
    scope = forms.ChoiceField(choices=(("", "—"), ("all", "all")), required=False)
    query = forms.CharField(required=False, max_length=4000)
    segment = forms.ModelChoiceField(queryset=Segment.objects.all(), required=False)
    action = forms.ChoiceField(label=_("Action"), choices=list(bulk.ACTION_LABELS.items()),
                               error_messages={"required": _("Choose an action.")})
    # Parameters from the bar, handed on to the preview (where they are checked).
    owner = forms.CharField(required=False, max_length=20)
    tag = forms.CharField(required=False, max_length=50)
    stage = forms.CharField(required=False, max_length=10)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Any integer id is acceptable here; the service refuses ids the user cannot see.
        self.fields["ids"].valid_value = lambda value: str(value).isdigit()

    def clean(self):
        cleaned = super().clean()
        whole = cleaned.get("scope") == "all" or cleaned.get("segment") is not None
        if not cleaned.get("ids") and not whole and "segment" not in self.errors:
            self.add_error("ids", _("Select at least one contact."))
        if cleaned.get("action") in (bulk.TAG, bulk.UNTAG) and not (cleaned.get("tag") or "").strip():
            self.add_error("tag", _("Type a tag name."))
        return cleaned

    def preview_params(self) -> dict[str, str]:
        """The bar's parameters of the chosen action, for the preview's query string (the bar sends them all)."""
        wanted = ParamsForm.FIELDS[self.cleaned_data["action"]]
        return {name: self.cleaned_data[name].strip() for name in ("owner", "tag", "stage") if name in wanted
                and ((self.cleaned_data.get(name) or "").strip() or (name == "owner" and "owner" in self.data))}


class ParamsForm(forms.Form):
    """What the action does (on the preview, by GET) and, confirming (POST), the reason for a
    stage change or the typed count for an erasure. Only the fields of the action are kept."""

    owner = forms.ModelChoiceField(label=_("New owner"), queryset=None, required=False, empty_label=_("— Unassigned —"))
    tag = forms.CharField(label=_("Tag"), max_length=50, error_messages={"required": _("Type a tag name.")})
    stage = forms.ChoiceField(label=_("Stage"), choices=Stage.choices,
                              error_messages={"required": _("Choose the stage.")})
    sequence = forms.ModelChoiceField(label=_("Sequence"), queryset=None, empty_label=None,
                                      error_messages={"required": _("Choose a sequence.")})
    mode = forms.ChoiceField(
        label=_("What to do"), widget=forms.RadioSelect, initial="anonymise",
        choices=[("anonymise", _("Anonymise: remove everything that identifies each person; keep anonymous "
                                 "facts (stage, score, interaction kinds and dates) for statistics")),
                 ("delete", _("Delete: remove the contacts with all interactions, notes and history"))],
    )
    note = forms.CharField(label=_("Why"), max_length=200, help_text=_("Shown in each contact's stage history."),
                           error_messages={"required": _("Say why: it is shown in each contact's stage history.")})
    typed = forms.CharField(label=_("Type the number of contacts to erase"), max_length=10,
                            error_messages={"required": _("Type the number of contacts to erase.")})

    FIELDS = {
        bulk.ASSIGN: ("owner",),
        bulk.TAG: ("tag",),
        bulk.UNTAG: ("tag",),
        bulk.STAGE: ("stage", "note"),
        bulk.SEQUENCE: ("sequence",),
        bulk.ERASE: ("mode", "typed"),
    }
    CONFIRM_ONLY = ("note", "typed")

    def __init__(self, action: str, *args, confirming: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        keep = [name for name in self.FIELDS[action] if confirming or name not in self.CONFIRM_ONLY]
        for name in list(self.fields):
            if name not in keep:
                del self.fields[name]
        for name in ("owner", "stage", "sequence", "mode"):
            if name in self.fields and not confirming:
                # A choice re-counts the preview at once (app.js); the "Update the preview" button stays for no-JS.
                self.fields[name].widget.attrs["data-autosubmit"] = ""
        if "owner" in self.fields:
            self.fields["owner"].queryset = owner_choices()
            self.fields["owner"].label_from_instance = lambda user: user.get_full_name() or user.username
        if "sequence" in self.fields:
            self.fields["sequence"].queryset = bulk.sequences_for_bulk()
            self.fields["sequence"].label_from_instance = (
                lambda seq: f"{seq.name} ({_('paused')})" if seq.is_paused else seq.name)

    def params(self) -> dict:
        """The parameters bulk_plan and bulk_run take (the confirm-only fields left out)."""
        return {k: v for k, v in self.cleaned_data.items() if k not in self.CONFIRM_ONLY}

    def hidden_values(self) -> list[tuple[str, str]]:
        """The parameters as the confirm form's hidden inputs."""
        values = []
        for name, value in self.params().items():
            values.append((name, "" if value is None else str(getattr(value, "pk", value))))
        return values
