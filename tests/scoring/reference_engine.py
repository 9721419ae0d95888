"""The straightforward engine the compiled one replaced: kept as the test oracle.

scoring.engine.evaluate compiles a rule set once and walks each contact's touches grouped
by kind and newest first (docs/performance.md). This module is the plain reading of the
same rules, one rule at a time over every touch; tests/scoring/test_engine.py checks on
random rule sets and contacts that both give the same Result.
"""

import math
from collections.abc import Sequence
from datetime import datetime

from scoring.engine import (
    AttributeRule,
    ContactFacts,
    InteractionRule,
    Result,
    RuleHit,
    RuleSet,
    StagePolicy,
    Touch,
    _apply_policy,
    _cents,
    _earned_stage,
    _recency,
    _since,
    condition_holds,
    field_value,
    score_total,
)


def _decay(touch: Touch, policy: StagePolicy, now: datetime) -> float:
    """Exponential half-life decay; a missing or non-positive half-life means no decay."""
    half_life = policy.decay_half_life_days
    if half_life is None or half_life <= 0:
        return 1.0
    age_days = (now - touch.occurred_at).total_seconds() / 86400
    return 0.5 ** (age_days / float(half_life))


def _interaction_hit(
    rule: InteractionRule, touches: Sequence[Touch], policy: StagePolicy, now: datetime
) -> RuleHit | None:
    since = _since(now, rule.window_days)
    cond = rule.condition
    matches = sorted(
        (
            t for t in touches
            if t.kind == rule.kind
            and (since is None or t.occurred_at >= since)
            and (cond is None or condition_holds(cond, (t.data or {}).get(cond.field)))
        ),
        key=_recency,
        reverse=True,
    )
    if rule.max_occurrences is not None:
        matches = matches[: max(rule.max_occurrences, 0)]  # the cap keeps the most recent
    if not matches:
        return None
    # fsum is exact, so the total cannot depend on float summation order.
    total = math.fsum(float(rule.points) * _decay(t, policy, now) for t in matches)
    return RuleHit(rule.id, rule.label, _cents(total), len(matches), tuple(t.id for t in matches))


def _attribute_hit(rule: AttributeRule, facts: ContactFacts) -> RuleHit | None:
    if not condition_holds(rule.condition, field_value(facts, rule.condition.field)):
        return None
    return RuleHit(rule.id, rule.label, _cents(float(rule.points)), 1, ())


def evaluate(ruleset: RuleSet, facts: ContactFacts, now: datetime) -> Result:
    policy = ruleset.policy
    touches = [t for t in facts.touches if t.occurred_at <= now]
    hits = [_interaction_hit(rule, touches, policy, now) for rule in ruleset.interaction_rules]
    hits += [_attribute_hit(rule, facts) for rule in ruleset.attribute_rules]
    kept = tuple(hit for hit in hits if hit is not None)
    score = score_total(hit.points for hit in kept)
    earned, earned_reason = _earned_stage(score, touches, policy, now)
    stage, reason = _apply_policy(facts, earned, earned_reason, score, touches, policy, now)
    return Result(score, kept, earned, stage, reason, facts.stage)
