"""Tests for the pure scoring engine: examples for each rule, properties for the invariants."""

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scoring import engine
from scoring.engine import (
    AttributeRule,
    Condition,
    ContactFacts,
    InteractionRule,
    RuleSet,
    StagePolicy,
    Touch,
)

# The engine is pure Python: the same in both CI passes, so CI runs it once (README, Tests).
pytestmark = pytest.mark.backend_independent
NOW = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)
PROPERTY_SETTINGS = settings(max_examples=100, deadline=None)


def ago(days: float) -> datetime:
    return NOW - timedelta(days=days)


def touch(id: int, kind: str, days_ago: float = 0, **data: Any) -> Touch:
    return Touch(id=id, kind=kind, occurred_at=ago(days_ago), data=data)


def facts(
    touches: tuple[Touch, ...] = (),
    stage: str = "contact",
    pinned: bool = False,
    stage_changed_at: datetime | None = None,
    **fields: Any,
) -> ContactFacts:
    return ContactFacts(
        fields=fields, touches=touches, stage=stage, pinned=pinned, stage_changed_at=stage_changed_at
    )


def ruleset(
    interaction: tuple[InteractionRule, ...] = (),
    attribute: tuple[AttributeRule, ...] = (),
    **policy: Any,
) -> RuleSet:
    options: dict[str, Any] = {"lead_threshold": 10, "prospect_threshold": 50, **policy}
    return RuleSet(1, tuple(interaction), tuple(attribute), StagePolicy(**options))


def irule(id: int, kind: str, points: float, **options: Any) -> InteractionRule:
    return InteractionRule(id=id, label=f"{kind} rule", kind=kind, points=points, **options)


def arule(id: int, field: str, op: str, value: Any, points: float) -> AttributeRule:
    return AttributeRule(id=id, label=f"{field} {op}", condition=Condition(field, op, value), points=points)


def holds(op: str, actual: Any, value: Any = None) -> bool:
    return engine.condition_holds(Condition("f", op, value), actual)


# --- field_value ------------------------------------------------------------------


def test_field_value_derives_email_domain_and_reads_attributes() -> None:
    f = facts(email="Ana@Example.COM ", company="Acme", attributes={"tier": "gold"})
    assert engine.field_value(f, "email_domain") == "example.com"
    assert engine.field_value(f, "company") == "Acme"
    assert engine.field_value(f, "attributes.tier") == "gold"
    assert engine.field_value(f, "attributes.missing") is None
    assert engine.field_value(facts(email="no-at-sign"), "email_domain") is None
    assert engine.field_value(facts(), "email_domain") is None
    assert engine.field_value(facts(), "attributes.tier") is None


# --- condition_holds ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("op", "actual", "value", "expected"),
    [
        ("eq", " Jakarta ", "jakarta", True),
        ("eq", "Bandung", "jakarta", False),
        ("eq", 10, 10.0, True),
        ("eq", "10", 10, True),
        ("eq", "10.0", 10, True),
        ("eq", "ten", 10, False),
        ("eq", True, True, True),
        ("eq", "yes", True, True),
        ("eq", "0", False, True),
        ("eq", "FALSE", True, False),
        ("eq", "maybe", True, False),
        ("neq", "Bandung", "jakarta", True),
        ("neq", "JAKARTA", "jakarta", False),
        ("in", "SaaS", ["saas", "fintech"], True),
        ("in", "retail", ["saas", "fintech"], False),
        ("in", "3", [1, 2, 3], True),
        ("not_in", "retail", ["saas", "fintech"], True),
        ("not_in", "saas", ["SaaS"], False),
        ("contains", "Head of Marketing", "MARKETING", True),
        ("contains", "Engineer", "marketing", False),
        ("startswith", "  CEO & founder", "ceo", True),
        ("startswith", "Founder", "ceo", False),
        ("endswith", "ana@acme.co.id", ".CO.ID", True),
        ("endswith", "ana@acme.com", ".co.id", False),
        ("is_set", "x", None, True),
        ("is_set", "   ", None, False),
        ("is_set", [], None, False),
        ("is_set", {}, None, False),
        ("is_set", 0, None, True),
        ("is_set", False, None, True),
        ("is_blank", "  ", None, True),
        ("is_blank", "x", None, False),
        ("gt", 11, 10, True),
        ("gt", 10, 10, False),
        ("gte", "10", 10, True),
        ("lt", 9.5, 10, True),
        ("lt", 10, 10, False),
        ("lte", 10, 10, True),
        ("gt", "many", 10, False),
        ("gt", True, 0, False),
        ("gt", "nan", 0, False),
        ("unknown_op", "x", "x", False),
    ],
)
def test_condition_holds(op: str, actual: Any, value: Any, expected: bool) -> None:
    assert holds(op, actual, value) is expected


