"""An audit event in words, in the reader's language, with a link to its object.

Events store an action, an object type and id, and details (ids, counts, field names); this turns
them into "Changed owner of contact #12" when the page is rendered, so the text follows the
viewer's language and old events read as well as new ones."""

from __future__ import annotations

from dataclasses import dataclass

from django.apps import apps
from django.core.exceptions import FieldDoesNotExist
from django.urls import NoReverseMatch, reverse
from django.utils.text import format_lazy
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from crm.models import AuditEvent, BulkAction

# Object pages, by object type: the URL name and how its argument is passed.
LINKS = {
    "contacts.contact": ("contacts:detail", "pk"),
    "contacts.segment": ("segments:edit", "pk"),
    "scoring.rulesetversion": ("rules:version", "version_id"),
    "scoring.backtest": ("rules:backtest", "backtest_id"),
    "nurture.message": ("nurture:message_edit", "pk"),
    "nurture.sequence": ("nurture:sequence_edit", "pk"),
    "nurture.campaign": ("nurture:campaign_detail", "pk"),
    "webhooks.endpoint": ("webhooks:detail", "pk"),
}

# Object types the page's filter offers, in this order (the rest are rare and still listed).
OBJECT_TYPES = (
    "contacts.contact", "contacts.segment", "contacts.importjob", "contacts.interactionkind",
    "scoring.rulesetversion", "nurture.message", "nurture.sequence", "nurture.campaign", "nurture.delivery",
    "followup.task", "webhooks.endpoint", "webhooks.delivery", "auth.user",
)

# Object types without a model of their own.
OTHER_TYPES = {"contacts.retention": gettext_lazy("retention policy")}


@dataclass(frozen=True)
class Described:
    text: str
    object_label: str
    link: str


def type_label(object_type: str) -> str:
    if object_type in OTHER_TYPES:
        return str(OTHER_TYPES[object_type])
    try:
        return str(apps.get_model(object_type)._meta.verbose_name)
    except (LookupError, ValueError):
        return object_type


def object_type_choices() -> list[tuple[str, str]]:
    return [(t, type_label(t).capitalize()) for t in OBJECT_TYPES]


def _field_label(object_type: str, name: str) -> str:
    try:
        return str(apps.get_model(object_type)._meta.get_field(name).verbose_name)
    except (LookupError, ValueError, FieldDoesNotExist):
        return name.replace("_", " ")


def _link(event: AuditEvent) -> str:
    route = LINKS.get(event.object_type)
    if route is None or not event.object_id.isdigit() or event.action == AuditEvent.Action.DELETE:
        return ""
    name, kwarg = route
    try:
        return reverse(name, kwargs={kwarg: int(event.object_id)})
    except NoReverseMatch:
        return ""


def custom_field_labels() -> dict[str, str]:
    """Custom fields' labels by key, in the reader's language (one query; deactivated ones too,
    since an old edit may have changed one). Read through the app registry: a base module."""
    model = apps.get_model("contacts", "CustomField")
    return {field.key: field.label for field in model.objects.all()}


def _attribute_keys(event: AuditEvent, labels: dict[str, str] | None) -> str:
    """The attribute keys an edit changed (stored as `keys` since issue 18's polish), each by its
    custom field's label when it is one; an imported column by its key."""
    keys = event.details.get("keys")
    if not isinstance(keys, list) or not keys:
        return ""
    if labels is None:
        labels = custom_field_labels()
    return ", ".join(labels.get(str(key), str(key)) for key in keys)


def _fields(event: AuditEvent, labels: dict[str, str] | None = None) -> str:
    names = event.details.get("fields") or []
    if not isinstance(names, list):
        return ""
    words = []
    for name in names:
        keys = _attribute_keys(event, labels) if name == "attributes" else ""
        words.append(keys or _field_label(event.object_type, name))
    return ", ".join(words)


def describe(event: AuditEvent, *, custom_labels: dict[str, str] | None = None) -> Described:
    """The event in words; `custom_labels` (custom_field_labels()) saves a query per event on a page."""
    label = type_label(event.object_type)
    obj = f"{label} #{event.object_id}" if event.object_id else label
    d, fields = event.details, _fields(event, custom_labels)
    text = _sentence(event, d, obj, fields)
    return Described(text=str(text), object_label=obj, link=_link(event))


