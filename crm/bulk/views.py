"""Bulk action pages: the contact list's bar posts here (POST /contacts/bulk/), which freezes the
selection and shows the preview (/contacts/bulk/<id>/): what will happen, to how many contacts,
who is skipped and why; its confirm button runs it once and returns to the list.

Thin: role checks and forms here, everything else in crm.bulk. A preview is its author's only
(anyone else: 404); an action the role may not run answers 403 at every step."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme, urlencode
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from contacts.models import Segment, Stage
from crm import bulk, roles
from crm.bulk.forms import ParamsForm, StartForm
from crm.models import BulkAction


def _safe(request: HttpRequest, url: str) -> str:
    if url and url_has_allowed_host_and_scheme(url, allowed_hosts={request.get_host()}, require_https=request.is_secure()):
        return url
    return reverse("contacts:list")


@require_POST
@roles.role_required(*roles.ROLES)
def bulk_start(request: HttpRequest) -> HttpResponse:
    form = StartForm(request.POST)
    back = _safe(request, request.POST.get("next", ""))
    if not form.is_valid():
        for errors in form.errors.values():
            for error in errors:
                messages.error(request, error)
        return redirect(back)
    action = form.cleaned_data["action"]
    if not bulk.may(request.user, action):
        raise PermissionDenied
    try:
        ids, selection = bulk.selection_resolve(
            request.user, ids=form.cleaned_data["ids"], segment=form.cleaned_data["segment"],
            query=form.cleaned_data["query"] if form.cleaned_data["scope"] == "all" else None, request=request)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect(back)
    draft = bulk.bulk_draft(user=request.user, action=action, contact_ids=ids, selection=selection, next_url=back)
    url = reverse("bulk:preview", kwargs={"pk": draft.pk})
    params = form.preview_params()
    return redirect(f"{url}?{urlencode(params)}" if params else url)


@require_http_methods(["GET", "POST"])
@roles.role_required(*roles.ROLES)
def bulk_preview(request: HttpRequest, pk: int) -> HttpResponse:
    draft = get_object_or_404(BulkAction, pk=pk, actor=request.user)
    if not bulk.may(request.user, draft.action):
        raise PermissionDenied
    back = _safe(request, draft.next_url)
    if draft.status != BulkAction.Status.DRAFT:
        if request.method == "POST":
            # A second click or a resubmitted form: the action runs once; say so and show its result.
            messages.info(request, _already(draft))
            return redirect(back)
        return _page(request, draft, back, ParamsForm(draft.action), None, done=True)
    if request.method == "GET":
        data = request.GET.copy()
        if draft.action == bulk.ERASE:
            data.setdefault("mode", "anonymise")
        form = ParamsForm(draft.action, data)
        given = any(name in data for name in form.fields) or draft.action == bulk.ASSIGN
        if not given:
            return _page(request, draft, back, ParamsForm(draft.action), None)
        plan = bulk.bulk_plan(bulk=draft, user=request.user, params=form.params()) if form.is_valid() else None
        return _page(request, draft, back, form, plan, confirm=ParamsForm(draft.action, confirming=True) if plan else None)

    confirm = ParamsForm(draft.action, request.POST, confirming=True)
    params_form = ParamsForm(draft.action, request.POST)
    if not params_form.is_valid():
        return _page(request, draft, back, params_form, None, status=400)
    plan = bulk.bulk_plan(bulk=draft, user=request.user, params=params_form.params())
    if confirm.is_valid() and draft.action == bulk.ERASE and confirm.cleaned_data["typed"].strip() != str(len(plan.todo)):
        confirm.add_error("typed", _("Type %(n)s, the number of contacts that will be erased.") % {"n": len(plan.todo)})
    if not confirm.is_valid():
        return _page(request, draft, back, params_form, plan, confirm=confirm, status=400)
    outcome = bulk.bulk_confirm(bulk=draft, user=request.user, params=params_form.params(),
                                note=confirm.cleaned_data.get("note", ""))
    if not outcome.ran:
        messages.info(request, _already(draft))
    elif outcome.queued:
        # A worker runs it; the preview's address shows the result once it is done.
        messages.info(request, _("%(action)s for %(n)s contacts is running in the background.")
                      % {"action": bulk.action_label(draft.action), "n": len(plan.todo)})
        return redirect("bulk:preview", pk=draft.pk)
    else:
        messages.success(request, bulk.result_words(draft.action, outcome.result))
    return redirect(back)


def _already(draft: BulkAction) -> str:
    draft.refresh_from_db()
    if draft.status == BulkAction.Status.QUEUED:
        return _("This bulk action is running already.")
    return _("This bulk action was done already.") + " " + bulk.result_words(draft.action, draft.result)


def _page(request: HttpRequest, draft: BulkAction, back: str, form: ParamsForm, plan: bulk.Plan | None, *,
          confirm: ParamsForm | None = None, done: bool = False, status: int = 200) -> HttpResponse:
    selection = draft.selection or {}
    segment = Segment.objects.filter(pk=selection["segment"]).first() if selection.get("segment") else None
    params = form.params() if form.is_bound and not form.errors else {}
    return render(request, "crm/bulk_preview.html", {
        "draft": draft,
        "action_label": bulk.action_label(draft.action),
        "back": back,
        "form": form,
        "plan": plan,
        "confirm": confirm,
        "hidden": form.hidden_values() if params else [],
        "stage_label": Stage(params["stage"]).label if params.get("stage") else "",
        "owner": params.get("owner"),
        "sequence": params.get("sequence"),
        "tag": params.get("tag", ""),
        "mode": params.get("mode", ""),
        "selected": len(draft.contact_ids),
        "scope": selection.get("scope", "ids"),
        "segment": segment,
        "anonymised": bulk.anonymised_count(draft) if draft.action == bulk.ERASE and not done else 0,
        "done": done,
        "running": draft.status == BulkAction.Status.QUEUED,
        "result_words": bulk.result_words(draft.action, draft.result) if draft.status == BulkAction.Status.DONE else "",
    }, status=status)
