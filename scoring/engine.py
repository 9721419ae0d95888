"""Pure lead-scoring engine for Saring.

Why pure: the same function scores live contacts, replays history "as of" a past
date and backs reconciliation checks, so it must not depend on Django, the
database or the clock. Everything arrives in the arguments and `now` is the only
notion of time, which makes every result reproducible.
"""

import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from operator import attrgetter
from types import MappingProxyType
from typing import Any, NamedTuple

STAGES: tuple[str, ...] = ("contact", "lead", "prospect", "customer")
INTENT_LEVELS: tuple[str, ...] = ("awareness", "interest", "intent", "conversion")
OPERATORS: tuple[str, ...] = (
    "eq", "neq", "in", "not_in", "contains", "startswith", "endswith",
    "is_set", "is_blank", "gt", "gte", "lt", "lte",
)
# Contact fields attribute rules may read (name -> type), plus any "attributes.<key>".
ATTRIBUTE_FIELDS: dict[str, str] = {
    "full_name": "text", "email": "text", "email_domain": "text", "phone": "text",
    "social_handle": "text", "company": "text", "job_title": "text", "city": "text",
    "industry": "text", "source": "text", "utm_source": "text", "utm_medium": "text",
    "utm_campaign": "text", "consent_email": "bool", "consent_whatsapp": "bool",
    "consent_sms": "bool", "do_not_contact": "bool",
}
ATTRIBUTES_PREFIX = "attributes."

_CENT = Decimal("0.01")
_TRUE_WORDS = frozenset({"true", "yes", "1"})
_FALSE_WORDS = frozenset({"false", "no", "0"})
_TEXT_OPS = ("contains", "startswith", "endswith")
_ISO_DATE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}([T ][0-9:.+\-Z]*)?$")
_COMPARISONS: dict[str, Callable[[float, float], bool]] = {
    "gt": lambda a, b: a > b,
    "gte": lambda a, b: a >= b,
    "lt": lambda a, b: a < b,
    "lte": lambda a, b: a <= b,
}


# Mutable containers are excluded from hashing so the frozen dataclasses stay hashable.
@dataclass(frozen=True)
class Condition:
    field: str
    op: str
    value: Any = field(default=None, hash=False)


@dataclass(frozen=True)
class InteractionRule:
    id: int
    label: str
    kind: str
    points: float
    window_days: int | None = None
    max_occurrences: int | None = None
    condition: Condition | None = None


@dataclass(frozen=True)
class AttributeRule:
    id: int
    label: str
    condition: Condition
    points: float


@dataclass(frozen=True)
class StagePolicy:
    lead_threshold: int
    prospect_threshold: int
    prospect_requires_intent: bool = True
    intent_window_days: int | None = 30
    intent_kinds: frozenset[str] = frozenset()
    conversion_kinds: frozenset[str] = frozenset()
    demote_after_days: int | None = None
    decay_half_life_days: float | None = None


@dataclass(frozen=True)
class RuleSet:
    version_id: int | None
    interaction_rules: tuple[InteractionRule, ...]
    attribute_rules: tuple[AttributeRule, ...]
    policy: StagePolicy


class Touch(NamedTuple):
    """One interaction as the engine sees it. A named tuple, not a frozen dataclass: a full
    rescore builds ten million of them, at less than half the cost each."""

    id: int
    kind: str
    occurred_at: datetime
    data: Mapping[str, Any] = MappingProxyType({})


@dataclass(frozen=True)
class ContactFacts:
    fields: Mapping[str, Any] = field(hash=False)
    touches: Sequence[Touch] = field(hash=False)
    stage: str = "contact"
    pinned: bool = False
    stage_changed_at: datetime | None = None


class RuleHit(NamedTuple):
    """One rule's contribution to a score (a named tuple: built for every hit of every contact)."""

    rule_id: int
    label: str
    points: Decimal
    count: int
    touch_ids: tuple[int, ...]


@dataclass(frozen=True)
class Reason:
    code: str
    params: Mapping[str, Any] = field(hash=False)


