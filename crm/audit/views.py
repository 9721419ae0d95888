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
from crm.audit import words
from crm.models import AuditEvent
from crm.roles import role_required
from crm.widgets import DATE_PICKER

PAGE_SIZE = 50




class AuditEventFilter(django_filters.FilterSet):
    action = django_filters.ChoiceFilter(choices=AuditEvent.Action.choices, label=_("Action"))
    object_type = django_filters.ChoiceFilter(field_name="object_type", label=_("Object type"),
                                              choices=words.object_type_choices)
    object_id = django_filters.CharFilter(field_name="object_id", label=_("Object id"))
    actor = django_filters.ModelChoiceFilter(
        queryset=get_user_model().objects.filter(is_active=True).order_by("username"), label=_("By"),
    )
    since = django_filters.DateFilter(field_name="at", lookup_expr="date__gte", label=_("From"), widget=DATE_PICKER)
    until = django_filters.DateFilter(field_name="at", lookup_expr="date__lte", label=_("To"), widget=DATE_PICKER)

    class Meta:
        model = AuditEvent
        fields: list[str] = []


def audit_events(params) -> tuple:
    filterset = AuditEventFilter(params, queryset=AuditEvent.objects.select_related("actor").order_by("-at", "-id"))
    return filterset.qs, filterset


@require_GET
@role_required(roles.ADMIN)
def audit_list(request: HttpRequest) -> HttpResponse:
    events, filterset = audit_events(request.GET)
    page = Paginator(events, PAGE_SIZE).get_page(request.GET.get("page"))
    labels = words.custom_field_labels() if any("keys" in (event.details or {}) for event in page) else {}
    for event in page:
        event.described = words.describe(event, custom_labels=labels)
    query = request.GET.copy()
    query.pop("page", None)
    return render(request, "crm/audit.html", {"page": page, "filter": filterset, "query": query.urlencode()})
