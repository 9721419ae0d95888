"""Reads shared by pages, API and export: who may see which contacts, and the one
definition of the contact filters (query-string names are the public contract)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from types import SimpleNamespace

import django_filters
from django import forms
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django_filters.fields import IsoDateTimeField
from drf_spectacular.utils import extend_schema_field

from contacts import attribute_filters, rollup
from contacts.models import Contact, Industry, Interaction, Segment, Stage
from contacts.search_text import matching
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
    scope = editable_scope(user)
    return Contact.objects.none() if scope is None else Contact.objects.filter(**scope)


def editable_scope(user) -> dict[str, int] | None:
    """contacts_editable_by as equality conditions (for crm.rows.rows_in): {} for every contact,
    {"owner": id} for a rep's own, None for none."""
    if roles.sees_all_contacts(user):
        return {}
    if roles.is_sales(user):
        return {"owner": user.pk}
    return None


PHONE_TERM = re.compile(r"\+?[\d\s().-]+")
PHONE_MIN_DIGITS = 4
WHOLE_NUMBER_DIGITS = 8  # "0812-3456" or longer is the start of a number, never a fragment of its end
COUNTRY_CODE = "62"  # local forms ("0812…") are Indonesian, as in contacts.services.normalise


def phone_search(term: str) -> tuple[str | None, str | None]:
    """(prefix, fragment) of the E.164 phones a phone-like term means, or (None, None) when the term
    is not phone-like (a name, an email). A number typed from its start, in local or international
    form, is a prefix of the stored E.164 (`0812-3456` and `+62 812 3456` → `+628123456`); other
    digits (`3210`, the last ones) may sit anywhere. A short run with a trunk 0 (`0123`) is both."""
    digits = "".join(ch for ch in term if ch.isdigit())
    if len(digits) < PHONE_MIN_DIGITS or not PHONE_TERM.fullmatch(term):
        return None, None
    if term.startswith("+"):
        return "+" + digits, None
    if digits.startswith("0"):
        return "+" + COUNTRY_CODE + digits[1:], digits if len(digits) < WHOLE_NUMBER_DIGITS else None
    if digits.startswith(COUNTRY_CODE) and len(digits) > WHOLE_NUMBER_DIGITS:
        return "+" + digits, None
    return None, digits


def search_q(value: str) -> Q:
    """The contact search (the list's `search` filter and the global search). The kind of term picks
    the columns, and each condition has an index it can use on PostgreSQL (EXPLAIN ANALYZE at 1M
    contacts in docs/performance.md):
    - an email address or its start (`agus@maju`): emails starting with it (they are stored
      lowercased; btree `varchar_pattern_ops`), or containing it when it starts with `@` (a domain);
    - a phone number typed from its start (local or +62 form): phones starting with it (btree);
    - anything else: name, email, company or phone containing it (phone only for digits; see
      phone_search). The trigram index of the search text (contacts.search_text) finds the candidates,
      a phrase through its words, and the condition on the contact's own columns decides.
    A long address or number shares common trigrams (`com`, `gma`, `628`) with most rows: through the
    trigram index it cost 40-110 ms at 1M contacts, through the btree well under a millisecond."""
    term = value.strip()
    if "@" in term and not any(ch.isspace() for ch in term):
        if term.startswith("@"):
            return matching((term,)) & Q(email__icontains=term)
        return Q(email__startswith=term.lower())
    prefix, fragment = phone_search(term)
    if prefix and not fragment:
        return Q(phone__startswith=prefix)
    phone, needles = Q(), []
    if prefix:
        phone |= Q(phone__startswith=prefix)
        needles.append((prefix,))
    if fragment:
        phone |= Q(phone__contains=fragment)
        needles.append((fragment,))
    if not prefix and fragment and not term.isdigit():
        return matching(*needles) & phone  # "812 3456": punctuation, so never in a name or an email
    # A phrase's own trigrams include padded ones at its spaces (" w": every word starting with w),
    # whose long posting lists made "yohana wibo" 2.3× slower at 1M contacts: the index is asked
    # for its words, and the phrase is checked on the rows found.
    needles.append(tuple(dict.fromkeys(term.split())))
    columns = Q(full_name__icontains=term) | Q(email__icontains=term) | Q(company__icontains=term)
    return matching(*needles) & (phone | columns)


