"""The rule advisor: evidence for every candidate rule, and a suggested rule set a person can read.

What it does, on the contacts with a known outcome (scoring.outcomes):
1. Splits them at random (seeded) into 70 % to learn from and 30 % to report on, so the
   number an admin sees is an honest one.
2. Lists candidate rules, each an ordinary engine rule: one per category of an imported
   column or contact field with enough support, quantile steps of numeric columns
   ("age ≥ 30", "age ≥ 45": a bin is the sum of the steps below it, because a rule has
   one operator; a value that fills more than a bin, like pdays = -1 or PageValues = 0,
   gets steps of its own), "is blank" when enough values are missing, and each
   interaction kind counted within the windows that make sense for the industry.
   Outcome kinds never become candidates, and a column that separates converters almost
   perfectly (the outcome itself, imported by mistake) is left out and reported.
3. For each candidate: count, conversions, rate, Wilson 95 % interval and lift, all on
   the learning split, computed through the engine's own condition semantics.
4. Points: a logistic regression over all candidates at once, penalised toward zero
   (an L2 penalty is a prior: thin evidence gets small points, strong evidence keeps
   its weight), fitted by Newton's method in numpy; the coefficients are log-odds,
   scaled (10 points per unit by default) and rounded to integers. Fitting jointly
   rather than summing one-feature log-odds keeps correlated evidence (nested
   windows, numeric steps) from being counted twice. Where a column's categories cover
   everyone, the weakest is anchored at 0 (every score moves alike, so rankings stay),
   which leaves mostly positive points. Rules rounding to 0 are dropped.
5. Thresholds from the sales team's capacity (scoring.advisor_thresholds, pure): prospects
   are the largest group within the capacity (a share of new contacts, or prospects a
   week divided by the new contacts a week; by default at most 25 %) that converts at
   ≥ 2× the base rate, both with 95 % confidence on the learning split; when the data do
   not allow both, the capacity is filled and the page says so. Leads are the contacts
   who showed any interest: the highest threshold whose group still holds 90 % of the
   conversions (the ones below convert rarely).
6. Writes the rules into the rule set's ordinary draft (each label carries its
   evidence: "job=management (n=812, rate 18.2%, lift 1.6, +12)") and backtests the
   draft, through the engine, on the 30 % held out, beside the active version.

`advisor_start` queues it (scoring.tasks_advisor.advise_task); results are stored in a
Backtest row of kind "advisor":

    results = {
        "outcome": "purchase", "kinds": ["purchase"], "period": {"start": ..., "end": ...},
        "split": {"seed": 7, "train_fraction": 0.7, "train": 700, "test": 300,
                  "train_conversions": 80, "test_conversions": 33},
        "evidence": [{"feature": "job=management", "group": "attributes.job", "type": "attribute",
                      "field": "attributes.job", "operator": "eq", "value": "management",
                      "interaction_kind": "", "window_days": None, "max_occurrences": None,
                      "n": 812, "conversions": 148, "rate": 0.182, "ci_low": 0.157, "ci_high": 0.21,
                      "lift": 1.6, "coef": 1.21, "points": 12}, ...],   # every supported candidate; 0 = no rule
        "rules": 41,                                   # rules written into the draft
        "thresholds": {"prospect": {"threshold": 33, "status": "met", "capacity": 0.25, "min_lift": 2.0,
                                    "contacts": 7370, "share": 0.233, "rate": 0.306, "lift": 2.59, "recall": 0.6, ...},
                       "lead": {"threshold": 22, "status": "met", "target_recall": 0.9, "negative": False,
                                "share": 0.74, "below_share": 0.26, "below_lift": 0.34, ...}},  # learning split
        "capacity": {"share": 0.25, "source": "default", "per_week": None, "weekly_new": None},
        "tradeoff": {"points": [point, ...], "table": [point, ...]},   # on the held-out 30 %, highest
                    # threshold first; point = {"threshold", "contacts", "conversions", "total", "positives",
                    #                           "share", "rate", "lift", "recall"}
        "few_conversions": False,                      # the held-out 30 % has < 30 conversions: noise
        "prospect_requires_intent": False,
        "excluded": [{"column": "attributes.y", "reason": "..."}],
        "fit": {"method": "...", "shrinkage": 10.0, "points_per_logodds": 10, "iterations": 7,
                "features": 60, "train_auc": 0.79},
        "notes": ["..."],
        "backtest": {...},   # scoring.backtest.compare() on the 30 %: draft first, then the active version
    }
"""

from __future__ import annotations