@dataclass(frozen=True)
class Result:
    score: int
    hits: tuple[RuleHit, ...]
    earned_stage: str
    stage: str
    reason: Reason | None
    previous_stage: str
    # The earliest moment at which, with no new data, this result could change its score, stage
    # or hits (a touch leaves a window, decay crosses a rounding edge, a future touch arrives,
    # demotion falls due); None: nothing in these facts moves it. See stable_until().
    stable_until: datetime | None = field(default=None, compare=False)

    @property
    def changed(self) -> bool:
        """Whether the caller has to persist a stage transition."""
        return self.stage != self.previous_stage


# --- values and conditions -------------------------------------------------------


def field_value(facts: ContactFacts, name: str) -> Any:
    """Read a contact field the way attribute rules see it (derived fields included)."""
    if name == "email_domain":
        email = facts.fields.get("email")
        if not isinstance(email, str) or "@" not in email:
            return None
        return email.rpartition("@")[2].strip().lower() or None
    if name.startswith(ATTRIBUTES_PREFIX):
        attributes = facts.fields.get("attributes")
        if not isinstance(attributes, Mapping):
            return None
        return attributes.get(name[len(ATTRIBUTES_PREFIX):])
    return facts.fields.get(name)


def _norm(value: Any) -> str:
    return str(value).strip().casefold()


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _as_number(value: Any) -> float | None:
    """A finite float for numbers and numeric strings; bools are flags, not numbers."""
    if _is_number(value):
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            return None
    else:
        return None
    return number if math.isfinite(number) else None


def _is_iso_date(value: Any) -> bool:
    """A date written YYYY-MM-DD (optionally followed by a time), as custom date fields store it."""
    return isinstance(value, str) and _ISO_DATE.match(value) is not None


def _as_bool(value: Any) -> bool | None:
    """Forms and imports deliver flags as words or 0/1, so accept those too."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        word = _norm(value)
        return True if word in _TRUE_WORDS else False if word in _FALSE_WORDS else None
    if _is_number(value) and value in (0, 1):
        return bool(value)
    return None


def _equals(actual: Any, expected: Any) -> bool:
    if actual is None or expected is None:
        return False
    if isinstance(expected, bool) or isinstance(actual, bool):
        flag = _as_bool(actual)
        return flag is not None and flag == _as_bool(expected)
    if _is_number(expected):
        number = _as_number(actual)
        if number is not None:
            return number == float(expected)
    return _norm(actual) == _norm(expected)


def _is_set(value: Any) -> bool:
    if value is None:
        return False
    if isinstance(value, str):
        return bool(value.strip())
    if isinstance(value, (list, tuple, dict, set, frozenset)):
        return bool(value)
    return True


def condition_holds(cond: Condition, actual: Any) -> bool:
    """Evaluate one condition; a missing value only satisfies the negative operators."""
    op, expected = cond.op, cond.value
    if op == "is_set":
        return _is_set(actual)
    if op == "is_blank":
        return not _is_set(actual)
    if actual is None:
        return op in ("neq", "not_in")
    if op in ("eq", "neq"):
        return _equals(actual, expected) == (op == "eq")
    if op in ("in", "not_in"):
        options = expected if isinstance(expected, (list, tuple, set, frozenset)) else [expected]
        return any(_equals(actual, option) for option in options) == (op == "in")
    if op in _TEXT_OPS:
        if expected is None:
            return False
        text, needle = _norm(actual), _norm(expected)
        if op == "contains":
            return needle in text
        return text.startswith(needle) if op == "startswith" else text.endswith(needle)
    if op in _COMPARISONS:
        if _is_iso_date(expected):  # dates (custom date fields) compare as ISO text, which sorts like the dates
            return isinstance(actual, str) and _is_iso_date(actual.strip()) and _COMPARISONS[op](actual.strip(), expected)
        left, right = _as_number(actual), _as_number(expected)
        return left is not None and right is not None and _COMPARISONS[op](left, right)
    return False  # unknown operators never match; validate_condition reports them


def _is_attribute_field(name: str) -> bool:
    if name in ATTRIBUTE_FIELDS:
        return True
    return name.startswith(ATTRIBUTES_PREFIX) and bool(name[len(ATTRIBUTES_PREFIX):].strip())


def _value_problem(op: str, value: Any, *, bool_field: bool) -> str | None:
    """Why `value` cannot be used with `op`, phrased to follow "Operator 'x' on field 'y'"."""
    scalar = isinstance(value, (str, int, float, bool))
    if op in ("in", "not_in"):
        if not isinstance(value, (list, tuple)) or not value:
            return "needs a non-empty list of values"
        if not all(isinstance(item, (str, int, float, bool)) for item in value):
            return "needs a list of plain values (text, numbers or true/false)"
    elif op in _COMPARISONS:
        if _is_iso_date(value):
            return None
        if not _is_number(value) or not math.isfinite(value):
            return f"needs a number or a date (YYYY-MM-DD), got {value!r}"
    elif op in _TEXT_OPS:
        if not isinstance(value, str) or not value.strip():
            return "needs non-empty text"
    elif op in ("is_set", "is_blank"):
        if value is not None:
            return f"takes no value, got {value!r}"
    elif not scalar:
        return f"needs a single value (text, number or true/false), got {value!r}"
    elif bool_field and not isinstance(value, bool):
        return f"needs true or false because it is a yes/no field, got {value!r}"
    return None


def validate_condition(cond: Condition, *, for_attribute_rule: bool) -> list[str]:
    """Human-readable problems with a rule's condition; an empty list means it is usable."""
    errors: list[str] = []
    name = cond.field if isinstance(cond.field, str) else ""
    if for_attribute_rule and not _is_attribute_field(name):
        allowed = ", ".join(ATTRIBUTE_FIELDS)
        errors.append(f"Unknown field '{cond.field}'. Allowed: {allowed}, or attributes.<key>.")
    elif not for_attribute_rule and not name.strip():
        errors.append("Field is required: name a key of the interaction data.")
    if cond.op not in OPERATORS:
        errors.append(
            f"Unknown operator '{cond.op}' on field '{cond.field}'. Allowed: {', '.join(OPERATORS)}."
        )
        return errors
    bool_field = for_attribute_rule and ATTRIBUTE_FIELDS.get(name) == "bool"
    problem = _value_problem(cond.op, cond.value, bool_field=bool_field)
    if problem:
        errors.append(f"Operator '{cond.op}' on field '{cond.field}' {problem}.")
    return errors


