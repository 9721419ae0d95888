"""Custom fields (issue 18): admins define typed fields (text, number, date, choice) whose values live in
Contact.attributes[key], stored typed, so list filters, segments and scoring rules use them as
`attributes.<key>`. The contact page shows them with their label and lets editors change them in
place (contacts.fields.views: htmx, or a plain form without JavaScript); the importer maps columns
to them (target `field:<key>`) and the API reads and writes them inside `attributes`.

The services here are the one write path for the definitions (audited); contact values are written by
contacts.services.contact_update / contact_upsert, which check them by type (contacts.fields.types)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from contacts.fields.types import KEY_RE, Type
from contacts.models import CustomField
from crm.audit import audit

EDITABLE = ("label_en", "label_id", "type", "choices", "position", "active")


def _validate(field: CustomField) -> None:
    errors: dict[str, str] = {}
    if not KEY_RE.match(field.key or ""):
        errors["key"] = _("Use lowercase letters, digits and “_”, starting with a letter (at most 50).")
    elif CustomField.objects.filter(key=field.key).exclude(pk=field.pk).exists():
        errors["key"] = _("Another custom field already uses this key.")
    for name in ("label_en", "label_id"):
        if not (getattr(field, name) or "").strip():
            errors[name] = _("Give a label in both languages.")
    if field.type not in Type.values:
        errors["type"] = _("Choose a type.")
    if field.type == Type.CHOICE and not field.choices:
        errors["choices"] = _("A choice field needs at least one choice.")
    if errors:
        raise ValidationError(errors)


@transaction.atomic
def custom_field_save(*, data: Mapping[str, Any], by=None, field: CustomField | None = None) -> CustomField:
    """Create a custom field, or change an existing one's labels, type, choices, position or
    activity (its key never changes: the values live under it). Audited with the changed names."""
    if field is None:
        field = CustomField(key=str(data.get("key") or "").strip())
        changed = ["key", *[name for name in EDITABLE if name in data]]
    else:
        field = CustomField.objects.select_for_update().get(pk=field.pk)
        changed = [name for name in EDITABLE if name in data and data[name] != getattr(field, name)]
    for name in EDITABLE:
        if name in data:
            value = data[name]
            setattr(field, name, value.strip() if isinstance(value, str) else value)
    if field.type != Type.CHOICE:
        field.choices = []
    _validate(field)
    created = field.pk is None
    field.save()
    if created or changed:
        audit(by, "create" if created else "change", field, fields=sorted(changed), key=field.key)
    return field


def custom_field_set_active(*, field: CustomField, active: bool, by=None) -> CustomField:
    """Deactivate (hidden from pages, filters, rules' picker and the importer; values are kept) or reactivate."""
    return custom_field_save(data={"active": active}, by=by, field=field)