import math
import random
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import numpy as np
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from crm.audit import audit
from scoring import advisor_thresholds as thresholds
from scoring import engine
from scoring.backtest import ProgressFn, auc, compare, evaluate, needs_data, queue_run, run_tracked
from scoring.models import Backtest, Rule, RuleSet, RuleSetVersion
from scoring.outcomes import Observation, observations_load, outcome_kinds, outcome_queryset, period_parse
from scoring.selectors import version_to_engine
from scoring.services import rule_validate, version_draft

DEFAULTS: dict[str, Any] = {
    "outcome": "conversion",
    "start": None,
    "end": None,
    "capacity_share": None,  # prospects the team can follow up, as a share of new contacts (None: the default)
    "capacity_per_week": None,  # ... or as prospects a week (divided by the new contacts a week)
    "min_lift": thresholds.MIN_LIFT,  # prospects convert at least this many times the base rate
    "target_precision": None,  # optional: prospects also convert at least this often
    "lead_recall": thresholds.LEAD_RECALL,  # leads and prospects hold this share of the conversions
    "min_support": 30,  # contacts a candidate needs on the learning split (and without it)
    "seed": 7,
    "train_fraction": 0.7,
    "bins": 5,  # quantile steps per numeric column
    "max_categories": 30,  # per column, the most frequent first
    "shrinkage": 10.0,  # L2 penalty = a normal prior of variance 1/shrinkage on each rule's log-odds
    "points_per_logodds": 10,
    "max_occurrences": 3,  # cap of suggested interaction rules
    "exclude": [],  # columns never to use, e.g. ["duration"] (known only after the outcome)
}
# Recency windows per industry, as in the playbooks: shops count days, B2B and schools months.
WINDOWS: dict[str, tuple[int, ...]] = {
    "ecommerce": (7, 30),
    "b2b": (30, 90, 180),
    "healthcare": (30, 90),
    "education": (30, 90, 180),
}
DEFAULT_WINDOWS = (30, 90)
CONTACT_TEXT_FIELDS = ("job_title", "city", "source", "utm_source", "utm_medium", "utm_campaign", "email_domain")
CONTACT_FLAGS = ("consent_email", "consent_whatsapp", "consent_sms", "do_not_contact")
CONTACT_PRESENCE = ("phone", "company")
MAX_LEVELS = 12  # a numeric column with at most this many values is treated as categories
LEAK_AGREEMENT = 0.99
LABEL_LENGTH = 150  # Rule.label's max_length
Z95 = 1.959963984540054


# --- Pure statistics ---------------------------------------------------------------------