# --- scoring ---------------------------------------------------------------------


def _cents(value: float) -> Decimal:
    """Going through str() rounds what the user typed (2.675), not its binary approximation."""
    return Decimal(str(value)).quantize(_CENT, rounding=ROUND_HALF_UP)


def score_total(points: Iterable[Decimal]) -> int:
    """The one rounding rule, so a score always equals the rounded sum of its breakdown."""
    total = sum(points, Decimal(0))
    return int(total.quantize(Decimal(1), rounding=ROUND_HALF_UP))


# A touch's place in time: (occurred_at, id). attrgetter runs in C; a full rescore sorts ten million touches.
_recency = attrgetter("occurred_at", "id")


def _since(now: datetime, days: float | None) -> datetime | None:
    return None if days is None else now - timedelta(days=days)


# Rule sets are compiled once (per process) into the shapes evaluate() walks: each
# contact's touches are sorted newest first once and grouped by kind, so a rule only
# looks at its own kind and stops at its window's edge or its cap; conditions on text
# compare against pre-normalised options; an attribute rule's hit is built once.
# tests/scoring/reference_engine.py is the plain one-rule-at-a-time reading of the
# same semantics, and the tests check that both agree on random rule sets and contacts.


def _predicate(cond: Condition) -> Callable[[Any], bool]:
    """condition_holds(cond, ·), with the common shapes precomputed: text against text
    (`eq`, `in`, `contains`… and their negations), a yes/no flag, is_set and is_blank.
    Anything else takes the general path."""
    op, expected = cond.op, cond.value
    general = lambda actual: condition_holds(cond, actual)  # noqa: E731
    if op == "is_set":
        return _is_set
    if op == "is_blank":
        return lambda actual: not _is_set(actual)
    if op in ("eq", "neq") and isinstance(expected, bool):
        is_eq = op == "eq"

        def flag_holds(actual: Any) -> bool:
            if type(actual) is bool:  # flag against flag: _equals compares them as they are
                return (actual == expected) == is_eq
            return general(actual)

        return flag_holds
    if op in ("eq", "neq", "in", "not_in"):
        options = expected if op in ("in", "not_in") and isinstance(expected, (list, tuple, set, frozenset)) else [expected]
        if options and all(isinstance(option, str) for option in options):
            normalised = frozenset(_norm(option) for option in options)
            positive = op in ("eq", "in")

            def text_holds(actual: Any) -> bool:
                if type(actual) is str:  # text against text: _equals is a normalised comparison
                    return (actual.strip().casefold() in normalised) == positive
                return general(actual)

            return text_holds
    if op in _TEXT_OPS and isinstance(expected, str):
        needle = _norm(expected)
        test = {"contains": lambda text: needle in text, "startswith": lambda text: text.startswith(needle),
                "endswith": lambda text: text.endswith(needle)}[op]

        def text_op_holds(actual: Any) -> bool:
            if type(actual) is str:
                return test(actual.strip().casefold())
            return general(actual)

        return text_op_holds
    return general


