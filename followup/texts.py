"""Notification text, stored as a kind plus parameters (counts, ids; never a name, which is read
from the contact when shown, so erasing a contact erases it here too) and rendered in the
reader's language."""

from collections.abc import Mapping
from typing import Any

from django.utils.translation import gettext as _
from django.utils.translation import ngettext


def notification_text(kind: str, params: Mapping[str, Any], contact=None) -> str:
    if kind == "assigned":
        name = contact.display_name if contact is not None else "—"
        if params.get("by"):
            return _("%(by)s assigned the prospect %(contact)s to you.") % {"by": params["by"], "contact": name}
        return _("New prospect %(contact)s was assigned to you.") % {"contact": name}
    if kind == "digest":
        overdue, today = int(params.get("overdue", 0)), int(params.get("today", 0))
        return (ngettext("%(n)d task overdue", "%(n)d tasks overdue", overdue) % {"n": overdue} + ", "
                + ngettext("%(n)d due today", "%(n)d due today", today) % {"n": today} + ".")
    if kind == "team_digest":
        overdue = int(params.get("overdue", 0))
        return ngettext("Your team has %(n)d overdue prospect.", "Your team has %(n)d overdue prospects.",
                        overdue) % {"n": overdue}
    return kind
