"""The reference: on the shared public data sets, the advisor's draft (integer points,
readable rules) ranks the held-out 30 % about as well as a logistic regression fitted by
scikit-learn on the same split, and its default thresholds give a sales team prospects it
can work: at most 25 % of the held-out contacts, converting at ≥ 2× the base rate. Both
are measured through the real engine, with the draft as version_to_engine reads it: what
publishing it would do."""

from __future__ import annotations

import time

import numpy as np
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from scoring import engine
from scoring.advisor import advisor_run, advisor_start
from scoring.advisor.backtest import auc
from scoring.advisor.stats import split_ids
from scoring.models import Backtest, RuleSet
from scoring.outcomes import observations_load, outcome_kinds, outcome_queryset, period_parse
from scoring.selectors import version_to_engine

from .conftest import PERIOD_END

pytestmark = [pytest.mark.slow, pytest.mark.django_db]
TOLERANCE = 0.03
SEED = 7


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def regression_auc(rows: list[dict[str, str]], labels: list[bool], train: list[int], test: list[int]) -> float:
    """scikit-learn's logistic regression: one-hot categoricals, standardised numerics."""
    columns = list(rows[0])
    numeric = [c for c in columns if all(_is_number(r[c]) for r in rows)]
    categorical = [c for c in columns if c not in numeric]
    x = np.array([[float(r[c]) for c in numeric] + [r[c] for c in categorical] for r in rows], dtype=object)
    y = np.array(labels)
    encode = ColumnTransformer([
        ("numeric", StandardScaler(), list(range(len(numeric)))),
        ("categorical", OneHotEncoder(handle_unknown="ignore"), list(range(len(numeric), len(columns)))),
    ])
    model = make_pipeline(encode, LogisticRegression(max_iter=2000))
    model.fit(x[train], y[train])
    return float(roc_auc_score(y[test], model.predict_proba(x[test])[:, 1]))