def owner_choices() -> QuerySet:
    return get_user_model().objects.filter(is_active=True, groups__name=roles.SALES).distinct().order_by("first_name", "username")


FILTER_EARLIEST = datetime(1900, 1, 1, tzinfo=UTC)
FILTER_LATEST = datetime(9999, 12, 31, tzinfo=UTC)


class BoundedIsoDateTimeField(IsoDateTimeField):
    """An ISO 8601 time, returned in UTC and clamped to 1900-9999. PostgreSQL refuses UTC
    offsets that Python accepts (-22:29), and far-past times overflow when converted; as a
    filter bound any time before 1900 selects what 1900 does (nothing is stored earlier), so
    every valid ISO 8601 time is accepted, as the API schema says."""

    def to_python(self, value):
        value = super().to_python(value)
        if value is None:
            return None
        try:
            value = value.astimezone(UTC)
        except OverflowError:
            return FILTER_EARLIEST if value.year < 1900 else FILTER_LATEST
        return min(max(value, FILTER_EARLIEST), FILTER_LATEST)


class BoundedIsoDateTimeFilter(django_filters.IsoDateTimeFilter):
    field_class = BoundedIsoDateTimeField


MAX_DAYS = 36500  # a day count beyond a century is a typo, and would overflow a timedelta
MAX_ATTRIBUTE_FILTERS = 20


class AttributeValueField(forms.Field):
    """The value of one `attributes.<key>[__op]` filter, checked for its operator
    (contacts.attribute_filters.clean_value); a bad key is reported on the value."""

    def __init__(self, *, op: str, key_error: ValidationError | None = None, **kwargs):
        self.op, self.key_error = op, key_error
        super().__init__(**kwargs)

    def to_python(self, value):
        if self.key_error is not None:
            raise self.key_error
        if value in self.empty_values or (isinstance(value, str) and not value.strip()):
            return None
        return attribute_filters.clean_value(self.op, value)


class AttributeFilter(django_filters.Filter):
    """One condition on an imported attribute (see contacts.attribute_filters)."""

    field_class = AttributeValueField

    def __init__(self, key: str, op: str, *, key_error: ValidationError | None = None, **kwargs):
        self.key, self.op = key, op
        super().__init__(field_name="attributes", label=f"{key} {attribute_filters.OPERATOR_LABELS.get(op, op)}",
                         op=op, key_error=key_error, **kwargs)

    def filter(self, qs, value):
        if value is None:
            return qs
        return qs.filter(attribute_filters.condition_q(attribute_filters.AttributeCondition(self.key, self.op, value)))


class SegmentField(forms.CharField):
    """A saved segment's id, cleaned to the Segment (an unknown id is an error, never "no filter")."""

    def to_python(self, value):
        value = super().to_python(value)
        if value in self.empty_values:
            return None
        if not (value.isdigit() and len(value) <= 18):
            raise ValidationError(_("A segment id."), code="invalid")
        segment = Segment.objects.filter(pk=int(value)).first()
        if segment is None:
            raise ValidationError(_("No such segment."), code="invalid_choice")
        return segment


@extend_schema_field({"type": "integer", "minimum": 1,
                      "description": _("A saved segment's id (/api/segments/): its filters apply too.")})