def wilson(successes: int, n: int, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval of a proportion: sensible for small n and rates near 0 or 1."""
    if n <= 0:
        return 0.0, 1.0
    p = successes / n
    denominator = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denominator
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denominator
    return max(0.0, centre - half), min(1.0, centre + half)


def split_ids(ids: Iterable[int], *, seed: int, train_fraction: float = 0.7) -> tuple[frozenset[int], frozenset[int]]:
    """A reproducible random split of contact ids: (learn, hold out)."""
    ordered = sorted(set(ids))
    random.Random(seed).shuffle(ordered)
    cut = round(len(ordered) * train_fraction)
    return frozenset(ordered[:cut]), frozenset(ordered[cut:])


def nice(value: float) -> int | float:
    """Three significant digits, as an int when whole: thresholds people can read."""
    if value == 0 or not math.isfinite(value):
        return 0
    digits = 2 - math.floor(math.log10(abs(value)))
    rounded = round(value, digits)
    return int(rounded) if float(rounded).is_integer() else rounded


def round_points(value: float) -> int:
    return int(Decimal(repr(value)).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def threshold_for_precision(scores: Sequence[float], labels: Sequence[bool], target: float, *, min_size: int = 1,
                            eligible: Sequence[bool] | None = None) -> dict[str, Any]:
    """The lowest score t such that "score ≥ t" (among eligible contacts) has at least
    `target` precision: the most contacts at that quality. When no t reaches it, the
    most precise t with at least `min_size` contacts, marked reached=False."""
    positives = sum(labels)
    pairs = sorted(
        ((s, y) for s, y, ok in zip(scores, labels, eligible or [True] * len(scores), strict=True) if ok),
        key=lambda pair: -pair[0],
    )
    options: list[tuple[float, int, int]] = []  # (threshold, size, hits)
    size = hits = 0
    for i, (score, label) in enumerate(pairs):
        size, hits = size + 1, hits + bool(label)
        if i + 1 == len(pairs) or pairs[i + 1][0] != score:
            options.append((score, size, hits))
    big_enough = [o for o in options if o[1] >= min_size] or options[:1]
    reached = [o for o in big_enough if o[2] / o[1] >= target]
    if reached:
        best = reached[-1]  # the lowest threshold that still reaches the target
    elif big_enough:
        best = max(big_enough, key=lambda o: (o[2] / o[1], -o[0]))
    else:
        return {"threshold": None, "target": target, "precision": None, "recall": None, "contacts": 0, "reached": False}
    threshold, size, hits = best
    return {
        "threshold": int(math.ceil(threshold)), "target": target, "precision": hits / size,
        "recall": hits / positives if positives else None, "contacts": size, "reached": bool(reached),
    }


def threshold_at(scores: Sequence[float], labels: Sequence[bool], threshold: float) -> dict[str, Any]:
    """Size, precision and recall of "score ≥ threshold"."""
    chosen = [y for s, y in zip(scores, labels, strict=True) if s >= threshold]
    positives = sum(labels)
    return {
        "threshold": int(math.ceil(threshold)), "contacts": len(chosen),
        "precision": sum(chosen) / len(chosen) if chosen else None,
        "recall": sum(chosen) / positives if positives else None,
    }


def fit_logistic(x: np.ndarray, y: np.ndarray, *, penalty: float, max_iter: int = 100,
                 tol: float = 1e-7) -> tuple[float, np.ndarray, int]:
    """L2-penalised logistic regression by Newton's method: (intercept, coefficients,
    iterations). The intercept is not penalised; the penalty makes the problem strictly
    convex, so Newton converges even when a feature separates the classes."""
    n, p = x.shape
    design = np.hstack([np.ones((n, 1)), x])
    prior = np.full(p + 1, float(penalty))
    prior[0] = 0.0
    weights = np.zeros(p + 1)
    mean = float(np.clip(y.mean(), 1e-6, 1 - 1e-6))
    weights[0] = math.log(mean / (1 - mean))
    iterations = 0
    for iterations in range(1, max_iter + 1):  # noqa: B007 - the count is reported
        z = np.clip(design @ weights, -35, 35)
        prob = 1 / (1 + np.exp(-z))
        gradient = design.T @ (prob - y) + prior * weights
        hessian = (design * (prob * (1 - prob))[:, None]).T @ design + np.diag(prior)
        hessian[0, 0] += 1e-9  # keeps the solve stable when every row is alike
        step = np.linalg.solve(hessian, gradient)
        weights -= step
        if float(np.max(np.abs(step))) < tol:
            break
    return float(weights[0]), weights[1:], iterations


# --- Candidates ---------------------------------------------------------------------------

@dataclass(frozen=True)
class Candidate:
    """One possible rule. Attribute candidates carry a condition, interaction ones a kind and window."""

    group: str
    display: str
    type: str  # Rule.Type value
    field: str = ""
    operator: str = ""
    value: Any = None
    kind: str = ""
    window_days: int | None = None
    max_occurrences: int | None = None

    @property
    def condition(self) -> engine.Condition:
        return engine.Condition(self.field, self.operator, self.value)


@dataclass
class Evidence:
    candidate: Candidate
    n: int
    conversions: int
    rate: float
    ci_low: float
    ci_high: float
    lift: float | None
    coef: float = 0.0
    points: int = 0

    def label(self) -> str:
        lift = "–" if self.lift is None else f"{self.lift:.1f}" if self.lift >= 0.95 else f"{self.lift:.2f}"
        feature = self.candidate.display
        feature = feature if len(feature) <= 80 else feature[:79] + "…"
        text = _("%(feature)s (n=%(n)d, rate %(rate)s, lift %(lift)s, %(points)s)") % {
            "feature": feature, "n": self.n, "rate": f"{self.rate:.1%}", "lift": lift, "points": f"{self.points:+d}",
        }
        return text[:LABEL_LENGTH]

    def as_json(self) -> dict[str, Any]:
        c = self.candidate
        return {
            "feature": c.display, "group": c.group, "type": c.type, "field": c.field, "operator": c.operator,
            "value": c.value, "interaction_kind": c.kind, "window_days": c.window_days,
            "max_occurrences": c.max_occurrences, "n": self.n, "conversions": self.conversions, "rate": self.rate,
            "ci_low": self.ci_low, "ci_high": self.ci_high, "lift": self.lift, "coef": self.coef, "points": self.points,
        }


@dataclass
class Suggestion:
    evidence: list[Evidence]
    thresholds: dict[str, dict[str, Any]]
    prospect_requires_intent: bool
    capacity: dict[str, Any] = field(default_factory=dict)
    excluded: list[dict[str, str]] = field(default_factory=list)
    fit: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    @property
    def rules(self) -> list[Evidence]:
        return [e for e in self.evidence if e.points]


def _is_set(value: Any) -> bool:
    return engine.condition_holds(engine.Condition("", "is_set"), value)


def _number(value: Any) -> float | None:
    """A number the way the engine's comparisons read it (numeric text too, flags not)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            return None
        return number if math.isfinite(number) else None
    return None


