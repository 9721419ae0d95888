"""The audit log page: who viewed, exported, changed, merged or deleted what, and when.
Admins only. Filters in the query string, like the contact lists."""

from __future__ import annotations

import django_filters
from django.contrib.auth import get_user_model
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_GET

from crm import roles
from crm.models import AuditEvent
from crm.roles import role_required

PAGE_SIZE = 50


class AuditEventFilter(django_filters.FilterSet):
    action = django_filters.ChoiceFilter(choices=AuditEvent.Action.choices, label=_("Action"))
    object_type = django_filters.CharFilter(field_name="object_type", lookup_expr="iexact", label=_("Object type"),
                                            help_text=_("e.g. contacts.contact, scoring.rulesetversion"))
    object_id = django_filters.CharFilter(field_name="object_id", label=_("Object id"))
    actor = django_filters.ModelChoiceFilter(
        queryset=get_user_model().objects.filter(is_active=True).order_by("username"), label=_("By"),
    )
    since = django_filters.DateFilter(field_name="at", lookup_expr="date__gte", label=_("From"))
    until = django_filters.DateFilter(field_name="at", lookup_expr="date__lte", label=_("To"))

    class Meta:
        model = AuditEvent
        fields: list[str] = []


def audit_events(params) -> tuple:
    filterset = AuditEventFilter(params, queryset=AuditEvent.objects.select_related("actor").order_by("-at", "-id"))
    return filterset.qs, filterset


def _object_link(event: AuditEvent) -> str:
    """The contact page of a contact that still exists under this id (bulk events list several)."""
    if event.object_type == "contacts.contact" and event.object_id.isdigit() and event.action != AuditEvent.Action.DELETE:
        return f"/contacts/{event.object_id}/"
    return ""


@require_GET
@role_required(roles.ADMIN)
def audit_list(request: HttpRequest) -> HttpResponse:
    events, filterset = audit_events(request.GET)
    page = Paginator(events, PAGE_SIZE).get_page(request.GET.get("page"))
    for event in page:
        event.link = _object_link(event)
    query = request.GET.copy()
    query.pop("page", None)
    return render(request, "crm/audit.html", {"page": page, "filter": filterset, "query": query.urlencode()})
