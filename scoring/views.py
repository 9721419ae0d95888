"""The rules pages (admins only): rule sets, the draft editor, preview, publish, rollback
and the progress of the rescore that publishing starts.

Only drafts are edited. Every write locks the version row and checks it is still a draft,
so an edit racing a publish cannot change a version that has become active.
"""

from __future__ import annotations

from collections import Counter

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from contacts.models import Stage
from crm.roles import ADMIN, role_required
from scoring import rulesets, selectors
from scoring.forms import PlaybookForm, PolicyForm, RuleForm, custom_field_options, field_options
from scoring.models import RescoreRun, Rule, RuleSet, RuleSetVersion
from scoring.playbooks import PLAYBOOKS

admin_only = role_required(ADMIN)


NotADraft = rulesets.NotADraft


def _draft_or_404(ruleset_id: int) -> RuleSetVersion:
    if (draft := selectors.ruleset_draft(ruleset_id)) is None:
        raise Http404("no draft")
    return draft


def _policy_save(form: PolicyForm, *, by) -> RuleSetVersion:
    data = form.cleaned_data
    return rulesets.version_policy_update(
        version=form.instance, values={k: v for k, v in data.items() if k != "conversion_kinds"},
        conversion_kinds=data.get("conversion_kinds"), by=by,
    )


def _rule_save(form: RuleForm, *, version: RuleSetVersion, by) -> Rule:
    return rulesets.rule_save(version=version, rule=form.save(commit=False), by=by)


def _rule_delete(rule: Rule, *, by) -> None:
    rulesets.rule_delete(rule=rule, by=by)


def _not_a_draft(request: HttpRequest, ruleset_id: int) -> HttpResponse:
    messages.error(request, _("This version is no longer a draft (it was published meanwhile); nothing was changed."))
    return redirect("rules:index")


# --- pages -----------------------------------------------------------------------------

@admin_only
@require_GET
def index(request: HttpRequest) -> HttpResponse:
    runs = selectors.recent_rescore_runs(5)
    return render(request, "scoring/ruleset_list.html", {
        "rows": selectors.rulesets_overview(),
        "runs": runs,
        "last_run": runs[0] if runs else None,
        "playbook_form": PlaybookForm(),
    })


@admin_only
@require_POST
def playbook_load(request: HttpRequest) -> HttpResponse:
    form = PlaybookForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Choose one of the playbooks."))
        return redirect("rules:index")
    draft = rulesets.playbook_load(name=form.cleaned_data["name"], by=request.user, publish=False)
    messages.success(request, _("Loaded the %(name)s playbook into a draft of “%(ruleset)s”. Review it, preview, then publish.")
                     % {"name": _(PLAYBOOKS[form.cleaned_data["name"]].title), "ruleset": draft.ruleset.display_name})
    return redirect("rules:draft", ruleset_id=draft.ruleset_id)


@admin_only
@require_POST
def edit(request: HttpRequest, ruleset_id: int) -> HttpResponse:
    ruleset = get_object_or_404(RuleSet, pk=ruleset_id)
    rulesets.version_draft(ruleset=ruleset, by=request.user)  # audits a new draft itself
    return redirect("rules:draft", ruleset_id=ruleset.pk)


@admin_only
@require_http_methods(["GET", "POST"])
def draft(request: HttpRequest, ruleset_id: int) -> HttpResponse:
    """The draft editor: stage policy (this form posts here), the rules, a new-rule form."""
    version = _draft_or_404(ruleset_id)
    policy_form = PolicyForm(request.POST if request.method == "POST" else None, instance=version)
    if request.method == "POST":
        if policy_form.is_valid():
            try:
                _policy_save(policy_form, by=request.user)
            except NotADraft:
                return _not_a_draft(request, ruleset_id)
            messages.success(request, _("Stage policy saved."))
            return redirect("rules:draft", ruleset_id=ruleset_id)
        messages.error(request, _("The stage policy was not saved: correct the fields marked below."))
    return _render_editor(request, version, policy_form=policy_form, rule_form=RuleForm(prefix="new", initial={"type": Rule.Type.INTERACTION}))


