"""The home dashboard: the funnel, its weekly trend, speed per industry and source, and
who is waiting for a follow-up. All numbers come from scoring.analytics (aggregate queries)."""

from __future__ import annotations

import hashlib

from django.core.cache import cache
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import get_language
from django.views.decorators.http import require_GET

from contacts.forms import DashboardFilterForm
from crm import roles
from scoring import analytics

# On big tables the panels cost seconds (GROUP BYs over every contact, a sort of the stage
# history for the medians), so they are cached for a short while; small installations, and
# the follow-up queue everywhere, always get fresh numbers.
CACHE_ABOVE_CONTACTS = 50_000
CACHE_SECONDS = 120


def _cache_key(filters: dict) -> str:
    plain = sorted((k, str(getattr(v, "pk", v))) for k, v in filters.items())
    digest = hashlib.sha256(repr((plain, get_language())).encode()).hexdigest()[:24]
    return f"dashboard:{digest}"


@require_GET
@roles.role_required(*roles.ROLES)
def home(request: HttpRequest) -> HttpResponse:
    sees_all = roles.sees_all_contacts(request.user)
    form = DashboardFilterForm(request.GET or None, show_owner=sees_all)
    filters = form.analytics_filters()
    if not sees_all:
        # A sales rep's dashboard covers their own contacts only.
        filters["owner"] = request.user
    cached = analytics.estimated_contacts() >= CACHE_ABOVE_CONTACTS
    panels = (cache.get_or_set(_cache_key(filters), lambda: analytics.dashboard(**filters), CACHE_SECONDS)
              if cached else analytics.dashboard(**filters))
    queue_filters = {k: v for k, v in filters.items() if k in ("industry", "source", "owner")}
    context = {
        **panels,
        "form": form,
        "sees_all": sees_all,
        "cached_seconds": CACHE_SECONDS if cached else None,
        "queue": analytics.follow_up_queue(limit=10, **queue_filters),
        "has_filters": bool(form.is_bound and any(request.GET.get(k) for k in form.fields)),
        "timing_days": analytics.TIMING_DEFAULT_DAYS,
    }
    return render(request, "crm/home.html", context)
