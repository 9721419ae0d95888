"""Funnel analytics for the dashboard and GET /api/funnel/: plain functions over a few
aggregate queries (GROUP BY on indexed columns), never a Python loop over contacts.

Shared filters (all optional, all keyword-only):
- date_from / date_to: a date or an aware datetime; dates cover whole days in the active
  time zone and date_to is inclusive. They select the contacts *created* in the period
  (funnel, conversion rates) or the stage changes that *happened* in it (trend, times).
- industry: an Industry slug; source: a contact source (case-insensitive);
- owner: a user, a user id, or "none" for unassigned contacts.
Pages scope a sales rep to their own contacts by passing owner=request.user.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from django.apps import apps
from django.conf import settings
from django.db import connection
from django.db.models import Count, DurationField, ExpressionWrapper, F, Max, Q, QuerySet, Window
from django.db.models.functions import Mod, RowNumber, TruncWeek
from django.utils import timezone

from contacts import rollup
from contacts.models import Contact, Industry, Note, Stage, StageChange

STAGES: tuple[str, ...] = tuple(Stage.values)  # contact, lead, prospect, customer (ordered)


def _promotions() -> Q:
    """Stage changes that moved a contact *up* the funnel (not demotions)."""
    q = Q()
    for rank, stage in enumerate(STAGES[1:], start=1):
        q |= Q(to_stage=stage, from_stage__in=STAGES[:rank])
    return q


PROMOTIONS = _promotions()


def _bounds(date_from: date | datetime | None, date_to: date | datetime | None) -> tuple[datetime | None, datetime | None]:
    """[start, end) as aware datetimes; a date_to date means "until the end of that day"."""
    tz = timezone.get_current_timezone()

    def aware(value: date | datetime, *, end: bool) -> datetime:
        if isinstance(value, datetime):
            return value if timezone.is_aware(value) else timezone.make_aware(value, tz)
        day = value + timedelta(days=1) if end else value
        return timezone.make_aware(datetime.combine(day, time.min), tz)

    return (aware(date_from, end=False) if date_from else None, aware(date_to, end=True) if date_to else None)


def _owner_q(owner, prefix: str = "") -> Q:
    if owner is None or owner == "":
        return Q()
    if owner == "none":
        return Q(**{f"{prefix}owner__isnull": True})
    owner_id = getattr(owner, "pk", owner)
    return Q(**{f"{prefix}owner_id": int(owner_id)})


def _contact_q(*, industry=None, source=None, owner=None, prefix: str = "") -> Q:
    q = Q()
    if industry:
        q &= Q(**{f"{prefix}industry": industry})
    if source:
        q &= Q(**{f"{prefix}source__iexact": source})
    return q & _owner_q(owner, prefix)


def _filters_echo(date_from, date_to, industry, source, owner) -> dict[str, Any]:
    return {
        "date_from": date_from.isoformat() if date_from else None,
        "date_to": date_to.isoformat() if date_to else None,
        "industry": industry or None,
        "source": source or None,
        "owner": owner if owner in (None, "", "none") else int(getattr(owner, "pk", owner)),
    }


def _contacts(*, date_from=None, date_to=None, industry=None, source=None, owner=None) -> QuerySet[Contact]:
    start, end = _bounds(date_from, date_to)
    qs = Contact.objects.filter(_contact_q(industry=industry, source=source, owner=owner))
    if start:
        qs = qs.filter(created_at__gte=start)
    if end:
        qs = qs.filter(created_at__lt=end)
    return qs


def _rollup_answers(date_from, date_to) -> bool:
    """Whether the stage rollup (contacts.rollup) can answer for these bounds: whole local days
    (dates, not datetimes) in the rollup's time zone, and the rollup is not switched off
    (CRM_STAGE_ROLLUP=0). The other filters (industry, source, owner) are its dimensions."""
    if not settings.CRM_STAGE_ROLLUP or timezone.get_current_timezone_name() != rollup.rollup_zone():
        return False
    return not any(isinstance(value, datetime) for value in (date_from, date_to))


def stage_counts(qs: QuerySet[Contact]) -> dict[str, int]:
    """Contacts per current stage, in one GROUP BY (zeros included)."""
    counts = dict.fromkeys(STAGES, 0)
    for row in qs.order_by().values("stage").annotate(n=Count("id")):
        counts[row["stage"]] = row["n"]
    return counts


def funnel(*, date_from=None, date_to=None, industry=None, source=None, owner=None) -> dict:
    """The funnel contact → lead → prospect → customer in one GROUP BY query.

    For each stage:
    - count: contacts whose current stage is this one;
    - reached: contacts at this stage or further down the funnel (a customer has passed
      through lead and prospect), i.e. everyone who got at least this far;
    - conversion_rate: reached(next stage) / reached(this stage), the share of the people
      who got this far that went one step further (0.0-1.0); None for the last stage or when
      nobody reached this stage. Demoted contacts count at their current stage.
    total is the number of contacts matching the filters.
    """
    if _rollup_answers(date_from, date_to):
        counts = dict.fromkeys(STAGES, 0) | rollup.stage_counts(day_from=date_from, day_to=date_to, industry=industry,
                                                                source=source, owner=owner)
    else:
        counts = stage_counts(_contacts(date_from=date_from, date_to=date_to, industry=industry, source=source, owner=owner))
    return _funnel_from_counts(counts, _filters_echo(date_from, date_to, industry, source, owner))


def _funnel_from_counts(counts: dict[str, int], filters: dict) -> dict:
    reached: dict[str, int] = {}
    running = 0
    for stage in reversed(STAGES):
        running += counts[stage]
        reached[stage] = running
    stages = []
    for i, stage in enumerate(STAGES):
        nxt = STAGES[i + 1] if i + 1 < len(STAGES) else None
        rate = reached[nxt] / reached[stage] if nxt and reached[stage] else None
        stages.append({"stage": stage, "count": counts[stage], "reached": reached[stage], "conversion_rate": rate})
    return {
        "stages": stages,
        "total": reached[STAGES[0]],
        "overall_conversion_rate": (reached[STAGES[-1]] / reached[STAGES[0]]) if reached[STAGES[0]] else None,
        "filters": filters,
    }


def _stage_changes(*, date_from=None, date_to=None, industry=None, source=None, owner=None) -> QuerySet[StageChange]:
    start, end = _bounds(date_from, date_to)
    qs = StageChange.objects.filter(_contact_q(industry=industry, source=source, owner=owner, prefix="contact__"))
    if start:
        qs = qs.filter(changed_at__gte=start)
    if end:
        qs = qs.filter(changed_at__lt=end)
    return qs


def weekly_trend(*, date_from=None, date_to=None, industry=None, source=None, owner=None,
                 weeks: int = 12, stages: tuple[str, ...] = ("lead", "prospect"), now: datetime | None = None) -> list[dict]:
    """New leads and prospects per week (weeks start on Monday), from promotions in the
    stage history: [{"week": date, "lead": n, "prospect": n}, ...], oldest first, empty
    weeks included. Without a date range: the last `weeks` weeks."""
    now = now or timezone.now()
    if not date_from:
        today = timezone.localdate(now)
        date_from = today - timedelta(days=today.weekday() + 7 * (weeks - 1))
    if _rollup_answers(date_from, date_to):
        rows = _weekly_from_rollup(date_from=date_from, date_to=date_to, industry=industry, source=source, owner=owner,
                                   stages=stages)
    else:
        qs = _stage_changes(date_from=date_from, date_to=date_to, industry=industry, source=source, owner=owner)
        rows = (
            qs.filter(PROMOTIONS, to_stage__in=stages)
            .annotate(week=TruncWeek("changed_at"))
            .order_by()
            .values("week", "to_stage")
            .annotate(n=Count("id"))
        )
    by_week: dict[date, dict[str, int]] = {}
    for row in rows:
        week = row["week"]
        week = timezone.localdate(week) if isinstance(week, datetime) else week
        by_week.setdefault(week, dict.fromkeys(stages, 0))[row["to_stage"]] = row["n"]
    start, end = _bounds(date_from, date_to)
    first = timezone.localdate(start)
    first -= timedelta(days=first.weekday())
    last = timezone.localdate(end - timedelta(microseconds=1)) if end else timezone.localdate(now)
    out = []
    week = first
    while week <= last and len(out) < 520:  # ten years of weeks is plenty for one chart
        out.append({"week": week, **by_week.get(week, dict.fromkeys(stages, 0))})
        week += timedelta(days=7)
    return out


def _weekly_from_rollup(*, stages: tuple[str, ...], **filters) -> list[dict]:
    """Promotions into `stages` per week (Monday) from the rollup's moves per day: the rows
    weekly_trend reads, [{"week": date, "to_stage": s, "n": n}, ...]."""
    rows = rollup.move_rows(day_from=filters.pop("date_from"), day_to=filters.pop("date_to"), **filters,
                            by=("day", "from_stage", "to_stage"))
    weeks: dict[tuple[date, str], int] = {}
    for row in rows.filter(to_stage__in=stages):
        if STAGES.index(row["from_stage"]) >= STAGES.index(row["to_stage"]):
            continue  # a demotion, not a promotion
        key = (row["day"] - timedelta(days=row["day"].weekday()), row["to_stage"])
        weeks[key] = weeks.get(key, 0) + row["n"]
    return [{"week": week, "to_stage": stage, "n": n} for (week, stage), n in weeks.items()]


@dataclass(frozen=True)
class GroupTiming:
    key: str
    label: str
    total: int
    customers: int
    conversion_rate: float | None
    median: dict[str, timedelta | None]  # stage -> median time from first touch (contact created) to reaching it
    reached: dict[str, int]  # stage -> promotions into it that the medians are computed over


TIMING_DEFAULT_DAYS = 180


def time_to_stage(*, by: str = "industry", date_from=None, date_to=None, industry=None, source=None, owner=None,
                  limit: int = 10, now: datetime | None = None, rollup: list[dict] | None = None,
                  sample: PromotionSample | None = None) -> list[GroupTiming]:
    """Per industry (or per source): how many contacts convert, and the median time from a
    contact's first touch (its creation) to reaching lead, prospect and customer.

    Conversion rate = customers / contacts of the group created in the period. Medians come
    from the stage history (promotions that happened in the period; without a date_from, the
    last TIMING_DEFAULT_DAYS days, long enough for B2B cycles and bounded as history grows),
    computed in the database with a window function (lower median), so e-commerce's hours and
    B2B's months both show. Sources are free text: the `limit` largest are listed.
    `rollup` (from contact_rollup, same filters) saves the GROUP BY over contacts; `sample` (from
    promotion_sample, same filters and period) gives the medians without another query."""
    if by not in ("industry", "source"):
        raise ValueError("by must be 'industry' or 'source'")
    if rollup is None:
        contacts = _contacts(date_from=date_from, date_to=date_to, industry=industry, source=source, owner=owner)
        rollup = list(contacts.order_by().values(by, "stage").annotate(n=Count("id")))
    totals: dict[str, dict[str, int]] = {}
    for row in rollup:
        group = totals.setdefault(row[by] or "", dict.fromkeys(STAGES, 0))
        group[row["stage"]] += row["n"]
    keys = sorted(totals, key=lambda k: (-sum(totals[k].values()), k))  # a tie in size: by name, every time
    if by == "source":
        keys = keys[:limit]
    since = date_from or (now or timezone.now()) - timedelta(days=TIMING_DEFAULT_DAYS)
    if sample is not None:
        medians = sample.medians(by, keys)
    else:
        medians = _median_times(by, keys, date_from=since, date_to=date_to, industry=industry, source=source, owner=owner)
    labels = dict(Industry.choices)
    out = []
    for key in keys:
        total = sum(totals[key].values())
        customers = totals[key][Stage.CUSTOMER]
        med = medians.get(key, {})
        out.append(GroupTiming(
            key=key,
            label=str(labels.get(key, key)) if by == "industry" else (key or "—"),
            total=total,
            customers=customers,
            conversion_rate=customers / total if total else None,
            median={stage: med.get(stage, (None, 0))[0] for stage in STAGES[1:]},
            reached={stage: med.get(stage, (None, 0))[1] for stage in STAGES[1:]},
        ))
    return out


MEDIAN_SAMPLE = 5_000


def _median_times(by: str, keys: list[str], **filters) -> dict[str, dict[str, tuple[timedelta, int]]]:
    """{group: {stage: (median duration, n)}} in one query: rank each promotion's duration
    within its (group, stage) partition and keep the middle row.

    On a big history the ranking reads a systematic sample (every k-th stage change by id,
    about MEDIAN_SAMPLE rows): a median needs no more, and the sort and the join to contacts
    stay small; n is then scaled back up by k."""
    if not keys:
        return {}
    field = f"contact__{by}"
    partition = [F(field), F("to_stage")]
    qs = _stage_changes(**filters).filter(PROMOTIONS, **{f"{field}__in": keys})
    step = max(1, _estimated_rows(StageChange) // MEDIAN_SAMPLE)
    if step > 1:
        qs = qs.alias(sample=Mod("id", step)).filter(sample=0)
    qs = (
        qs
        .annotate(
            group=F(field),
            took=ExpressionWrapper(F("changed_at") - F("contact__created_at"), output_field=DurationField()),
        )
        .annotate(
            rank=Window(RowNumber(), partition_by=partition, order_by=[F("took").asc(), F("id").asc()]),
            n=Window(Count("id"), partition_by=partition),
        )
        .filter(rank=(F("n") + 1) / 2)
        .order_by()
        .values("group", "to_stage", "took", "n")
    )
    out: dict[str, dict[str, tuple[timedelta, int]]] = {}
    for row in qs:
        took = row["took"]
        if isinstance(took, int | float):  # some backends hand back microseconds
            took = timedelta(microseconds=took)
        out.setdefault(row["group"] or "", {})[row["to_stage"]] = (max(took, timedelta(0)), row["n"] * step)
    return out


@dataclass(frozen=True)
class PromotionSample:
    """Promotions of a period, read once for the medians per industry and per source alike:
    (id, industry, source, to_stage, took) rows, every `step`-th stage change by id on a big history."""

    rows: list[tuple[int, str, str, str, timedelta]]
    step: int

    def medians(self, by: str, keys: list[str]) -> dict[str, dict[str, tuple[timedelta, int]]]:
        """What _median_times answers (the lower median per (group, stage), and n scaled by step),
        from the rows in memory."""
        column = 1 if by == "industry" else 2
        wanted = set(keys)
        parts: dict[tuple[str, str], list[tuple[timedelta, int]]] = {}
        for row in self.rows:
            if row[column] in wanted:
                parts.setdefault((row[column], row[3]), []).append((row[4], row[0]))
        out: dict[str, dict[str, tuple[timedelta, int]]] = {}
        for (group, stage), items in parts.items():
            items.sort()
            took = items[(len(items) + 1) // 2 - 1][0]
            out.setdefault(group or "", {})[stage] = (max(took, timedelta(0)), len(items) * self.step)
        return out


def promotion_sample(*, date_from=None, date_to=None, industry=None, source=None, owner=None) -> PromotionSample:
    """The medians' rows in one query. On PostgreSQL with more than 2 × MEDIAN_SAMPLE stage changes,
    only ids that are multiples of k (about MEDIAN_SAMPLE rows), looked up by primary key: no scan
    of the history, and k from the largest id (an index lookup; the planner's estimate can be stale
    right after a bulk load)."""
    qs = _stage_changes(date_from=date_from, date_to=date_to, industry=industry, source=source, owner=owner)
    qs = qs.filter(PROMOTIONS)
    step = 1
    if connection.vendor == "postgresql":
        top = StageChange.objects.aggregate(top=Max("id"))["top"] or 0
        step = max(1, top // MEDIAN_SAMPLE)
        if step > 1:  # the ids themselves, so the plan is "these primary keys" whatever the statistics say
            qs = qs.filter(id__in=range(step, top + 1, step))
    rows = [(pk, ind, src, to, changed - created)
            for pk, ind, src, to, changed, created in qs.order_by().values_list(
                "id", "contact__industry", "contact__source", "to_stage", "changed_at", "contact__created_at")]
    return PromotionSample(rows, step)


@dataclass
class FollowUp:
    contact: Contact
    never_contacted: bool
    waiting_since: datetime | None
    overdue_note: Any  # the overdue follow-up: a followup Task, or a Note with a due time

    @property
    def flagged_at(self) -> datetime | None:
        times = [t for t in (self.waiting_since, self.overdue_note.due_at if self.overdue_note else None) if t]
        return min(times) if times else None


def follow_up_queue(*, owner=None, industry=None, source=None, limit: int = 20, now: datetime | None = None) -> dict:
    """Prospects waiting for a personal follow-up, flagged:
    - never contacted although they became prospects more than CRM_FOLLOW_UP_HOURS ago;
    - or with an open follow-up task (or follow-up note) past its due time.
    Returns {"items": [FollowUp, ...] (oldest first, at most `limit`), "uncontacted": n, "overdue": n}
    in six queries whatever the table size (partial indexes on open tasks and follow-ups)."""
    now = now or timezone.now()
    cutoff = now - timedelta(hours=settings.CRM_FOLLOW_UP_HOURS)
    scope = _contact_q(industry=industry, source=source, owner=owner)
    waiting = Contact.objects.filter(
        scope, stage=Stage.PROSPECT, first_contacted_at__isnull=True, stage_changed_at__lt=cutoff,
    )
    in_scope = _contact_q(industry=industry, source=source, owner=owner, prefix="contact__")
    notes = Note.objects.filter(in_scope, done_at__isnull=True, due_at__isnull=False, due_at__lt=now,
                                ).exclude(kind=Note.Kind.SYSTEM)
    # Follow-up tasks (the followup app, looked up by name: scoring does not import it), and the
    # follow-up notes still written with a due time.
    tasks = apps.get_model("followup", "Task").objects.filter(in_scope, done_at__isnull=True, due_at__lt=now)
    uncontacted = waiting.count()
    overdue = notes.count() + tasks.count()
    items: dict[int, FollowUp] = {}
    for contact in waiting.select_related("owner").order_by("stage_changed_at", "id")[:limit]:
        items[contact.pk] = FollowUp(contact, True, contact.stage_changed_at, None)
    late = [*notes.select_related("contact__owner").order_by("due_at", "id")[:limit],
            *tasks.select_related("contact__owner").order_by("due_at", "id")[:limit]]
    for note in sorted(late, key=lambda row: (row.due_at, row.contact_id)):
        item = items.get(note.contact_id)
        if item is None:
            items[note.contact_id] = FollowUp(note.contact, note.contact.first_contacted_at is None, None, note)
        elif item.overdue_note is None:
            item.overdue_note = note
    ordered = sorted(items.values(), key=lambda i: (i.flagged_at or now, i.contact.pk))[:limit]
    return {"items": ordered, "uncontacted": uncontacted, "overdue": overdue, "follow_up_hours": settings.CRM_FOLLOW_UP_HOURS}


def _estimated_rows(model) -> int:
    """The planner's row estimate of a table (PostgreSQL; instant, kept current by ANALYZE and
    autovacuum). 0 on other databases (the embedded SQLite default is small)."""
    from django.db import connection

    if connection.vendor != "postgresql":
        return 0
    with connection.cursor() as cursor:
        cursor.execute("SELECT reltuples FROM pg_class WHERE oid = %s::regclass", [model._meta.db_table])
        row = cursor.fetchone()
    return max(int(row[0]), 0) if row else 0


def estimated_contacts() -> int:
    """Roughly how many contacts there are, without counting them (see _estimated_rows)."""
    return _estimated_rows(Contact)


def contact_rollup(*, date_from=None, date_to=None, industry=None, source=None, owner=None) -> list[dict]:
    """Contacts per (industry, source, stage) in one GROUP BY: the funnel and the per-industry
    and per-source conversion rates all derive from it, so the dashboard scans contacts once;
    from the stage rollup when it can answer (a few thousand rows instead of every contact)."""
    if _rollup_answers(date_from, date_to):
        return list(rollup.count_rows(day_from=date_from, day_to=date_to, industry=industry, source=source, owner=owner,
                                      by=("industry", "source", "stage")))
    qs = _contacts(date_from=date_from, date_to=date_to, industry=industry, source=source, owner=owner)
    return list(qs.order_by().values("industry", "source", "stage").annotate(n=Count("id")))


def dashboard(*, date_from=None, date_to=None, industry=None, source=None, owner=None, now: datetime | None = None) -> dict:
    """Every panel of the home dashboard in five queries: funnel, weekly trend, and time to
    each stage per industry and per source (same filters as funnel()). When the stage rollup
    can answer, the counts and the trend come from it and both median tables from one sample
    of the stage history (promotion_sample)."""
    filters = {"date_from": date_from, "date_to": date_to, "industry": industry, "source": source, "owner": owner}
    now = now or timezone.now()
    sample = None
    if _rollup_answers(date_from, date_to):
        since = date_from or now - timedelta(days=TIMING_DEFAULT_DAYS)
        sample = promotion_sample(**{**filters, "date_from": since})
    rollup = contact_rollup(**filters)
    counts = dict.fromkeys(STAGES, 0)
    for row in rollup:
        counts[row["stage"]] += row["n"]
    return {
        "funnel": _funnel_from_counts(counts, _filters_echo(date_from, date_to, industry, source, owner)),
        "trend": weekly_trend(**filters, now=now),
        "by_industry": time_to_stage(by="industry", **filters, now=now, rollup=rollup, sample=sample),
        "by_source": time_to_stage(by="source", limit=8, **filters, now=now, rollup=rollup, sample=sample),
    }
