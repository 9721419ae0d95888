"""Segment pages: /segments/ (the shared list with a live count each), "Save this view" from
the contact list, edit and delete. Thin: check the role, parse a form, call contacts.segments,
render or redirect. Everyone reads; admins and marketers write."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods

from contacts import attribute_filters, segments
from contacts.fields import types as custom_types
from contacts.models import Segment
from contacts.segments.forms import SegmentForm
from contacts.selectors import CONSENT_CHOICES, LIST_COUNT_CAP, ContactFilter, capped_count, segment_contacts
from crm import roles

READERS = roles.ROLES
WRITERS = (roles.ADMIN, roles.MARKETER)
PAGE_SIZE = 25  # one capped count per segment on a page


def can_write_segments(user) -> bool:
    return bool(roles.roles_of(user) & set(WRITERS))


def _owner_names(filters_list: list[dict[str, Any]]) -> dict[str, str]:
    ids = {str(f.get("owner")) for f in filters_list if str(f.get("owner", "")).isdigit()}
    users = get_user_model().objects.filter(pk__in=[int(i) for i in ids]) if ids else []
    return {str(u.pk): u.get_full_name() or u.get_username() for u in users}


def describe_filters(filters: dict[str, Any], owner_names: dict[str, str] | None = None) -> list[str]:
    """A segment's filters in words, one short phrase per filter, for the list page."""
    base = ContactFilter.base_filters
    choice_labels = {"consent": dict(CONSENT_CHOICES)}
    for name in ("stage", "industry"):
        choice_labels[name] = dict(base[name].extra["choices"])
    phrases = []
    custom = custom_types.active_by_key() if any(n.startswith(attribute_filters.PREFIX) for n in filters) else {}
    for name, value in filters.items():
        if name.startswith(attribute_filters.PREFIX):
            try:
                key, op = attribute_filters.parse_param(name)
            except ValidationError:
                key, op = name, "eq"
            label = attribute_filters.OPERATOR_LABELS[op]
            field = custom.get(key)
            if field is not None:
                # A custom field by its label in the reader's language, its value in their format.
                key = field.label
                if op in ("eq", "ne", "gte", "lte"):
                    value = custom_types.display(field, value)
            phrases.append(f"{key} {label}" if op in ("is_set", "is_blank") and value in (True, "true", "1")
                           else f"{key} {label} {value}")
            continue
        flt = base.get(name)
        label = str(flt.label) if flt is not None else name
        if name in choice_labels:
            value = choice_labels[name].get(value, value)
        elif name == "owner":
            value = {"me": _("me"), "none": _("unassigned")}.get(str(value)) or (owner_names or {}).get(str(value), value)
        elif isinstance(value, bool):
            value = _("yes") if value else _("no")
        phrases.append(f"{label}: {value}")
    return phrases


# --- The list ----------------------------------------------------------------------

@require_GET
@roles.role_required(*READERS)
def segment_list(request: HttpRequest) -> HttpResponse:
    paginator = Paginator(Segment.objects.select_related("created_by").order_by("name", "id"), PAGE_SIZE)
    page = paginator.get_page(request.GET.get("page"))
    rows = list(page.object_list)
    names = _owner_names([s.filters for s in rows])
    items = [{
        "segment": segment,
        "count": capped_count(segment_contacts(segment, request.user, request=request)),
        "phrases": describe_filters(segment.filters, names),
    } for segment in rows]
    return render(request, "contacts/segments.html", {
        "items": items, "page": page, "paginator": paginator, "count_cap": LIST_COUNT_CAP,
        "can_write": can_write_segments(request.user), "can_export": roles.can_import_export(request.user),
    })


# --- Save this view, new, edit, delete -----------------------------------------------

def _form_page(request: HttpRequest, form: SegmentForm, *, segment: Segment | None = None, status: int = 200) -> HttpResponse:
    return render(request, "contacts/segment_form.html", {"form": form, "segment": segment}, status=status)


