"""Pages: Today, completing a task in place (htmx), adding a task, notifications. Thin: the
services write, the selectors read."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from contacts.selectors import contacts_editable_by, contacts_visible_to
from crm import roles
from followup import selectors, services
from followup.forms import EmailPreferencesForm, TaskCompleteForm, TaskForm
from followup.models import EmailPreferences, Notification

WORKERS = (roles.SALES, roles.SALES_MANAGER, roles.ADMIN)


@roles.role_required(*WORKERS)
def today(request: HttpRequest) -> HttpResponse:
    now = timezone.now()
    items = selectors.today(request.user, now=now)
    counts = {kind: sum(1 for i in items if i.kind == kind) for kind in ("overdue", "new", "today")}
    return render(request, "followup/today.html", {"items": items, "counts": counts, "now": now,
                                                   "form": TaskCompleteForm()})


@require_POST
@roles.role_required(*WORKERS)
def task_complete(request: HttpRequest, pk: int) -> HttpResponse:
    task = get_object_or_404(selectors.tasks_visible(request.user), pk=pk)
    form = TaskCompleteForm(request.POST, prefix=f"t{task.pk}")
    done = None
    if form.is_valid():
        try:
            done = services.task_complete(task=task, outcome=form.cleaned_data["outcome"],
                                          note=form.cleaned_data["note"], by=request.user)
        except ValidationError as exc:
            for field, errors in exc.message_dict.items():
                form.add_error(field if field in form.fields else None, errors)
    if request.htmx:
        # 200 either way: htmx swaps only successful responses, and the errors show in the row.
        task.refresh_from_db()
        now = timezone.now()
        return render(request, "followup/_today_row.html", {
            "item": selectors.today_item(task, now), "form": form, "done": done, "now": now})
    if done is not None:
        messages.success(request, _("Task done.") if done.completed else _("This task was already done."))
    else:
        messages.error(request, _("Choose an outcome."))
    return redirect(_next(request) or "followup:today")


@require_POST
@roles.role_required(*WORKERS)
def task_add(request: HttpRequest, pk: int) -> HttpResponse:
    contact = get_object_or_404(contacts_visible_to(request.user), pk=pk)
    if not contacts_editable_by(request.user).filter(pk=pk).exists():
        return HttpResponse(status=403)
    form = TaskForm(request.POST)
    if form.is_valid():
        try:
            services.task_create(contact=contact, type=form.cleaned_data["type"], due_at=form.cleaned_data["due_at"],
                                 note=form.cleaned_data["note"], by=request.user)
            messages.success(request, _("Task added."))
        except ValidationError as exc:
            messages.error(request, "; ".join(f"{k}: {' '.join(v)}" for k, v in exc.message_dict.items()))
    else:
        messages.error(request, "; ".join(f"{form.fields[k].label}: {' '.join(v)}" if k in form.fields else " ".join(v)
                                          for k, v in form.errors.items()))
    return redirect("contacts:detail", pk=contact.pk)


@login_required
def bell(request: HttpRequest) -> HttpResponse:
    return render(request, "followup/_bell.html", {"unread": selectors.unread_count(request.user), "loaded": True})


@login_required
def notification_list(request: HttpRequest) -> HttpResponse:
    page = Paginator(selectors.notifications_of(request.user), 50).get_page(request.GET.get("page"))
    return render(request, "followup/notifications.html", {"page": page, "unread": selectors.unread_count(request.user)})


@require_POST
@login_required
def notification_read(request: HttpRequest, pk: int) -> HttpResponse:
    notification = get_object_or_404(Notification.objects.filter(user=request.user), pk=pk)
    services.notifications_mark_read(user=request.user, ids=[notification.pk])
    if request.POST.get("open") and notification.contact_id:
        return redirect("contacts:detail", pk=notification.contact_id)
    return redirect(_next(request) or "followup:notifications")


@require_POST
@login_required
def notifications_read_all(request: HttpRequest) -> HttpResponse:
    n = services.notifications_mark_read(user=request.user)
    messages.success(request, _("%(n)d notifications marked read.") % {"n": n})
    return redirect(_next(request) or "followup:notifications")


@require_POST
@login_required
def email_preferences(request: HttpRequest) -> HttpResponse:
    form = EmailPreferencesForm(request.POST)
    form.is_valid()  # two optional checkboxes: always valid
    services.preferences_update(user=request.user, on_assignment=form.cleaned_data.get("on_assignment", False),
                                digest=form.cleaned_data.get("digest", False), language=get_language() or "")
    messages.success(request, _("Email preferences saved."))
    return redirect("profile")


def preferences_of(user) -> EmailPreferences:
    return EmailPreferences.objects.filter(user=user).first() or EmailPreferences(user=user)


def _next(request: HttpRequest) -> str | None:
    target = request.POST.get("next") or ""
    ok = url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}, require_https=request.is_secure())
    return target if target and ok else None