@pytest.mark.parametrize(
    ("op", "value", "expected"),
    [
        ("eq", "x", False),
        ("neq", "x", True),
        ("in", ["x"], False),
        ("not_in", ["x"], True),
        ("contains", "x", False),
        ("startswith", "x", False),
        ("endswith", "x", False),
        ("is_set", None, False),
        ("is_blank", None, True),
        ("gt", 1, False),
        ("gte", 1, False),
        ("lt", 1, False),
        ("lte", 1, False),
    ],
)
def test_condition_holds_with_missing_value(op: str, value: Any, expected: bool) -> None:
    assert holds(op, None, value) is expected


# --- validate_condition ---------------------------------------------------------------


@pytest.mark.parametrize(
    "cond",
    [
        Condition("industry", "eq", "saas"),
        Condition("consent_email", "eq", True),
        Condition("attributes.tier", "in", ["gold", "silver"]),
        Condition("attributes.employees", "gte", 50),
        Condition("job_title", "contains", "head"),
        Condition("phone", "is_set"),
        Condition("email_domain", "endswith", ".id"),
    ],
)
def test_validate_condition_accepts_valid_attribute_conditions(cond: Condition) -> None:
    assert engine.validate_condition(cond, for_attribute_rule=True) == []


@pytest.mark.parametrize(
    ("cond", "fragments"),
    [
        (Condition("salary", "eq", "x"), ["Unknown field 'salary'", "Allowed:", "industry"]),
        (Condition("attributes.", "eq", "x"), ["Unknown field 'attributes.'"]),
        (Condition("city", "like", "x"), ["Unknown operator 'like'", "'city'"]),
        (Condition("city", "in", []), ["'in'", "'city'", "non-empty list"]),
        (Condition("city", "not_in", "jakarta"), ["'not_in'", "non-empty list"]),
        (Condition("city", "in", [["nested"]]), ["'in'", "plain values"]),
        (Condition("attributes.employees", "gt", "10"), ["'gt'", "'attributes.employees'", "needs a number"]),
        (Condition("attributes.employees", "lte", True), ["'lte'", "needs a number"]),
        (Condition("attributes.employees", "gte", None), ["'gte'", "needs a number"]),
        (Condition("job_title", "contains", ""), ["'contains'", "'job_title'", "non-empty text"]),
        (Condition("job_title", "startswith", 5), ["'startswith'", "non-empty text"]),
        (Condition("phone", "is_set", "x"), ["'is_set'", "'phone'", "takes no value"]),
        (Condition("phone", "is_blank", False), ["'is_blank'", "takes no value"]),
        (Condition("city", "eq", ["a"]), ["'eq'", "'city'", "single value"]),
        (Condition("city", "neq", None), ["'neq'", "single value"]),
        (Condition("consent_email", "eq", "yes"), ["'eq'", "'consent_email'", "true or false"]),
    ],
)
def test_validate_condition_names_the_problem(cond: Condition, fragments: list[str]) -> None:
    errors = engine.validate_condition(cond, for_attribute_rule=True)
    assert len(errors) == 1
    for fragment in fragments:
        assert fragment in errors[0]


def test_validate_condition_for_interaction_rules_allows_any_data_key() -> None:
    assert engine.validate_condition(Condition("page", "eq", "pricing"), for_attribute_rule=False) == []
    assert engine.validate_condition(Condition("salary", "gt", 5), for_attribute_rule=False) == []
    errors = engine.validate_condition(Condition(" ", "eq", "x"), for_attribute_rule=False)
    assert errors and "Field is required" in errors[0]


def test_validate_condition_reports_field_and_operator_together() -> None:
    errors = engine.validate_condition(Condition("salary", "like", "x"), for_attribute_rule=True)
    assert len(errors) == 2
    assert "Unknown field 'salary'" in errors[0]
    assert "Unknown operator 'like'" in errors[1]


# --- interaction rules -----------------------------------------------------------------


def test_interaction_rule_counts_matching_kind_and_condition() -> None:
    rules = ruleset((irule(1, "page_view", 2, condition=Condition("page", "eq", "pricing")),))
    touches = (
        touch(1, "page_view", 1, page="Pricing"),
        touch(2, "page_view", 2, page="blog"),
        touch(3, "email_open", 1, page="pricing"),
        touch(4, "page_view", 3),
    )
    result = engine.evaluate(rules, facts(touches), NOW)
    assert result.hits == (engine.RuleHit(1, "page_view rule", Decimal("2.00"), 1, (1,)),)
    assert result.score == 2