def _attributes(observations: Sequence[Observation]) -> list[Mapping[str, Any]]:
    return [a if isinstance(a := o.facts.fields.get("attributes"), Mapping) else {} for o in observations]


def _values(observations: Sequence[Observation], name: str, attributes: Sequence[Mapping[str, Any]] | None = None) -> list[Any]:
    """engine.field_value for every contact; imported columns read directly (same result, faster)."""
    if name.startswith(engine.ATTRIBUTES_PREFIX):
        key = name[len(engine.ATTRIBUTES_PREFIX):]
        return [a.get(key) for a in (attributes if attributes is not None else _attributes(observations))]
    return [engine.field_value(o.facts, name) for o in observations]


def _short(name: str) -> str:
    return name[len(engine.ATTRIBUTES_PREFIX):] if name.startswith(engine.ATTRIBUTES_PREFIX) else name


def _column_candidates(name: str, values: Sequence[Any], options: dict[str, Any], *, binned: bool = True) -> list[Candidate]:
    """Candidates for one column: numeric steps or categories, plus "is blank".
    Works on the distinct values and their counts (a column has few of them)."""
    min_support, total = int(options["min_support"]), len(values)
    try:
        tally = Counter(values)
    except TypeError:
        return []  # structured values (lists, objects) have no single-operator reading
    present = {v: n for v, n in tally.items() if _is_set(v)}
    count = sum(present.values())
    short = _short(name)
    candidates: list[Candidate] = []
    if count < min_support:
        return candidates
    numbers = {v: _number(v) for v in present}
    numeric = all(n is not None for n in numbers.values())
    if binned and numeric and len(set(numbers.values())) > MAX_LEVELS:
        bins = int(options["bins"])
        sample = np.repeat(np.array([numbers[v] for v in present], dtype=float), list(present.values()))
        lowest = float(sample.min())
        values, counts = np.unique(sample, return_counts=True)
        mode = float(values[counts.argmax()])
        edges: set[int | float] = set()
        if counts.max() * bins > len(sample):
            # One value fills more than a bin (pdays = -1, PageValues = 0): steps over the
            # other values, a step just above the mode, and the mode itself when it is
            # not the lowest value (steps alone cannot single it out then).
            sample = sample[sample != mode]
            if mode > lowest:
                shown = int(mode) if mode.is_integer() else mode
                candidates.append(Candidate(name, f"{short}={shown}", Rule.Type.ATTRIBUTE, name, "eq", shown))
            above = sample[sample > mode]
            if above.size:
                edges.add(nice(float(above.min())))
        if sample.size:
            quantiles = np.quantile(sample, [k / bins for k in range(1, bins)])
            if all(float(v).is_integer() for v in values):
                quantiles = np.ceil(quantiles)  # whole numbers: "visits ≥ 16", not "visits ≥ 15.6"
            edges |= {nice(float(q)) for q in quantiles}
        for edge in sorted(edges):
            if edge > lowest:
                candidates.append(Candidate(name, f"{short} ≥ {edge}", Rule.Type.ATTRIBUTE, name, "gte", edge))
    else:
        counts: Counter = Counter()
        spelling: dict[Any, Counter] = defaultdict(Counter)
        for value, n in present.items():
            key = numbers[value] if numeric else str(value).strip().casefold()
            counts[key] += n
            spelling[key][value if isinstance(value, bool) else str(value).strip()] += n
        levels = [k for k, c in counts.most_common() if c >= min_support and total - c >= min_support]
        for key in levels[: int(options["max_categories"])]:
            value: Any = (int(key) if float(key).is_integer() else key) if numeric else spelling[key].most_common(1)[0][0]
            candidates.append(Candidate(name, f"{short}={value}", Rule.Type.ATTRIBUTE, name, "eq", value))
    if total - count >= min_support:
        candidates.append(Candidate(name, _("%(field)s is blank") % {"field": short}, Rule.Type.ATTRIBUTE, name, "is_blank"))
    return candidates


def _excluded(name: str, exclude: Iterable[str]) -> bool:
    wanted = {_short(str(e)).strip().casefold() for e in exclude}
    return _short(name).casefold() in wanted