def _reference(load_outcome_csv, record_property, *, file_name, delimiter, label, positive, industry, drop=(), expected):
    started, cpu_started = time.monotonic(), time.process_time()
    loaded = load_outcome_csv(file_name, delimiter=delimiter, label=label, positive=positive, industry=industry, drop=drop)
    loaded_at = time.monotonic()
    ruleset, _ = RuleSet.objects.get_or_create(industry=industry, defaults={"name": industry})
    run = advisor_start(ruleset, None, {"outcome": "purchase", "end": PERIOD_END.isoformat(), "seed": SEED}, queue=False)
    run = advisor_run(backtest_id=run.pk)
    assert run.status == Backtest.Status.DONE, run.message
    advised_at = time.monotonic()

    # The advisor's AUC, measured here through the engine on the draft as stored.
    draft = run.version
    draft.refresh_from_db()
    assert draft.is_draft and draft.rules.count() == run.results["rules"] > 0
    period = period_parse(end=PERIOD_END)
    observations = observations_load(outcome_queryset(draft, period), kinds=outcome_kinds("purchase"), period=period)
    assert len(observations) == len(loaded.contact_ids)
    _train_ids, test_ids = split_ids([o.contact_id for o in observations], seed=SEED)
    ruleset_engine = version_to_engine(draft)
    held_out = [o for o in observations if o.contact_id in test_ids]
    verdicts = [engine.evaluate(ruleset_engine, o.facts, o.as_of) for o in held_out]
    scores = [v.score for v in verdicts]
    held_labels = [o.converted for o in held_out]
    advisor_auc = float(roc_auc_score(held_labels, scores))
    assert auc(scores, held_labels) == pytest.approx(advisor_auc, abs=1e-9)  # our rank AUC agrees with sklearn's
    assert run.results["backtest"]["versions"][0]["auc"] == pytest.approx(advisor_auc, abs=1e-9)

    # The regression on exactly the same split (the CSV rows, in file order).
    position = {pk: i for i, pk in enumerate(loaded.contact_ids)}
    test = sorted(position[pk] for pk in test_ids)
    train = sorted(set(range(len(loaded.contact_ids))) - set(test))
    reference_auc = regression_auc(loaded.rows, loaded.labels, train, test)
    finished, cpu = time.monotonic(), time.process_time() - cpu_started

    # The stages the draft gives the held-out contacts: what a sales team would be handed.
    base_rate = sum(held_labels) / len(held_labels)
    prospects = [y for v, y in zip(verdicts, held_labels, strict=True) if v.stage in ("prospect", "customer")]
    leads = [y for v, y in zip(verdicts, held_labels, strict=True) if v.stage != "contact"]
    figures = {
        "share": len(prospects) / len(held_out), "rate": sum(prospects) / len(prospects), "base_rate": base_rate,
        "lift": sum(prospects) / len(prospects) / base_rate, "recall": sum(prospects) / sum(held_labels),
        "lead_threshold": draft.lead_threshold, "prospect_threshold": draft.prospect_threshold,
        "lead_share": len(leads) / len(held_out), "lead_recall": sum(leads) / sum(held_labels),
    }
    record_property("prospects", {k: round(float(v), 4) for k, v in figures.items()})

    record_property("advisor_auc", round(advisor_auc, 4))
    record_property("regression_auc", round(reference_auc, 4))
    record_property("rules", run.results["rules"])
    record_property("seconds", {"load": round(loaded_at - started, 1), "advise": round(advised_at - loaded_at, 1),
                                "check": round(finished - advised_at, 1), "cpu": round(cpu, 1)})
    summary = (f"{file_name}: advisor AUC {advisor_auc:.4f} ({run.results['rules']} rules) vs logistic regression "
               f"{reference_auc:.4f}; prospects (score ≥ {figures['prospect_threshold']}) {figures['share']:.1%} of the "
               f"holdout converting at {figures['rate']:.1%} vs base {base_rate:.1%} (lift {figures['lift']:.2f}, recall "
               f"{figures['recall']:.1%}); leads ≥ {figures['lead_threshold']} ({figures['lead_share']:.1%}, recall "
               f"{figures['lead_recall']:.1%}); load {loaded_at - started:.1f}s, advise {advised_at - loaded_at:.1f}s, "
               f"check {finished - advised_at:.1f}s (wall; {cpu:.1f}s CPU)")
    print(summary)
    # Thresholds a team can work (issue 19): prospects at ≥ 2× the base rate, at most 25 % of contacts,
    # a lead threshold that leaves out those who showed no interest, and never below zero here.
    assert figures["share"] <= 0.25 and figures["lift"] >= 2.0, summary
    assert run.results["thresholds"]["prospect"]["status"] == "met", summary
    assert 0 <= draft.lead_threshold < draft.prospect_threshold, summary
    assert figures["lead_share"] < 1 and figures["lead_recall"] >= 0.85, summary
    # The page's trade-off (held-out contacts) agrees with the engine's stages at the chosen threshold.
    row = next(r for r in run.results["tradeoff"]["table"] if r["threshold"] == draft.prospect_threshold)
    assert row["contacts"] == len(prospects) and row["conversions"] == sum(prospects), summary
    assert not run.results["few_conversions"]
    assert reference_auc == pytest.approx(expected, abs=0.02), summary
    # Within 0.03 either way: much worse would mean the rules lose too much, much better a leak.
    assert abs(advisor_auc - reference_auc) <= TOLERANCE, summary
    return run, summary


def test_bank_marketing_advisor_matches_logistic_regression(load_outcome_csv, record_property):
    run, summary = _reference(
        load_outcome_csv, record_property, file_name="uci_bank_full.csv", delimiter=";", label="y", positive="yes",
        industry="other", drop=("duration",), expected=0.77,
    )
    # `duration` is known only after the call: it was never loaded, so no rule can use it.
    assert not any("duration" in row["field"] for row in run.results["evidence"]), summary


def test_online_shoppers_advisor_matches_logistic_regression(load_outcome_csv, record_property):
    _reference(
        load_outcome_csv, record_property, file_name="uci_online_shoppers_intention.csv", delimiter=",", label="Revenue",
        positive="TRUE", industry="ecommerce", expected=0.90,
    )