class SegmentFilter(django_filters.Filter):
    field_class = SegmentField


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
    # The names of saved segments' filters (public contract); the same as score_min/score_max.
    score_gte = django_filters.NumberFilter(field_name="score", lookup_expr="gte", label=_("Score at least"))
    score_lte = django_filters.NumberFilter(field_name="score", lookup_expr="lte", label=_("Score at most"))
    updated_since = BoundedIsoDateTimeFilter(field_name="updated_at", lookup_expr="gte", label=_("Updated since"))
    active_within = django_filters.NumberFilter(method="filter_active_within", min_value=0, max_value=MAX_DAYS,
                                                label=_("Active in the last N days"))
    inactive_for = django_filters.NumberFilter(method="filter_inactive_for", min_value=0, max_value=MAX_DAYS,
                                               label=_("Inactive for N days"))
    last_interaction_before = BoundedIsoDateTimeFilter(field_name="last_interaction_at", lookup_expr="lt",
                                                       label=_("Last activity before"))
    consent = django_filters.ChoiceFilter(choices=CONSENT_CHOICES, method="filter_consent", label=_("Consent"))
    consent_email = django_filters.BooleanFilter(field_name="consent_email", label=_("Email opt-in"))
    consent_whatsapp = django_filters.BooleanFilter(field_name="consent_whatsapp", label=_("WhatsApp opt-in"))
    consent_sms = django_filters.BooleanFilter(field_name="consent_sms", label=_("SMS opt-in"))
    do_not_contact = django_filters.BooleanFilter(field_name="do_not_contact", label=_("Do not contact"))
    tag = django_filters.CharFilter(method="filter_tag", label=_("Tag"))
    search = django_filters.CharFilter(method="filter_search", label=_("Search"),
                                       help_text=_("Name, email, phone or company."))
    segment = SegmentFilter(method="filter_segment", label=_("Segment"),
                            help_text=_("A saved segment's id: its filters apply too."))
    ordering = django_filters.OrderingFilter(fields=ORDERING, label=_("Sort"))

    class Meta:
        model = Contact
        fields: list[str] = []

    def __init__(self, data=None, *args, **kwargs):
        super().__init__(data, *args, **kwargs)
        # Any `attributes.<key>[__op]` parameter becomes a filter of its own, validated like the others.
        names = [name for name in (data or {}) if isinstance(name, str) and name.startswith(attribute_filters.PREFIX)]
        for index, name in enumerate(names):
            try:
                key, op = attribute_filters.parse_param(name)
                key_error = None
            except ValidationError as exc:
                key, op, key_error = "", "eq", exc
            if index >= MAX_ATTRIBUTE_FILTERS:
                key_error = ValidationError(_("At most %(n)d attribute filters.") % {"n": MAX_ATTRIBUTE_FILTERS})
            self.filters[name] = AttributeFilter(key, op, key_error=key_error)
            self.filters[name].parent = self
            self.filters[name].model = self.queryset.model

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
        return queryset.filter(search_q(value)) if value else queryset

    def filter_tag(self, queryset, name, value):
        # EXISTS rather than a join: no duplicate rows, so no DISTINCT (which made the stage
        # counts' SELECT DISTINCT stage collapse rows, and cannot be locked or updated).
        tagged = Contact.tags.through.objects.filter(contact_id=OuterRef("pk"), tag__name__iexact=value.strip())
        return queryset.filter(Exists(tagged))

    def filter_segment(self, queryset, name, value):
        return apply_segment(queryset, value, request=self.request)

    def filter_queryset(self, queryset):
        if "segment" in self.form.errors:
            # An unknown segment matches nobody: never "everyone" in an export or a bulk action.
            return queryset.none()
        return super().filter_queryset(queryset)


def apply_segment(queryset: QuerySet[Contact], segment: Segment, *, request=None) -> QuerySet[Contact]:
    """`queryset` narrowed by a segment's filters, evaluated now. A segment whose stored
    filters no longer validate matches nobody (rather than everybody)."""
    params = {k: v for k, v in (segment.filters or {}).items() if k not in ("segment", "ordering")}
    filterset = ContactFilter(params, queryset=queryset, request=request)
    if not filterset.is_valid():
        return queryset.none()
    return filterset.qs