def test_interaction_rule_window_includes_boundary_and_excludes_older() -> None:
    rules = ruleset((irule(1, "page_view", 1, window_days=7),))
    touches = (touch(1, "page_view", 7), touch(2, "page_view", 7.001), touch(3, "page_view", 0))
    (hit,) = engine.evaluate(rules, facts(touches), NOW).hits
    assert hit.touch_ids == (3, 1)
    assert hit.count == 2


def test_cap_keeps_the_most_recent_touches_breaking_ties_by_id() -> None:
    rules = ruleset((irule(1, "email_open", 3, max_occurrences=2),))
    touches = (touch(1, "email_open", 5), touch(2, "email_open", 1), touch(3, "email_open", 1), touch(4, "email_open", 9))
    (hit,) = engine.evaluate(rules, facts(touches), NOW).hits
    assert hit.touch_ids == (3, 2)
    assert (hit.count, hit.points) == (2, Decimal("6.00"))


def test_cap_of_zero_and_no_matches_produce_no_hit() -> None:
    rules = ruleset((irule(1, "email_open", 3, max_occurrences=0), irule(2, "demo_request", 5)))
    assert engine.evaluate(rules, facts((touch(1, "email_open", 1),)), NOW).hits == ()


def test_negative_points_subtract() -> None:
    rules = ruleset((irule(1, "page_view", 5), irule(2, "unsubscribe", -20)))
    result = engine.evaluate(rules, facts((touch(1, "page_view", 1), touch(2, "unsubscribe", 1))), NOW)
    assert [hit.points for hit in result.hits] == [Decimal("5.00"), Decimal("-20.00")]
    assert result.score == -15


def test_decay_halves_points_every_half_life() -> None:
    rules = ruleset((irule(1, "page_view", 8),), (arule(2, "city", "is_set", None, 8),), decay_half_life_days=10)
    touches = (touch(1, "page_view", 0), touch(2, "page_view", 10), touch(3, "page_view", 20))
    result = engine.evaluate(rules, facts(touches, city="Jakarta"), NOW)
    # 8 + 4 + 2 from interactions; attribute rules never decay.
    assert [hit.points for hit in result.hits] == [Decimal("14.00"), Decimal("8.00")]
    assert result.score == 22


def test_future_touches_are_ignored_everywhere() -> None:
    rules = ruleset((irule(1, "page_view", 20),), conversion_kinds=frozenset({"purchase"}))
    touches = (touch(1, "page_view", -1), touch(2, "purchase", -0.001))
    result = engine.evaluate(rules, facts(touches), NOW)
    assert (result.hits, result.score, result.stage) == ((), 0, "contact")
    # The same facts evaluated "as of" a later date see them.
    later = engine.evaluate(rules, facts(touches), NOW + timedelta(days=2))
    assert (later.score, later.stage) == (20, "customer")


def test_hits_are_ordered_interaction_rules_then_attribute_rules() -> None:
    rules = ruleset(
        (irule(5, "b", 1), irule(3, "a", 1)),
        (arule(9, "city", "is_set", None, 1), arule(1, "company", "is_set", None, 1)),
    )
    result = engine.evaluate(rules, facts((touch(1, "a"), touch(2, "b")), city="x", company="y"), NOW)
    assert [hit.rule_id for hit in result.hits] == [5, 3, 9, 1]
    assert all(hit.touch_ids == () and hit.count == 1 for hit in result.hits[2:])


# --- rounding ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("points", "score"), [([0.5], 1), ([2.5], 3), ([0.49], 0), ([-0.5], -1), ([0.25, 0.25], 1), ([1.005], 1)]
)
def test_score_total_rounds_half_up(points: list[float], score: int) -> None:
    assert engine.score_total(Decimal(str(p)) for p in points) == score


def test_hit_points_are_quantized_half_up_from_the_typed_value() -> None:
    rules = ruleset(attribute=(arule(1, "city", "is_set", None, 2.675),))
    (hit,) = engine.evaluate(rules, facts(city="x"), NOW).hits
    assert hit.points == Decimal("2.68")


def test_score_is_the_rounded_sum_of_the_breakdown() -> None:
    # Each hit rounds 0.165 up to 0.17; 3 x 0.17 = 0.51 -> 1, although the raw sum 0.495 would give 0.
    rules = ruleset(attribute=tuple(arule(i, "city", "is_set", None, 0.165) for i in range(3)))
    result = engine.evaluate(rules, facts(city="x"), NOW)
    assert sum(hit.points for hit in result.hits) == Decimal("0.51")
    assert result.score == 1 == engine.score_total(hit.points for hit in result.hits)


# --- stages ------------------------------------------------------------------------


STAGE_RULES = (irule(1, "page_view", 10), irule(2, "demo_request", 30))
INTENT = frozenset({"demo_request"})


