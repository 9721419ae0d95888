"""The WhatsApp click-to-chat endpoint: check, log the chat, redirect to wa.me."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, redirect
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from contacts.selectors import contacts_editable_by, contacts_visible_to
from crm import roles
from nurture import whatsapp


@require_GET
@roles.role_required(*roles.ROLES)
def contact_whatsapp(request: HttpRequest, pk: int) -> HttpResponse:
    """A GET (the link opens WhatsApp in a new tab) made safe by the signed token from the page:
    without it, or with another user's, nothing is logged (403)."""
    contact = get_object_or_404(contacts_visible_to(request.user).select_related("owner"), pk=pk)
    if not contacts_editable_by(request.user).filter(pk=pk).exists():
        raise PermissionDenied
    if not whatsapp.click_token_valid(request.GET.get("t", ""), contact_id=contact.pk, user_id=request.user.pk):
        raise PermissionDenied
    if not whatsapp.eligible(contact):
        # Consent withdrawn or number changed since the page was drawn.
        messages.error(request, _("This contact cannot be messaged on WhatsApp (no consent or no mobile number)."))
        return redirect("contacts:detail", pk=contact.pk)
    whatsapp.whatsapp_chat_log(contact=contact, by=request.user)
    return HttpResponseRedirect(whatsapp.wa_url(contact, whatsapp.prefilled_text(contact, sender=request.user)))
