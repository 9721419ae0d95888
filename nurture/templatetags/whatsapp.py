"""`{% whatsapp_link contact %}`: the WhatsApp click-to-chat button for any page that lists
contacts (the contact page, the prospect queue, Today). Renders nothing when the contact may not
be messaged on WhatsApp or the viewer may not act on the contact."""

from __future__ import annotations

from django import template

from crm import roles
from nurture import whatsapp

register = template.Library()


@register.inclusion_tag("nurture/_whatsapp_link.html", takes_context=True)
def whatsapp_link(context, contact, compact: bool = False) -> dict:
    request = context.get("request")
    user = getattr(request, "user", None)
    if request is None or not whatsapp.eligible(contact) or not _may_act(user, contact):
        return {"show": False}
    # The WhatsApp part of the library, read once per page however many rows use the tag.
    library = getattr(request, "_crm_whatsapp_library", None)
    if library is None:
        library = request._crm_whatsapp_library = whatsapp.library_texts()
    text = whatsapp.prefilled_text(contact, library, sender=user)
    return {
        "show": True,
        "contact": contact,
        "compact": compact,
        "wa_url": whatsapp.wa_url(contact, text),
        "token": whatsapp.click_token(contact_id=contact.pk, user_id=user.pk),
        "text": text,
        # The prepared message is in the contact's language, not necessarily the reader's: the link says so
        # (its visually-hidden label switches back to the page's language).
        "text_language": whatsapp.contact_language(contact),
    }


def _may_act(user, contact) -> bool:
    """Who may log a chat: whoever may change the contact (a rep: their own contacts)."""
    return bool(user and user.is_authenticated and (roles.sees_all_contacts(user) or
                                                    (roles.is_sales(user) and contact.owner_id == user.pk)))