def test_lead_threshold_promotes_and_below_it_nothing_changes() -> None:
    result = engine.evaluate(ruleset(STAGE_RULES), facts((touch(1, "page_view", 1),)), NOW)
    assert (result.score, result.earned_stage, result.stage, result.reason, result.changed) == (
        10, "lead", "lead", engine.Reason("lead", {"score": 10, "threshold": 10}), True,
    )
    result = engine.evaluate(ruleset(STAGE_RULES, lead_threshold=11), facts((touch(1, "page_view", 1),)), NOW)
    assert (result.earned_stage, result.stage, result.reason, result.changed) == ("contact", "contact", None, False)


def test_prospect_requires_recent_intent_by_default() -> None:
    touches = tuple(touch(i, "page_view", i) for i in range(1, 6))
    without_intent = engine.evaluate(ruleset(STAGE_RULES, intent_kinds=INTENT), facts(touches), NOW)
    assert (without_intent.score, without_intent.stage) == (50, "lead")

    with_intent = engine.evaluate(
        ruleset(STAGE_RULES, intent_kinds=INTENT), facts((*touches[:2], touch(9, "demo_request", 3))), NOW
    )
    assert with_intent.stage == "prospect"
    assert with_intent.reason == engine.Reason(
        "prospect", {"score": 50, "threshold": 50, "intent_kind": "demo_request", "intent_date": "2024-05-29"}
    )


def test_intent_outside_window_does_not_count_but_none_means_all_time() -> None:
    touches = (*(touch(i, "page_view", 1) for i in range(1, 3)), touch(9, "demo_request", 31))
    assert engine.evaluate(ruleset(STAGE_RULES, intent_kinds=INTENT), facts(touches), NOW).stage == "lead"
    all_time = ruleset(STAGE_RULES, intent_kinds=INTENT, intent_window_days=None)
    assert engine.evaluate(all_time, facts(touches), NOW).stage == "prospect"


def test_intent_date_is_the_most_recent_intent_touch() -> None:
    touches = (touch(1, "demo_request", 2), touch(2, "demo_request", 10), touch(3, "pricing_call", 1))
    rules = ruleset(STAGE_RULES, intent_kinds=INTENT, prospect_threshold=60)
    assert engine.evaluate(rules, facts(touches), NOW).reason.params["intent_date"] == "2024-05-30"


def test_prospect_without_intent_requirement() -> None:
    touches = tuple(touch(i, "page_view", 1) for i in range(5))
    result = engine.evaluate(ruleset(STAGE_RULES, prospect_requires_intent=False), facts(touches), NOW)
    assert result.stage == "prospect"
    assert result.reason == engine.Reason("prospect", {"score": 50, "threshold": 50})


def test_conversion_makes_a_customer_citing_the_earliest_conversion() -> None:
    rules = ruleset(STAGE_RULES, conversion_kinds=frozenset({"purchase", "contract"}))
    touches = (touch(1, "contract", 2), touch(2, "purchase", 40), touch(3, "purchase", 1))
    result = engine.evaluate(rules, facts(touches, stage="lead"), NOW)
    assert (result.score, result.earned_stage, result.stage) == (0, "customer", "customer")
    assert result.reason == engine.Reason("conversion", {"kind": "purchase", "date": "2024-04-22"})


def test_pinned_contact_keeps_its_stage() -> None:
    rules = ruleset(STAGE_RULES, conversion_kinds=frozenset({"purchase"}), demote_after_days=1)
    promoted = engine.evaluate(rules, facts((touch(1, "purchase", 1),), pinned=True), NOW)
    assert (promoted.earned_stage, promoted.stage, promoted.reason, promoted.changed) == (
        "customer", "contact", None, False,
    )
    idle = engine.evaluate(rules, facts(stage="prospect", pinned=True), NOW)
    assert (idle.stage, idle.changed) == ("prospect", False)


def test_stages_only_move_forward_without_demotion_policy() -> None:
    result = engine.evaluate(ruleset(STAGE_RULES), facts(stage="prospect"), NOW)
    assert (result.earned_stage, result.stage, result.reason) == ("contact", "prospect", None)


def test_stage_can_skip_ahead() -> None:
    rules = ruleset(STAGE_RULES, intent_kinds=INTENT)
    touches = (touch(1, "demo_request", 1), touch(2, "page_view", 1), touch(3, "page_view", 2))
    assert engine.evaluate(rules, facts(touches), NOW).stage == "prospect"


