"""Personal-data pages: a contact's privacy panel, one-click consent withdrawal, the
objection to profiling, the subject-access JSON download and erasure with confirmation.

Consent withdrawal: admins and marketers. Everything else: admins. Contacts load through
contacts_visible_to, so a contact outside the user's view answers 404."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.serializers.json import DjangoJSONEncoder
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import NoReverseMatch, reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from contacts import privacy
from contacts.models import Contact
from contacts.selectors import contacts_visible_to
from crm import roles
from crm.roles import role_required

CONSENT_ROLES = (roles.ADMIN, roles.MARKETER)


def _contact(request: HttpRequest, pk: int) -> Contact:
    return get_object_or_404(contacts_visible_to(request.user), pk=pk)


def _back(request: HttpRequest, contact: Contact):
    """Return to the page the button was on (the contact page), else the privacy panel."""
    target = request.POST.get("next", "")
    if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}, require_https=request.is_secure()):
        return redirect(target)
    return redirect("privacy:overview", pk=contact.pk)


@require_GET
@role_required(*CONSENT_ROLES)
def privacy_overview(request: HttpRequest, pk: int) -> HttpResponse:
    contact = _contact(request, pk)
    return render(request, "contacts/privacy/overview.html", {
        "contact": contact,
        "consents": privacy.consent_states(contact),
        "records": contact.consent_records.select_related("recorded_by")[:50],
        "profiling_paused_since": privacy.profiling_paused_since(contact),
        "anonymised": privacy.is_anonymised(contact),
        "may_manage": roles.is_admin(request.user),
    })


@require_POST
@role_required(*CONSENT_ROLES)
def consent_withdraw(request: HttpRequest, pk: int, channel: str) -> HttpResponse:
    contact = _contact(request, pk)
    if channel not in privacy.CHANNEL_FLAGS or channel == privacy.Channel.PROFILING:
        raise Http404
    try:
        privacy.consent_withdraw(contact=contact, channel=channel, by=request.user, source="crm")
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, _("Consent withdrawn: %(channel)s. It applies to lists and exports now.")
                         % {"channel": privacy.Channel(channel).label})
    return _back(request, contact)


@require_POST
@role_required(roles.ADMIN)
def profiling_objection(request: HttpRequest, pk: int) -> HttpResponse:
    contact = _contact(request, pk)
    objects = request.POST.get("objects") == "1"
    try:
        privacy.profiling_objection_set(contact=contact, objects=objects, by=request.user, source="crm")
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, _("Automated scoring is paused for this contact.") if objects
                         else _("Automated scoring resumes for this contact."))
    return _back(request, contact)


@require_GET
@role_required(roles.ADMIN)
def access_export(request: HttpRequest, pk: int) -> HttpResponse:
    contact = _contact(request, pk)
    data = privacy.subject_access_export(contact=contact, by=request.user)
    response = JsonResponse(data, encoder=DjangoJSONEncoder, json_dumps_params={"ensure_ascii": False, "indent": 2})
    response["Content-Disposition"] = f'attachment; filename="subject-access-contact-{contact.pk}.json"'
    response["Cache-Control"] = "no-store"
    return response


class EraseForm(forms.Form):
    mode = forms.ChoiceField(
        label=gettext_lazy("What to do"), widget=forms.RadioSelect, initial="anonymise",
        choices=[("anonymise", gettext_lazy("Anonymise: remove everything that identifies the person; keep anonymous "
                                            "facts (stage, score, interaction kinds and dates) for statistics")),
                 ("delete", gettext_lazy("Delete: remove the contact with all interactions, notes and history"))],
    )
    confirm = forms.BooleanField(label=gettext_lazy("I understand this cannot be undone."), required=True)


@require_http_methods(["GET", "POST"])
@role_required(roles.ADMIN)
def erase(request: HttpRequest, pk: int) -> HttpResponse:
    contact = _contact(request, pk)
    form = EraseForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        result = privacy.contact_erase(contact=contact, by=request.user, mode=form.cleaned_data["mode"])
        if result.mode == "delete":
            messages.success(request, _("Contact #%(id)s and all its data were deleted.") % {"id": result.contact_id})
            return redirect(_after_delete_url())
        messages.success(request, _("Contact #%(id)s was anonymised.") % {"id": result.contact_id})
        return redirect("privacy:overview", pk=contact.pk)
    return render(request, "contacts/privacy/erase.html", {
        "contact": contact, "form": form,
        "counts": {"interactions": contact.interactions.count(), "notes": contact.notes.count()},
    })


def _after_delete_url() -> str:
    try:
        return reverse("contacts:list")
    except NoReverseMatch:
        return reverse("home")
