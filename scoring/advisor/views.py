"""Backtest and rule-advisor pages (admins only), mounted under /rules/.

- A version's backtest: form -> scoring.advisor.backtest.backtest_start -> /rules/backtest/<id>/,
  which shows progress while the task runs (static/js/progress.js polls
  status.json; without JS a link reloads) and then the stored results.
- A rule set's advisor: form -> scoring.advisor.advisor_start -> /rules/advisor/<id>/:
  the evidence behind every suggested rule, the held-out backtest, and the draft it wrote.

The computation lives in the services; these views parse, call one service and render.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.dateparse import parse_datetime
from django.views.decorators.http import require_GET, require_http_methods

from contacts.models import IntentLevel
from crm.roles import ADMIN, role_required
from scoring.advisor import advisor_start
from scoring.advisor.backtest import backtest_start, backtest_status_json, backtests_for
from scoring.advisor.forms import AdvisorForm, BacktestForm, errors_from_service
from scoring.advisor.thresholds import MIN_CONVERSIONS
from scoring.models import Backtest, RuleSet, RuleSetVersion
from scoring.outcomes import outcome_queryset, period_parse

admin_only = role_required(ADMIN)

ADVISOR = "advisor"
BACKTEST = "backtest"
UNDER_WAY = (Backtest.Status.QUEUED, Backtest.Status.RUNNING)


# --- reads -----------------------------------------------------------------------------------

def _run_or_404(backtest_id: int) -> Backtest:
    return get_object_or_404(Backtest.objects.select_related("version__ruleset", "created_by"), pk=backtest_id)


def _outcomes_known(version: RuleSetVersion) -> bool:
    """Whether any contact this version scores has converted; if none has, the pages
    explain where outcomes come from instead of offering a run that cannot work."""
    contacts = outcome_queryset(version, period_parse())
    return contacts.filter(interactions__kind__intent_level=IntentLevel.CONVERSION).exists()


def _evidence_rows(results: dict[str, Any]) -> list[dict[str, Any]]:
    """The rules first (most points first, penalties last), then the evidence that earned none."""
    return sorted(results.get("evidence", []), key=lambda e: (e["points"] == 0, -e["points"], -e["n"]))


def _coord(value: float) -> str:
    """An SVG coordinate as a string with a dot, whatever the language."""
    return f"{value:.1f}".rstrip("0").rstrip(".")


def _tradeoff_rows(results: dict[str, Any]) -> list[dict[str, Any]]:
    """The trade-off table (held-out contacts), each row marked with the stage it starts."""
    chosen = {stage: (results.get("thresholds", {}).get(stage) or {}).get("threshold") for stage in ("prospect", "lead")}
    return [{**row, "stages": [stage for stage, t in chosen.items() if t == row["threshold"]]}
            for row in (results.get("tradeoff") or {}).get("table", [])]


def _tradeoff_chart(results: dict[str, Any]) -> dict[str, Any] | None:
    """Conversion rate and recall against the share of contacts held ("score ≥ t" for every
    t, on the held-out contacts), with the base rate, the lift aimed for, the capacity and
    the chosen thresholds: the geometry of templates/scoring/advisor_tradeoff_chart.html."""
    points = [p for p in (results.get("tradeoff") or {}).get("points", []) if p["rate"] is not None]
    if not points:
        return None
    width, height, left, right, top, bottom = 440, 240, 40, 12, 14, 44
    plot_w, plot_h = width - left - right, height - top - bottom

    def x(share: float) -> float:
        return left + plot_w * min(max(share, 0.0), 1.0)

    def y(value: float) -> float:
        return top + plot_h - plot_h * min(max(value, 0.0), 1.0)

    base = points[0]["positives"] / points[0]["total"] if points[0]["total"] else None
    start = [{"share": 0.0, "rate": points[0]["rate"], "recall": 0.0}]
    line = start + points
    prospect = results.get("thresholds", {}).get("prospect") or {}
    capacity = (results.get("capacity") or {}).get("share", prospect.get("capacity"))
    min_lift = prospect.get("min_lift")
    marks = []
    for row in _tradeoff_rows(results):
        for stage in row["stages"]:
            if row["rate"] is not None:
                marks.append({"stage": stage, "row": row, "cx": _coord(x(row["share"])), "cy": _coord(y(row["rate"]))})
    return {
        "width": str(width), "height": str(height), "left": str(left), "right": str(width - right),
        "top": str(top), "bottom": str(top + plot_h),
        "rate_line": " ".join(f"{_coord(x(p['share']))},{_coord(y(p['rate']))}" for p in line),
        "recall_line": " ".join(f"{_coord(x(p['share']))},{_coord(y(p['recall'] or 0.0))}" for p in line),
        "ticks": [{"value": k / 4, "x": _coord(x(k / 4)), "y": _coord(y(k / 4))} for k in range(5)],
        "axis_x": str(left - 6), "label_y": str(top + plot_h + 14), "caption_y": str(height - 4),
        "legend_y": str(height - 18), "caption_x": str(left),
        "base_rate": base, "base_y": _coord(y(base)) if base is not None else None,
        "aim": base * min_lift if base is not None and min_lift and base * min_lift <= 1 else None,
        "aim_y": _coord(y(base * min_lift)) if base is not None and min_lift and base * min_lift <= 1 else None,
        "capacity": capacity, "capacity_x": _coord(x(capacity)) if capacity is not None else None,
        "marks": marks,
        "first": points[0], "last": points[-1],
    }


def _period(run: Backtest) -> dict[str, datetime | None]:
    """The run's period as datetimes (stored as ISO text), for the page to format."""
    stored = (run.results or {}).get("period") or run.params
    return {name: parse_datetime(stored[name]) if stored.get(name) else None for name in ("start", "end")}


