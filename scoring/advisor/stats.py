"""The rule advisor's statistics: candidate rules from the learning split, their evidence (counts,
Wilson intervals, lift), a penalised logistic regression fitted by Newton's method in numpy, and the
suggested rules and thresholds. No database access: scoring.advisor loads the observations, calls
`suggest`, and writes the draft. Only the worker imports this module (numpy stays out of the web
processes). Why the method is what it is: docs/decisions.md, "The rule advisor"."""

from __future__ import annotations

import math
import random
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import TYPE_CHECKING, Any

import numpy as np
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_noop

from crm.texts import number, percent, text, value_render
from scoring import engine
from scoring.advisor import thresholds
from scoring.advisor.backtest import auc
from scoring.models import Rule

if TYPE_CHECKING:
    from scoring.outcomes import Observation

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
    display: Any  # stored text (crm.texts): rendered in the reader's language, numbers in its format
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

    @property
    def feature(self) -> str:
        """The candidate in the active language."""
        return str(value_render(self.display))


def shown(value: Any) -> Any:
    """A value in a stored label: a fractional number as a number (rendered "0,35" in Indonesian)."""
    if isinstance(value, float) and not value.is_integer():
        return number(value, min(6, len(repr(value).split(".")[1]) if "e" not in repr(value) else 6))
    return value


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

    def label_text(self) -> dict[str, Any]:
        """The rule's label as stored text: numbers stay numbers, so it reads "0,35" in Indonesian."""
        lift = "–" if self.lift is None else number(self.lift, 1 if self.lift >= 0.95 else 2)
        return text(gettext_noop("%(feature)s (n=%(n)d, rate %(rate)s, lift %(lift)s, %(points)s)"),
                    feature=self.candidate.display, n=self.n, rate=percent(self.rate, 1), lift=lift,
                    points=f"{self.points:+d}")

    def label(self) -> str:
        """The label in the active language, as written into Rule.label (the feature cut at 80 characters)."""
        stored = self.label_text()
        feature = self.candidate.feature
        params = {**stored["params"], "feature": feature if len(feature) <= 80 else feature[:79] + "…"}
        return str(value_render({**stored, "params": params}))[:LABEL_LENGTH]

    def as_json(self) -> dict[str, Any]:
        c = self.candidate
        return {
            "feature": c.feature, "feature_text": c.display, "group": c.group, "type": c.type, "field": c.field, "operator": c.operator,
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
    excluded: list[dict[str, Any]] = field(default_factory=list)  # {"column", "reason": stored text}
    fit: dict[str, Any] = field(default_factory=dict)
    notes: list[Any] = field(default_factory=list)  # stored texts (crm.texts)

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
                mode_value = int(mode) if mode.is_integer() else mode
                candidates.append(Candidate(name, text("%(field)s=%(value)s", field=short, value=shown(mode_value)),
                                            Rule.Type.ATTRIBUTE, name, "eq", mode_value))
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
                candidates.append(Candidate(name, text("%(field)s ≥ %(value)s", field=short, value=shown(edge)),
                                            Rule.Type.ATTRIBUTE, name, "gte", edge))
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
            candidates.append(Candidate(name, text("%(field)s=%(value)s", field=short, value=shown(value)),
                                        Rule.Type.ATTRIBUTE, name, "eq", value))
    if total - count >= min_support:
        candidates.append(Candidate(name, text(gettext_noop("%(field)s is blank"), field=short), Rule.Type.ATTRIBUTE, name,
                                    "is_blank"))
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
        candidates.append(Candidate(name, text(gettext_noop("%(field)s is set"), field=name), Rule.Type.ATTRIBUTE, name, "is_set"))
    # Interaction kinds seen before the judging moment; outcome kinds never feed a score.
    seen: Counter = Counter()
    for o in train:
        seen.update({t.kind for t in o.facts.touches if t.occurred_at <= o.as_of and t.kind not in outcome_kinds})
    cap = int(options["max_occurrences"]) or None
    for kind in sorted(k for k, n in seen.items() if n >= int(options["min_support"])):
        for days in WINDOWS.get(industry, DEFAULT_WINDOWS):
            display = text(gettext_noop("%(kind)s in the last %(days)d days (each, up to %(cap)s)"), kind=kind, days=days,
                           cap=str(cap))
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


def has_intent(o: Observation, policy: engine.StagePolicy) -> bool:
    days = policy.intent_window_days
    return any(
        t.kind in policy.intent_kinds and t.occurred_at <= o.as_of
        and (days is None or (o.as_of - t.occurred_at).total_seconds() <= days * 86400)
        for t in o.facts.touches
    )


def suggest(train: Sequence[Observation], *, policy: engine.StagePolicy, options: dict[str, Any],
            outcome_kinds: frozenset[str], industry: str, weekly_new: float | None = None) -> Suggestion:
    """The evidence table, points, and thresholds, from the learning split alone.
    weekly_new: new contacts a week, to turn a capacity per week into a share.
    options: every key of scoring.advisor.DEFAULTS (the run fills them in)."""
    min_support = int(options["min_support"])
    labels = np.array([o.converted for o in train], dtype=float)
    positives = int(labels.sum())
    if not positives or positives == len(train):
        raise ValidationError(gettext_noop("The learning split needs both converters and non-converters."))
    base_rate = positives / len(train)
    candidates = candidates_for(train, options=options, outcome_kinds=outcome_kinds, industry=industry)
    matrix = feature_matrix(train, candidates, policy)
    excluded: list[dict[str, str]] = []
    keep = _supported(matrix, min_support)
    leaks = _leaking_groups(matrix, labels, candidates, keep)
    for group in sorted(leaks):
        excluded.append({"column": group, "reason": text(gettext_noop(
            "separates converters from the others almost perfectly: probably the outcome itself, so it is left out"
        ))})
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
    notes: list[Any] = []
    requires_intent = policy.prospect_requires_intent
    eligible = [has_intent(o, policy) for o in train] if requires_intent else None
    if eligible is not None and sum(eligible) < min_support:
        requires_intent, eligible = False, None
        notes.append(text(gettext_noop("Almost no contact had a buying-intent interaction before converting, so becoming a "
                                       "prospect no longer requires one in this draft.")))
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