def candidates_for(train: Sequence[Observation], *, options: dict[str, Any], outcome_kinds: frozenset[str],
                   industry: str) -> list[Candidate]:
    """Every candidate rule the learning split supports (support is checked again on the matrix)."""
    attributes = _attributes(train)
    keys: dict[str, None] = {}
    for a in attributes:
        keys.update(dict.fromkeys(a))
    candidates: list[Candidate] = []
    for key in keys:
        name = engine.ATTRIBUTES_PREFIX + str(key)
        if not _excluded(name, options["exclude"]):
            candidates += _column_candidates(name, _values(train, name, attributes), options)
    for name in CONTACT_TEXT_FIELDS:
        if not _excluded(name, options["exclude"]):
            candidates += _column_candidates(name, _values(train, name), options, binned=False)
    for name in CONTACT_FLAGS:
        candidates.append(Candidate(name, f"{name}=True", Rule.Type.ATTRIBUTE, name, "eq", True))
    for name in CONTACT_PRESENCE:
        candidates.append(Candidate(name, _("%(field)s is set") % {"field": name}, Rule.Type.ATTRIBUTE, name, "is_set"))
    # Interaction kinds seen before the judging moment; outcome kinds never feed a score.
    seen: Counter = Counter()
    for o in train:
        seen.update({t.kind for t in o.facts.touches if t.occurred_at <= o.as_of and t.kind not in outcome_kinds})
    cap = int(options["max_occurrences"]) or None
    for kind in sorted(k for k, n in seen.items() if n >= int(options["min_support"])):
        for days in WINDOWS.get(industry, DEFAULT_WINDOWS):
            display = _("%(kind)s in the last %(days)d days (each, up to %(cap)s)") % {"kind": kind, "days": days, "cap": cap}
            candidates.append(Candidate(f"interaction:{kind}", display, Rule.Type.INTERACTION, kind=kind,
                                        window_days=days, max_occurrences=cap))
    return candidates


def feature_matrix(observations: Sequence[Observation], candidates: Sequence[Candidate],
                   policy: engine.StagePolicy) -> np.ndarray:
    """What each candidate rule would give each contact with 1 point, by the engine's own
    semantics: attribute conditions through engine.condition_holds (cached per distinct
    value, which keeps 45,000 contacts fast), interaction rules through engine.evaluate."""
    matrix = np.zeros((len(observations), len(candidates)))
    attributes = _attributes(observations)
    by_field: dict[str, list[int]] = defaultdict(list)
    for j, c in enumerate(candidates):
        if c.type == Rule.Type.ATTRIBUTE:
            by_field[c.field].append(j)
    for name, columns in by_field.items():
        cache: dict[Any, list[int]] = {}
        rows: dict[int, list[int]] = defaultdict(list)
        for i, value in enumerate(_values(observations, name, attributes)):
            try:
                key: Any = (type(value), value)
                holding = cache.get(key)
            except TypeError:  # unhashable (a list in the JSON): evaluate every time
                key, holding = None, None
            if holding is None:
                holding = [j for j in columns if engine.condition_holds(candidates[j].condition, value)]
                if key is not None:
                    cache[key] = holding
            for j in holding:
                rows[j].append(i)
        for j, members in rows.items():
            matrix[members, j] = 1.0
    interaction_rules = tuple(
        engine.InteractionRule(id=j, label="", kind=c.kind, points=1, window_days=c.window_days, max_occurrences=c.max_occurrences)
        for j, c in enumerate(candidates) if c.type == Rule.Type.INTERACTION
    )
    if interaction_rules:
        ruleset = engine.RuleSet(None, interaction_rules, (), policy)
        for i, o in enumerate(observations):
            if o.facts.touches:
                for hit in engine.evaluate(ruleset, o.facts, o.as_of).hits:
                    matrix[i, hit.rule_id] = float(hit.points)
    return matrix


def _has_intent(o: Observation, policy: engine.StagePolicy) -> bool:
    days = policy.intent_window_days
    return any(
        t.kind in policy.intent_kinds and t.occurred_at <= o.as_of
        and (days is None or (o.as_of - t.occurred_at).total_seconds() <= days * 86400)
        for t in o.facts.touches
    )


