"""Thresholds a sales team can work (scoring.advisor.thresholds, pure functions): the
capacity decides the prospect threshold, the default aims for ≥ 2× the base rate within
25 % of contacts and says when the data do not allow it, leads separate interest from
none, and a held-out set with fewer than 30 conversions is flagged as noise."""

from __future__ import annotations

import random

import pytest

from scoring.advisor.thresholds import (
    MAX_SHARE,
    MIN_LIFT,
    capacity_share,
    choose_lead,
    choose_prospect,
    few_conversions,
    point_at,
    table_points,
    tradeoff,
    wilson,
)


def ranked(n: int = 4000, *, seed: int = 3, strength: float = 1.0) -> tuple[list[int], list[bool]]:
    """Scores 0..99; the chance to convert rises with the score (steeply with strength 1, not at all with 0)."""
    rng = random.Random(seed)
    scores = [rng.randrange(100) for _ in range(n)]
    labels = [rng.random() < 0.02 + strength * 0.3 * (s / 99) ** 3 for s in scores]
    return scores, labels


def test_tradeoff_counts_every_threshold_from_the_top():
    points = tradeoff([5, 5, 3, 1, 0], [True, False, True, False, False])
    assert [p.threshold for p in points] == [5, 3, 1, 0]
    top = points[0]
    assert (top.contacts, top.conversions, top.share, top.rate, top.recall) == (2, 1, 0.4, 0.5, 0.5)
    assert top.lift == pytest.approx(0.5 / 0.4)
    assert points[-1].share == 1.0 and points[-1].recall == 1.0
    # Ineligible contacts (no buying intent) are never in a group, but the share is of everyone.
    eligible = tradeoff([5, 5, 3], [True, False, True], eligible=[False, True, True])
    assert (eligible[0].contacts, eligible[0].share) == (1, pytest.approx(1 / 3))
    assert point_at(points, 4, total=5, positives=2).contacts == 2 and point_at(points, 6, total=5, positives=2).contacts == 0


def test_capacity_per_week_or_share_becomes_a_share_of_new_contacts():
    assert capacity_share() == (MAX_SHARE, "default")
    assert capacity_share(share=0.1) == (0.1, "share")
    assert capacity_share(per_week=50, weekly_new=400) == (0.125, "per_week")
    assert capacity_share(per_week=500, weekly_new=400) == (1.0, "per_week")  # never more than everyone
    assert capacity_share(per_week=50, weekly_new=0) == (MAX_SHARE, "no_intake")  # nothing to divide by


@pytest.mark.parametrize("capacity", [0.05, 0.1, 0.2, 0.4])
def test_the_capacity_decides_the_prospect_threshold(capacity):
    scores, labels = ranked()
    points = tradeoff(scores, labels)
    chosen = choose_prospect(points, capacity=capacity, min_lift=1.0, min_size=30)
    assert chosen["status"] == "met"
    # Within the capacity with 95 % confidence, and the largest such group: the next lower threshold is not.
    assert wilson(chosen["contacts"], len(scores))[1] <= capacity
    lower = [p for p in points if p.threshold < chosen["threshold"]]
    assert wilson(lower[0].contacts, len(scores))[1] > capacity
    assert capacity - 0.05 < chosen["share"] <= capacity


def test_a_smaller_capacity_gives_a_higher_threshold_and_better_prospects():
    scores, labels = ranked()
    points = tradeoff(scores, labels)
    small, large = (choose_prospect(points, capacity=c, min_size=30) for c in (0.08, 0.25))
    assert small["threshold"] > large["threshold"] and small["lift"] > large["lift"] and small["recall"] < large["recall"]


def test_default_aims_for_twice_the_base_rate_within_a_quarter_of_contacts():
    scores, labels = ranked()
    chosen = choose_prospect(tradeoff(scores, labels), min_size=30)
    assert (chosen["capacity"], chosen["min_lift"]) == (0.25, 2.0) == (MAX_SHARE, MIN_LIFT)
    assert chosen["status"] == "met" and chosen["share"] <= 0.25 and chosen["lift"] >= 2
    # The lift must hold with confidence, not just on average.
    base = sum(labels) / len(labels)
    assert wilson(chosen["conversions"], chosen["contacts"])[0] >= 2 * base