def test_inactive_prospect_is_demoted_one_step() -> None:
    rules = ruleset(STAGE_RULES, intent_kinds=INTENT, demote_after_days=30)
    touches = (touch(1, "page_view", 45),)
    result = engine.evaluate(rules, facts(touches, stage="prospect", stage_changed_at=ago(60)), NOW)
    assert (result.earned_stage, result.stage) == ("lead", "lead")
    assert result.reason == engine.Reason("demoted_inactive", {"days": 30, "last_activity": "2024-04-17", "score": 10})


def test_demotion_boundary_and_recent_stage_change() -> None:
    rules = ruleset(STAGE_RULES, demote_after_days=30)
    assert engine.evaluate(rules, facts(stage="lead", stage_changed_at=ago(30)), NOW).stage == "contact"
    assert engine.evaluate(rules, facts(stage="lead", stage_changed_at=ago(29.9)), NOW).stage == "lead"
    recent_touch = (touch(1, "email_open", 2),)
    assert engine.evaluate(rules, facts(recent_touch, stage="lead", stage_changed_at=ago(90)), NOW).stage == "lead"


def test_no_activity_at_all_counts_as_inactive() -> None:
    result = engine.evaluate(ruleset(STAGE_RULES, demote_after_days=30), facts(stage="lead"), NOW)
    assert result.stage == "contact"
    assert result.reason == engine.Reason("demoted_inactive", {"days": 30, "last_activity": None, "score": 0})


def test_no_demotion_while_score_still_justifies_the_stage() -> None:
    rules = ruleset(STAGE_RULES, demote_after_days=30)
    result = engine.evaluate(rules, facts((touch(1, "page_view", 100),), stage="lead"), NOW)
    assert (result.earned_stage, result.stage, result.changed) == ("lead", "lead", False)


def test_customer_never_demotes() -> None:
    rules = ruleset(STAGE_RULES, demote_after_days=1)
    result = engine.evaluate(rules, facts(stage="customer", stage_changed_at=ago(999)), NOW)
    assert (result.earned_stage, result.stage, result.reason) == ("contact", "customer", None)


def test_demotion_is_idempotent_at_the_same_now() -> None:
    rules = ruleset(STAGE_RULES, demote_after_days=30)
    first = engine.evaluate(rules, facts(stage="prospect", stage_changed_at=ago(40)), NOW)
    assert first.stage == "lead"
    again = engine.evaluate(rules, facts(stage="lead", stage_changed_at=NOW), NOW)
    assert (again.stage, again.changed) == ("lead", False)


def test_reason_params_are_json_safe() -> None:
    rules = ruleset(STAGE_RULES, intent_kinds=INTENT, conversion_kinds=frozenset({"purchase"}))
    for touches in [(touch(1, "page_view"),), (touch(1, "demo_request"), touch(2, "page_view")), (touch(1, "purchase"),)]:
        reason = engine.evaluate(rules, facts(touches), NOW).reason
        assert reason is not None
        json.dumps(dict(reason.params))


def test_rejects_naive_now_and_unknown_stage() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        engine.evaluate(ruleset(), facts(), NOW.replace(tzinfo=None))
    with pytest.raises(ValueError, match="Unknown stage"):
        engine.evaluate(ruleset(), facts(stage="vip"), NOW)


def test_result_objects_are_hashable() -> None:
    rules = ruleset(STAGE_RULES, attribute=(arule(1, "city", "in", ["a"], 1),))
    result = engine.evaluate(rules, facts((touch(1, "page_view", page="x"),), city="a"), NOW)
    assert hash(result) == hash(engine.evaluate(rules, facts((touch(1, "page_view", page="x"),), city="a"), NOW))
    assert hash(rules)


# --- properties --------------------------------------------------------------------


KINDS = ("page_view", "email_open", "form_submit", "demo_request", "purchase")
points_st = st.floats(min_value=-25, max_value=25, allow_nan=False).map(lambda p: round(p, 3))
positive_points_st = st.floats(min_value=0, max_value=25, allow_nan=False).map(lambda p: round(p, 3))


@st.composite
def touches_st(draw: st.DrawFn) -> tuple[Touch, ...]:
    specs = draw(
        st.lists(
            st.tuples(
                st.sampled_from(KINDS),
                st.integers(min_value=-5 * 86400, max_value=200 * 86400),
                st.sampled_from(["pricing", "blog", None]),
            ),
            min_size=1,
            max_size=12,
        )
    )
    ids = draw(st.permutations(range(1, len(specs) + 1)))
    return tuple(
        Touch(id, kind, NOW - timedelta(seconds=age), {} if page is None else {"page": page})
        for id, (kind, age, page) in zip(ids, specs, strict=True)
    )