def suggest(train: Sequence[Observation], *, policy: engine.StagePolicy, options: dict[str, Any],
            outcome_kinds: frozenset[str], industry: str, weekly_new: float | None = None) -> Suggestion:
    """The evidence table, points, and thresholds, from the learning split alone.
    weekly_new: new contacts a week, to turn a capacity per week into a share."""
    options = {**DEFAULTS, **options}
    min_support = int(options["min_support"])
    labels = np.array([o.converted for o in train], dtype=float)
    positives = int(labels.sum())
    if not positives or positives == len(train):
        raise ValidationError(_("The learning split needs both converters and non-converters."))
    base_rate = positives / len(train)
    candidates = candidates_for(train, options=options, outcome_kinds=outcome_kinds, industry=industry)
    matrix = feature_matrix(train, candidates, policy)
    excluded: list[dict[str, str]] = []
    keep = _supported(matrix, min_support)
    leaks = _leaking_groups(matrix, labels, candidates, keep)
    for group in sorted(leaks):
        excluded.append({"column": group, "reason": _(
            "separates converters from the others almost perfectly: probably the outcome itself, so it is left out"
        )})
    keep = [j for j in keep if candidates[j].group not in leaks]
    evidence = []
    for j in keep:
        present = matrix[:, j] > 0
        n, hits = int(present.sum()), int(labels[present].sum())
        low, high = wilson(hits, n)
        evidence.append(Evidence(candidates[j], n, hits, hits / n, low, high, (hits / n) / base_rate))
    x = matrix[:, keep]
    intercept, coefs, iterations = fit_logistic(x, labels, penalty=float(options["shrinkage"]))
    intercept += _anchor_categories(x, coefs, [candidates[j] for j in keep])
    scale = float(options["points_per_logodds"])
    for item, coef in zip(evidence, coefs, strict=True):
        item.coef, item.points = float(coef), round_points(float(coef) * scale)
    points = np.array([e.points for e in evidence], dtype=float)
    scores = (x @ points).tolist() if len(evidence) else [0.0] * len(train)
    notes: list[str] = []
    requires_intent = policy.prospect_requires_intent
    eligible = [_has_intent(o, policy) for o in train] if requires_intent else None
    if eligible is not None and sum(eligible) < min_support:
        requires_intent, eligible = False, None
        notes.append(_("Almost no contact had a buying-intent interaction before converting, so becoming a prospect "
                       "no longer requires one in this draft."))
    capacity, source = thresholds.capacity_share(
        share=options.get("capacity_share"), per_week=options.get("capacity_per_week"), weekly_new=weekly_new,
    )
    label_list = [bool(y) for y in labels.tolist()]
    prospect = thresholds.choose_prospect(
        thresholds.tradeoff(scores, label_list, eligible), capacity=capacity, min_lift=float(options["min_lift"]),
        min_size=min_support, min_precision=options.get("target_precision"),
    )
    lead = thresholds.choose_lead(thresholds.tradeoff(scores, label_list), prospect_threshold=prospect["threshold"],
                                  recall=float(options["lead_recall"]))
    return Suggestion(
        evidence=evidence,
        thresholds={"lead": lead, "prospect": prospect},
        capacity={"share": capacity, "source": source, "per_week": options.get("capacity_per_week"), "weekly_new": weekly_new},
        prospect_requires_intent=requires_intent,
        excluded=excluded,
        fit={
            "method": "L2-penalised logistic regression (Newton), log-odds × points_per_logodds, rounded",
            "shrinkage": float(options["shrinkage"]), "points_per_logodds": scale, "iterations": iterations,
            "intercept": intercept, "candidates": len(candidates), "features": len(evidence),
            "train_auc": auc(scores, labels.tolist()),
        },
        notes=notes,
    )


def _anchor_categories(x: np.ndarray, coefs: np.ndarray, kept: Sequence[Candidate]) -> float:
    """Where a column's categories cover every contact exactly once, moving all their
    points by the same amount moves every score alike: rankings stay, but anchoring the
    lowest category at 0 drops one rule per column and leaves mostly positive points
    (and thresholds) that read naturally. Returns the total shift, for the intercept."""
    groups: dict[str, list[int]] = defaultdict(list)
    for j, c in enumerate(kept):
        if c.type == Rule.Type.ATTRIBUTE and c.operator == "eq":
            groups[c.group].append(j)
    shift = 0.0
    for columns in groups.values():
        if len(columns) > 1 and np.all(x[:, columns].sum(axis=1) == 1):
            lowest = float(coefs[columns].min())
            coefs[columns] -= lowest
            shift += lowest
    return shift


def _supported(matrix: np.ndarray, min_support: int) -> list[int]:
    """Columns with enough contacts on both sides, without exact duplicates (e.g. two
    steps with no value between them): the first of identical columns is kept."""
    n = matrix.shape[0]
    counts = (matrix > 0).sum(axis=0)
    keep, seen = [], set()
    for j in range(matrix.shape[1]):
        if counts[j] < min_support or n - counts[j] < min_support:
            continue
        signature = matrix[:, j].tobytes()
        if signature in seen:
            continue
        seen.add(signature)
        keep.append(j)
    return keep


def _leaking_groups(matrix: np.ndarray, labels: np.ndarray, candidates: Sequence[Candidate], columns: Sequence[int]) -> set[str]:
    positives, negatives = labels.sum(), len(labels) - labels.sum()
    leaks = set()
    for j in columns:
        present = matrix[:, j] > 0
        sensitivity = labels[present].sum() / positives
        specificity = (negatives - (1 - labels[present]).sum()) / negatives
        if (sensitivity >= LEAK_AGREEMENT and specificity >= LEAK_AGREEMENT) or (
            sensitivity <= 1 - LEAK_AGREEMENT and specificity <= 1 - LEAK_AGREEMENT
        ):
            leaks.add(candidates[j].group)
    return leaks