def _run_context(run: Backtest) -> dict[str, Any]:
    results = run.results or {}
    context = {
        "run": run,
        "version": run.version,
        "ruleset": run.version.ruleset,
        "under_way": run.status in UNDER_WAY,
        "failed": run.status == Backtest.Status.FAILED,
        "results": results,
        "period": _period(run),
        # Without anyone converted there is nothing to measure: say where conversions come
        # from (a run with no contact fails; one with contacts but no converter finishes).
        "no_outcomes": results.get("conversions") == 0
        or (run.status == Backtest.Status.FAILED and not _outcomes_known(run.version)),
    }
    if run.kind == ADVISOR:
        context["evidence"] = _evidence_rows(results)
        context["tradeoff_rows"] = _tradeoff_rows(results)
        context["tradeoff_chart"] = _tradeoff_chart(results)
        context["min_conversions"] = MIN_CONVERSIONS
    return context


# --- backtests -------------------------------------------------------------------------------

@admin_only
@require_http_methods(["GET", "POST"])
def backtest_new(request: HttpRequest, version_id: int) -> HttpResponse:
    """The backtest form of one version (the version pages post their compact copy here)
    and the runs stored with it."""
    version = get_object_or_404(RuleSetVersion.objects.select_related("ruleset"), pk=version_id)
    versions = list(RuleSetVersion.objects.filter(ruleset_id=version.ruleset_id).order_by("-number"))
    form = BacktestForm(request.POST if request.method == "POST" else None, version=version, versions=versions)
    if request.method == "POST" and form.is_valid():
        try:
            run = backtest_start(version, request.user, form.params())
        except ValidationError as exc:
            errors_from_service(form, exc)
        else:
            return redirect("rules:backtest", backtest_id=run.pk)
    return render(request, "scoring/backtest_form.html", {
        "version": version,
        "ruleset": version.ruleset,
        "form": form,
        "runs": backtests_for(version, kind=BACKTEST),
        "outcomes_known": _outcomes_known(version),
    })


@admin_only
@require_GET
def backtest_detail(request: HttpRequest, backtest_id: int) -> HttpResponse:
    run = _run_or_404(backtest_id)
    if run.kind == ADVISOR:
        return redirect("rules:advisor", backtest_id=run.pk)
    return render(request, "scoring/backtest_detail.html", _run_context(run))


@admin_only
@require_GET
def backtest_status(request: HttpRequest, backtest_id: int) -> JsonResponse:
    """What the progress pages poll (a backtest or an advisor run)."""
    run = get_object_or_404(Backtest, pk=backtest_id)
    return JsonResponse({**backtest_status_json(run), "running": run.status in UNDER_WAY})


# --- the advisor -----------------------------------------------------------------------------

@admin_only
@require_http_methods(["GET", "POST"])
def advisor_new(request: HttpRequest, ruleset_id: int) -> HttpResponse:
    """"Suggest rules from my conversions": the form, and this rule set's earlier runs."""
    ruleset = get_object_or_404(RuleSet, pk=ruleset_id)
    draft = ruleset.draft()
    form = AdvisorForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            run = advisor_start(ruleset, request.user, form.params())
        except ValidationError as exc:
            errors_from_service(form, exc)
        else:
            return redirect("rules:advisor", backtest_id=run.pk)  # a draft it made is audited by version_draft
    runs = Backtest.objects.filter(version__ruleset=ruleset, kind=ADVISOR).select_related("version", "created_by")[:10]
    return render(request, "scoring/advisor_form.html", {
        "ruleset": ruleset,
        "draft": draft,
        "form": form,
        "runs": list(runs),
        # Scope as the draft would have it: it depends on the rule set alone.
        "outcomes_known": _outcomes_known(draft or RuleSetVersion(ruleset=ruleset)),
    })


@admin_only
@require_GET
def advisor_detail(request: HttpRequest, backtest_id: int) -> HttpResponse:
    run = _run_or_404(backtest_id)
    if run.kind != ADVISOR:
        return redirect("rules:backtest", backtest_id=run.pk)
    return render(request, "scoring/advisor_detail.html", _run_context(run))
