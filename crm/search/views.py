"""/search/?q=: the top-bar search, role-aware and paginated."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.functional import cached_property
from django.views.decorators.http import require_GET

from crm import roles
from crm.paging import WholePagePaginator
from crm.search import MIN_LENGTH, global_search

PAGE_SIZE = 25
COUNT_CAP = 500  # a search is for finding someone: past this many, "refine the search" beats paging


class SearchPaginator(WholePagePaginator):
    """Pages of a search without an `ORDER BY … LIMIT` that the planner may answer by walking the
    whole `contact_updated` index: its row estimate for a LIKE is a guess, and Django's last page
    asks for LIMIT 1 (an email prefix matching one contact in a million took 9.5 s that way).

    First the matches' keys, at most COUNT_CAP + 1, in whatever order the term's indexes give them
    (the capped count, as before: a broad term such as a common first name matches a tenth of the
    table, and counting all of it cost more than the page). When that is all of them, they are sorted
    here, newest change first, and the page is read by primary key. Past the cap the term matches
    one contact in N/COUNT_CAP or more, so walking `contact_updated` finds a page within ~25·N/COUNT_CAP
    rows (a common term, far fewer)."""

    @cached_property
    def _all_matches(self) -> list[int] | None:
        rows = list(self.object_list.order_by().values_list("pk", "updated_at")[: COUNT_CAP + 1])
        if len(rows) > COUNT_CAP:
            return None
        rows.sort(key=lambda row: (row[1], row[0]), reverse=True)
        return [pk for pk, _updated in rows]

    @cached_property
    def count(self) -> int:
        return COUNT_CAP + 1 if self._all_matches is None else len(self._all_matches)

    @property
    def is_capped(self) -> bool:
        return self.count > COUNT_CAP

    def page(self, number):
        if self._all_matches is None:
            return super().page(number)
        number = self.validate_number(number)
        bottom = (number - 1) * self.per_page
        pks = self._all_matches[bottom:bottom + self.per_page]
        found = self.object_list.order_by().in_bulk(pks)
        return self._get_page([found[pk] for pk in pks if pk in found], number, self)


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
