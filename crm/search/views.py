"""/search/?q=: the top-bar search, role-aware and paginated."""

from __future__ import annotations

from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.functional import cached_property
from django.views.decorators.http import require_GET

from crm import roles
from crm.search import MIN_LENGTH, global_search

PAGE_SIZE = 25
COUNT_CAP = 500  # a search is for finding someone: past this many, "refine the search" beats paging


class SearchPaginator(Paginator):
    """Counts at most COUNT_CAP + 1 matches (a broad term such as a common first name matches
    a tenth of the table; counting all of them cost more than the page itself)."""

    @cached_property
    def count(self) -> int:
        return self.object_list.order_by()[: COUNT_CAP + 1].count()

    @property
    def is_capped(self) -> bool:
        return self.count > COUNT_CAP


@require_GET
@roles.role_required(*roles.ROLES)
def search(request: HttpRequest) -> HttpResponse:
    results = global_search(request.user, request.GET.get("q", ""))
    paginator = SearchPaginator(results.contacts, PAGE_SIZE)
    page = paginator.get_page(request.GET.get("page"))
    return render(request, "crm/search.html", {
        "results": results,
        "page": page,
        "paginator": paginator,
        "too_short": 0 < len(results.query) < MIN_LENGTH,
        "min_length": MIN_LENGTH,
        "can_write_messages": bool(roles.roles_of(request.user) & {roles.ADMIN, roles.MARKETER}),
    })
