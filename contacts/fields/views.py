"""Pages: the custom fields (admins: list, create, edit, deactivate) and editing one value of a
contact in place. Thin: check access, parse the form, call the service, render.

In-place editing works with htmx (the row swaps to a form and back) and without JavaScript: the
"Edit" link opens the same form as a page, whose POST saves and returns to the contact page."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse, QueryDict
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from contacts import attribute_filters, fields, services
from contacts.fields import types
from contacts.fields.forms import COMMON_FIELDS, CustomFieldForm, InlineFieldForm
from contacts.forms import ContactEditForm, add_service_errors
from contacts.models import Contact, CustomField
from contacts.selectors import contacts_editable_by, contacts_visible_to
from crm import roles

ANY_ROLE = roles.ROLES


# --- The custom fields (admins) -------------------------------------------------------

@require_GET
@roles.role_required(roles.ADMIN)
def field_list(request: HttpRequest) -> HttpResponse:
    rows = CustomField.objects.order_by("-active", "position", "id")
    return render(request, "contacts/fields/list.html", {"fields": rows})


@require_http_methods(["GET", "POST"])
@roles.role_required(roles.ADMIN)
def field_edit(request: HttpRequest, pk: int | None = None) -> HttpResponse:
    field = get_object_or_404(CustomField, pk=pk) if pk else None
    form = CustomFieldForm(request.POST or None, field=field)
    if request.method == "POST" and form.is_valid():
        data = dict(form.cleaned_data)
        if field is not None:
            data.pop("key", None)
        try:
            saved = fields.custom_field_save(data=data, by=request.user, field=field)
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, _("Custom field “%(label)s” saved.") % {"label": saved.label})
            return redirect("custom_fields:list")
    return render(request, "contacts/fields/form.html", {"form": form, "field": field},
                  status=400 if form.errors else 200)


@require_POST
@roles.role_required(roles.ADMIN)
def field_set_active(request: HttpRequest, pk: int) -> HttpResponse:
    field = get_object_or_404(CustomField, pk=pk)
    active = request.POST.get("active") == "1"
    fields.custom_field_set_active(field=field, active=active, by=request.user)
    if active:
        messages.success(request, _("“%(label)s” is active again.") % {"label": field.label})
    else:
        messages.success(request, _("“%(label)s” is deactivated: hidden everywhere, its values are kept.") % {"label": field.label})
    return redirect("custom_fields:list")


# --- The contact page's fields ------------------------------------------------------------

def row_id(name: str) -> str:
    return "field-" + name.replace(".", "-").replace("_", "-")


def _common_row(contact: Contact, name: str) -> dict[str, Any]:
    value = getattr(contact, name)
    shown = contact.get_industry_display() if name == "industry" else (value or "")
    return {"name": name, "id": row_id(name), "label": ContactEditForm.base_fields[name].label,
            "value": value or "", "display": shown, "kind": name}


def _custom_row(contact: Contact, field: CustomField) -> dict[str, Any]:
    value = (contact.attributes or {}).get(field.key)
    return {"name": field.attribute, "id": row_id(field.attribute), "label": field.label, "value": value,
            "display": types.display(field, value), "kind": field.type, "custom": field}


def field_rows(contact: Contact) -> dict[str, Any]:
    """The contact page's fields: the common ones, the active custom fields (label and the value in
    the viewer's format) and the other attributes (imported columns), as they are."""
    custom = types.active_fields()
    keys = {field.key for field in custom}
    return {
        "common_rows": [_common_row(contact, name) for name in COMMON_FIELDS],
        "custom_rows": [_custom_row(contact, field) for field in custom],
        "other_attributes": sorted((key, value) for key, value in (contact.attributes or {}).items() if key not in keys),
    }


def _resolve(name: str) -> tuple[str, CustomField | None]:
    if name in COMMON_FIELDS:
        return name, None
    if name.startswith(attribute_filters.PREFIX):
        field = types.active_by_key().get(name[len(attribute_filters.PREFIX):])
        if field is not None:
            return field.attribute, field
    raise Http404


