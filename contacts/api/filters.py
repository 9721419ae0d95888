"""Query-string filters of the interaction and note lists. The contacts list uses the
shared contacts.selectors.ContactFilter (the same parameters as the pages and the CSV
export); out-of-range numbers and times are a 400 there, not an overflow."""

from __future__ import annotations

import django_filters
from django import forms
from django.utils.translation import gettext_lazy
from drf_spectacular.utils import extend_schema_field

from contacts.api.serializers import MAX_ID
from contacts.models import Interaction, Note
from contacts.selectors import BoundedIsoDateTimeFilter


@extend_schema_field({"type": "integer", "minimum": 1, "description": gettext_lazy("Contact id.")})
class ContactIdFilter(django_filters.NumberFilter):
    """A contact id: a whole number in the database's range (anything else is a 400)."""

    field_class = forms.IntegerField

    def __init__(self, *args, **kwargs):
        super().__init__(*args, min_value=1, max_value=MAX_ID, **kwargs)


class InteractionFilter(django_filters.FilterSet):
    contact = ContactIdFilter(field_name="contact_id")
    kind = django_filters.CharFilter(field_name="kind_id", label=gettext_lazy("Interaction kind slug."))
    since = BoundedIsoDateTimeFilter(field_name="occurred_at", lookup_expr="gte",
                                     label=gettext_lazy("Only interactions at or after this time (ISO 8601)."))
    until = BoundedIsoDateTimeFilter(field_name="occurred_at", lookup_expr="lt",
                                     label=gettext_lazy("Only interactions before this time (ISO 8601)."))
    source = django_filters.CharFilter(field_name="source", label=gettext_lazy("Sending system."))
    external_id = django_filters.CharFilter(field_name="external_id", label=gettext_lazy("The sender's event id."))

    class Meta:
        model = Interaction
        fields: list[str] = []


class NoteFilter(django_filters.FilterSet):
    contact = ContactIdFilter(field_name="contact_id")
    kind = django_filters.ChoiceFilter(choices=Note.Kind.choices, label=gettext_lazy("Note kind."))
    open = django_filters.BooleanFilter(method="filter_open", label=gettext_lazy(
        "true: only follow-ups not done yet; false: everything else."))

    class Meta:
        model = Note
        fields: list[str] = []

    def filter_open(self, queryset, name, value):
        open_follow_ups = {"due_at__isnull": False, "done_at__isnull": True}
        return queryset.filter(**open_follow_ups) if value else queryset.exclude(**open_follow_ups)
