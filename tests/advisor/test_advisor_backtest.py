"""Backtests of stored versions: numbers worked out by hand, two versions side by side,
run as a Celery task (eager here) whose results are stored with the version."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import translation

from scoring.advisor.backtest import backtest_run, backtest_start
from scoring.models import Backtest, RuleSet

from .conftest import CREATED_AT, PERIOD_END

pytestmark = pytest.mark.django_db
PARAMS = {"outcome": "purchase", "end": PERIOD_END.isoformat()}


def test_backtest_task_stores_hand_checked_numbers_beside_the_other_version(tiers, admin, django_capture_on_commit_callbacks):
    draft, published = tiers
    with django_capture_on_commit_callbacks(execute=True):
        run = backtest_start(draft, admin, {**PARAMS, "compare_to": published.pk})
    run.refresh_from_db()
    assert run.status == Backtest.Status.DONE and run.progress == 100 and run.finished_at, run.message
    assert run.kind == "backtest" and run.created_by == admin and draft.backtests.get() == run
    results = run.results
    assert (results["contacts"], results["conversions"]) == (12, 4) and results["base_rate"] == pytest.approx(1 / 3)
    assert results["kinds"] == ["purchase"] and results["period"]["end"] == PERIOD_END.isoformat()
    mine, theirs = results["versions"]
    assert (mine["version_id"], theirs["version_id"]) == (draft.pk, published.pk)
    # Converters score 10, 10, 10, 5; the others 10, 5, 5, 5, 0, 0, 0, 0: 28 of 32 pairs won (ties half).
    assert mine["auc"] == pytest.approx(28 / 32)
    assert mine["stages"]["lead"] == {"contacts": 8, "conversions": 4, "precision": 0.5, "recall": 1.0, "lift": pytest.approx(1.5)}
    assert mine["stages"]["prospect"] == {"contacts": 4, "conversions": 3, "precision": 0.75, "recall": 0.75,
                                          "lift": pytest.approx(2.25)}
    assert mine["stage_sizes"] == {"contact": 4, "lead": 4, "prospect": 4, "customer": 0}
    assert mine["thresholds"] == {"lead": 5, "prospect": 10}
    assert mine["deciles"][0]["decile"] == 1 and mine["deciles"][0]["rate"] == 0.75
    assert mine["top_decile_lift"] == pytest.approx(2.25)
    # The published version rewards tier c, which never converts.
    assert theirs["auc"] < 0.5 and theirs["stages"]["prospect"]["conversions"] == 0


def test_a_finished_backtest_delivered_again_is_left_alone(tiers):
    draft, _published = tiers
    run = backtest_start(draft, None, PARAMS)
    backtest_run(backtest_id=run.pk)
    run.refresh_from_db()
    finished, results = run.finished_at, run.results
    again = backtest_run(backtest_id=run.pk)
    assert again.status == Backtest.Status.DONE and again.finished_at == finished and again.results == results


def test_backtest_without_outcomes_in_the_period_fails_with_a_message(tiers):
    draft, _published = tiers
    run = backtest_start(draft, None, {"outcome": "purchase", "end": (CREATED_AT - timedelta(days=1)).isoformat()})
    with translation.override("en"):
        run = backtest_run(backtest_id=run.pk)
    assert run.status == Backtest.Status.FAILED and "No contact with a known outcome" in run.message


def test_why_a_run_failed_reads_in_the_viewers_language(tiers):
    """A run's failure is stored as a message id (and parameters), so a run that failed in an
    Indonesian worker reads in English for an English admin (issue 18, defect 3)."""
    draft, _published = tiers
    run = backtest_start(draft, None, {"outcome": "purchase", "end": (CREATED_AT - timedelta(days=1)).isoformat()})
    with translation.override("id"):
        run = backtest_run(backtest_id=run.pk)
        indonesian = run.text
    assert run.message == indonesian and "No contact" not in indonesian  # as written, in the worker's language
    with translation.override("en"):
        assert run.text == "No contact with a known outcome in this period."


@pytest.mark.parametrize(("params", "field"), [
    ({"outcome": "bought_a_boat"}, "outcome"),
    ({"outcome": "purchase", "compare_to": 999999}, "compare_to"),
    ({"outcome": "purchase", "compare_to": "v2"}, "compare_to"),
    ({"outcome": "purchase", "start": "2025-05-01", "end": "2025-04-01"}, "start"),
])
def test_bad_backtest_parameters_are_refused_by_name(tiers, params, field):
    draft, _published = tiers
    with pytest.raises(ValidationError) as error:
        backtest_start(draft, None, params)
    assert field in error.value.message_dict
    assert not Backtest.objects.exists()


def test_advisor_task_runs_on_commit_and_stores_its_run(shop_history, admin, django_capture_on_commit_callbacks):
    from scoring.advisor import advisor_start

    ruleset = RuleSet.objects.get(industry="ecommerce")
    with django_capture_on_commit_callbacks(execute=True):
        run = advisor_start(ruleset, admin, {"outcome": "purchase", "end": PERIOD_END.isoformat(), "min_support": 20})
    run.refresh_from_db()
    assert run.status == Backtest.Status.DONE, run.message
    assert run.kind == "advisor" and run.version == ruleset.draft() and run.results["rules"] > 0
    assert run.params["target_precision"] is None and run.params["min_lift"] == 2.0 and run.params["seed"] == 7
    from crm.models import AuditEvent

    event = AuditEvent.objects.get(details__what="advisor_rules")
    assert event.actor == admin and event.object_id == str(run.version_id)


def test_runs_are_listed_with_their_version_for_its_page(tiers, django_assert_max_num_queries):
    from scoring.advisor.backtest import backtest_status_json, backtests_for

    draft, published = tiers
    first = backtest_start(draft, None, PARAMS)
    second = backtest_start(draft, None, {**PARAMS, "compare_to": published.pk})
    backtest_start(published, None, PARAMS)
    with django_assert_max_num_queries(1):
        assert backtests_for(draft) == [second, first]
    assert backtests_for(draft, kind="advisor") == []
    assert backtest_status_json(first) == {
        "id": first.pk, "kind": "backtest", "version_id": draft.pk, "status": "queued", "progress": 0, "message": "",
        "finished_at": None,
    }