def _editable_contact(request: HttpRequest, pk: int) -> tuple[Contact, bool]:
    contact = get_object_or_404(contacts_visible_to(request.user).select_related("owner"), pk=pk)
    return contact, contacts_editable_by(request.user).filter(pk=pk).exists()


def _row_response(request: HttpRequest, contact: Contact, name: str, custom: CustomField | None,
                  form: InlineFieldForm | None = None, status: int = 200) -> HttpResponse:
    row = _custom_row(contact, custom) if custom is not None else _common_row(contact, name)
    return render(request, "contacts/fields/_row.html",
                  {"contact": contact, "row": row, "form": form, "can_edit": True, "saved": form is None and request.method == "POST"},
                  status=status)


@require_http_methods(["GET", "POST"])
@roles.role_required(*ANY_ROLE)
def contact_field_edit(request: HttpRequest, pk: int, name: str) -> HttpResponse:
    """GET: the form for one value (a row for htmx, a page otherwise). POST: save it through
    contact_update (checked by type, audited, rescored); then the row (htmx) or the contact page."""
    contact, can_edit = _editable_contact(request, pk)
    name, custom = _resolve(name)
    if not can_edit:
        raise PermissionDenied
    if request.method == "POST":
        form = InlineFieldForm(request.POST, contact=contact, name=name, custom=custom)
        if form.is_valid():
            try:
                services.contact_update(contact=contact, data=form.data_for_service(), by=request.user,
                                        consent_source="page")
            except ValidationError as exc:
                add_service_errors(form, exc)
            else:
                label = custom.label if custom else form.bound.label
                if request.htmx:
                    contact.refresh_from_db()
                    return _row_response(request, contact, name, custom)
                messages.success(request, _("%(field)s saved.") % {"field": label})
                return redirect("contacts:detail", pk=contact.pk)
        # htmx swaps only successful answers: the row with its errors comes back as 200.
        if request.htmx:
            return _row_response(request, contact, name, custom, form=form)
        return render(request, "contacts/fields/edit_page.html", {"contact": contact, "form": form, "custom": custom},
                      status=400)
    form = InlineFieldForm(contact=contact, name=name, custom=custom)
    if request.htmx and request.GET.get("cancel"):
        return _row_response(request, contact, name, custom)
    if request.htmx:
        return _row_response(request, contact, name, custom, form=form)
    return render(request, "contacts/fields/edit_page.html", {"contact": contact, "form": form, "custom": custom})


# --- The contact list's filters ---------------------------------------------------------------

def list_filters(params: QueryDict, hidden: list[tuple[str, str]]) -> dict[str, Any]:
    """The custom fields the contact list's filter form offers, by label and with the inputs that
    suit the type (number and date: from/to, i.e. gte/lte; choice: one of its values; text: contains).
    Their parameters are taken out of the hidden ones, which the form repeats."""
    rows = []
    names: set[str] = set()
    for field in types.active_fields():
        if field.type in (CustomField.Type.NUMBER, CustomField.Type.DATE):
            inputs = [(attribute_filters.param_name(field.key, op), label) for op, label in
                      (("gte", _("from")), ("lte", _("to")))]
        elif field.type == CustomField.Type.CHOICE:
            inputs = [(attribute_filters.param_name(field.key, "eq"), "")]
        else:
            inputs = [(attribute_filters.param_name(field.key, "contains"), _("contains"))]
        row_inputs = [{"name": param, "suffix": suffix, "value": params.get(param, ""),
                       "id": "f-" + row_id(param)} for param, suffix in inputs]
        names.update(param for param, _suffix in inputs)
        rows.append({"field": field, "inputs": row_inputs, "choices": field.choice_pairs()})
    return {"custom_filters": rows, "hidden_params": [(k, v) for k, v in hidden if k not in names]}
