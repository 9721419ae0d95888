"""Saved segments: the write operations (create, update, delete) and the one check of a
segment's filters. Pages, the API and, later, campaigns call these; reads go through
contacts.selectors.segment_contacts.

A segment's `filters` are the contact list's own query-string filters
(contacts.selectors.ContactFilter) as a JSON object, e.g.

    {"stage": "lead", "industry": "education", "tag": "webinar", "score_gte": 10,
     "active_within": 30, "consent_email": true, "attributes.plan": "gold",
     "attributes.employees__gte": 50}

Every write is audited (crm.audit) with field names only.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.http import QueryDict
from django.utils.translation import gettext as _

from contacts.models import Contact, Segment
from crm.audit import audit

# Query-string parameters of the list page that are not filters (never saved in a segment).
NOT_FILTERS = frozenset({"ordering", "page", "page_size", "segment", "paginate", "cursor", "format", "campaign", "next"})
MAX_FILTERS = 40
# The list page's older names for the score range; segments store the public contract's names.
LIST_ALIASES = {"score_min": "score_gte", "score_max": "score_lte"}
NAME_MAX_LENGTH = Segment._meta.get_field("name").max_length
_UNSET: Any = object()


def filters_from_query(params: QueryDict | Mapping[str, Any], *, base: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The filters of a list URL's query string (blank values and paging/sorting left out),
    laid over `base` (the filters of the segment being viewed, if any)."""
    filters = dict(base or {})
    for name in params:
        if name in NOT_FILTERS:
            continue
        value = params.get(name)
        if value is None or (isinstance(value, str) and not value.strip()):
            continue
        name = LIST_ALIASES.get(name, name)
        filters[name] = value.strip() if isinstance(value, str) else value
    return filters


def filters_clean(filters: Any) -> dict[str, Any]:
    """Check a filters object against the contact list's filters; the cleaned copy keeps the
    given JSON values (blank ones dropped). Errors name the field: {"filters.stage": [...]}."""
    from contacts.selectors import ContactFilter

    if not isinstance(filters, Mapping):
        raise ValidationError({"filters": [_("Must be an object of filter names and values.")]})
    errors: dict[str, list[str]] = {}
    cleaned: dict[str, Any] = {}
    for name, value in filters.items():
        if not isinstance(name, str):
            errors[f"filters.{name}"] = [_("Unknown filter.")]
            continue
        if value is None or (isinstance(value, str) and not value.strip()):
            continue
        if name in NOT_FILTERS:
            errors[f"filters.{name}"] = [_("Not a filter: a segment cannot hold this.")]
        elif isinstance(value, (dict, list)):
            errors[f"filters.{name}"] = [_("Give one value (text, a number or true/false).")]
        elif isinstance(value, str) and "\x00" in value:
            errors[f"filters.{name}"] = [_("Null characters are not allowed.")]
        else:
            cleaned[name] = value.strip() if isinstance(value, str) else value
    if len(cleaned) > MAX_FILTERS:
        errors["filters"] = [_("At most %(n)d filters.") % {"n": MAX_FILTERS}]
    # Checked as the query string would carry them: a JSON true given to a time filter is a
    # clear "not a time", not a crash inside the date parser.
    as_text = {name: ("true" if v is True else "false" if v is False else str(v)) for name, v in cleaned.items()}
    filterset = ContactFilter(as_text, queryset=Contact.objects.none())
    known = set(filterset.filters)
    for name in cleaned:
        if name not in known:
            errors.setdefault(f"filters.{name}", [_("Unknown filter.")])
    if not filterset.is_valid():
        for name, messages in filterset.errors.items():
            errors.setdefault(f"filters.{name}", list(messages))
    if errors:
        raise ValidationError(errors)
    return cleaned


def _name_clean(name: Any, *, exclude_pk: int | None = None) -> str:
    if not isinstance(name, str) or not name.strip():
        raise ValidationError({"name": [_("Give the segment a name.")]})
    name = " ".join(name.split())
    if len(name) > NAME_MAX_LENGTH:
        raise ValidationError({"name": [_("At most %(n)d characters.") % {"n": NAME_MAX_LENGTH}]})
    if "\x00" in name:
        raise ValidationError({"name": [_("Null characters are not allowed.")]})
    taken = Segment.objects.filter(name__iexact=name)
    if exclude_pk is not None:
        taken = taken.exclude(pk=exclude_pk)
    if taken.exists():
        raise ValidationError({"name": [_("A segment with this name exists already.")]})
    return name


def _save(segment: Segment) -> None:
    try:
        with transaction.atomic():
            segment.save()
    except IntegrityError as exc:  # two people saving the same name at once
        raise ValidationError({"name": [_("A segment with this name exists already.")]}) from exc


@transaction.atomic
def segment_create(*, name: str, filters: Mapping[str, Any], by) -> Segment:
    """A new shared segment. ValidationError naming `name` or `filters.<filter>` on bad input."""
    errors: dict[str, list[str]] = {}
    clean: dict[str, Any] = {}
    for field, check in (("name", lambda: _name_clean(name)), ("filters", lambda: filters_clean(filters))):
        try:
            clean[field] = check()
        except ValidationError as exc:
            errors.update(exc.message_dict)
    if errors:
        raise ValidationError(errors)
    segment = Segment(name=clean["name"], filters=clean["filters"],
                      created_by=by if getattr(by, "is_authenticated", False) else None)
    _save(segment)
    audit(by, "create", segment, fields=["name", "filters"], filters=sorted(segment.filters))
    return segment


@transaction.atomic
def segment_update(*, segment: Segment, by, name: str = _UNSET, filters: Mapping[str, Any] = _UNSET) -> Segment:
    """Rename a segment and/or replace its filters (all of them: the given object is the new definition)."""
    errors: dict[str, list[str]] = {}
    changed: list[str] = []
    if name is not _UNSET:
        try:
            name = _name_clean(name, exclude_pk=segment.pk)
            if name != segment.name:
                segment.name = name
                changed.append("name")
        except ValidationError as exc:
            errors.update(exc.message_dict)
    if filters is not _UNSET:
        try:
            filters = filters_clean(filters)
            if filters != segment.filters:
                segment.filters = filters
                changed.append("filters")
        except ValidationError as exc:
            errors.update(exc.message_dict)
    if errors:
        raise ValidationError(errors)
    if changed:
        _save(segment)
        audit(by, "change", segment, fields=changed, filters=sorted(segment.filters))
    return segment


@transaction.atomic
def segment_delete(*, segment: Segment, by) -> None:
    """Delete a segment (the contacts in it are untouched)."""
    pk = segment.pk
    segment.delete()
    audit(by, "delete", object_type="contacts.segment", object_id=pk)