def segment_contacts(segment: Segment, user, *, request=None) -> QuerySet[Contact]:
    """The contacts in `segment` that `user` may see (a sales rep: only what contacts_visible_to
    allows), evaluated now. One query when iterated; filters on indexed columns (stage,
    industry, source, owner) come before tags, activity and attribute conditions.
    `owner: "me"` in a segment means the user asking."""
    return apply_segment(contacts_visible_to(user), segment, request=request or SimpleNamespace(user=user))


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

    # (pk, stage) pairs: a DISTINCT queryset would otherwise fold equal stages into one row.
    stages = [stage for _pk, stage in qs.order_by().values_list("pk", "stage")[: cap + 1]]
    if len(stages) <= cap:
        found = Counter(stages)
        return {"": len(stages), **{stage: found.get(stage, 0) for stage in Stage.values}}
    counts = {"": cap + 1}
    for stage in Stage.values:
        counts[stage] = capped_count(qs.filter(stage=stage), cap)
    return counts


# Filters the stage rollup counts by (its dimensions); the others a list may carry change no count.
ROLLUP_FILTERS = ("industry", "source", "owner")
LIST_PARAMS_NOT_FILTERS = ("stage", "ordering", "page")


def rollup_tab_counts(user, filterset: ContactFilter) -> dict[str, int] | None:
    """Exact counts per stage (and "" for all) from the stage rollup (contacts.rollup), when the
    list's only filters are its dimensions and the user sees every contact; None otherwise (the
    caller counts the rows, capped). A few hundred rollup rows instead of up to 50,000 index entries."""
    if not settings.CRM_STAGE_ROLLUP:
        return None
    if not (roles.sees_all_contacts(user) or (roles.is_sales(user) and settings.CRM_SALES_CAN_READ_ALL)):
        return None  # a rep's own contacts: few, and counted exactly by the capped count
    data = filterset.data or {}
    if any(data.get(k) not in (None, "") for k in data if k not in (*ROLLUP_FILTERS, *LIST_PARAMS_NOT_FILTERS)):
        return None
    if not filterset.is_valid():
        return None
    values = {k: filterset.form.cleaned_data.get(k) for k in ROLLUP_FILTERS}
    if values["owner"] == "me":
        values["owner"] = user.pk
    found = rollup.stage_counts(**{k: v for k, v in values.items() if v not in (None, "")})
    return {"": sum(found.values()), **{stage: found.get(stage, 0) for stage in Stage.values}}


# --- Keyset pages of a stage list ------------------------------------------------------

KEYSET_BOUNDARIES_SECONDS = 600
KEYSET_BOUNDARIES_KEPT = 500


def keyset_cache_key(user, params) -> str:
    """Where a list's page boundaries are kept: per filter set (page left out) and visibility."""
    import hashlib

    scope = "all" if roles.sees_all_contacts(user) else f"user:{user.pk}"
    plain = sorted((k, v) for k, values in params.lists() if k != "page" for v in values)
    return "contacts:keyset:" + hashlib.sha256(repr((scope, plain)).encode()).hexdigest()[:32]


def _after(key: tuple[int, int]) -> Q:
    """Rows after (score, id) in the order (-score, -id). `score <= s` is the index range; the OR
    only sorts out the rows of equal score."""
    score, pk = key
    return Q(score__lte=score) & (Q(score__lt=score) | Q(pk__lt=pk))