def _getter(name: str) -> Callable[[ContactFacts], Any]:
    if name == "email_domain" or name.startswith(ATTRIBUTES_PREFIX):
        return lambda facts: field_value(facts, name)
    return lambda facts: facts.fields.get(name)


class _Compiled:
    """One rule set, ready to evaluate many contacts (see evaluate)."""

    def __init__(self, ruleset: RuleSet) -> None:
        self.ruleset = ruleset
        half_life = ruleset.policy.decay_half_life_days
        self.half_life = float(half_life) if half_life is not None and half_life > 0 else None
        # A cap of 0 (or less) keeps no touch: such a rule never hits.
        self.interaction_rules = tuple(
            (r.kind, r.window_days, r.condition.field if r.condition else None,
             _predicate(r.condition) if r.condition else None, r.max_occurrences, float(r.points), r.id, r.label)
            for r in ruleset.interaction_rules if r.max_occurrences is None or r.max_occurrences > 0
        )
        self.attributes = tuple(
            (_getter(rule.condition.field), _predicate(rule.condition),
             RuleHit(rule.id, rule.label, _cents(float(rule.points)), 1, ()))
            for rule in ruleset.attribute_rules
        )
        self._plan: tuple[datetime, tuple[tuple, ...]] | None = None

    def plan(self, now: datetime) -> tuple[tuple, ...]:
        """Per interaction rule, flat for the hot loop: kind, window start as of `now`,
        condition (field and test), cap, points, id, label. A batch of contacts shares one `now`."""
        cached = self._plan
        if cached is None or cached[0] != now:
            cached = (now, tuple((kind, _since(now, window_days), *rest,
                                  None if window_days is None else timedelta(days=window_days))
                                 for kind, window_days, *rest in self.interaction_rules))
            self._plan = cached
        return cached[1]

    def interaction_hits(self, newest_first: Sequence[Touch], now: datetime) -> tuple[list[RuleHit], float, datetime | None]:
        """The hits, the exact sum of their points (before rounding to cents) and the
        moment the first matched touch leaves its rule's window (None: none ever does)."""
        by_kind: dict[str, list[Touch]] = {}
        for touch in newest_first:
            group = by_kind.get(touch.kind)
            if group is None:
                by_kind[touch.kind] = [touch]
            else:
                group.append(touch)
        half_life, fsum = self.half_life, math.fsum
        hits, raw, leaves = [], 0.0, None
        for kind, since, data_field, holds, cap, points, rule_id, label, window in self.plan(now):
            group = by_kind.get(kind)
            if group is None:
                continue
            matches = []
            for touch in group:
                if since is not None and touch.occurred_at < since:
                    break  # newest first: everything after this is older still
                if holds is not None and not holds((touch.data or {}).get(data_field)):
                    continue
                matches.append(touch)
                if len(matches) == cap:  # the cap keeps the most recent
                    break
            if not matches:
                continue
            # fsum is exact, so the total cannot depend on float summation order.
            if half_life is None:
                total = fsum(points * 1.0 for _touch in matches)
            else:
                total = fsum(points * 0.5 ** (((now - touch.occurred_at).total_seconds() / 86400) / half_life)
                             for touch in matches)
            hits.append(RuleHit(rule_id, label, _cents(total), len(matches), tuple(t.id for t in matches)))
            raw += total
            if window is not None:
                # Newest first, so the last match leaves the window first; then the count drops.
                leaving = matches[-1].occurred_at + window
                if leaves is None or leaving < leaves:
                    leaves = leaving
        return hits, raw, leaves

    def attribute_hits(self, facts: ContactFacts) -> list[RuleHit]:
        return [hit for get, holds, hit in self.attributes if holds(get(facts))]