def _render_editor(request: HttpRequest, version: RuleSetVersion, *, policy_form: PolicyForm, rule_form: RuleForm) -> HttpResponse:
    return render(request, "scoring/version_draft.html", {
        "version": version,
        "ruleset": version.ruleset,
        "active": version.ruleset.active_version,
        "rules": selectors.version_rules(version),
        "policy_form": policy_form,
        "rule_form": rule_form,
        "field_options": field_options(), "custom_field_options": custom_field_options(),
    })


@admin_only
@require_POST
def rule_add(request: HttpRequest, ruleset_id: int) -> HttpResponse:
    version = _draft_or_404(ruleset_id)
    form = RuleForm(request.POST, prefix="new", instance=Rule(version=version))
    if not form.is_valid():
        messages.error(request, _("The rule was not added: correct the fields marked below."))
        return _render_editor(request, version, policy_form=PolicyForm(instance=version), rule_form=form)
    try:
        rule = _rule_save(form, version=version, by=request.user)
    except NotADraft:
        return _not_a_draft(request, ruleset_id)
    messages.success(request, _("Rule “%(label)s” added.") % {"label": rule.display_label})
    return redirect(reverse("rules:draft", args=[ruleset_id]) + f"#rule-{rule.pk}")


@admin_only
@require_http_methods(["GET", "POST"])
def rule_edit(request: HttpRequest, ruleset_id: int, rule_id: int) -> HttpResponse:
    version = _draft_or_404(ruleset_id)
    rule = get_object_or_404(Rule.objects.select_related("interaction_kind"), pk=rule_id, version=version)
    form = RuleForm(request.POST if request.method == "POST" else None, instance=rule)
    if request.method == "POST":
        if form.is_valid():
            try:
                _rule_save(form, version=version, by=request.user)
            except NotADraft:
                return _not_a_draft(request, ruleset_id)
            messages.success(request, _("Rule “%(label)s” saved.") % {"label": form.instance.display_label})
            return redirect(reverse("rules:draft", args=[ruleset_id]) + f"#rule-{rule_id}")
        messages.error(request, _("The rule was not saved: correct the fields marked below."))
    return render(request, "scoring/rule_form.html", {
        "version": version, "ruleset": version.ruleset, "rule": rule, "form": form, "field_options": field_options(), "custom_field_options": custom_field_options(),
    })


@admin_only
@require_POST
def rule_delete(request: HttpRequest, ruleset_id: int, rule_id: int) -> HttpResponse:
    version = _draft_or_404(ruleset_id)
    rule = get_object_or_404(Rule, pk=rule_id, version=version)
    label = rule.display_label
    try:
        _rule_delete(rule, by=request.user)
    except NotADraft:
        return _not_a_draft(request, ruleset_id)
    messages.success(request, _("Rule “%(label)s” deleted.") % {"label": label})
    return redirect("rules:draft", ruleset_id=ruleset_id)


@admin_only
@require_http_methods(["GET", "POST"])
def preview(request: HttpRequest, ruleset_id: int) -> HttpResponse:
    """What publishing the draft would do; computed on every visit, nothing is written."""
    version = _draft_or_404(ruleset_id)
    return render(request, "scoring/version_preview.html", {
        "version": version, "ruleset": version.ruleset, **_preview_context(rulesets.version_preview(version=version)),
    })


@admin_only
@require_POST
def publish(request: HttpRequest, ruleset_id: int) -> HttpResponse:
    version = _draft_or_404(ruleset_id)
    try:
        published = rulesets.version_publish(version=version, by=request.user)
    except ValidationError as exc:
        for message in exc.messages:
            messages.error(request, message)
        return redirect("rules:draft", ruleset_id=ruleset_id)
    messages.success(request, _("Published %(ruleset)s v%(number)s.") % {"ruleset": published.ruleset.display_name, "number": published.number}
                     + " " + _rescore_said(published))
    return redirect(reverse("rules:index") + "#rescore")


def _rescore_said(version: RuleSetVersion) -> str:
    """What the rescore the publish started has done so far: with a broker it has just been queued;
    in the embedded default (eager tasks) it has already run, and saying "being rescored" would not be true."""
    run = RescoreRun.objects.filter(version=version).first()
    if run is None or run.status != RescoreRun.Status.DONE:
        return _("Every contact is being rescored: the progress is below.")
    return ngettext("%(n)d contact rescored, %(moved)d changed stage.", "%(n)d contacts rescored, %(moved)d changed stage.",
                    run.contacts_scored) % {"n": run.contacts_scored, "moved": run.stage_changes}