def interaction_rule_st(points: st.SearchStrategy[float]) -> st.SearchStrategy[InteractionRule]:
    return st.builds(
        InteractionRule,
        id=st.just(0),
        label=st.just("rule"),
        kind=st.sampled_from(KINDS),
        points=points,
        window_days=st.none() | st.integers(0, 120),
        max_occurrences=st.none() | st.integers(0, 4),
        condition=st.none() | st.sampled_from([Condition("page", "eq", "pricing"), Condition("page", "is_blank")]),
    )


attribute_rule_st = st.builds(
    AttributeRule,
    id=st.just(0),
    label=st.just("attr"),
    condition=st.sampled_from(
        [Condition("city", "eq", "jakarta"), Condition("consent_email", "eq", True), Condition("attributes.tier", "in", ["gold"])]
    ),
    points=points_st,
)


@st.composite
def policy_st(draw: st.DrawFn, decay: bool = True) -> StagePolicy:
    lead = draw(st.integers(-10, 40))
    return StagePolicy(
        lead_threshold=lead,
        prospect_threshold=lead + draw(st.integers(0, 60)),
        prospect_requires_intent=draw(st.booleans()),
        intent_window_days=draw(st.none() | st.integers(1, 60)),
        intent_kinds=draw(st.frozensets(st.sampled_from(KINDS))),
        conversion_kinds=draw(st.frozensets(st.sampled_from(KINDS), max_size=1)),
        demote_after_days=draw(st.none() | st.integers(1, 90)),
        decay_half_life_days=draw(st.none() | st.floats(0.5, 90)) if decay else None,
    )


@st.composite
def ruleset_st(draw: st.DrawFn, points: st.SearchStrategy[float] = points_st, decay: bool = True) -> RuleSet:
    interaction = draw(st.lists(interaction_rule_st(points), max_size=5))
    attribute = draw(st.lists(attribute_rule_st, max_size=3))
    return RuleSet(  # unique ids, as in the database
        version_id=1,
        interaction_rules=tuple(replace(rule, id=i) for i, rule in enumerate(interaction, start=1)),
        attribute_rules=tuple(replace(rule, id=100 + i) for i, rule in enumerate(attribute, start=1)),
        policy=draw(policy_st(decay=decay)),
    )


@st.composite
def facts_st(draw: st.DrawFn) -> ContactFacts:
    return ContactFacts(
        fields={
            "city": draw(st.sampled_from(["Jakarta", "Bandung", None])),
            "consent_email": draw(st.booleans()),
            "attributes": {"tier": draw(st.sampled_from(["gold", "silver"]))},
        },
        touches=draw(touches_st()),
        stage=draw(st.sampled_from(engine.STAGES)),
        pinned=draw(st.booleans()),
        stage_changed_at=draw(st.none() | st.integers(0, 200).map(lambda d: NOW - timedelta(days=d))),
    )


@PROPERTY_SETTINGS
@given(ruleset_st(), facts_st())
def test_property_caps_and_windows_hold(rules: RuleSet, contact: ContactFacts) -> None:
    result = engine.evaluate(rules, contact, NOW)
    by_id = {t.id: t for t in contact.touches}
    interaction_rules = {rule.id: rule for rule in rules.interaction_rules}
    for hit in result.hits:
        rule = interaction_rules.get(hit.rule_id)
        if rule is None:
            assert (hit.count, hit.touch_ids) == (1, ())
            continue
        assert hit.count == len(hit.touch_ids) >= 1
        if rule.max_occurrences is not None:
            assert hit.count <= rule.max_occurrences
        for touch_id in hit.touch_ids:
            counted = by_id[touch_id]
            assert counted.kind == rule.kind
            assert counted.occurred_at <= NOW
            if rule.window_days is not None:
                assert counted.occurred_at >= NOW - timedelta(days=rule.window_days)


@PROPERTY_SETTINGS
@given(ruleset_st(points=positive_points_st, decay=False), facts_st(), st.floats(0.5, 90))
def test_property_decay_never_increases_positive_scores(rules: RuleSet, contact: ContactFacts, half_life: float) -> None:
    decayed = replace(rules, policy=replace(rules.policy, decay_half_life_days=half_life))
    assert engine.evaluate(decayed, contact, NOW).score <= engine.evaluate(rules, contact, NOW).score


@PROPERTY_SETTINGS
@given(
    ruleset_st(points=positive_points_st, decay=False),
    facts_st(),
    st.sampled_from(KINDS),
    st.integers(0, 200 * 86400),
    st.sampled_from(["pricing", "blog", None]),
)
def test_property_adding_a_positive_touch_never_lowers_the_score(
    rules: RuleSet, contact: ContactFacts, kind: str, age: int, page: str | None
) -> None:
    new = Touch(10_000, kind, NOW - timedelta(seconds=age), {} if page is None else {"page": page})
    more = replace(contact, touches=(*contact.touches, new))
    assert engine.evaluate(rules, more, NOW).score >= engine.evaluate(rules, contact, NOW).score


