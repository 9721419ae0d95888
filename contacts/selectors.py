"""Reads shared by pages, API and export: who may see which contacts, and the one
definition of the contact filters (query-string names are the public contract)."""

from __future__ import annotations

from datetime import UTC, timedelta

import django_filters
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django_filters.fields import IsoDateTimeField

from contacts.models import Contact, Industry, Stage
from crm import roles

CONSENT_CHOICES = (
    ("email", _("Email opt-in")),
    ("whatsapp", _("WhatsApp opt-in")),
    ("sms", _("SMS opt-in")),
    ("none", _("No opt-in")),
    ("do_not_contact", _("Do not contact")),
)
ORDERING = ("score", "last_interaction_at", "created_at", "updated_at", "full_name", "company", "stage_changed_at")


def contacts_visible_to(user) -> QuerySet[Contact]:
    """Everyone sees what their role allows: admins, marketers and sales managers all
    contacts; a sales rep their own (all, read-only, if CRM_SALES_CAN_READ_ALL)."""
    qs = Contact.objects.all()
    if roles.sees_all_contacts(user):
        return qs
    if roles.is_sales(user):
        return qs if settings.CRM_SALES_CAN_READ_ALL else qs.filter(owner=user)
    return qs.none()


def contacts_editable_by(user) -> QuerySet[Contact]:
    """What a user may change (notes, interactions, stage): reps only their own contacts."""
    qs = Contact.objects.all()
    if roles.sees_all_contacts(user):
        return qs
    if roles.is_sales(user):
        return qs.filter(owner=user)
    return qs.none()


def owner_choices() -> QuerySet:
    return get_user_model().objects.filter(is_active=True, groups__name=roles.SALES).distinct().order_by("first_name", "username")


class BoundedIsoDateTimeField(IsoDateTimeField):
    """An ISO 8601 time, returned in UTC, from the year 1900 on. PostgreSQL refuses UTC
    offsets that Python accepts (-22:29), and far-past times overflow when converted."""

    def to_python(self, value):
        value = super().to_python(value)
        if value is None:
            return None
        try:
            value = value.astimezone(UTC)
        except OverflowError as exc:
            raise ValidationError(_("Out of range."), code="invalid") from exc
        if value.year < 1900:
            raise ValidationError(_("Give a time from 1900 on."), code="invalid")
        return value


class BoundedIsoDateTimeFilter(django_filters.IsoDateTimeFilter):
    field_class = BoundedIsoDateTimeField


MAX_DAYS = 36500  # a day count beyond a century is a typo, and would overflow a timedelta


class ContactFilter(django_filters.FilterSet):
    """Filters of the stage lists, the CSV export and GET /api/contacts/ alike."""

    stage = django_filters.ChoiceFilter(choices=Stage.choices, label=_("Stage"))
    industry = django_filters.ChoiceFilter(choices=Industry.choices, label=_("Industry"))
    source = django_filters.CharFilter(field_name="source", lookup_expr="iexact", label=_("Source"))
    owner = django_filters.CharFilter(
        method="filter_owner", label=_("Owner"), help_text=_("A user id, or “me”, or “none” for unassigned."),
        validators=[RegexValidator(r"^(\d{1,18}|me|none)$", _("A user id, “me” or “none”."))],
    )
    score_min = django_filters.NumberFilter(field_name="score", lookup_expr="gte", label=_("Score from"))
    score_max = django_filters.NumberFilter(field_name="score", lookup_expr="lte", label=_("Score to"))
    updated_since = BoundedIsoDateTimeFilter(field_name="updated_at", lookup_expr="gte", label=_("Updated since"))
    active_within = django_filters.NumberFilter(method="filter_active_within", min_value=0, max_value=MAX_DAYS,
                                                label=_("Active in the last N days"))
    inactive_for = django_filters.NumberFilter(method="filter_inactive_for", min_value=0, max_value=MAX_DAYS,
                                               label=_("Inactive for N days"))
    consent = django_filters.ChoiceFilter(choices=CONSENT_CHOICES, method="filter_consent", label=_("Consent"))
    tag = django_filters.CharFilter(field_name="tags__name", lookup_expr="iexact", label=_("Tag"))
    search = django_filters.CharFilter(method="filter_search", label=_("Search"),
                                       help_text=_("Name, email, phone or company."))
    ordering = django_filters.OrderingFilter(fields=ORDERING, label=_("Sort"))

    class Meta:
        model = Contact
        fields: list[str] = []

    def filter_owner(self, queryset, name, value):
        if value == "none":
            return queryset.filter(owner__isnull=True)
        if value == "me":
            return queryset.filter(owner=self.request.user) if self.request else queryset.none()
        if value.isdigit():
            return queryset.filter(owner_id=int(value))
        return queryset.none()

    def filter_active_within(self, queryset, name, value):
        return queryset.filter(last_interaction_at__gte=timezone.now() - timedelta(days=float(value)))

    def filter_inactive_for(self, queryset, name, value):
        cutoff = timezone.now() - timedelta(days=float(value))
        return queryset.filter(Q(last_interaction_at__lt=cutoff) | Q(last_interaction_at__isnull=True))

    def filter_consent(self, queryset, name, value):
        if value == "none":
            return queryset.filter(consent_email=False, consent_whatsapp=False, consent_sms=False)
        if value == "do_not_contact":
            return queryset.filter(do_not_contact=True)
        return queryset.filter(**{f"consent_{value}": True}, do_not_contact=False)

    def filter_search(self, queryset, name, value):
        value = value.strip()
        if not value:
            return queryset
        query = Q(full_name__icontains=value) | Q(email__icontains=value) | Q(company__icontains=value)
        digits = "".join(ch for ch in value if ch.isdigit())
        if len(digits) >= 4:
            # Phones are stored in E.164: "0812 3456" and "+62812..." should both match.
            query |= Q(phone__contains=digits.lstrip("0"))
        return queryset.filter(query)

    def filter_queryset(self, queryset):
        queryset = super().filter_queryset(queryset)
        if self.form.cleaned_data.get("tag"):
            queryset = queryset.distinct()
        return queryset


