"""/search/?q=: the top-bar search, role-aware and paginated."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from contacts.views import CappedPaginator
from crm import roles
from crm.search import MIN_LENGTH, global_search

PAGE_SIZE = 25


@require_GET
@roles.role_required(*roles.ROLES)
def search(request: HttpRequest) -> HttpResponse:
    results = global_search(request.user, request.GET.get("q", ""))
    paginator = CappedPaginator(results.contacts, PAGE_SIZE)
    page = paginator.get_page(request.GET.get("page"))
    return render(request, "crm/search.html", {
        "results": results,
        "page": page,
        "paginator": paginator,
        "too_short": 0 < len(results.query) < MIN_LENGTH,
        "min_length": MIN_LENGTH,
        "can_write_messages": bool(roles.roles_of(request.user) & {roles.ADMIN, roles.MARKETER}),
    })