# --- Parameters, the stored run, the draft ----------------------------------------------

def _number_param(params: dict[str, Any], name: str, kind: type, low: float, high: float) -> Any:
    try:
        value = kind(params[name])
    except (TypeError, ValueError):
        raise ValidationError({name: _("Enter a number.")}) from None
    if not low <= value <= high:
        raise ValidationError({name: _("Must be between %(low)s and %(high)s.") % {"low": low, "high": high}})
    return value


def advisor_params(params: dict[str, Any] | None) -> dict[str, Any]:
    """Defaults filled in and checked; the period's end is fixed now so a rerun repeats the run."""
    clean = {**DEFAULTS, **{k: v for k, v in (params or {}).items() if k in DEFAULTS and v is not None}}
    clean["outcome"] = str(clean["outcome"]).strip()
    outcome_kinds(clean["outcome"])
    clean.update(period_parse(clean["start"], clean["end"]).as_json())
    for name, kind, low, high in (("capacity_share", float, 0.001, 1.0), ("capacity_per_week", int, 1, 10**6),
                                  ("target_precision", float, 0.01, 1.0)):
        clean[name] = None if clean[name] in (None, "") else _number_param(clean, name, kind, low, high)
    if clean["capacity_share"] is not None and clean["capacity_per_week"] is not None:
        raise ValidationError({"capacity_share": _("Give the capacity per week or as a share of new contacts, not both.")})
    clean["min_lift"] = _number_param(clean, "min_lift", float, 0.0, 100.0)
    clean["lead_recall"] = _number_param(clean, "lead_recall", float, 0.5, 1.0)
    clean["min_support"] = _number_param(clean, "min_support", int, 1, 10**6)
    clean["seed"] = _number_param(clean, "seed", int, 0, 2**31)
    clean["train_fraction"] = _number_param(clean, "train_fraction", float, 0.1, 0.95)
    clean["bins"] = _number_param(clean, "bins", int, 2, 50)
    clean["max_categories"] = _number_param(clean, "max_categories", int, 1, 500)
    clean["shrinkage"] = _number_param(clean, "shrinkage", float, 0.0, 10**6)
    clean["points_per_logodds"] = _number_param(clean, "points_per_logodds", float, 1, 1000)
    clean["max_occurrences"] = _number_param(clean, "max_occurrences", int, 0, 100)
    exclude = clean["exclude"]
    clean["exclude"] = [e.strip() for e in (exclude.split(",") if isinstance(exclude, str) else exclude) if str(e).strip()]
    return clean


def advisor_start(ruleset: RuleSet, by, params: dict[str, Any] | None = None, *, queue: bool = True) -> Backtest:
    """Create the advisor run on the rule set's draft (made now if there is none) and queue it.

    params: see DEFAULTS (outcome, start, end, capacity_share, capacity_per_week, min_lift,
    target_precision, lead_recall, min_support,
    seed, train_fraction, bins, max_categories, shrinkage, points_per_logodds,
    max_occurrences, exclude). Raises ValidationError naming the bad parameter. When it
    runs, the draft's rules are replaced by the suggestion (see the module doc for the
    results). queue=False leaves running it to the caller (advisor_run), e.g. a command."""
    clean = advisor_params(params)
    with transaction.atomic():
        draft = version_draft(ruleset=ruleset, by=by)
        backtest = Backtest.objects.create(version=draft, kind="advisor", params=clean, created_by=by)
        if queue:
            transaction.on_commit(lambda: queue_run("advise_task", backtest.pk))
    return backtest


def advisor_run(*, backtest_id: int) -> Backtest | None:
    """Learn, write the draft and backtest it (what advise_task calls). Rerunning repeats it exactly."""
    return run_tracked(backtest_id, "advisor", _advise_work)