def contact_list(user, params, *, request=None) -> tuple[QuerySet[Contact], ContactFilter]:
    """The filtered list a user sees for the given query-string parameters."""
    filterset = ContactFilter(params, queryset=contacts_visible_to(user).select_related("owner"), request=request)
    return filterset.qs, filterset


def contact_timeline(contact: Contact, *, limit: int = 200) -> list:
    """Interactions, notes and stage changes of one contact, newest first, in 3 queries."""
    interactions = list(contact.interactions.select_related("kind", "created_by")[:limit])
    notes = list(contact.notes.select_related("author")[:limit])
    changes = list(contact.stage_changes.select_related("user", "ruleset_version__ruleset")[:limit])
    items = [("interaction", i.occurred_at, i) for i in interactions]
    items += [("note", n.created_at, n) for n in notes]
    items += [("stage", c.changed_at, c) for c in changes]
    items.sort(key=lambda item: item[1], reverse=True)
    return items[:limit]


# --- Page helpers (stage lists, the rep's queue) -----------------------------------

LIST_COUNT_CAP = 10_000


def capped_count(qs: QuerySet, cap: int = LIST_COUNT_CAP) -> int:
    """COUNT(*) over at most cap + 1 rows (SELECT COUNT(*) FROM (… LIMIT cap+1)): exact for
    small lists, "more than cap" for big ones, and never a full scan of a million rows."""
    return qs.order_by()[: cap + 1].count()


def stage_tab_counts(qs: QuerySet[Contact], cap: int = LIST_COUNT_CAP) -> dict[str, int]:
    """Counts per stage (and "" for all) of an already filtered, visible queryset.

    One query reads the stages of at most cap + 1 matching rows: exact counts for any
    result up to the cap (a search, a segment), in one pass. Past the cap, each stage gets
    its own capped count, which the (stage, …) indexes answer without a full scan."""
    from collections import Counter

    stages = list(qs.order_by().values_list("stage", flat=True)[: cap + 1])
    if len(stages) <= cap:
        found = Counter(stages)
        return {"": len(stages), **{stage: found.get(stage, 0) for stage in Stage.values}}
    counts = {"": cap + 1}
    for stage in Stage.values:
        counts[stage] = capped_count(qs.filter(stage=stage), cap)
    return counts


def my_prospects(user, *, now=None) -> QuerySet[Contact]:
    """A rep's prospects, most urgent first:
    0. never contacted (oldest wait first), 1. an open follow-up past due,
    2. a follow-up due within a day, 3. the rest (next follow-up first, then by score).
    Annotated with next_due (earliest open follow-up), urgency and contact_late
    (never contacted within CRM_FOLLOW_UP_HOURS); one query."""
    from django.db.models import BooleanField, Case, F, IntegerField, OuterRef, Subquery, Value, When

    from contacts.models import Note

    now = now or timezone.now()
    next_due = (
        Note.objects.filter(contact=OuterRef("pk"), done_at__isnull=True, due_at__isnull=False)
        .exclude(kind=Note.Kind.SYSTEM)
        .order_by("due_at")
        .values("due_at")[:1]
    )
    return (
        Contact.objects.filter(owner=user, stage=Stage.PROSPECT)
        .annotate(next_due=Subquery(next_due))
        .annotate(
            urgency=Case(
                When(first_contacted_at__isnull=True, then=Value(0)),
                When(next_due__lt=now, then=Value(1)),
                When(next_due__lt=now + timedelta(days=1), then=Value(2)),
                default=Value(3),
                output_field=IntegerField(),
            )
        )
        .annotate(
            # Never contacted and past the follow-up time: flagged, like on the dashboard.
            contact_late=Case(
                When(first_contacted_at__isnull=True,
                     stage_changed_at__lt=now - timedelta(hours=settings.CRM_FOLLOW_UP_HOURS), then=Value(True)),
                default=Value(False),
                output_field=BooleanField(),
            ),
            # Within the never-contacted group the longest wait comes first; elsewhere the earliest due.
            urgent_at=Case(When(urgency=0, then=F("stage_changed_at")), default=F("next_due")),
        )
        .order_by("urgency", F("urgent_at").asc(nulls_last=True), "-score", "id")
    )
