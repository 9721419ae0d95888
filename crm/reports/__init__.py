"""Reports over time (issue 18): how contacts created in each week or month moved through the
stages, each industry's conversion as the industry defines it next to its customers, and how fast
reps reach their new prospects. Reads only; one aggregate query per section."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from statistics import median

from django.contrib.auth import get_user_model
from django.db.models import Count, Exists, Min, OuterRef, Q
from django.db.models.functions import TruncMonth, TruncWeek
from django.utils import timezone

from contacts.models import Contact, Industry, Interaction, Stage, StageChange
from contacts.reasons import kind_name

WEEK, MONTH = "week", "month"
TRUNC = {WEEK: TruncWeek, MONTH: TruncMonth}

# What each industry counts as a conversion (the mission's list). A customer is a separate, later
# fact (the rule set's conversion kinds); this is what marketing reports as "converted" in that industry.
INDUSTRY_CONVERSIONS: dict[str, tuple[str, ...]] = {
    Industry.ECOMMERCE: ("purchase",),
    Industry.B2B: ("demo_requested", "consultation_requested", "webinar_registered", "webinar_attended",
                   "whitepaper_downloaded"),
    Industry.HEALTHCARE: ("appointment_booked", "checkup_form_submitted", "screening_result_downloaded"),
    Industry.EDUCATION: ("brochure_requested", "seminar_registered", "webinar_registered", "webinar_attended",
                         "curriculum_consultation"),
}
REACHED = {  # a contact "reached" a stage when its history shows a move to it or beyond
    Stage.LEAD: (Stage.LEAD, Stage.PROSPECT, Stage.CUSTOMER),
    Stage.PROSPECT: (Stage.PROSPECT, Stage.CUSTOMER),
    Stage.CUSTOMER: (Stage.CUSTOMER,),
}
FIRST_CONTACT_WITHIN = timedelta(hours=24)


def period_start(day: date, unit: str) -> date:
    return day.replace(day=1) if unit == MONTH else day - timedelta(days=day.weekday())


def periods(first: date, last: date, unit: str) -> list[date]:
    out, current = [], period_start(first, unit)
    while current <= last and len(out) < 260:
        out.append(current)
        current = (current.replace(day=28) + timedelta(days=4)).replace(day=1) if unit == MONTH else current + timedelta(days=7)
    return out


def _bounds(first: date, last: date) -> tuple[datetime, datetime]:
    tz = timezone.get_current_timezone()
    return datetime.combine(first, time.min, tz), datetime.combine(last + timedelta(days=1), time.min, tz)


def _local_day(value) -> date:
    return timezone.localdate(value) if isinstance(value, datetime) else value


def stage_cohorts(*, first: date, last: date, unit: str, industry: str | None = None) -> list[dict]:
    """Per week or month of creation: contacts created, and how many of them have reached lead,
    prospect and customer since (with the rates), oldest period first, empty periods included."""
    start, end = _bounds(first, last)
    contacts = Contact.objects.filter(created_at__gte=start, created_at__lt=end)
    if industry:
        contacts = contacts.filter(industry=industry)
    reached = {stage: Exists(StageChange.objects.filter(contact=OuterRef("pk"), to_stage__in=targets))
               for stage, targets in REACHED.items()}
    rows = (contacts.annotate(period=TRUNC[unit]("created_at")).order_by().values("period")
            .annotate(created=Count("pk"), **{stage: Count("pk", filter=Q(reached[stage])) for stage in REACHED}))
    by_period = {period_start(_local_day(r["period"]), unit): r for r in rows}
    out = []
    for p in periods(first, last, unit):
        r = by_period.get(p, {})
        created = r.get("created", 0)
        row = {"week": p, "created": created}
        for stage in REACHED:
            row[stage] = r.get(stage, 0)
            row[f"{stage}_rate"] = row[stage] / created if created else None
        out.append(row)
    return out


@dataclass(frozen=True)
class IndustryConversion:
    industry: str
    label: str
    kinds: tuple[str, ...]
    converted: int  # contacts with a conversion event of their industry in the range
    customers: int  # contacts that became customers in the range

    @property
    def kind_names(self) -> str:
        return ", ".join(kind_name(kind) for kind in self.kinds)


def industry_conversions(*, first: date, last: date) -> list[IndustryConversion]:
    start, end = _bounds(first, last)
    converted = _counts(
        Interaction.objects.filter(occurred_at__gte=start, occurred_at__lt=end).filter(
            _any_of(Q(contact__industry=industry, kind_id__in=kinds) for industry, kinds in INDUSTRY_CONVERSIONS.items()))
        .order_by().values("contact__industry").annotate(n=Count("contact_id", distinct=True)),
        "contact__industry")
    customers = _counts(
        StageChange.objects.filter(changed_at__gte=start, changed_at__lt=end, to_stage=Stage.CUSTOMER)
        .order_by().values("contact__industry").annotate(n=Count("contact_id", distinct=True)),
        "contact__industry")
    return [IndustryConversion(industry, str(Industry(industry).label), kinds, converted.get(industry, 0),
                               customers.get(industry, 0))
            for industry, kinds in INDUSTRY_CONVERSIONS.items()]


def _any_of(conditions) -> Q:
    out = Q(pk__in=[])
    for condition in conditions:
        out |= condition
    return out


def _counts(rows, key: str) -> dict[str, int]:
    return {r[key]: r["n"] for r in rows}


@dataclass
class RepPerformance:
    name: str
    prospects: int = 0
    contacted: int = 0
    within: int = 0  # first contact within FIRST_CONTACT_WITHIN
    customers: int = 0
    waits: list[float] | None = None  # hours from prospect to first contact

    @property
    def median_hours(self) -> float | None:
        return median(self.waits) if self.waits else None

    @property
    def within_share(self) -> float | None:
        return self.within / self.prospects if self.prospects else None


def rep_performance(*, first: date, last: date) -> tuple[list[RepPerformance], RepPerformance]:
    """Per owner of the contacts that became prospects in the range: how many, how many were
    contacted, the median wait from becoming a prospect to the first contact, the share reached
    within 24 h (of all prospects: one never called counts as a miss), and how many are customers now."""
    start, end = _bounds(first, last)
    became = (StageChange.objects.filter(changed_at__gte=start, changed_at__lt=end, to_stage=Stage.PROSPECT)
              .order_by().values("contact_id").annotate(at=Min("changed_at")))
    at = {r["contact_id"]: r["at"] for r in became}
    rows = list(Contact.objects.filter(pk__in=list(at)).values_list("pk", "owner_id", "first_contacted_at", "stage"))
    users = {u.pk: u.get_full_name() or u.get_username() for u in get_user_model().objects.filter(
        pk__in={owner for _pk, owner, _first, _stage in rows if owner})}
    reps: dict[int | None, RepPerformance] = {}
    team = RepPerformance(name="", waits=[])
    for pk, owner, first_contacted, stage in rows:
        rep = reps.setdefault(owner, RepPerformance(name=users.get(owner, ""), waits=[]))
        for line in (rep, team):
            line.prospects += 1
            line.customers += stage == Stage.CUSTOMER
            if first_contacted:
                wait = max(first_contacted - at[pk], timedelta(0))  # in touch before: no wait
                line.contacted += 1
                line.within += wait <= FIRST_CONTACT_WITHIN
                line.waits.append(wait.total_seconds() / 3600)
    ordered = sorted(reps.values(), key=lambda r: (r.name == "", r.name.lower()))
    return ordered, team
