"""The new-contact page (/contacts/new/): a form that warns about possible duplicates before
saving (on blur through htmx, and again on submit) and creates through contact_create."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from contacts import duplicates, services
from contacts.forms import add_service_errors
from contacts.new_contact.forms import CONSENT_WORDING_VERSION, ContactNewForm
from contacts.selectors import contacts_visible_to
from crm import roles

CREATORS = (roles.ADMIN, roles.MARKETER, roles.SALES)


def _matches(request: HttpRequest, data) -> list[dict]:
    """Possible duplicates, each with whether this user may open it (a rep sees that someone
    else's contact exists, but not who it is)."""
    found = duplicates.possible_duplicates(
        email=data.get("email", ""), phone=data.get("phone", ""),
        full_name=data.get("full_name", ""), company=data.get("company", ""), created_by=request.user,
    )
    visible = set(contacts_visible_to(request.user).filter(pk__in=[m.contact.pk for m in found]).values_list("pk", flat=True))
    return [{"match": m, "visible": m.contact.pk in visible} for m in found]


@roles.role_required(*CREATORS)
def contact_new(request: HttpRequest) -> HttpResponse:
    if request.method != "POST":
        return render(request, "contacts/new.html", {"form": ContactNewForm(), "matches": []})
    form = ContactNewForm(request.POST)
    matches = _matches(request, request.POST)
    if form.is_valid():
        if matches and not form.cleaned_data["save_anyway"]:
            messages.warning(request, _("This person may already be in the CRM. Open the existing contact, "
                                        "or tick “save anyway” if it is someone else."))
            return render(request, "contacts/new.html", {"form": form, "matches": matches, "confirm": True})
        data = form.contact_data()
        if roles.is_sales(request.user):
            data["owner"] = request.user  # a rep's new contact is theirs
        try:
            contact = services.contact_create(data=data, by=request.user, consent_source="page",
                                              wording_version=CONSENT_WORDING_VERSION)
        except services.ContactExists:
            # Same email or phone as an existing contact: that cannot be saved twice, whatever the box says.
            form.add_error(None, _("A contact with this email or phone already exists: open it instead."))
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, _("Contact %(name)s added.") % {"name": contact.display_name})
            return redirect("contacts:detail", pk=contact.pk)
    return render(request, "contacts/new.html", {"form": form, "matches": matches, "confirm": bool(matches)}, status=400)


@require_POST
@roles.role_required(*CREATORS)
def contact_new_check(request: HttpRequest) -> HttpResponse:
    """The htmx check when a field loses focus: the warning box, empty when nothing matches.
    A POST so that what was typed (an email, a phone) stays out of URLs and access logs."""
    return render(request, "contacts/_duplicates.html", {"matches": _matches(request, request.POST)})
