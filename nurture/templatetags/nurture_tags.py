"""The contact page's "Messages" card: contacts' templates load it, so the contacts app never
imports nurture (nurture builds on contacts, not the other way round)."""

from django import template

from nurture.selectors import deliveries_for, enrollments_for, next_messages

register = template.Library()


@register.inclusion_tag("nurture/_contact_messages.html", takes_context=True)
def contact_messages(context, contact):
    return {"contact": contact, "can_edit": context.get("can_edit"), "csrf_token": context.get("csrf_token"),
            "deliveries": deliveries_for(contact), "enrollments": enrollments_for(contact),
            "suggestions": next_messages(contact) if context.get("can_edit") else []}
