"""Webhook pages for admins: the endpoints, registering and editing one, its delivery log with
redelivery, and a test event. A new secret is shown once, on the page answering the POST
(never in a cookie or a redirect's session message)."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db.models import Count, Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from contacts.forms import add_service_errors
from crm import roles
from webhooks import services
from webhooks.forms import EndpointForm
from webhooks.models import Delivery, Endpoint


@require_GET
@roles.role_required(roles.ADMIN)
def endpoint_list(request: HttpRequest) -> HttpResponse:
    endpoints = Endpoint.objects.annotate(
        pending=Count("deliveries", filter=Q(deliveries__status=Delivery.Status.PENDING)),
        failed=Count("deliveries", filter=Q(deliveries__status=Delivery.Status.FAILED))).order_by("url", "pk")
    return render(request, "webhooks/endpoint_list.html", {"endpoints": endpoints})


def _detail(request: HttpRequest, endpoint: Endpoint, *, new_secret: str | None = None) -> HttpResponse:
    rows = endpoint.deliveries.select_related("event").order_by("-created_at", "-id")
    page = Paginator(rows, 50).get_page(request.GET.get("page"))
    return render(request, "webhooks/endpoint_detail.html", {"endpoint": endpoint, "page": page, "new_secret": new_secret})


@require_http_methods(["GET", "POST"])
@roles.role_required(roles.ADMIN)
def endpoint_edit(request: HttpRequest, pk: int | None = None) -> HttpResponse:
    endpoint = get_object_or_404(Endpoint, pk=pk) if pk else None
    initial = {"url": endpoint.url, "events": endpoint.events, "is_active": endpoint.is_active} if endpoint else None
    form = EndpointForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        data = dict(form.cleaned_data)
        if not data.get("secret"):
            data.pop("secret", None)
        if endpoint is None:
            data.pop("is_active", None)
        try:
            saved, secret = services.endpoint_save(data=data, by=request.user, endpoint=endpoint)
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, _("Webhook saved."))
            return _detail(request, saved, new_secret=secret) if secret else redirect("webhooks:detail", pk=saved.pk)
    return render(request, "webhooks/endpoint_form.html", {"form": form, "endpoint": endpoint},
                  status=400 if form.errors else 200)


@require_GET
@roles.role_required(roles.ADMIN)
def endpoint_detail(request: HttpRequest, pk: int) -> HttpResponse:
    return _detail(request, get_object_or_404(Endpoint, pk=pk))


@require_POST
@roles.role_required(roles.ADMIN)
def endpoint_test(request: HttpRequest, pk: int) -> HttpResponse:
    endpoint = get_object_or_404(Endpoint, pk=pk)
    services.endpoint_send_test(endpoint=endpoint, by=request.user)
    messages.success(request, _("Test event queued; its delivery shows below."))
    return redirect("webhooks:detail", pk=endpoint.pk)


@require_POST
@roles.role_required(roles.ADMIN)
def endpoint_delete(request: HttpRequest, pk: int) -> HttpResponse:
    services.endpoint_delete(endpoint=get_object_or_404(Endpoint, pk=pk), by=request.user)
    messages.success(request, _("Webhook deleted."))
    return redirect("webhooks:list")


@require_POST
@roles.role_required(roles.ADMIN)
def delivery_redeliver(request: HttpRequest, pk: int) -> HttpResponse:
    delivery = get_object_or_404(Delivery, pk=pk)
    services.delivery_redeliver(delivery=delivery, by=request.user)
    messages.success(request, _("Sending it again, with the same event id."))
    return redirect("webhooks:detail", pk=delivery.endpoint_id)
