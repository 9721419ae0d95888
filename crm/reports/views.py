"""The reports page: filters in the query string, every section a chart and the table beside it."""

from __future__ import annotations

from datetime import timedelta

from django import forms
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_GET

from contacts.models import Industry
from crm import reports
from crm.roles import ADMIN, MARKETER, SALES_MANAGER, role_required
from crm.widgets import DATE_PICKER

DEFAULT_PERIODS = 12


class ReportFilterForm(forms.Form):
    unit = forms.ChoiceField(label=_("By"), choices=[(reports.WEEK, _("Week")), (reports.MONTH, _("Month"))], required=False)
    date_from = forms.DateField(label=_("From"), required=False, widget=DATE_PICKER)
    date_to = forms.DateField(label=_("To"), required=False, widget=DATE_PICKER)
    industry = forms.ChoiceField(label=_("Industry"), choices=[("", _("All industries")), *Industry.choices], required=False)

    def clean(self):
        data = super().clean()
        unit = data.get("unit") or reports.WEEK
        last = data.get("date_to") or timezone.localdate()
        first = data.get("date_from") or reports.period_start(
            last - (timedelta(weeks=DEFAULT_PERIODS - 1) if unit == reports.WEEK else timedelta(days=31 * (DEFAULT_PERIODS - 1))), unit)
        if first > last:
            self.add_error("date_from", _("The start must be on or before the end."))
        elif (last - first).days > 366 * 5:
            self.add_error("date_from", _("Choose at most five years."))
        data.update(unit=unit, date_from=first, date_to=last)
        return data


@require_GET
@role_required(ADMIN, MARKETER, SALES_MANAGER)
def reports_page(request: HttpRequest) -> HttpResponse:
    form = ReportFilterForm(request.GET)  # every field optional: no filter means the last twelve weeks
    if not form.is_valid():
        return render(request, "crm/reports.html", {"form": form}, status=400)
    f = form.cleaned_data
    window = {"first": f["date_from"], "last": f["date_to"]}
    reps, team = reports.rep_performance(**window)
    return render(request, "crm/reports.html", {
        "form": form, "unit": f["unit"], **window,
        "chart_series": ("lead", "prospect", "customer"),
        "cohorts": reports.stage_cohorts(**window, unit=f["unit"], industry=f["industry"] or None),
        "industries": reports.industry_conversions(**window),
        "reps": reps, "team": team, "within_hours": int(reports.FIRST_CONTACT_WITHIN.total_seconds() // 3600),
    })
