"""Who converted and when, and the facts to judge each contact by, without leakage.

A contact converted when it has an interaction of an outcome kind: one named kind, or
any conversion-level kind (`outcome="conversion"`). Imported outcome columns reach us
the same way, as conversion interactions dated by the importer.

No leakage: a converter is judged "as of" just before its first conversion (the
engine ignores touches after `now`, so nothing that happened at or after the
conversion counts, the conversion itself included); everyone else is judged as of
the end of the period. Every contact is judged from a clean slate (stage `contact`,
not pinned), so a backtest measures what the rules earn, not what a person set.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime
from django.utils.translation import gettext as _

from contacts.models import Contact, IntentLevel, InteractionKind
from scoring import engine
from scoring.models import RuleSetVersion
from scoring.selectors import iter_contact_facts, scope_filter

CONVERSION = "conversion"  # the outcome "any conversion-level kind"
# Judge a converter this long before its first conversion: the engine counts touches
# with occurred_at <= now, so the conversion itself (and anything logged at the same
# instant) must fall after `now`.
EPSILON = timedelta(microseconds=1)


@dataclass(frozen=True)
class Period:
    """Conversions in [start, end] are positives; start None means all history."""

    start: datetime | None
    end: datetime

    def as_json(self) -> dict[str, str | None]:
        return {"start": self.start.isoformat() if self.start else None, "end": self.end.isoformat()}


@dataclass(frozen=True)
class Observation:
    """One contact with a known outcome, and the moment it is judged at."""

    contact_id: int
    facts: engine.ContactFacts
    converted: bool
    as_of: datetime
    converted_at: datetime | None = None


def outcome_kinds(outcome: str) -> frozenset[str]:
    """The interaction kinds that mean "converted" for this outcome name."""
    outcome = (outcome or "").strip()
    if outcome == CONVERSION:
        kinds = frozenset(InteractionKind.objects.filter(intent_level=IntentLevel.CONVERSION).values_list("slug", flat=True))
        if not kinds:
            raise ValidationError({"outcome": _("No interaction kind has the conversion level yet.")})
        return kinds
    if not outcome or not InteractionKind.objects.filter(slug=outcome).exists():
        raise ValidationError(
            {"outcome": _("Unknown outcome “%(outcome)s”: name an interaction kind, or “conversion” for any conversion.")
             % {"outcome": outcome}}
        )
    return frozenset({outcome})


def _moment(value: Any, *, end: bool) -> datetime | None:
    """An aware datetime from a datetime, a date or an ISO string; a date covers the whole day."""
    if value in (None, ""):
        return None
    if isinstance(value, str):
        # A bare date first: parse_datetime would read "2025-01-31" as midnight, not the whole day.
        try:
            parsed = parse_date(value.strip()) if len(value.strip()) == 10 else parse_datetime(value.strip())
        except ValueError:
            parsed = None
        if parsed is None:
            raise ValidationError({"end" if end else "start": _("“%(value)s” is not a date.") % {"value": value}})
        value = parsed
    if not isinstance(value, datetime):
        value = datetime.combine(value + timedelta(days=1), time.min) - EPSILON if end else datetime.combine(value, time.min)
    return value if timezone.is_aware(value) else timezone.make_aware(value)


def period_parse(start: date | datetime | str | None = None, end: date | datetime | str | None = None,
                 *, now: datetime | None = None) -> Period:
    """The period to judge; the end defaults to now."""
    begin, finish = _moment(start, end=False), _moment(end, end=True) or now or timezone.now()
    if begin is not None and begin > finish:
        raise ValidationError({"start": _("The period starts after it ends.")})
    return Period(begin, finish)


def observation(contact_id: int, facts: engine.ContactFacts, kinds: frozenset[str], period: Period) -> Observation | None:
    """Decide one contact's outcome and "as of" moment; None when it is not judged."""
    first = min((t.occurred_at for t in facts.touches if t.kind in kinds), default=None)
    if first is not None and period.start is not None and first < period.start:
        return None  # converted before the period: already a customer, nothing left to predict
    clean = dataclasses.replace(facts, stage="contact", pinned=False, stage_changed_at=None)
    if first is not None and first <= period.end:
        return Observation(contact_id, clean, True, first - EPSILON, first)
    # Not converted by the end (a later conversion is in the future as seen from `end`).
    return Observation(contact_id, clean, False, period.end)


def outcome_queryset(version: RuleSetVersion, period: Period) -> QuerySet:
    """The contacts a version scores that existed at the end of the period and may be profiled."""
    return Contact.objects.filter(objects_to_profiling=False, created_at__lte=period.end, **scope_filter(version))


def observations_iter(queryset: QuerySet, *, kinds: frozenset[str], period: Period, with_data: bool,
                      batch: int = 2000) -> Iterator[tuple[int, list[Observation]]]:
    """Batches of (contacts read, observations), two queries per batch."""
    for rows in iter_contact_facts(queryset, with_data=with_data, batch=batch):
        judged = (observation(row["id"], facts, kinds, period) for row, facts in rows)
        yield len(rows), [o for o in judged if o is not None]


def observations_load(queryset: QuerySet, *, kinds: frozenset[str], period: Period, with_data: bool = False,
                      on_progress: Callable[[int, int], None] | None = None) -> list[Observation]:
    """Every judged contact of the queryset; on_progress(read, total) after each batch."""
    total = queryset.count() if on_progress else 0
    read, result = 0, []
    for count, batch in observations_iter(queryset, kinds=kinds, period=period, with_data=with_data):
        read += count
        result.extend(batch)
        if on_progress:
            on_progress(read, total)
    return result


def outcome_summary(observations: Sequence[Observation]) -> dict[str, Any]:
    conversions = sum(o.converted for o in observations)
    return {
        "contacts": len(observations),
        "conversions": conversions,
        "base_rate": conversions / len(observations) if observations else None,
    }