def _sentence(event: AuditEvent, d: dict, obj: str, fields: str) -> str:
    action, what = event.action, d.get("what")
    if what == "bulk":
        return _bulk_sentence(d)
    if what == "enrolled":
        return _("Added %(n)s contacts to %(obj)s by hand") % {"n": d.get("count"), "obj": obj}
    if action == AuditEvent.Action.PUBLISH:
        text = (_("Rolled back the rules: published %(obj)s again, a copy of version #%(old)s") % {"obj": obj, "old": d["rollback_of"]}
                if d.get("rollback_of") else _("Published %(obj)s") % {"obj": obj})
        if d.get("returned") is not None:
            text += "; " + _("%(n)s contacts returned to where they were") % {"n": d["returned"]}
        return text
    if what == "draft":
        return _("Started draft %(obj)s") % {"obj": obj}
    if what == "policy":
        return _("Changed the stage policy of %(obj)s: %(fields)s") % {"obj": obj, "fields": fields}
    if what in ("rule_added", "rule_changed"):
        verb = _("Added rule #%(rule)s to %(obj)s") if what == "rule_added" else _("Changed rule #%(rule)s of %(obj)s")
        return verb % {"rule": d.get("rule"), "obj": obj}
    if what == "rule_deleted":
        return _("Deleted rule “%(label)s” from %(obj)s") % {"label": d.get("label", ""), "obj": obj}
    if what == "playbook_loaded":
        return _("Loaded the %(playbook)s playbook into %(obj)s") % {"playbook": d.get("playbook"), "obj": obj}
    if what == "advisor_rules":
        return _("Put the rule advisor's suggestions into %(obj)s") % {"obj": obj}
    if what == "erasure":
        return _("Erased personal data from %(obj)s (%(rows)s rows)") % {"obj": obj, "rows": d.get("rows")}
    if what == "consent":
        return _("Withdrew consent from an import's evidence, %(obj)s (%(n)s records)") % {"obj": obj, "n": d.get("records")}
    if "consent_channel" in d:
        verb = _("Recorded %(channel)s consent for %(obj)s") if d.get("granted") else _("Withdrew %(channel)s consent of %(obj)s")
        return verb % {"channel": d["consent_channel"], "obj": obj}
    if d.get("action_detail") == "api_token_regenerated":
        return _("Regenerated the API token of %(obj)s") % {"obj": obj}
    if action == AuditEvent.Action.EXPORT:
        return _("Exported %(n)s contacts (%(format)s)") % {"n": d.get("rows", "?"), "format": d.get("format", "csv")}
    if action == AuditEvent.Action.MERGE:
        return _("Merged contact #%(merged)s into %(obj)s") % {"merged": d.get("merged_id"), "obj": obj}
    if action == AuditEvent.Action.ACCESS_REQUEST:
        return _("Downloaded the personal data of %(obj)s") % {"obj": obj}
    if action == AuditEvent.Action.ANONYMISE:
        if event.object_type == "contacts.retention":
            return _("Applied the retention policy (%(months)s months)") % {"months": d.get("months")}
        return _("Anonymised %(obj)s") % {"obj": obj}
    if action == AuditEvent.Action.SEND:
        return _("Sent %(obj)s") % {"obj": obj}
    if action == AuditEvent.Action.VIEW:
        return _("Viewed %(obj)s") % {"obj": obj}
    if action == AuditEvent.Action.DELETE:
        return _("Deleted %(obj)s") % {"obj": obj}
    if action == AuditEvent.Action.CREATE:
        return _("Created %(obj)s") % {"obj": obj}
    if action == AuditEvent.Action.IMPORT:
        return _("Imported %(obj)s") % {"obj": obj}
    if d.get("count") is not None and not event.object_id:
        return _("Changed %(fields)s of %(n)s contacts") % {"fields": fields or _("details"), "n": d["count"]}
    if fields:
        return _("Changed %(fields)s of %(obj)s") % {"fields": fields, "obj": obj}
    return format_lazy("{} {}", AuditEvent.Action(action).label if action in AuditEvent.Action.values else action, obj)


def _bulk_sentence(d: dict) -> str:
    """A bulk action from the contact list (crm.bulk): what, on how many, chosen how."""
    action = d.get("bulk_action", "")
    label = BulkAction.Kind(action).label if action in BulkAction.Kind.values else action
    text = _("Bulk action “%(action)s”: %(n)s of %(selected)s selected contacts") % {
        "action": label, "n": d.get("count"), "selected": d.get("selected")}
    if d.get("scope") == "segment":
        text += " " + _("(the whole segment #%(segment)s)") % {"segment": d.get("segment")}
    elif d.get("scope") == "list":
        text += " " + _("(the whole list: %(filters)s)") % {"filters": ", ".join(sorted(d.get("filters") or {})) or "—"}
    skipped = sum((d.get("skipped") or {}).values())
    if skipped:
        text += "; " + _("%(n)s skipped") % {"n": skipped}
    return text