_compiled_cache: dict[int, _Compiled] = {}


def _compiled(ruleset: RuleSet) -> _Compiled:
    """The compiled form of a rule set, cached by identity (rule sets are immutable)."""
    compiled = _compiled_cache.get(id(ruleset))
    if compiled is None or compiled.ruleset is not ruleset:  # not a new object at a reused address
        if len(_compiled_cache) > 1000:
            _compiled_cache.clear()
        compiled = _compiled_cache[id(ruleset)] = _Compiled(ruleset)
    return compiled


# --- stages ----------------------------------------------------------------------


def _iso_date(moment: datetime, now: datetime) -> str:
    """Calendar day in `now`'s timezone, so callers choose the business timezone."""
    return moment.astimezone(now.tzinfo).date().isoformat()


def _earned_stage(
    score: int, touches: Sequence[Touch], policy: StagePolicy, now: datetime
) -> tuple[str, Reason | None]:
    """The stage the evidence alone justifies, with the reason a promotion would cite."""
    conversions = [t for t in touches if t.kind in policy.conversion_kinds]
    if conversions:
        first = min(conversions, key=_recency)
        return "customer", Reason("conversion", {"kind": first.kind, "date": _iso_date(first.occurred_at, now)})
    since = _since(now, policy.intent_window_days)
    intents = [
        t for t in touches
        if t.kind in policy.intent_kinds and (since is None or t.occurred_at >= since)
    ]
    if score >= policy.prospect_threshold and (intents or not policy.prospect_requires_intent):
        params: dict[str, Any] = {"score": score, "threshold": policy.prospect_threshold}
        if intents:
            latest = max(intents, key=_recency)
            params["intent_kind"] = latest.kind
            params["intent_date"] = _iso_date(latest.occurred_at, now)
        return "prospect", Reason("prospect", params)
    if score >= policy.lead_threshold:
        return "lead", Reason("lead", {"score": score, "threshold": policy.lead_threshold})
    return "contact", None


def _last_activity(touches: Sequence[Touch], stage_changed_at: datetime | None) -> datetime | None:
    moments = [t.occurred_at for t in touches]
    if stage_changed_at is not None:
        moments.append(stage_changed_at)
    return max(moments, default=None)


def _apply_policy(
    facts: ContactFacts,
    earned: str,
    earned_reason: Reason | None,
    score: int,
    touches: Sequence[Touch],
    policy: StagePolicy,
    now: datetime,
) -> tuple[str, Reason | None]:
    """Stages only move forward, except that an idle lead/prospect drops one step.

    Demotion requires that the score no longer justifies the stage, otherwise the
    next run would promote again. Inactivity is measured from the last touch or the
    last stage change, whichever is later, so a contact demoted at `now` and
    re-evaluated at the same `now` stays put (evaluation is idempotent).
    """
    current = facts.stage
    if facts.pinned:
        return current, None
    rank, earned_rank = STAGES.index(current), STAGES.index(earned)
    if earned_rank > rank:
        return earned, earned_reason
    days = policy.demote_after_days
    if earned_rank < rank and current in ("lead", "prospect") and days is not None and days > 0:
        last = _last_activity(touches, facts.stage_changed_at)
        if last is None or last <= now - timedelta(days=days):
            params = {
                "days": days,
                "last_activity": None if last is None else _iso_date(last, now),
                "score": score,
            }
            return STAGES[rank - 1], Reason("demoted_inactive", params)
    return current, None


def evaluate(ruleset: RuleSet, facts: ContactFacts, now: datetime) -> Result:
    """Score a contact and decide its stage as of `now`; touches after `now` do not exist yet."""
    if now.utcoffset() is None:
        raise ValueError("now must be timezone-aware")
    if facts.stage not in STAGES:
        raise ValueError(f"Unknown stage {facts.stage!r}; expected one of {', '.join(STAGES)}")
    policy = ruleset.policy
    compiled = _compiled(ruleset)
    touches = [t for t in facts.touches if t.occurred_at <= now]
    newest_first = sorted(touches, key=_recency, reverse=True)
    interaction_hits, raw, leaves = compiled.interaction_hits(newest_first, now)
    kept = tuple(interaction_hits + compiled.attribute_hits(facts))
    score = score_total(hit.points for hit in kept)
    earned, earned_reason = _earned_stage(score, touches, policy, now)
    stage, reason = _apply_policy(facts, earned, earned_reason, score, touches, policy, now)
    until = stable_until(policy, compiled.half_life, facts, newest_first, kept, len(interaction_hits), raw, leaves, score,
                         stage, now)
    return Result(score, kept, earned, stage, reason, facts.stage, until)