def _preview_context(result: rulesets.Preview) -> dict:
    moved = sum(n for _from, _to, n in result.moves)
    return {"preview": result, "moved": moved, "unchanged": result.evaluated - moved,
            "totals": [(stage, label, result.stage_totals[stage]) for stage, label in Stage.choices]}


@admin_only
@require_GET
def version_detail(request: HttpRequest, version_id: int) -> HttpResponse:
    version = get_object_or_404(selectors.versions_with_detail(), pk=version_id)
    return render(request, "scoring/version_detail.html", {
        "version": version,
        "ruleset": version.ruleset,
        "rules": selectors.version_rules(version),
        "is_active": version.ruleset.active_version_id == version.pk,
    })


def _archived_or_redirect(request: HttpRequest, version_id: int) -> RuleSetVersion | HttpResponse:
    version = get_object_or_404(RuleSetVersion.objects.select_related("ruleset__active_version"), pk=version_id)
    if version.status != RuleSetVersion.Status.ARCHIVED:
        messages.error(request, _("Only an archived version can be published again."))
        return redirect("rules:version", version_id=version_id)
    return version


@admin_only
@require_GET
def rollback_preview(request: HttpRequest, version_id: int) -> HttpResponse:
    """What publishing an archived version again would do, with or without returning the contacts
    the active version moved (?return=1); nothing is written."""
    version = _archived_or_redirect(request, version_id)
    if isinstance(version, HttpResponse):
        return version
    return_moved = request.GET.get("return") == "1"
    active = version.ruleset.active_version
    returns = rulesets.rollback_returns(version=active)
    # The returned contacts are evaluated from where they would be returned to.
    overrides = {r.contact_id: r.to_stage for r in returns} if return_moved else {}
    result = rulesets.version_preview(version=version, stage_overrides=overrides)
    return render(request, "scoring/rollback_preview.html", {
        "version": version, "ruleset": version.ruleset, "active": active, "rollback": True,
        "return_moved": return_moved, "returns": returns,
        "return_moves": sorted(Counter((r.stage, r.to_stage) for r in returns).items(),
                               key=lambda item: (-Stage.order(item[0][0]), Stage.order(item[0][1]))),
        **_preview_context(result),
    })


@admin_only
@require_POST
def rollback(request: HttpRequest, version_id: int) -> HttpResponse:
    """Publish an archived version again (the service publishes a copy, so history stays linear),
    returning the contacts the active version moved when the admin ticked it in the preview."""
    version = _archived_or_redirect(request, version_id)
    if isinstance(version, HttpResponse):
        return version
    try:
        published = rulesets.version_rollback(version=version, by=request.user,
                                              return_moved=request.POST.get("return_moved") == "1")
    except ValidationError as exc:
        for message in exc.messages:
            messages.error(request, message)
        return redirect("rules:version", version_id=version_id)
    text = _("Rolled back: v%(old)s is active again as v%(new)s.") % {
        "old": version.number, "new": published.version.number} + " " + _rescore_said(published.version)
    if published.returned is not None:
        text += " " + ngettext("%(n)d contact went back to where it was.", "%(n)d contacts went back to where they were.",
                               published.returned) % {"n": published.returned}
    messages.success(request, text)
    return redirect(reverse("rules:index") + "#rescore")


@admin_only
@require_GET
def rescore_progress(request: HttpRequest, run_id: int) -> JsonResponse:
    run = get_object_or_404(RescoreRun, pk=run_id)
    return JsonResponse({
        "id": run.pk,
        "status": run.status,
        "running": run.status == RescoreRun.Status.RUNNING,
        "percent": run.percent,
        "done_chunks": run.done_chunks,
        "total_chunks": run.total_chunks,
        "contacts_scored": run.contacts_scored,
        "stage_changes": run.stage_changes,
        "started_at": run.started_at.isoformat(),
        "finished_at": run.finished_at.isoformat() if run.finished_at else None,
    })