def test_when_the_data_do_not_allow_it_the_capacity_is_filled_and_it_says_so():
    scores, labels = ranked(strength=0.0)  # scores tell nothing: no group converts at 2×
    chosen = choose_prospect(tradeoff(scores, labels), min_size=30)
    assert chosen["status"] == "lift_not_reached"
    assert chosen["share"] <= 0.25 and chosen["lift"] < 2 and chosen["best_lift"] < 2
    assert chosen["threshold"] is not None and chosen["threshold"] >= 0


def test_when_the_top_score_alone_is_over_capacity_nobody_is_a_prospect_by_score():
    scores = [10] * 60 + [n % 10 for n in range(40)]  # 60 % share the top score
    labels = [True] * 30 + [False] * 30 + [False] * 40
    chosen = choose_prospect(tradeoff(scores, labels), min_size=10)
    assert chosen["status"] == "no_room" and chosen["threshold"] == 11 > max(scores)
    assert chosen["contacts"] == 0 and chosen["top_share"] == 0.6


def test_a_precision_floor_can_be_added():
    scores, labels = ranked()
    points = tradeoff(scores, labels)
    plain = choose_prospect(points, min_size=30)
    higher = point_at(points, plain["threshold"] + 8, total=len(scores), positives=sum(labels))
    floor = wilson(higher.conversions, higher.contacts)[0]  # reachable, but not by the plain choice
    strict = choose_prospect(points, min_size=30, min_precision=floor)
    assert strict["status"] == "met" and strict["threshold"] > plain["threshold"]
    assert wilson(strict["conversions"], strict["contacts"])[0] >= floor


def test_the_lead_threshold_separates_interest_from_none():
    scores, labels = ranked()
    points = tradeoff(scores, labels)
    prospect = choose_prospect(points, min_size=30)
    lead = choose_lead(points, prospect_threshold=prospect["threshold"])
    assert lead["status"] == "met" and lead["recall"] >= 0.9
    # The highest such threshold: one step up loses more than a tenth of the conversions.
    higher = [p for p in points if p.threshold > lead["threshold"]]
    assert higher[-1].recall < 0.9
    assert 0 < lead["threshold"] <= prospect["threshold"] and lead["share"] < 1  # not everyone is a lead
    assert lead["below_lift"] < 0.5 and not lead["negative"]  # those below barely convert


def test_no_negative_lead_threshold_without_a_flag_to_explain_it():
    # Penalties pull everyone below zero: the threshold is negative, and flagged for the page.
    scores, labels = ranked()
    shifted = [s - 120 for s in scores]
    lead = choose_lead(tradeoff(shifted, labels), prospect_threshold=None)
    assert lead["threshold"] < 0 and lead["negative"]
    # Ordinary scores: never everyone a lead, never a negative threshold.
    lead = choose_lead(tradeoff(scores, labels), prospect_threshold=None)
    assert lead["threshold"] > min(scores) and not lead["negative"]


def test_lead_edge_cases_say_what_happened():
    # Everyone scores the same: no separation, nobody is a lead by score.
    same = choose_lead(tradeoff([0] * 50, [True] * 5 + [False] * 45), prospect_threshold=None)
    assert same["status"] == "no_separation" and same["threshold"] == 1 and not same["negative"]
    # The lowest score holds most conversions: leaving it out loses more than a tenth.
    weak = choose_lead(tradeoff([0] * 80 + [5] * 20, [True] * 8 + [False] * 72 + [True] * 2 + [False] * 18), prospect_threshold=None)
    assert weak["status"] == "recall_not_reached" and weak["threshold"] == 5
    # Never above the prospect threshold.
    scores, labels = ranked()
    capped = choose_lead(tradeoff(scores, labels), prospect_threshold=10)
    assert capped["status"] == "prospect" and capped["threshold"] == 10


@pytest.mark.parametrize(("conversions", "noise"), [(0, True), (29, True), (30, False), (500, False), (None, True)])
def test_fewer_than_thirty_held_out_conversions_are_noise(conversions, noise):
    assert few_conversions(conversions) is noise


def test_the_table_has_readable_rows_and_the_chosen_thresholds():
    scores, labels = ranked()
    points = tradeoff(scores, labels)
    rows = table_points(points, [57, 23])
    thresholds = [r.threshold for r in rows]
    assert thresholds == sorted(thresholds, reverse=True) and len(rows) <= 13
    assert {57, 23} <= set(thresholds) and rows[-1].share == 1.0
    assert table_points([], [1]) == []