def stable_until(policy: StagePolicy, half_life: float | None, facts: ContactFacts, newest_first: Sequence[Touch],
                 hits: Sequence[RuleHit], interaction_hit_count: int, raw: float, leaves: datetime | None,
                 score: int, stage: str, now: datetime) -> datetime | None:
    """Until when evaluate(·, facts, t) keeps the score, stage and hits it has at `now`, for any
    later t before it (conservatively: it may say sooner, never later). What can move them
    without new data: a future touch coming into the past, a matched touch leaving its window
    (`leaves`), the latest intent touch leaving the intent window, demotion falling due, and
    decay taking the score across a rounding edge. A full rescore skips contacts until then."""
    moments = [leaves] if leaves is not None else []
    if len(newest_first) < len(facts.touches):  # some touches lie in the future of `now`
        moments.append(min(t.occurred_at for t in facts.touches if t.occurred_at > now))
    if policy.intent_window_days is not None:
        intent_kinds = policy.intent_kinds
        latest_intent = next((t.occurred_at for t in newest_first if t.kind in intent_kinds), None)
        if latest_intent is not None and latest_intent + timedelta(days=policy.intent_window_days) > now:
            moments.append(latest_intent + timedelta(days=policy.intent_window_days))
    if stage in ("lead", "prospect") and policy.demote_after_days is not None and policy.demote_after_days > 0:
        # Once due, demotion waits only on the score and intents, which the other moments cover.
        # A stage moved now is stored with stage_changed_at = now: its idle time starts now.
        changed_at = now if stage != facts.stage else facts.stage_changed_at
        last = max(filter(None, (newest_first[0].occurred_at if newest_first else None, changed_at)), default=None)
        if last is not None and last + timedelta(days=policy.demote_after_days) > now:
            moments.append(last + timedelta(days=policy.demote_after_days))
    if half_life is not None and raw != 0:
        edge = _decay_edge(half_life, hits, interaction_hit_count, raw, score, now)
        if edge is not None:
            moments.append(edge)
    return min(moments, default=None)


def _decay_edge(half_life: float, hits: Sequence[RuleHit], interaction_hit_count: int, raw: float, score: int,
                now: datetime) -> datetime | None:
    """When decay could first change the rounded score. Every interaction point decays by the
    same factor, so the exact total is A + raw·f(t) with f falling from 1 to 0 (A: the
    attribute points). The stored score rounds the sum of each hit's cents, at most half a
    cent per hit away from the exact total: that much is taken off the distance to the edge."""
    attribute_points = float(sum((h.points for h in hits[interaction_hit_count:]), Decimal(0)))
    total = attribute_points + raw
    margin = 0.005 * interaction_hit_count + 1e-9
    # Falling (raw > 0) the score changes below score - 0.5; rising, at score + 0.5.
    distance = (total - (score - 0.5) - margin) if raw > 0 else ((score + 0.5) - total - margin)
    if distance <= 0:
        return now
    if distance >= abs(raw):
        return None  # even all the way to zero it stays put
    days = -half_life * math.log2(1 - distance / abs(raw)) * 0.999  # a little early against float error
    return now + timedelta(days=days)


def result_digest(result: Result, version_id: int | None) -> int:
    """A 64-bit fingerprint of a result as far as a rescore must rewrite it: version, score,
    stage, and each hit's rule, count and interactions. Points are left out on purpose: with
    the same rules and interactions they differ only by decay's cents, and while the score
    and stage stand, the stored breakdown (exact as of its computed_at) is kept rather than
    rewritten every night for cent drift. Built from ints and tuples, whose hashes are not
    salted per process, so every worker computes the same value; a different Python could
    hash differently, and then every row is simply written once more."""
    return hash((version_id, result.score, STAGES.index(result.stage),  # an index: str hashes are salted
                 tuple((hit.rule_id, hit.count, hit.touch_ids) for hit in result.hits)))