def _advise_work(backtest: Backtest, progress: ProgressFn) -> dict[str, Any]:
    options = {**DEFAULTS, **backtest.params}
    version = backtest.version
    if not RuleSetVersion.objects.filter(pk=version.pk, status=RuleSetVersion.Status.DRAFT).exists():
        raise ValidationError(_("The draft was published or deleted before the advisor ran; start the advisor again."))
    kinds = outcome_kinds(options["outcome"])
    period = period_parse(options["start"], options["end"])
    active = version.ruleset.active_version
    versions = [version] + ([active] if active is not None and active.pk != version.pk else [])
    observations = observations_load(
        outcome_queryset(version, period), kinds=kinds, period=period,
        # The suggestion never looks at interaction data; the active version it is compared with may.
        with_data=needs_data(version_to_engine(v) for v in versions[1:]),
        on_progress=lambda read, total: progress(60 * read / max(total, 1)),
    )
    train_ids, _test_ids = split_ids((o.contact_id for o in observations), seed=int(options["seed"]),
                                     train_fraction=float(options["train_fraction"]))
    train = [o for o in observations if o.contact_id in train_ids]
    test = [o for o in observations if o.contact_id not in train_ids]
    if sum(o.converted for o in observations) < 2 or not test:
        raise ValidationError(_("Too few contacts with a known outcome to learn from (%(n)d).") % {"n": len(observations)})
    weekly_new = None
    if options.get("capacity_per_week") is not None:
        weeks = thresholds.INTAKE_WEEKS
        recent = outcome_queryset(version, period).filter(created_at__gt=period.end - timedelta(weeks=weeks))
        weekly_new = recent.count() / weeks
    policy = version_to_engine(version).policy
    suggestion = suggest(train, policy=policy, options=options, outcome_kinds=kinds,
                         industry=version.ruleset.industry, weekly_new=weekly_new)
    progress(75)
    draft_write(version=version, suggestion=suggestion, kinds=kinds, backtest=backtest)
    progress(85)
    version.refresh_from_db()
    # The trade-off of every threshold on the held-out 30 %, scored by the engine as published.
    held = evaluate(version_to_engine(version), test)
    eligible = [_has_intent(o, policy) for o in test] if suggestion.prospect_requires_intent else None
    curve = thresholds.tradeoff([r.score for r in held], [o.converted for o in test], eligible)
    marks = [suggestion.thresholds["prospect"]["threshold"], suggestion.thresholds["lead"]["threshold"]]
    test_conversions = sum(o.converted for o in test)
    return {
        "outcome": options["outcome"], "kinds": sorted(kinds), "period": period.as_json(),
        "split": {
            "seed": int(options["seed"]), "train_fraction": float(options["train_fraction"]),
            "train": len(train), "test": len(test),
            "train_conversions": sum(o.converted for o in train), "test_conversions": test_conversions,
        },
        "evidence": [e.as_json() for e in suggestion.evidence],
        "rules": len(suggestion.rules),
        "thresholds": suggestion.thresholds,
        "prospect_requires_intent": suggestion.prospect_requires_intent,
        "capacity": suggestion.capacity,
        "tradeoff": {
            "points": [p.as_json() for p in thresholds.thin(curve)],
            "table": [p.as_json() for p in thresholds.table_points(curve, marks)],
        },
        "few_conversions": thresholds.few_conversions(test_conversions),
        "excluded": suggestion.excluded,
        "fit": suggestion.fit,
        "notes": suggestion.notes,
        "backtest": compare(versions, test),  # the draft (refreshed above), then the active version
    }


@transaction.atomic
def draft_write(*, version: RuleSetVersion, suggestion: Suggestion, kinds: frozenset[str], backtest: Backtest | None = None) -> int:
    """Replace the draft's rules and thresholds by the suggestion; returns the rules written.

    The draft row is locked, so two runs (a redelivered task) cannot interleave their
    rules; the second simply replaces the first's with the same ones."""
    version = RuleSetVersion.objects.select_for_update().get(pk=version.pk)
    if not version.is_draft:
        raise ValidationError(_("Only a draft can receive suggested rules."))
    rules = [_rule_for(version, position, e) for position, e in enumerate(suggestion.rules)]
    for rule in rules:
        rule_validate(rule)
    version.rules.all().delete()
    Rule.objects.bulk_create(rules)
    prospect = suggestion.thresholds["prospect"]["threshold"]
    lead = suggestion.thresholds["lead"]["threshold"]
    if prospect is not None and lead is not None:
        version.lead_threshold, version.prospect_threshold = lead, prospect
    version.prospect_requires_intent = suggestion.prospect_requires_intent
    version.note = (_("Suggested by the rule advisor (run #%(run)s)") % {"run": backtest.pk if backtest else "–"})[:300]
    version.save(update_fields=["lead_threshold", "prospect_threshold", "prospect_requires_intent", "note"])
    if not version.conversion_kinds.exists():
        version.conversion_kinds.set(sorted(kinds))
    audit(backtest.created_by if backtest else None, "change", version, what="advisor_rules",
          backtest=backtest.pk if backtest else None, rules=len(rules))
    return len(rules)


def _rule_for(version: RuleSetVersion, position: int, evidence: Evidence) -> Rule:
    c = evidence.candidate
    common = {"version": version, "position": position, "type": c.type, "label": evidence.label(), "points": float(evidence.points)}
    if c.type == Rule.Type.INTERACTION:
        return Rule(**common, interaction_kind_id=c.kind, window_days=c.window_days, max_occurrences=c.max_occurrences)
    return Rule(**common, field=c.field, operator=c.operator, value=c.value)
