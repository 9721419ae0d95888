"""Follow-up pieces other apps' templates include (the bell, a contact's tasks, the email
preferences), so those templates need one line each and no Python import of followup."""

from datetime import timedelta

from django import template
from django.conf import settings
from django.utils import timezone

from crm import roles
from followup.forms import TaskForm
from followup.views import preferences_of

register = template.Library()


@register.inclusion_tag("followup/_bell.html")
def followup_bell() -> dict:
    """The bell costs a page no query: htmx fetches its count once loaded, then every minute."""
    return {"unread": 0, "loaded": False}


@register.inclusion_tag("followup/_contact_tasks.html", takes_context=True)
def contact_tasks(context, contact, can_edit=False) -> dict:
    user = context["request"].user
    can_add = bool(can_edit) and bool(roles.roles_of(user) & {roles.SALES, roles.SALES_MANAGER, roles.ADMIN})
    tasks = list(contact.tasks.select_related("assignee").order_by("done_at", "due_at")[:20])
    return {"contact": contact, "tasks": tasks, "can_add": can_add, "form": TaskForm(), "csrf_token": context.get("csrf_token"),
            "default_due": timezone.localtime(timezone.now() + timedelta(hours=settings.CRM_FOLLOW_UP_HOURS))}


@register.inclusion_tag("followup/_email_preferences.html", takes_context=True)
def email_preferences(context) -> dict:
    return {"prefs": preferences_of(context["request"].user), "csrf_token": context.get("csrf_token")}
