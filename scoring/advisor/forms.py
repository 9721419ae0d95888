"""Forms of the backtest and advisor pages: parsing only. The services (scoring.advisor.backtest,
scoring.advisor) validate the parameters again and name the field of any problem,
which `errors_from_service` files under the matching form field."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from contacts.models import IntentLevel, InteractionKind
from crm.widgets import DATE_PICKER
from scoring.models import RuleSetVersion
from scoring.outcomes import CONVERSION


def outcome_choices() -> list[tuple[str, str]]:
    """"Any conversion" first, then each conversion-level kind on its own (one query)."""
    kinds = InteractionKind.objects.filter(intent_level=IntentLevel.CONVERSION).order_by("slug")
    return [(CONVERSION, _("Any conversion (every conversion-level interaction)"))] + [
        (kind.slug, f"{kind.label} ({kind.slug})") for kind in kinds
    ]


def version_choices(versions: Iterable[RuleSetVersion], *, active_id: int | None) -> list[tuple[str, str]]:
    def name(v: RuleSetVersion) -> str:
        status = _("active") if v.pk == active_id else v.get_status_display().lower()
        return f"v{v.number} ({status})"

    return [("", _("No comparison"))] + [(str(v.pk), name(v)) for v in versions]


class PeriodForm(forms.Form):
    """The period of known outcomes: conversions from `start` to `end` count; everyone
    else is judged as of `end`."""

    start = forms.DateField(label=_("From"), required=False, widget=DATE_PICKER,
                            help_text=_("Conversions before this day are left out. Empty: all history."))
    end = forms.DateField(label=_("To"), required=False, widget=DATE_PICKER,
                          help_text=_("Contacts that have not converted by this day count as not converted. Empty: today."))

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        start, end = data.get("start"), data.get("end")
        if start and end and start > end:
            self.add_error("start", _("The period starts after it ends."))
        return data

    def period_params(self) -> dict[str, str | None]:
        data = self.cleaned_data
        return {name: data[name].isoformat() if data.get(name) else None for name in ("start", "end")}


class BacktestForm(PeriodForm):
    """Backtest one version, optionally beside another (the active one by default)."""

    field_order = ["outcome", "start", "end", "compare_to"]

    outcome = forms.ChoiceField(label=_("Outcome"), required=False,
                                help_text=_("What counts as converted."))
    compare_to = forms.ChoiceField(label=_("Compare with"), required=False,
                                   help_text=_("Scored on the same contacts, side by side."))

    def __init__(self, *args, version: RuleSetVersion, versions: Iterable[RuleSetVersion],
                 with_outcome: bool = True, **kwargs) -> None:
        active_id = version.ruleset.active_version_id
        others = [v for v in versions if v.pk != version.pk]
        initial = kwargs.setdefault("initial", {})
        if active_id and active_id != version.pk:
            initial.setdefault("compare_to", str(active_id))
        super().__init__(*args, **kwargs)
        self.fields["compare_to"].choices = version_choices(others, active_id=active_id)
        if with_outcome:
            self.fields["outcome"].choices = outcome_choices()
        else:
            del self.fields["outcome"]  # the compact form on a version page: any conversion

    def params(self) -> dict[str, Any]:
        data = self.cleaned_data
        return {"outcome": data.get("outcome") or CONVERSION, **self.period_params(),
                "compare_to": int(data["compare_to"]) if data.get("compare_to") else None}


class AdvisorForm(PeriodForm):
    """"Suggest rules from my conversions": what the admin may tune of scoring.advisor.DEFAULTS."""

    field_order = ["outcome", "capacity_per_week", "capacity_share", "min_lift", "target_precision", "min_support",
                   "start", "end", "exclude"]

    outcome = forms.ChoiceField(label=_("Outcome"), required=False, help_text=_("What counts as converted."))
    capacity_per_week = forms.IntegerField(
        label=_("Prospects your team can follow up a week"), required=False, min_value=1, max_value=10**6,
        help_text=_("Divided by the new contacts of the last 12 weeks, this is the share of contacts that may become prospects."),
    )
    capacity_share = forms.IntegerField(
        label=_("…or as a share of new contacts (%)"), required=False, min_value=1, max_value=100,
        help_text=_("Empty (and no number a week): at most 25 % of contacts become prospects."),
    )
    min_lift = forms.FloatField(
        label=_("Prospects convert at least (× the base rate)"), required=False, min_value=0, max_value=100, initial=2, localize=True,
        help_text=_("The prospect threshold is the lowest score within the capacity whose contacts convert at least this "
                    "many times as often as the average contact. 1 or less: fill the capacity."),
    )
    target_precision = forms.IntegerField(
        label=_("…and at least this share of them converts (%)"), required=False, min_value=1, max_value=100,
        help_text=_("Optional."),
    )
    min_support = forms.IntegerField(
        label=_("Minimum support"), min_value=1, max_value=10**6, initial=30,
        help_text=_("Contacts a rule needs behind it (and without it) before it gets points."),
    )
    exclude = forms.CharField(
        label=_("Columns to leave out"), required=False, max_length=1000,
        widget=forms.TextInput(attrs={"placeholder": "duration, attributes.call_length", "spellcheck": "false"}),
        help_text=_("Comma-separated. Leave out anything known only after the outcome (such as a call's duration)."),
    )

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["outcome"].choices = outcome_choices()

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if data.get("capacity_per_week") is not None and data.get("capacity_share") is not None:
            self.add_error("capacity_share", _("Give the capacity per week or as a share of new contacts, not both."))
        return data

    def clean_exclude(self) -> list[str]:
        return [part.strip() for part in (self.cleaned_data.get("exclude") or "").split(",") if part.strip()]

    def params(self) -> dict[str, Any]:
        data = self.cleaned_data
        return {
            "outcome": data.get("outcome") or CONVERSION, **self.period_params(),
            "capacity_per_week": data.get("capacity_per_week"),
            "capacity_share": None if data.get("capacity_share") is None else data["capacity_share"] / 100,
            "min_lift": 2.0 if data.get("min_lift") is None else data["min_lift"],
            "target_precision": None if data.get("target_precision") is None else data["target_precision"] / 100,
            "min_support": data["min_support"], "exclude": data["exclude"],
        }


def errors_from_service(form: forms.Form, exc: ValidationError) -> None:
    """File a service's ValidationError under the form fields it names (others on top)."""
    if not hasattr(exc, "error_dict"):
        form.add_error(None, exc)
        return
    for name, errors in exc.error_dict.items():
        form.add_error(name if name in form.fields else None, errors)
