"""Backtest and rule-advisor pages (admins only), mounted under /rules/.

- A version's backtest: form -> scoring.backtest.backtest_start -> /rules/backtest/<id>/,
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
from scoring.backtest import backtest_start, backtest_status_json, backtests_for
from scoring.forms_backtest import AdvisorForm, BacktestForm, errors_from_service
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
