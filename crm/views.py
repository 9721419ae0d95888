"""The home dashboard: the funnel, its weekly trend, speed per industry and source, and
who is waiting for a follow-up. All numbers come from scoring.analytics (aggregate queries)."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from contacts.forms import DashboardFilterForm
from crm import dashboard, roles
from crm.replica import replica_view
from scoring import analytics


@require_GET
@roles.role_required(*roles.ROLES)
@replica_view
def home(request: HttpRequest) -> HttpResponse:
    sees_all = roles.sees_all_contacts(request.user)
    form = DashboardFilterForm(request.GET or None, show_owner=sees_all)
    filters = form.analytics_filters()
    if not sees_all:
        # A sales rep's dashboard covers their own contacts only.
        filters["owner"] = request.user
    panels, cached = dashboard.panels(filters)
    queue_filters = {k: v for k, v in filters.items() if k in ("industry", "source", "owner")}
    context = {
        **panels,
        "form": form,
        "sees_all": sees_all,
        "cached_seconds": dashboard.CACHE_SECONDS if cached else None,
        "queue": analytics.follow_up_queue(limit=10, **queue_filters),
        "has_filters": bool(form.is_bound and any(request.GET.get(k) for k in form.fields)),
        "timing_days": analytics.TIMING_DEFAULT_DAYS,
    }
    return render(request, "crm/home.html", context)