@require_http_methods(["GET", "POST"])
@roles.role_required(*WRITERS)
def segment_create_view(request: HttpRequest) -> HttpResponse:
    """GET: the form, filled from the query string (?stage=lead&…). POST from the contact
    list's "Save this view" (`name` and the list's `query`), or from the full form."""
    if request.method == "GET":
        return _form_page(request, SegmentForm(filters=_view_filters(request.GET)))
    if "query" in request.POST:
        filters = _view_filters(QueryDict(request.POST.get("query", "")))
        try:
            segment = segments.segment_create(name=request.POST.get("name", ""), filters=filters, by=request.user)
        except ValidationError as exc:
            form = SegmentForm(SegmentForm.data_for(request.POST.get("name", ""), filters))
            form.is_valid()
            form.add_service_errors(exc)
            return _form_page(request, form, status=400)
        messages.success(request, _("Segment “%(name)s” saved.") % {"name": segment.name})
        return redirect(f"{reverse('contacts:list')}?segment={segment.pk}")
    form = SegmentForm(request.POST)
    if form.is_valid():
        try:
            segment = segments.segment_create(name=form.cleaned_data["name"], filters=form.filters(), by=request.user)
        except ValidationError as exc:
            form.add_service_errors(exc)
        else:
            messages.success(request, _("Segment “%(name)s” saved.") % {"name": segment.name})
            return redirect(f"{reverse('contacts:list')}?segment={segment.pk}")
    return _form_page(request, form, status=400)


def _view_filters(params: QueryDict) -> dict[str, Any]:
    """The filters of a contact-list URL; viewing a segment, its filters with the page's on top."""
    base = None
    segment_id = params.get("segment", "")
    if segment_id.isdigit() and len(segment_id) <= 18:
        segment = Segment.objects.filter(pk=int(segment_id)).first()
        base = segment.filters if segment else None
    params, _errors = custom_types.typed_filter_params(params)  # "1.250" as typed in Indonesian -> "1250"
    return segments.filters_from_query(params, base=base)


@require_http_methods(["GET", "POST"])
@roles.role_required(*WRITERS)
def segment_edit_view(request: HttpRequest, pk: int) -> HttpResponse:
    segment = get_object_or_404(Segment, pk=pk)
    if request.method == "GET":
        return _form_page(request, SegmentForm(filters=segment.filters, initial={"name": segment.name}), segment=segment)
    form = SegmentForm(request.POST)
    if form.is_valid():
        try:
            segments.segment_update(segment=segment, by=request.user, name=form.cleaned_data["name"], filters=form.filters())
        except ValidationError as exc:
            form.add_service_errors(exc)
        else:
            messages.success(request, _("Segment “%(name)s” saved.") % {"name": segment.name})
            return redirect("segments:list")
    return _form_page(request, form, segment=segment, status=400)


@require_http_methods(["GET", "POST"])
@roles.role_required(*WRITERS)
def segment_delete_view(request: HttpRequest, pk: int) -> HttpResponse:
    segment = get_object_or_404(Segment, pk=pk)
    if request.method == "POST":
        name = segment.name
        segments.segment_delete(segment=segment, by=request.user)
        messages.success(request, _("Segment “%(name)s” deleted.") % {"name": name})
        return redirect("segments:list")
    return render(request, "contacts/segment_delete.html", {"segment": segment})


# --- On the contact list -------------------------------------------------------------

# Filters the contact list's filter form shows; any other parameter rides along as a hidden input.
LIST_FORM_FIELDS = frozenset({"search", "industry", "source", "owner", "score_min", "score_max", "active_within",
                              "inactive_for", "consent", "tag", "stage", "ordering", "page"})


def list_context(request: HttpRequest, typed_params: QueryDict | None = None) -> dict[str, Any]:
    """What the contact list shows about segments: the one being viewed (?segment=<id>), the
    hidden parameters its filter form must keep, and the "Save this view" form."""
    segment = None
    segment_id = request.GET.get("segment", "")
    if segment_id.isdigit() and len(segment_id) <= 18:
        segment = Segment.objects.filter(pk=int(segment_id)).first()
    # Saved and bulk-acted on as the filters read them ("1250", not "1.250" as typed in Indonesian).
    query = typed_params.copy() if typed_params is not None else custom_types.typed_filter_params(request.GET)[0]
    for key in ("page", "ordering"):
        query.pop(key, None)
    return {
        "segment": segment,
        "segment_phrases": describe_filters(segment.filters, _owner_names([segment.filters])) if segment else [],
        "segment_missing": bool(segment_id) and segment is None,
        "hidden_params": [(k, v) for k, v in request.GET.items() if k not in LIST_FORM_FIELDS],
        "can_save_segment": can_write_segments(request.user),
        "save_view_query": query.urlencode(),
    }