def keyset_page(qs: QuerySet[Contact], *, number: int, per_page: int, count: int, exact: bool,
                cache_key: str) -> list[Contact]:
    """Page `number` of a list ordered (-score, -id) within a stage, read by keyset on the
    (stage, score, id) indexes instead of OFFSET:
    - each page read remembers where the next one starts (the last row's (score, id)), in the
      cache, so paging on, or back to a page seen before, is a seek;
    - a page with fewer rows after it than before (the last page, …) is read from the end, in
      the reverse order, when the count is exact (from the rollup, or under the cap);
    - any other page seeks to the nearest boundary before it and skips the pages in between.
    The page agrees with OFFSET pagination as long as nothing moved meanwhile."""
    from django.core.cache import cache

    offset = (number - 1) * per_page
    bounds: dict[int, tuple[int, int]] = cache.get(cache_key) or {}
    start = max((p for p in bounds if p <= number), default=1)
    skip = (number - start) * per_page
    take = max(0, min(per_page, count - offset)) if exact else per_page
    after = count - offset - take
    learned: dict[int, tuple[int, int]] = {}
    if exact and after < skip:
        rows = list(qs.order_by("score", "id")[after:after + take + 1])
        if len(rows) > take:  # the row before the page: where this page starts
            learned[number] = (rows[take].score, rows[take].pk)
        rows = rows[:take][::-1]
    else:
        base = qs.filter(_after(bounds[start])) if start > 1 else qs
        rows = list(base[skip:skip + per_page])
    if len(rows) == per_page:
        learned[number + 1] = (rows[-1].score, rows[-1].pk)
    if learned and any(bounds.get(p) != key for p, key in learned.items()):
        bounds.update(learned)
        if len(bounds) > KEYSET_BOUNDARIES_KEPT:
            bounds = dict(sorted(bounds.items())[:KEYSET_BOUNDARIES_KEPT])
        cache.set(cache_key, bounds, KEYSET_BOUNDARIES_SECONDS)
    return rows


def my_prospects(user, *, now=None) -> QuerySet[Contact]:
    """A rep's prospects, most urgent first:
    0. never contacted (oldest wait first), 1. an open follow-up task past due,
    2. a follow-up due within a day, 3. the rest (next follow-up first, then by score).
    Annotated with next_due (earliest open follow-up), urgency and contact_late
    (never contacted within CRM_FOLLOW_UP_HOURS); one query."""
    from django.apps import apps
    from django.db.models import BooleanField, Case, F, IntegerField, OuterRef, Subquery, Value, When
    from django.db.models.functions import Coalesce, Least

    from contacts.models import Note

    # Follow-ups are followup.Task rows (contacts does not import its dependants: looked up by name);
    # a follow-up note written with a due time (the note form, the notes API) still counts.
    Task = apps.get_model("followup", "Task")
    now = now or timezone.now()
    task_due = Task.objects.filter(contact=OuterRef("pk"), done_at__isnull=True).order_by("due_at").values("due_at")[:1]
    note_due = (
        Note.objects.filter(contact=OuterRef("pk"), done_at__isnull=True, due_at__isnull=False)
        .exclude(kind=Note.Kind.SYSTEM)
        .order_by("due_at")
        .values("due_at")[:1]
    )
    return (
        Contact.objects.filter(owner=user, stage=Stage.PROSPECT)
        .annotate(task_due=Subquery(task_due), note_due=Subquery(note_due))
        # LEAST is NULL on SQLite when either side is: each side falls back on the other.
        .annotate(next_due=Least(Coalesce("task_due", "note_due"), Coalesce("note_due", "task_due")))
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


def score_breakdown_rows(contact: Contact) -> dict:
    """The stored score breakdown with its interactions loaded (one query)."""
    data = contact.score_breakdown or {}
    hits = data.get("hits") or []
    ids = {i for hit in hits for i in hit.get("interactions", [])}
    found = {i.pk: i for i in Interaction.objects.filter(contact=contact, pk__in=ids).select_related("kind")} if ids else {}
    rows = []
    for hit in hits:
        try:
            points = Decimal(str(hit.get("points", "0")))
        except InvalidOperation:
            points = Decimal(0)
        rows.append({
            "rule": hit.get("rule"),
            "label": hit.get("label") or hit.get("rule"),
            "points": points.normalize() if points == points.to_integral() else points,
            "negative": points < 0,
            "count": hit.get("count", 0),
            "interactions": [found[i] for i in hit.get("interactions", []) if i in found],
        })
    return {
        "rows": rows,
        "ruleset": data.get("ruleset"),
        "version_number": data.get("version_number"),
        "score": data.get("score", contact.score),
        "counted_ids": ids,
    }