@PROPERTY_SETTINGS
@given(ruleset_st(), facts_st(), st.randoms(use_true_random=False))
def test_property_touch_order_does_not_matter(rules: RuleSet, contact: ContactFacts, rnd: Any) -> None:
    shuffled = list(contact.touches)
    rnd.shuffle(shuffled)
    # Also from an unpinned "contact", so the promotion reason (which cites touches) shows up.
    for base in (contact, replace(contact, stage="contact", pinned=False)):
        expected = engine.evaluate(rules, base, NOW)
        assert engine.evaluate(rules, replace(base, touches=tuple(shuffled)), NOW) == expected


@PROPERTY_SETTINGS
@given(ruleset_st(), facts_st())
def test_property_score_equals_rounded_breakdown(rules: RuleSet, contact: ContactFacts) -> None:
    result = engine.evaluate(rules, contact, NOW)
    assert result.score == engine.score_total(hit.points for hit in result.hits)
    assert all(hit.points == hit.points.quantize(Decimal("0.01")) for hit in result.hits)


@PROPERTY_SETTINGS
@given(ruleset_st(), facts_st())
def test_property_stage_only_moves_back_by_demotion(rules: RuleSet, contact: ContactFacts) -> None:
    result = engine.evaluate(rules, contact, NOW)
    before, after = engine.STAGES.index(contact.stage), engine.STAGES.index(result.stage)
    assert result.previous_stage == contact.stage
    assert (result.reason is None) == (not result.changed)
    if after < before:
        assert result.reason is not None and result.reason.code == "demoted_inactive"
        assert after == before - 1
    if contact.pinned:
        assert not result.changed


@PROPERTY_SETTINGS
@given(ruleset_st(), facts_st())
def test_property_evaluation_is_idempotent(rules: RuleSet, contact: ContactFacts) -> None:
    result = engine.evaluate(rules, contact, NOW)
    if result.changed:
        settled = replace(contact, stage=result.stage, stage_changed_at=NOW)
        again = engine.evaluate(rules, settled, NOW)
        assert (again.stage, again.changed) == (result.stage, False)


# --- the compiled engine agrees with the plain reading (tests/scoring/reference_engine.py) ---

ODD_VALUES = ["Pricing", " pricing ", "blog", "", "1", "yes", 1, 0, 1.0, True, False, None, ["pricing"], {"a": 1}]
CONDITION_FIELDS = ["page", "city", "consent_email", "attributes.tier", "email_domain"]
# The shapes the compiled engine precomputes (flags, text against text, text operators), often,
# and anything else too.
SHAPED_CONDITIONS = [
    ("eq", True), ("neq", False), ("eq", "pricing"), ("neq", "Pricing"), ("in", ["pricing", " BLOG"]),
    ("not_in", ["pricing"]), ("contains", "ric"), ("startswith", " Pri"), ("endswith", "LOG "), ("is_set", None),
    ("is_blank", None), ("gte", 1),
]
wide_condition_st = st.builds(
    lambda field, shape: Condition(field, *shape),
    field=st.sampled_from(CONDITION_FIELDS), shape=st.sampled_from(SHAPED_CONDITIONS),
) | st.builds(
    Condition,
    field=st.sampled_from(CONDITION_FIELDS),
    op=st.sampled_from(engine.OPERATORS + ("nope",)),
    value=st.sampled_from(ODD_VALUES) | st.lists(st.sampled_from(ODD_VALUES), max_size=3),
)


@st.composite
def wide_ruleset_st(draw: st.DrawFn) -> RuleSet:
    interaction = draw(st.lists(st.builds(
        InteractionRule, id=st.just(0), label=st.just("rule"), kind=st.sampled_from(KINDS), points=points_st,
        window_days=st.none() | st.sampled_from([0, 1, 5, 30]) | st.integers(0, 120),  # windows ending on a touch
        max_occurrences=st.none() | st.integers(-1, 4),
        condition=st.none() | wide_condition_st.map(lambda c: replace(c, field="page"))), max_size=8))
    attribute = draw(st.lists(st.builds(AttributeRule, id=st.just(0), label=st.just("attr"),
                                        condition=wide_condition_st, points=points_st), max_size=4))
    return RuleSet(
        version_id=1,
        interaction_rules=tuple(replace(rule, id=i) for i, rule in enumerate(interaction, start=1)),
        attribute_rules=tuple(replace(rule, id=100 + i) for i, rule in enumerate(attribute, start=1)),
        policy=draw(policy_st()),
    )


