"""Forms of the import, export and merge pages: field validation only; the rules live in
contacts.imports.mapping (mapping_validate), contacts.exporting and contacts.merge."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from contacts.exporting import CAMPAIGN_CHANNELS
from contacts.imports.files import MAX_FILE_BYTES
from contacts.imports.mapping import IDENTITY_MODES, MODES, TARGETS, mapping_normalise, target_choices
from contacts.models import Channel, Industry, InteractionKind

UPLOAD_EXTENSIONS = (".csv", ".txt", ".tsv", ".xlsx")


class UploadForm(forms.Form):
    file = forms.FileField(
        label=_("Spreadsheet"),
        widget=forms.ClearableFileInput(attrs={"accept": ",".join(UPLOAD_EXTENSIONS)}),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Filled in per request: `%` on a lazy text in the class body would fix the language at import time.
        self.fields["file"].help_text = _(
            "CSV (comma, semicolon, tab or | separated; UTF-8, Latin-1 or Windows-1252) or Excel .xlsx, up to %(mb)d MB."
        ) % {"mb": MAX_FILE_BYTES // 2**20}

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if Path(upload.name).suffix.lower() not in UPLOAD_EXTENSIONS:
            raise ValidationError(_("Upload a .csv or .xlsx file."))
        if upload.size > MAX_FILE_BYTES:
            raise ValidationError(_("The file is larger than %(mb)d MB; split it into parts.") % {"mb": MAX_FILE_BYTES // 2**20})
        return upload


class ImportOptionsForm(forms.Form):
    source = forms.CharField(
        label=_("Source name"), max_length=100,
        help_text=_("Where these contacts come from (e.g. “expo-jakarta-2026”). Record IDs and row numbers are unique per source, "
                    "so importing the same file again updates instead of duplicating."),
    )
    identity = forms.ChoiceField(label=_("Identify rows by"), choices=list(IDENTITY_MODES.items()), widget=forms.RadioSelect)
    industry = forms.ChoiceField(label=_("Industry of new contacts"), required=False,
                                 choices=[("", _("— as in the file, else Other —")), *Industry.choices])
    blank_values = forms.CharField(label=_("Values that mean “empty”"), required=False,
                                   help_text=_("Comma-separated, for every column, e.g. “unknown, -, n/a”."))


def _kind_choices() -> list[tuple[str, str]]:
    return [("", "—")] + [(k.slug, k.label) for k in InteractionKind.objects.all()]


class ColumnForm(forms.Form):
    column = forms.CharField(widget=forms.HiddenInput)
    target = forms.ChoiceField(label=_("Import as"), choices=list(TARGETS.items()))
    kind = forms.ChoiceField(label=_("Interaction kind"), required=False, choices=())
    mode = forms.ChoiceField(label=_("It happened"), required=False, choices=list(MODES.items()))
    date_column = forms.ChoiceField(label=_("Date from column"), required=False, choices=())
    truthy = forms.CharField(label=_("“Yes” values"), required=False, max_length=200,
                             help_text=_("Comma-separated; empty: yes, true, 1, ya, x or an amount above 0."))
    channel = forms.ChoiceField(label=_("Channel"), required=False, choices=[("", "—"), *Channel.choices])

    def __init__(self, *args, header: list[str] | None = None, kinds: list[tuple[str, str]] | None = None,
                 targets: list[tuple[Any, Any]] | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["target"].choices = targets if targets is not None else target_choices()
        self.fields["kind"].choices = kinds if kinds is not None else _kind_choices()
        self.fields["date_column"].choices = [("", _("— the import date —"))] + [(h, h) for h in header or []]


class BaseColumnFormSet(forms.BaseFormSet):
    def __init__(self, *args, header: list[str], **kwargs):
        self.header = header
        self.kinds = _kind_choices()  # one query for the whole formset
        self.targets = target_choices()  # with the custom fields: one query too
        super().__init__(*args, **kwargs)

    def get_form_kwargs(self, index):
        return {**super().get_form_kwargs(index), "header": self.header, "kinds": self.kinds, "targets": self.targets}


ColumnFormSet = forms.formset_factory(ColumnForm, formset=BaseColumnFormSet, extra=0, can_delete=False)


def mapping_initial(job_header: list[str], mapping: dict[str, Any]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Initial data for the options form and the column formset from a stored mapping."""
    mapping = mapping_normalise(mapping, job_header)
    options = {
        "source": mapping["source"], "identity": mapping["identity"],
        "industry": mapping["defaults"].get("industry", ""), "blank_values": ", ".join(mapping["blank_values"]),
    }
    columns = []
    for name in job_header:
        spec = mapping["columns"][name]
        columns.append({
            "column": name, "target": spec["target"], "kind": spec.get("kind", ""), "mode": spec.get("mode", "date"),
            "date_column": spec.get("date_column", ""), "truthy": ", ".join(spec.get("truthy", [])),
            "channel": spec.get("channel", ""),
        })
    return options, columns


