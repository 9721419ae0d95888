"""The advisor's and the backtest's statistics, checked against known values and scikit-learn."""

from __future__ import annotations

import random

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score

from scoring.advisor.backtest import auc, deciles, report, stage_metrics
from scoring.advisor.stats import fit_logistic, nice, round_points, split_ids, threshold_at, threshold_for_precision, wilson


def test_wilson_interval_matches_known_values():
    low, high = wilson(0, 10)
    assert low == 0.0 and high == pytest.approx(0.2775, abs=1e-4)
    low, high = wilson(812 * 182 // 1000, 812)
    assert low < 0.182 < high and high - low < 0.06
    assert wilson(0, 0) == (0.0, 1.0)
    # Narrower with more evidence, always inside [0, 1].
    assert (wilson(50, 100)[1] - wilson(50, 100)[0]) > (wilson(500, 1000)[1] - wilson(500, 1000)[0])
    assert wilson(10, 10)[1] == pytest.approx(1.0) and wilson(10, 10)[0] > 0.69


def test_auc_counts_ties_as_half_and_agrees_with_scikit_learn():
    assert auc([1, 1], [True, False]) == 0.5
    assert auc([2, 1], [True, False]) == 1.0
    assert auc([1, 2], [True, False]) == 0.0
    assert auc([1, 2, 3], [True, True, True]) is None
    rng = random.Random(3)
    scores = [rng.randint(0, 8) for _ in range(2000)]  # many ties
    labels = [rng.random() < 0.1 + s / 20 for s in scores]
    assert auc(scores, labels) == pytest.approx(roc_auc_score(labels, scores), abs=1e-12)


def test_deciles_keep_tied_scores_together_and_sum_up():
    scores = [10] * 30 + list(range(70))
    labels = [True] * 15 + [False] * 15 + [i % 7 == 0 for i in range(70)]
    table = deciles(scores, labels)
    assert sum(d["contacts"] for d in table) == 100
    assert sum(d["conversions"] for d in table) == sum(labels)
    tens = [d for d in table if d["min_score"] <= 10 <= d["max_score"]]
    assert len(tens) == 1 and tens[0]["contacts"] >= 30  # the 30 tied scores share one decile
    assert table[0]["decile"] == 1 and table[0]["min_score"] >= table[-1]["max_score"]
    assert deciles([], []) == []


def test_stage_metrics_count_at_or_beyond_the_stage():
    stages = ["contact", "lead", "prospect", "prospect", "lead", "contact"]
    labels = [False, True, True, False, False, True]
    metrics = stage_metrics(stages, labels)
    assert metrics["lead"] == {"contacts": 4, "conversions": 2, "precision": 0.5, "recall": 2 / 3, "lift": 1.0}
    assert metrics["prospect"]["contacts"] == 2 and metrics["prospect"]["precision"] == 0.5
    full = report([0, 5, 9, 8, 4, 1], stages, labels)
    assert full["stage_sizes"] == {"contact": 2, "lead": 2, "prospect": 2, "customer": 0}
    assert full["score"] == {"min": 0, "max": 9, "mean": 27 / 6}


def test_threshold_for_precision_takes_the_largest_group_that_reaches_the_target():
    scores = [9, 8, 7, 6, 5, 4, 3, 2, 1, 0]
    labels = [True, True, False, True, False, False, True, False, False, False]
    best = threshold_for_precision(scores, labels, 0.5)
    # score ≥ 3 holds 7 contacts with 4 conversions (57 %); ≥ 2 would be 50 % too, ≥ 1 is 44 %.
    assert best["threshold"] == 2 and best["precision"] == 0.5 and best["reached"]
    assert best["recall"] == 1.0 and best["contacts"] == 8
    assert threshold_for_precision(scores, labels, 0.9)["threshold"] == 8  # only the top two are that good
    unreachable = threshold_for_precision(scores, labels, 1.0, min_size=3)
    # No group of 3+ is all converters: the most precise one (≥ 6: 3 of 4) is chosen, and flagged.
    assert not unreachable["reached"] and unreachable["threshold"] == 6 and unreachable["precision"] == 0.75
    # Contacts that may not become prospects (no intent) are never counted in.
    eligible = [False, True, True, True, True, True, True, True, True, True]
    assert threshold_for_precision(scores, labels, 0.5, eligible=eligible)["contacts"] <= 9
    assert threshold_at(scores, labels, 6) == {"threshold": 6, "contacts": 4, "precision": 0.75, "recall": 0.75}


def test_split_is_reproducible_disjoint_and_seven_to_three():
    ids = list(range(1, 1001))
    train, test = split_ids(ids, seed=7)
    assert (train, test) == split_ids(reversed(ids), seed=7)  # order of input does not matter
    assert not train & test and len(train | test) == 1000 and len(train) == 700
    assert split_ids(ids, seed=8)[0] != train


def test_nice_thresholds_keep_three_significant_digits():
    assert nice(1234.567) == 1230 and isinstance(nice(1234.567), int)
    assert nice(0.0123456) == 0.0123
    assert nice(58.0) == 58 and nice(-1.0) == -1 and nice(0.0) == 0
    assert round_points(2.5) == 3 and round_points(-2.5) == -3 and round_points(0.49) == 0


def test_penalised_newton_fit_matches_scikit_learn():
    rng = np.random.default_rng(5)
    x = (rng.random((3000, 6)) < 0.3).astype(float)
    logits = -1.5 + x @ np.array([1.2, -0.8, 0.0, 0.5, 2.0, -0.3])
    y = (rng.random(3000) < 1 / (1 + np.exp(-logits))).astype(float)
    intercept, coefs, iterations = fit_logistic(x, y, penalty=5.0)
    reference = LogisticRegression(C=1 / 5.0, tol=1e-10, max_iter=10_000).fit(x, y)
    assert iterations < 30
    assert coefs == pytest.approx(reference.coef_[0], abs=1e-4)
    assert intercept == pytest.approx(reference.intercept_[0], abs=1e-4)