@st.composite
def wide_facts_st(draw: st.DrawFn) -> ContactFacts:
    # Few distinct instants and repeated ids, so ties in (time, id) happen.
    touches = draw(st.lists(st.builds(
        Touch, id=st.integers(1, 6), kind=st.sampled_from(KINDS),
        occurred_at=st.sampled_from([-3, 0, 1, 5, 29, 30, 31, 90]).map(lambda d: NOW - timedelta(days=d)),
        data=st.fixed_dictionaries({}, optional={"page": st.sampled_from(ODD_VALUES)})), max_size=14))
    value = st.sampled_from(ODD_VALUES)
    return ContactFacts(
        fields={"city": draw(value), "consent_email": draw(value), "email": draw(st.sampled_from(["a@Contoh.id", "x", None])),
                "attributes": {"tier": draw(value)}},
        touches=tuple(touches), stage=draw(st.sampled_from(engine.STAGES)), pinned=draw(st.booleans()),
        stage_changed_at=draw(st.none() | st.integers(0, 200).map(lambda d: NOW - timedelta(days=d))),
    )


@settings(max_examples=600, deadline=None)
@given(wide_ruleset_st(), wide_facts_st(), st.sampled_from([NOW, NOW + timedelta(days=1, microseconds=7)]))
def test_property_compiled_engine_agrees_with_the_reference(rules: RuleSet, contact: ContactFacts, now: datetime) -> None:
    from tests.scoring import reference_engine

    assert engine.evaluate(rules, contact, now) == reference_engine.evaluate(rules, contact, now)
    # the same compiled rule set, asked again at another moment, must not reuse the first moment's windows
    later = now + timedelta(days=30)
    assert engine.evaluate(rules, contact, later) == reference_engine.evaluate(rules, contact, later)


@pytest.mark.parametrize("shape", SHAPED_CONDITIONS, ids=str)
def test_precomputed_conditions_agree_with_condition_holds(shape) -> None:
    condition = Condition("city", *shape)
    holds = engine._predicate(condition)
    for actual in [*ODD_VALUES, " Pricing page", "BLOG ", "  pri", 2, -1.5, float("nan"), "2"]:
        assert holds(actual) == engine.condition_holds(condition, actual), actual


# --- stable_until: the moment before which nothing can change without new data ---------


def _what_is_stored(result: engine.Result) -> tuple:
    """What a rescore rewrites a row for: score, stage and each hit's rule and interactions
    (points are kept within the tolerance of decay cents, docs/decisions.md)."""
    return result.score, result.stage, tuple((h.rule_id, h.count, h.touch_ids) for h in result.hits)


@settings(max_examples=800, deadline=None)
@given(wide_ruleset_st(), wide_facts_st(), st.lists(st.floats(0, 1), min_size=1, max_size=4))
def test_property_nothing_changes_before_stable_until(rules: RuleSet, contact: ContactFacts, fractions: list[float]) -> None:
    """A full rescore skips a contact until its stable_until: evaluating the stored state at any
    moment before it gives the same score, stage and hits (so skipping it loses nothing)."""
    result = engine.evaluate(rules, contact, NOW)
    stored = replace(contact, stage=result.stage, stage_changed_at=NOW if result.changed else contact.stage_changed_at)
    until = result.stable_until or NOW + timedelta(days=5000)
    assert until >= NOW
    for fraction in [*fractions, 1.0]:
        moment = min(NOW + (until - NOW) * fraction, until - timedelta(microseconds=1))
        if moment <= NOW:
            continue
        later = engine.evaluate(rules, stored, moment)
        assert _what_is_stored(later) == _what_is_stored(result), (moment, until)
        assert not later.changed


def test_stable_until_names_the_first_window_edge_and_decay_edge() -> None:
    rules = ruleset([irule(1, "email_open", 10, window_days=30)], lead_threshold=100)
    contact = facts(touches=[touch(1, "email_open", days_ago=10), touch(2, "email_open", days_ago=20)])
    assert engine.evaluate(rules, contact, NOW).stable_until == ago(20) + timedelta(days=30)

    # With a half-life of 10 days the 20 points as of now fall below 19.5 (the score 20's
    # edge) after 10·log2(20/19.5) ≈ 0.37 days, long before the window's edge.
    decaying = ruleset([irule(1, "email_open", 20)], lead_threshold=100, decay_half_life_days=10)
    result = engine.evaluate(decaying, facts(touches=[touch(1, "email_open", days_ago=0)]), NOW)
    assert result.score == 20
    assert NOW + timedelta(days=0.3) < result.stable_until < NOW + timedelta(days=0.37)
    assert engine.evaluate(decaying, facts(touches=[touch(1, "email_open", days_ago=0)]),
                           result.stable_until + timedelta(days=0.01)).score == 19