def _words(text: str) -> list[str]:
    return [w.strip() for w in (text or "").split(",") if w.strip()]


def mapping_from_forms(options: dict[str, Any], columns: list[dict[str, Any]], previous: dict[str, Any],
                       activity_values: dict[str, dict[str, str]] | None = None) -> dict[str, Any]:
    """The mapping the user confirmed; per-column "blank" words of a saved mapping are kept.
    `activity_values`: for activity columns, the kind chosen for each distinct value ("" = ignore)."""
    previous_columns = previous.get("columns") or {}
    activity_values = activity_values or {}
    specs: dict[str, Any] = {}
    for row in columns:
        spec: dict[str, Any] = {"target": row["target"]}
        if row["target"] in ("count", "activity"):
            if row["target"] == "count":
                spec["kind"] = row["kind"]
            else:
                spec["values"] = {**((previous_columns.get(row["column"]) or {}).get("values") or {}),
                                  **activity_values.get(row["column"], {})}
            if row.get("date_column"):
                spec["date_column"] = row["date_column"]
        if row["target"] == "interaction":
            spec.update(kind=row["kind"], mode=row["mode"] or "date")
            if row.get("date_column"):
                spec["date_column"] = row["date_column"]
            if truthy := _words(row.get("truthy", "")):
                spec["truthy"] = truthy
            if row.get("channel"):
                spec["channel"] = row["channel"]
        if row["target"] == "outcome":  # the kind is the conversion of each contact's industry
            if row.get("date_column"):
                spec["date_column"] = row["date_column"]
            if truthy := _words(row.get("truthy", "")):
                spec["truthy"] = truthy
        if blank := (previous_columns.get(row["column"]) or {}).get("blank"):
            spec["blank"] = blank
        specs[row["column"]] = spec
    return {
        "source": options["source"], "identity": options["identity"],
        "defaults": {"industry": options["industry"]} if options.get("industry") else {},
        "blank_values": _words(options.get("blank_values", "")), "columns": specs,
    }


class ExportForm(forms.Form):
    format = forms.ChoiceField(choices=[("csv", "CSV"), ("xlsx", "Excel (.xlsx)")], required=False)
    campaign = forms.ChoiceField(choices=[("", _("All (not for a campaign)")), *CAMPAIGN_CHANNELS.items()], required=False)
    style = forms.ChoiceField(choices=[("human", _("For people: headers and values in your language")),
                                       ("raw", _("Raw, for machines: field names and codes"))], required=False)


class MergeForm(forms.Form):
    keep = forms.IntegerField(min_value=1)
    merge = forms.IntegerField(min_value=1)

    def clean(self):
        data = super().clean()
        if data.get("keep") and data.get("keep") == data.get("merge"):
            raise ValidationError(_("Choose two different contacts."))
        return data
